import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The whole schema, written by hand: the list queries need partial and expression indexes that entity
 * decorators cannot express. Each list mode has an index that yields its order directly (see README, "Indexes").
 */
export class Init1764000000000 implements MigrationInterface {
  name = 'Init1764000000000';

  public async up(q: QueryRunner): Promise<void> {
    // gen_random_uuid() is core PostgreSQL (13+): no extension, so PGlite runs the same migration.
    await q.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        username varchar(32) NOT NULL CONSTRAINT users_username_key UNIQUE
          CONSTRAINT users_username_format CHECK (username ~ '^[a-z0-9_]{3,32}$'),
        email varchar(254) NOT NULL CONSTRAINT users_email_key UNIQUE,
        password_hash varchar(255) NOT NULL,
        role varchar(16) NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
        preferences jsonb NOT NULL DEFAULT '{"showNsfw":false,"language":"en"}'::jsonb,
        subscription_tier varchar(16) NOT NULL DEFAULT 'free' CHECK (subscription_tier IN ('free', 'plus', 'pro')),
        subscription_status varchar(16) NOT NULL DEFAULT 'active'
          CHECK (subscription_status IN ('active', 'past_due', 'canceled')),
        subscription_renews_at timestamptz,
        subscription_updated_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE characters (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name varchar(80) NOT NULL,
        description varchar(2000) NOT NULL DEFAULT '',
        tags text[] NOT NULL DEFAULT '{}',
        avatar_image_id uuid,
        visibility varchar(16) NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'unlisted', 'private')),
        nsfw boolean NOT NULL DEFAULT false,
        premium boolean NOT NULL DEFAULT false,
        featured boolean NOT NULL DEFAULT false,
        featured_rank integer,
        image_count integer NOT NULL DEFAULT 0 CHECK (image_count >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        version integer NOT NULL DEFAULT 1
      )`);
    await q.query(`
      CREATE TABLE images (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        character_id uuid NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
        storage_key varchar(255) NOT NULL CONSTRAINT images_storage_key_key UNIQUE,
        mime varchar(32) NOT NULL,
        width integer NOT NULL CHECK (width > 0),
        height integer NOT NULL CHECK (height > 0),
        bytes integer NOT NULL CHECK (bytes > 0),
        nsfw boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      ALTER TABLE characters ADD CONSTRAINT characters_avatar_image_fk
        FOREIGN KEY (avatar_image_id) REFERENCES images (id) ON DELETE SET NULL`);
    await q.query(`
      CREATE TABLE generation_jobs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        character_id uuid NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
        prompt varchar(2000) NOT NULL,
        parameters jsonb NOT NULL DEFAULT '{}'::jsonb,
        status varchar(16) NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
        result jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);

    // mode=mine: the owner's characters, newest first.
    await q.query(`CREATE INDEX characters_owner_created_idx ON characters (owner_id, created_at DESC, id DESC)`);
    // mode=all (by name), new (newest), popular (most images), featured (rank): public rows only, in list order.
    await q.query(`CREATE INDEX characters_public_name_idx ON characters (name, id) WHERE visibility = 'public'`);
    await q.query(
      `CREATE INDEX characters_public_created_idx ON characters (created_at DESC, id DESC) WHERE visibility = 'public'`,
    );
    await q.query(
      `CREATE INDEX characters_public_popular_idx ON characters (image_count DESC, id DESC) WHERE visibility = 'public'`,
    );
    await q.query(
      `CREATE INDEX characters_featured_idx ON characters (featured_rank, id) WHERE featured AND visibility = 'public'`,
    );
    // tag= and q= filters.
    await q.query(`CREATE INDEX characters_tags_idx ON characters USING gin (tags)`);
    await q.query(
      `CREATE INDEX characters_search_idx ON characters USING gin (to_tsvector('simple', name || ' ' || description))`,
    );
    await q.query(`CREATE INDEX images_character_created_idx ON images (character_id, created_at DESC, id DESC)`);
    await q.query(
      `CREATE INDEX images_owner_character_created_idx ON images (owner_id, character_id, created_at DESC, id DESC)`,
    );
    await q.query(`CREATE INDEX generation_jobs_owner_created_idx ON generation_jobs (owner_id, created_at DESC)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE generation_jobs`);
    await q.query(`ALTER TABLE characters DROP CONSTRAINT characters_avatar_image_fk`);
    await q.query(`DROP TABLE images`);
    await q.query(`DROP TABLE characters`);
    await q.query(`DROP TABLE users`);
  }
}
