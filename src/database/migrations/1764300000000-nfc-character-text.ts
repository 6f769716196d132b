import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Character names and descriptions in NFC, as the API has stored them since it started normalizing (the search
 * text is NFC too): a row written earlier in another form (an é as e + U+0301, as macOS and some keyboards send
 * it) was never found by a search typed the usual way. A row whose text changes is a new version, as after any
 * write, so an If-Match taken before it no longer matches.
 *
 * Entries already in the cache keep the old form until their TTL ends (they read the same on screen).
 */
export class NfcCharacterText1764300000000 implements MigrationInterface {
  name = 'NfcCharacterText1764300000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      UPDATE characters
         SET name = normalize(name, NFC), description = normalize(description, NFC),
             version = version + 1, updated_at = now()
       WHERE name IS NOT NFC NORMALIZED OR description IS NOT NFC NORMALIZED`);
  }

  /** Nothing to undo: the forms the rows had before are not kept, and NFC is what the API writes anyway. */
  public async down(): Promise<void> {}
}
