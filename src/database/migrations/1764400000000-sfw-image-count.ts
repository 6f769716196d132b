import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `characters.sfw_image_count`: how many of a character's images are not nsfw, what a viewer who does not see nsfw
 * images is told it has (`imageCount`) and what their `popular` lists are ordered by. `image_count` counted every
 * image for everyone, so it told such a viewer how many nsfw images a character had, and ordered their lists by
 * images they could not open.
 *
 * Uploads and deletions recount it from `images` (under the character's row lock) rather than add or subtract
 * one, so a row that an instance without this column wrote to during a rolling deploy comes right on its next
 * image write. No check against `image_count` for the same reason: that one is still kept by increments.
 * The new index gives those viewers' `popular` lists their order, as `characters_public_popular_idx` does for the
 * others (its predicate is the one their lists filter by).
 *
 * Entries already in the cache keep the count of all images until their TTL ends.
 */
export class SfwImageCount1764400000000 implements MigrationInterface {
  name = 'SfwImageCount1764400000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE characters ADD COLUMN sfw_image_count integer NOT NULL DEFAULT 0 CHECK (sfw_image_count >= 0)`,
    );
    await q.query(`
      UPDATE characters c SET sfw_image_count = s.n
        FROM (SELECT character_id, count(*)::int AS n FROM images WHERE NOT nsfw GROUP BY character_id) s
       WHERE s.character_id = c.id`);
    await q.query(
      `CREATE INDEX characters_public_popular_sfw_idx ON characters (sfw_image_count DESC, id DESC)
         WHERE visibility = 'public' AND nsfw = false`,
    );
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS characters_public_popular_sfw_idx`);
    await q.query(`ALTER TABLE characters DROP COLUMN IF EXISTS sfw_image_count`);
  }
}
