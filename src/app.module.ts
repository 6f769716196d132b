import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { RedisCacheModule } from './cache';
import { AuthModule } from './auth/auth.module';
import { CharactersModule } from './characters/characters.module';
import { CacheConfig, configNamespaces } from './config';
import { DatabaseModule } from './database/database.module';
import { GenerationsModule } from './generations/generations.module';
import { HealthModule } from './health/health.module';
import { logRedisConnectionEnd } from './health/redis-connection-log';
import { HttpCacheModule } from './http-cache/http-cache.module';
import { ImagesModule } from './images/images.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { UsersModule } from './users/users.module';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, cache: true, load: configNamespaces, ignoreEnvFile: false }),
    LoggingModule,
    DatabaseModule,
    RedisCacheModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => logRedisConnectionEnd(config.getOrThrow<CacheConfig>('cache')),
    }),
    AuthModule,
    UsersModule,
    CharactersModule,
    ImagesModule,
    GenerationsModule,
    HttpCacheModule,
    HealthModule,
    MetricsModule,
  ],
})
export class AppModule {}
