import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { StorageConfig } from '../config';
import { CdnUrlBuilder } from './cdn-url.builder';
import { IMAGE_STORAGE, ImageStorage } from './image-storage';
import { LocalImageStorage } from './local-image.storage';

function createImageStorage(config: ConfigService): ImageStorage {
  const storage = config.getOrThrow<StorageConfig>('storage');
  switch (storage.driver) {
    case 'local':
      return new LocalImageStorage(storage.localDir);
  }
}

@Module({
  providers: [
    CdnUrlBuilder,
    { provide: IMAGE_STORAGE, inject: [ConfigService], useFactory: createImageStorage },
  ],
  exports: [CdnUrlBuilder, IMAGE_STORAGE],
})
export class StorageModule {}
