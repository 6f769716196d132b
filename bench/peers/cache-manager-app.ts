import 'reflect-metadata';
import { createKeyv } from '@keyv/redis';
import { CacheInterceptor, CacheModule } from '@nestjs/cache-manager';
import {
  Controller,
  Get,
  Module,
  Param,
  ParseUUIDPipe,
  Query,
  UseInterceptors,
  ValidationPipe,
} from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ANONYMOUS } from '../../src/auth/viewer';
import type { CharacterResponse } from '../../src/characters/character.response';
import { CharactersService } from '../../src/characters/characters.service';
import { ListCharactersQuery } from '../../src/characters/dto/list-characters.query';
import type { Page } from '../../src/common/http/page';
import { databaseConfig, DatabaseConfig, storageConfig } from '../../src/config';
import { buildDataSourceOptions } from '../../src/database/data-source-options';
import { StorageModule } from '../../src/storage/storage.module';

/**
 * The peer: what a NestJS user does today. A minimal Nest 11 Fastify app, @nestjs/cache-manager 3's
 * `CacheInterceptor` over cache-manager 7 and a Keyv 5 Redis store (@keyv/redis), the standard ValidationPipe,
 * and — so that the database work and the JSON are exactly ours — our own CharactersService (its @Cacheable
 * decorators are inert here: nothing wires them without our RedisCacheModule). Anonymous reads only: the
 * interceptor keys by URL, so it cannot serve viewer-dependent answers safely.
 *
 * Env: PORT, DATABASE_URL, DB_POOL_SIZE, REDIS_URL, CDN_BASE_URL, CDN_SIGNING_KEY.
 */
@Controller('characters')
@UseInterceptors(CacheInterceptor)
class PeerCharactersController {
  constructor(private readonly characters: CharactersService) {}

  @Get()
  list(@Query() query: ListCharactersQuery): Promise<Page<CharacterResponse>> {
    return this.characters.list(query, ANONYMOUS);
  }

  @Get('featured')
  featured(): Promise<{ items: CharacterResponse[] }> {
    return this.characters.featured(ANONYMOUS);
  }

  @Get(':id')
  get(@Param('id', ParseUUIDPipe) id: string): Promise<CharacterResponse> {
    return this.characters.get(id, ANONYMOUS);
  }
}

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [databaseConfig, storageConfig] }),
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) =>
        buildDataSourceOptions(config.getOrThrow<DatabaseConfig>('database')),
    }),
    // CDN URLs and image storage, as CharactersService needs them (never written to here: reads only).
    StorageModule,
    // The same TTL as our list entries (5 min); the documented way to put Redis under cache-manager 7.
    CacheModule.registerAsync({
      isGlobal: true,
      useFactory: () => ({ stores: [createKeyv(process.env.REDIS_URL)], ttl: 300_000 }),
    }),
  ],
  controllers: [PeerCharactersController],
  providers: [CharactersService],
})
class PeerModule {}

/** The peer app, initialised and not listening (the bench's process listens; test/bench-systems checks it boots). */
export async function createPeerApp(): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(PeerModule, new FastifyAdapter(), {
    logger: ['error', 'warn'],
    abortOnError: false,
  });
  app.useGlobalPipes(new ValidationPipe({ transform: true, whitelist: true }));
  return app;
}

async function main(): Promise<void> {
  const app = await createPeerApp();
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT), '127.0.0.1');
}

if (require.main === module) {
  void main();
}
