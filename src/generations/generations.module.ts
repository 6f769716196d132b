import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CharactersModule } from '../characters/characters.module';
import { StorageModule } from '../storage/storage.module';
import { GenerationJob } from './entities/generation-job.entity';
import { GenerationWebhookController } from './generation-webhook.controller';
import { GenerationsController } from './generations.controller';
import { GenerationsService } from './generations.service';
import { GeneratorClient } from './generator.client';

/**
 * Image generation: jobs are queued here, dispatched to an external generator (when GENERATOR_URL is set; else
 * they stay queued for a worker or an operator) and finished by its signed callback.
 */
@Module({
  imports: [TypeOrmModule.forFeature([GenerationJob]), CharactersModule, StorageModule],
  controllers: [GenerationsController, GenerationWebhookController],
  providers: [GenerationsService, GeneratorClient],
})
export class GenerationsModule {}
