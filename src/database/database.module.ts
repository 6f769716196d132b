import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseConfig } from '../config';
import { buildDataSourceOptions } from './data-source-options';
import { EmbeddedPostgresLifecycle } from './embedded-postgres.lifecycle';
import { EmbeddedSeeder } from './embedded-seeder';

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) =>
        buildDataSourceOptions(config.getOrThrow<DatabaseConfig>('database')),
    }),
  ],
  providers: [EmbeddedSeeder, EmbeddedPostgresLifecycle],
})
export class DatabaseModule {}
