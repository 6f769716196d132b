import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for the two foreign keys that had none. Deleting a character removes its generation jobs by cascade
 * (and selects their ids to evict their cached records), and deleting an image clears it as an avatar: without
 * an index PostgreSQL scans the whole child table for each delete.
 */
export class ForeignKeyIndexes1764100000000 implements MigrationInterface {
  name = 'ForeignKeyIndexes1764100000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX generation_jobs_character_idx ON generation_jobs (character_id)`);
    await q.query(
      `CREATE INDEX characters_avatar_image_idx ON characters (avatar_image_id) WHERE avatar_image_id IS NOT NULL`,
    );
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX characters_avatar_image_idx`);
    await q.query(`DROP INDEX generation_jobs_character_idx`);
  }
}
