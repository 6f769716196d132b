import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { DatabaseConfig } from '../config';
import { seedDatabase } from './seed/seeder';
import { seedPasswordHash } from './seed/seed-password';

export const DEMO_SEED = { users: 20, characters: 200, images: 600, seed: 42 };

/** First start on the embedded database: a small demo data set, so the service has something to show. */
@Injectable()
export class EmbeddedSeeder implements OnApplicationBootstrap {
  private readonly logger = new Logger(EmbeddedSeeder.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly config: ConfigService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const database = this.config.getOrThrow<DatabaseConfig>('database');
    if (!database.embedded || !database.seedEmbedded) {
      return;
    }
    const [{ count }] = await this.db.query<{ count: number }[]>(`SELECT count(*)::int AS count FROM users`);
    if (count > 0) {
      return;
    }
    const summary = await seedDatabase(this.db, DEMO_SEED, await seedPasswordHash());
    this.logger.log(
      `Seeded the embedded database with ${summary.users} users, ${summary.characters} characters and ${summary.images} images in ${summary.ms} ms`,
    );
  }
}
