import { Module } from '@nestjs/common';
import { CharactersModule } from '../characters/characters.module';
import { StorageModule } from '../storage/storage.module';
import { ImageWritesService } from './image-writes.service';
import { ImagesController } from './images.controller';
import { ImagesService } from './images.service';

@Module({
  imports: [StorageModule, CharactersModule],
  controllers: [ImagesController],
  providers: [ImagesService, ImageWritesService],
  exports: [ImagesService],
})
export class ImagesModule {}
