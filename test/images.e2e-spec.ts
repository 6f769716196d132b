import { ConfigService } from '@nestjs/config';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { StorageConfig } from '../src/config';
import { CdnUrlBuilder } from '../src/storage/cdn-url.builder';
import { createCharacter, createUser, tableCounts, TestUser } from './support/fixtures';
import { corruptPng, elf, gif, jpeg, noisyPng, png, webp, zip } from './support/images';
import { bootTestApp, TestApp } from './support/test-app';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MISSING_ID = '00000000-0000-4000-8000-000000000000';

interface UploadOptions {
  filename?: string;
  contentType?: string;
  nsfw?: string;
}

/** Everything a request could have written: row counts (and versions) and the files under the storage root. */
interface Written {
  counts: Record<string, number>;
  files: string[];
}

function storageOf(t: TestApp): StorageConfig {
  return t.app.get(ConfigService).getOrThrow<StorageConfig>('storage');
}

async function storedFiles(t: TestApp): Promise<string[]> {
  const root = storageOf(t).localDir;
  try {
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile())
      .map((e) => relative(root, join(e.parentPath, e.name)))
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return [];
    }
    throw error;
  }
}

async function written(t: TestApp): Promise<Written> {
  return { counts: await tableCounts(t), files: await storedFiles(t) };
}

function upload(
  t: TestApp,
  user: TestUser | null,
  characterId: string,
  bytes: Buffer,
  options: UploadOptions = {},
) {
  const req = t.http.post(`/characters/${characterId}/images`);
  if (user) {
    void req.set(user.auth);
  }
  if (options.nsfw !== undefined) {
    void req.field('nsfw', options.nsfw);
  }
  return req.attach('file', bytes, {
    filename: options.filename ?? 'picture.png',
    contentType: options.contentType ?? 'application/octet-stream',
  });
}

async function characterRow(
  t: TestApp,
  id: string,
): Promise<{ image_count: number; avatar_image_id: string | null }> {
  const { rows } = await t.db.query(`SELECT image_count, avatar_image_id FROM characters WHERE id = $1`, [
    id,
  ]);
  return rows[0];
}

describe('images', () => {
  let t: TestApp;
  let owner: TestUser;
  let other: TestUser;
  let admin: TestUser;

  beforeAll(async () => {
    t = await bootTestApp({ UPLOAD_MAX_BYTES: String(10 * 1024 * 1024) });
    owner = await createUser(t);
    other = await createUser(t);
    admin = await createUser(t, { role: 'admin' });
  });
  afterAll(() => t.close());

  const as = (user: TestUser | null, req: ReturnType<TestApp['http']['get']>) =>
    user ? req.set(user.auth) : req;

  describe('upload', () => {
    it('stores the file, records it and makes the first image the avatar', async () => {
      const character = await createCharacter(t, owner);
      const bytes = png(3, 2);
      const res = await upload(t, owner, character.id, bytes, { nsfw: 'false' }).expect(201);

      const { cdnBaseUrl } = storageOf(t);
      const key = `images/${character.id}/${res.body.id}.png`;
      expect(res.body).toEqual({
        id: expect.stringMatching(UUID),
        characterId: character.id,
        ownerId: owner.id,
        url: `${cdnBaseUrl}/${key}`,
        variants: {
          thumb: expect.stringContaining(`${cdnBaseUrl}/v/thumb/${key}?w=256&exp=`),
          card: expect.stringContaining(`${cdnBaseUrl}/v/card/${key}?w=512&exp=`),
          full: expect.stringContaining(`${cdnBaseUrl}/v/full/${key}?exp=`),
        },
        mime: 'image/png',
        width: 3,
        height: 2,
        bytes: bytes.length,
        nsfw: false,
        createdAt: expect.any(String),
      });
      expect(new Date(res.body.createdAt).toISOString()).toBe(res.body.createdAt);
      expect(await readFile(join(storageOf(t).localDir, key))).toEqual(bytes);
      const { rows } = await t.db.query(`SELECT storage_key, owner_id, bytes FROM images WHERE id = $1`, [
        res.body.id,
      ]);
      expect(rows).toEqual([{ storage_key: key, owner_id: owner.id, bytes: bytes.length }]);
      expect(await characterRow(t, character.id)).toEqual({ image_count: 1, avatar_image_id: res.body.id });

      const second = await upload(t, owner, character.id, jpeg(), { nsfw: 'true' }).expect(201);
      expect(second.body).toMatchObject({ mime: 'image/jpeg', nsfw: true });
      // The avatar stays the first image; only the count moves.
      expect(await characterRow(t, character.id)).toEqual({ image_count: 2, avatar_image_id: res.body.id });

      // Readers who do not see nsfw images are not told of it; its owner is.
      const shown = await t.http.get(`/characters/${character.id}`).expect(200);
      expect(shown.body).toMatchObject({
        imageCount: 1,
        avatarImageId: res.body.id,
        avatarUrl: res.body.url,
      });
      expect((await t.http.get(`/characters/${character.id}`).set(owner.auth).expect(200)).body.imageCount).toBe(2);
      expect((await t.http.get(`/images/${res.body.id}`).expect(200)).body).toEqual(res.body);
    });

    it.each([
      ['png', png(5, 4), 'image/png', 'png', 5, 4],
      ['jpeg', jpeg(9, 17), 'image/jpeg', 'jpg', 9, 17],
      ['gif', gif(2, 3), 'image/gif', 'gif', 2, 3],
      ['webp', webp(), 'image/webp', 'webp', 1, 1],
      ['png of noise', noisyPng(40, 40), 'image/png', 'png', 40, 40],
    ])('accepts a %s, typed and sized from its bytes', async (_name, bytes, mime, ext, width, height) => {
      const character = await createCharacter(t, owner);
      const res = await upload(t, owner, character.id, bytes).expect(201);
      expect(res.body).toMatchObject({ mime, width, height, bytes: bytes.length, nsfw: false });
      expect(res.body.url).toMatch(new RegExp(`/images/${character.id}/${res.body.id}\\.${ext}$`));
      expect(await storedFiles(t)).toContain(`images/${character.id}/${res.body.id}.${ext}`);
    });

    it('trusts the bytes over the file name and the declared content type', async () => {
      const character = await createCharacter(t, owner);
      const res = await upload(t, owner, character.id, png(), {
        filename: 'photo.gif',
        contentType: 'image/gif',
      }).expect(201);
      expect(res.body).toMatchObject({ mime: 'image/png' });
      expect(res.body.url).toMatch(/\.png$/);
    });

    it("lets an admin upload to anyone's character, as the uploader", async () => {
      const character = await createCharacter(t, owner, { visibility: 'private' });
      const res = await upload(t, admin, character.id, png()).expect(201);
      expect(res.body).toMatchObject({ ownerId: admin.id, characterId: character.id });
      expect(await characterRow(t, character.id)).toEqual({ image_count: 1, avatar_image_id: res.body.id });
    });

    it('deleting a character deletes its images: rows, stored files and cached reads', async () => {
      const character = await createCharacter(t, owner);
      const kept = await createCharacter(t, owner);
      const images = [];
      for (const file of [png(), gif(), jpeg()]) {
        images.push((await upload(t, owner, character.id, file).expect(201)).body);
      }
      const other = (await upload(t, owner, kept.id, webp()).expect(201)).body;
      // Cached reads of the images, which the deletion must not leave behind.
      await t.http.get(`/images/${images[0].id}`).expect(200);
      await t.http.get(`/characters/${character.id}/images`).expect(200);
      const filesOf = async (id: string) => (await storedFiles(t)).filter((f) => f.startsWith(`images/${id}/`));
      expect(await filesOf(character.id)).toHaveLength(3);

      await t.http.delete(`/characters/${character.id}`).set(owner.auth).expect(204);
      expect(await filesOf(character.id)).toEqual([]);
      const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM images WHERE character_id = $1`, [character.id]);
      expect(rows).toEqual([{ n: 0 }]);
      await t.http.get(`/images/${images[0].id}`).expect(404);
      await t.http.get(`/characters/${character.id}/images`).expect(404);
      // Another character's images are untouched.
      expect(await filesOf(kept.id)).toHaveLength(1);
      await t.http.get(`/images/${other.id}`).expect(200);
    });

    it.each([
      ['anonymous callers', null, 'public', 401, 'AUTH_REQUIRED'],
      ['other users', 'other', 'public', 403, 'NOT_OWNER'],
      ['other users of a private character (as missing)', 'other', 'private', 404, 'NOT_FOUND'],
    ] as const)('refuses %s, writing nothing', async (_name, who, visibility, status, code) => {
      const character = await createCharacter(t, owner, { visibility });
      const before = await written(t);
      const res = await upload(t, who ? other : null, character.id, png()).expect(status);
      expect(res.body).toMatchObject({ statusCode: status, code });
      expect(await written(t)).toEqual(before);
    });

    it('answers 404 for a character that does not exist', async () => {
      const before = await written(t);
      const res = await upload(t, owner, MISSING_ID, png()).expect(404);
      expect(res.body).toMatchObject({ code: 'NOT_FOUND', message: 'Character not found' });
      expect(await written(t)).toEqual(before);
    });

    it('removes the stored file when the transaction fails', async () => {
      const character = await createCharacter(t, owner);
      await t.db.query(`
        CREATE FUNCTION refuse_image_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused by test'; END $$;
        CREATE TRIGGER refuse_image_insert BEFORE INSERT ON images
          FOR EACH ROW EXECUTE FUNCTION refuse_image_insert();`);
      try {
        const before = await written(t);
        const res = await upload(t, owner, character.id, png()).expect(500);
        expect(res.body).toMatchObject({ statusCode: 500, code: 'INTERNAL_ERROR' });
        expect(await written(t)).toEqual(before);
      } finally {
        await t.db.query(`DROP TRIGGER refuse_image_insert ON images; DROP FUNCTION refuse_image_insert();`);
      }
      await upload(t, owner, character.id, png()).expect(201);
    });

    it('counts concurrent uploads to one character exactly', async () => {
      const character = await createCharacter(t, owner);
      const results = await Promise.all(
        Array.from({ length: 6 }, () => upload(t, owner, character.id, png())),
      );
      expect(results.map((r) => r.status)).toEqual(Array(6).fill(201));
      const ids = results.map((r) => r.body.id as string);
      const row = await characterRow(t, character.id);
      expect(row.image_count).toBe(6);
      expect(ids).toContain(row.avatar_image_id);
    });
  });

  describe('reads', () => {
    it('an uploader who registers after their name was looked up is found at once (no cached "no such user")', async () => {
      const name = `late${process.pid}`;
      const character = await createCharacter(t, owner);
      await t.http.get(`/users/${name}/characters/${character.id}/images`).expect(404);
      const late = await createUser(t, {}, name);
      const mine = await createCharacter(t, late);
      const image = (await upload(t, late, mine.id, png()).expect(201)).body;
      const res = await t.http.get(`/users/${name}/characters/${mine.id}/images`).set(late.auth).expect(200);
      expect(res.body.items).toEqual([image]);
    });

    it('lists a gallery newest first and the images of one uploader', async () => {
      const character = await createCharacter(t, owner);
      const first = (await upload(t, owner, character.id, png()).expect(201)).body;
      const byAdmin = (await upload(t, admin, character.id, gif()).expect(201)).body;
      const last = (await upload(t, owner, character.id, jpeg()).expect(201)).body;

      const gallery = await t.http.get(`/characters/${character.id}/images`).expect(200);
      expect(gallery.body).toEqual({
        items: [last, byAdmin, first],
        page: 1,
        limit: 20,
        total: 3,
        hasNext: false,
      });

      const mine = await t.http.get(`/users/${owner.username}/characters/${character.id}/images`).expect(200);
      expect(mine.body).toEqual({ items: [last, first], page: 1, limit: 20, total: 2, hasNext: false });
      const admins = await t.http
        .get(`/users/${admin.username}/characters/${character.id}/images`)
        .expect(200);
      expect(admins.body.items).toEqual([byAdmin]);
      const none = await t.http.get(`/users/${other.username}/characters/${character.id}/images`).expect(200);
      expect(none.body).toEqual({ items: [], page: 1, limit: 20, total: 0, hasNext: false });
    });

    it('pages through a gallery without gaps or repeats', async () => {
      const character = await createCharacter(t, owner);
      const uploaded: string[] = [];
      for (let i = 0; i < 3; i++) {
        uploaded.unshift((await upload(t, owner, character.id, png(i + 1, 1)).expect(201)).body.id);
      }
      const page = (n: number, limit: number) =>
        t.http.get(`/characters/${character.id}/images`).query({ page: n, limit }).expect(200);

      const pages = [await page(1, 1), await page(2, 1), await page(3, 1)];
      expect(pages.map((p) => p.body.items.map((i: { id: string }) => i.id)).flat()).toEqual(uploaded);
      expect(pages.map((p) => p.body.hasNext)).toEqual([true, true, false]);
      expect(pages.map((p) => p.body.total)).toEqual([3, 3, 3]);

      expect((await page(2, 2)).body).toMatchObject({
        page: 2,
        limit: 2,
        total: 3,
        hasNext: false,
        items: [{ id: uploaded[2] }],
      });
      expect((await page(9, 2)).body).toEqual({ items: [], page: 9, limit: 2, total: 3, hasNext: false });
      const userPage = await t.http
        .get(`/users/${owner.username}/characters/${character.id}/images`)
        .query({ page: 4, limit: 1 })
        .expect(200);
      expect(userPage.body).toEqual({ items: [], page: 4, limit: 1, total: 3, hasNext: false });
    });

    it('shows nsfw images to the character owner and admins, and nobody else without the preference', async () => {
      // Only the owner or an admin can upload, so the uploader is always one of them.
      const character = await createCharacter(t, owner);
      const image = (await upload(t, owner, character.id, png(), { nsfw: 'true' }).expect(201)).body;
      const admin = await createUser(t, { role: 'admin' });
      const stranger = await createUser(t);

      for (const viewer of [owner, admin]) {
        await t.http.get(`/images/${image.id}`).set(viewer.auth).expect(200);
        const seen = await t.http.get(`/users/${owner.username}/characters/${character.id}/images`).set(viewer.auth).expect(200);
        expect(seen.body.items.map((i: { id: string }) => i.id)).toEqual([image.id]);
      }
      await t.http.get(`/images/${image.id}`).set(stranger.auth).expect(404);
      const hidden = await t.http.get(`/characters/${character.id}/images`).set(stranger.auth).expect(200);
      expect(hidden.body).toMatchObject({ items: [], total: 0 });
    });

    it('answers 404 for unknown images, characters and users', async () => {
      const character = await createCharacter(t, owner);
      expect((await t.http.get(`/images/${MISSING_ID}`).expect(404)).body).toMatchObject({
        message: 'Image not found',
      });
      expect((await t.http.get(`/characters/${MISSING_ID}/images`).expect(404)).body).toMatchObject({
        message: 'Character not found',
      });
      expect(
        (await t.http.get(`/users/nobody_here/characters/${character.id}/images`).expect(404)).body,
      ).toMatchObject({
        message: 'User not found',
      });
      expect(
        (await t.http.get(`/users/${owner.username}/characters/${MISSING_ID}/images`).expect(404)).body,
      ).toMatchObject({
        message: 'Character not found',
      });
    });
  });

  describe('delete', () => {
    it('removes the row, the count and the file; the newest remaining image becomes the avatar', async () => {
      const character = await createCharacter(t, owner);
      const a = (await upload(t, owner, character.id, png()).expect(201)).body;
      const b = (await upload(t, owner, character.id, gif()).expect(201)).body;
      const c = (await upload(t, owner, character.id, jpeg()).expect(201)).body;
      const keyOf = (image: { id: string; url: string }) =>
        `images/${character.id}/${image.url.split('/').pop()}`;
      expect(await characterRow(t, character.id)).toEqual({ image_count: 3, avatar_image_id: a.id });

      await t.http.delete(`/images/${b.id}`).set(owner.auth).expect(204);
      expect(await characterRow(t, character.id)).toEqual({ image_count: 2, avatar_image_id: a.id });
      expect(await storedFiles(t)).not.toContain(keyOf(b));
      await t.http.get(`/images/${b.id}`).expect(404);

      await t.http.delete(`/images/${a.id}`).set(owner.auth).expect(204);
      expect(await characterRow(t, character.id)).toEqual({ image_count: 1, avatar_image_id: c.id });

      const d = (await upload(t, owner, character.id, webp()).expect(201)).body;
      expect(await characterRow(t, character.id)).toEqual({ image_count: 2, avatar_image_id: c.id });
      await t.http.delete(`/images/${c.id}`).set(owner.auth).expect(204);
      expect(await characterRow(t, character.id)).toEqual({ image_count: 1, avatar_image_id: d.id });
      await t.http.delete(`/images/${d.id}`).set(owner.auth).expect(204);
      expect(await characterRow(t, character.id)).toEqual({ image_count: 0, avatar_image_id: null });
      expect((await storedFiles(t)).filter((f) => f.startsWith(`images/${character.id}/`))).toEqual([]);
      expect((await t.http.get(`/characters/${character.id}/images`).expect(200)).body.total).toBe(0);
    });

    it.each([
      ['anonymous callers', null, 'public', 401, 'AUTH_REQUIRED'],
      ['other users', 'other', 'public', 403, 'NOT_OWNER'],
      ['other users who cannot see the image (as missing)', 'other', 'private', 404, 'NOT_FOUND'],
    ] as const)('refuses %s, writing nothing', async (_name, who, visibility, status, code) => {
      const character = await createCharacter(t, owner, { visibility });
      const image = (await upload(t, owner, character.id, png()).expect(201)).body;
      const before = await written(t);
      const req = t.http.delete(`/images/${image.id}`);
      const res = await (who ? req.set(other.auth) : req).expect(status);
      expect(res.body).toMatchObject({ statusCode: status, code });
      expect(await written(t)).toEqual(before);
    });

    it('refuses a nsfw image to others as missing without the preference, as forbidden with it', async () => {
      const character = await createCharacter(t, owner);
      const image = (await upload(t, owner, character.id, png(), { nsfw: 'true' }).expect(201)).body;
      const nsfwViewer = await createUser(t, { showNsfw: true });
      await t.http.delete(`/images/${image.id}`).set(other.auth).expect(404);
      const res = await t.http.delete(`/images/${image.id}`).set(nsfwViewer.auth).expect(403);
      expect(res.body.code).toBe('NOT_OWNER');
    });

    it.each([
      ['an admin', 'admin'],
      ['the character owner', 'owner'],
      ['the uploader, even when they can no longer see the character', 'uploader'],
    ] as const)('lets %s delete', async (_name, who) => {
      const character = await createCharacter(t, owner, { visibility: 'private' });
      const image = (await upload(t, who === 'owner' ? admin : owner, character.id, png()).expect(201)).body;
      if (who === 'uploader') {
        await t.db.query(`UPDATE images SET owner_id = $2 WHERE id = $1`, [image.id, other.id]);
      }
      const user = { admin, owner, uploader: other }[who];
      await t.http.delete(`/images/${image.id}`).set(user.auth).expect(204);
      expect(await characterRow(t, character.id)).toEqual({ image_count: 0, avatar_image_id: null });
      expect(await t.db.query(`SELECT 1 FROM images WHERE id = $1`, [image.id])).toMatchObject({
        rowCount: 0,
      });
    });

    it('answers 404 for an image that does not exist (or no longer does)', async () => {
      const character = await createCharacter(t, owner);
      const image = (await upload(t, owner, character.id, png()).expect(201)).body;
      await t.http.delete(`/images/${image.id}`).set(owner.auth).expect(204);
      const before = await written(t);
      await t.http.delete(`/images/${image.id}`).set(owner.auth).expect(404);
      await t.http.delete(`/images/${MISSING_ID}`).set(admin.auth).expect(404);
      expect(await written(t)).toEqual(before);
    });

    it('keeps the count exact when images are deleted concurrently', async () => {
      const character = await createCharacter(t, owner);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push((await upload(t, owner, character.id, png()).expect(201)).body.id);
      }
      const results = await Promise.all(ids.map((id) => t.http.delete(`/images/${id}`).set(owner.auth)));
      expect(results.map((r) => r.status)).toEqual(Array(5).fill(204));
      expect(await characterRow(t, character.id)).toEqual({ image_count: 0, avatar_image_id: null });
    });
  });

  describe('bad input', () => {
    let character: { id: string };
    let image: { id: string };

    beforeAll(async () => {
      character = await createCharacter(t, owner);
      image = (await upload(t, owner, character.id, png()).expect(201)).body;
    });

    const gallery = () => `/characters/${character.id}/images`;
    const byUser = () => `/users/${owner.username}/characters/${character.id}/images`;

    it.each([
      ['a non-uuid character id', () => t.http.get('/characters/abc/images'), 'id'],
      ['a non-uuid image id', () => t.http.get('/images/123'), 'id'],
      ['a non-uuid id to delete', () => t.http.delete('/images/1;DROP').set(owner.auth), 'id'],
      ['a non-uuid id to upload to', () => upload(t, owner, 'nope', png()), 'id'],
      ['a malformed username', () => t.http.get(`/users/No!/characters/${character.id}/images`), 'username'],
      [
        'a non-uuid character id by user',
        () => t.http.get(`/users/${owner.username}/characters/x/images`),
        'characterId',
      ],
      ['page=-1', () => t.http.get(gallery()).query({ page: -1 }), 'page'],
      ['page=0', () => t.http.get(gallery()).query({ page: 0 }), 'page'],
      ['page=abc', () => t.http.get(gallery()).query({ page: 'abc' }), 'page'],
      ['page=1e9', () => t.http.get(gallery()).query({ page: '1e9' }), 'page'],
      ['page=1.5', () => t.http.get(byUser()).query({ page: '1.5' }), 'page'],
      ['limit=1000', () => t.http.get(gallery()).query({ limit: 1000 }), 'limit'],
      ['limit=0', () => t.http.get(byUser()).query({ limit: 0 }), 'limit'],
      ['an unknown query field', () => t.http.get(gallery()).query({ sort: 'name' }), 'sort'],
      ['an unknown query field by user', () => t.http.get(byUser()).query({ nsfw: 'true' }), 'nsfw'],
    ])('refuses %s with 400 naming the field, writing nothing', async (_name, send, field) => {
      const before = await written(t);
      const res = await send().expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'VALIDATION_FAILED' });
      expect(res.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
      expect(await written(t)).toEqual(before);
    });

    const post = () => t.http.post(gallery()).set(owner.auth);
    const send = (bytes: Buffer, options?: UploadOptions) => upload(t, owner, character.id, bytes, options);
    const namedPng = { filename: 'x.png', contentType: 'image/png' };
    const boundary = 'multipart/form-data; boundary=b';
    const cutShort = '--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n\x89PNG';

    it.each([
      [
        'a text file named x.png',
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        'file',
        () => send(Buffer.from('hi\n'), namedPng),
      ],
      ['a ZIP archive named x.png', 415, 'UNSUPPORTED_MEDIA_TYPE', 'file', () => send(zip(), namedPng)],
      ['an executable named x.png', 415, 'UNSUPPORTED_MEDIA_TYPE', 'file', () => send(elf(), namedPng)],
      ['a corrupt PNG', 400, 'INVALID_IMAGE', 'file', () => send(corruptPng())],
      ['a truncated PNG', 400, 'INVALID_IMAGE', 'file', () => send(png().subarray(0, 45))],
      [
        'an image over 16384 pixels wide',
        400,
        'IMAGE_DIMENSIONS_TOO_LARGE',
        'file',
        () => send(png(16_385, 1)),
      ],
      ['an empty file', 400, 'VALIDATION_FAILED', 'file', () => send(Buffer.alloc(0))],
      ['a form without the file field', 400, 'VALIDATION_FAILED', 'file', () => post().field('nsfw', 'true')],
      [
        'the file in another field',
        400,
        'VALIDATION_FAILED',
        'image',
        () => post().attach('image', png(), 'a.png'),
      ],
      [
        'two files',
        400,
        'TOO_MANY_FILES',
        'file',
        () => post().attach('file', png(), 'a.png').attach('file', png(), 'b.png'),
      ],
      ['nsfw=maybe', 400, 'VALIDATION_FAILED', 'nsfw', () => send(png(), { nsfw: 'maybe' })],
      [
        'nsfw sent twice',
        400,
        'VALIDATION_FAILED',
        'nsfw',
        () => post().field('nsfw', 'true').field('nsfw', 'false').attach('file', png(), 'a.png'),
      ],
      [
        'an unknown form field',
        400,
        'VALIDATION_FAILED',
        'title',
        () => post().field('title', 'x').attach('file', png(), 'a.png'),
      ],
      [
        'a JSON body',
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        'file',
        () => post().send({ file: png().toString('base64') }),
      ],
      ['a text body', 415, 'UNSUPPORTED_MEDIA_TYPE', 'file', () => post().type('text/plain').send('hello')],
      [
        'multipart without a boundary',
        400,
        'MALFORMED_MULTIPART',
        null,
        () => post().type('multipart/form-data').send('--x'),
      ],
      [
        'a multipart body cut short',
        400,
        'MALFORMED_MULTIPART',
        null,
        () => post().type(boundary).send(cutShort),
      ],
    ])('refuses %s, writing nothing', async (_name, status, code, field, request) => {
      const before = await written(t);
      const res = await request().expect(status);
      expect(res.body).toMatchObject({ statusCode: status, code });
      if (field) {
        expect(res.body.details).toEqual([expect.objectContaining({ field })]);
      }
      expect(await written(t)).toEqual(before);
    });

    it('still answers for the image that was there all along', async () => {
      await t.http.get(`/images/${image.id}`).expect(200);
      expect(await characterRow(t, character.id)).toEqual({ image_count: 1, avatar_image_id: image.id });
    });
  });

  describe('nsfw images and the avatar', () => {
    // The avatar is shown to everyone who can see the character, in lists too: an nsfw image is never the face
    // of an sfw character, however it got there.
    it('is not the avatar of an sfw character, first upload, explicit choice, or character made sfw later', async () => {
      const character = await createCharacter(t, owner, { nsfw: false });
      const nsfw = await upload(t, owner, character.id, png(4, 4), { nsfw: 'true' }).expect(201);
      expect(await characterRow(t, character.id)).toEqual({ image_count: 1, avatar_image_id: null });
      const detail = await t.http.get(`/characters/${character.id}`).expect(200);
      expect({ id: detail.body.avatarImageId, url: detail.body.avatarUrl }).toEqual({ id: null, url: null });

      const refused = await t.http.patch(`/characters/${character.id}`).set(owner.auth).send({ avatarImageId: nsfw.body.id }).expect(400);
      expect(refused.body.details?.[0]?.field).toBe('avatarImageId');

      // An sfw upload takes the place; an nsfw character may show an nsfw avatar, until it is made sfw again.
      const sfw = await upload(t, owner, character.id, png(5, 5), { nsfw: 'false' }).expect(201);
      expect(await characterRow(t, character.id)).toEqual({ image_count: 2, avatar_image_id: sfw.body.id });
      await t.http.patch(`/characters/${character.id}`).set(owner.auth).send({ nsfw: true, avatarImageId: nsfw.body.id }).expect(200);
      await t.http.patch(`/characters/${character.id}`).set(owner.auth).send({ nsfw: false }).expect(200);
      const after = await t.http.get(`/characters/${character.id}`).expect(200);
      expect({ id: after.body.avatarImageId, url: after.body.avatarUrl }).toEqual({ id: null, url: null });
      const listed = await t.http.get(`/characters?mode=mine&limit=100`).set(owner.auth).expect(200);
      expect(listed.body.items.find((c: { id: string }) => c.id === character.id).avatarUrl).toBeNull();

      // Deleting the sfw avatar hands the place to the newest image still allowed, never the nsfw one.
      await t.http.patch(`/characters/${character.id}`).set(owner.auth).send({ avatarImageId: sfw.body.id }).expect(200);
      await t.http.delete(`/images/${sfw.body.id}`).set(owner.auth).expect(204);
      expect(await characterRow(t, character.id)).toEqual({ image_count: 1, avatar_image_id: null });
    });
  });

  describe('imageCount: what the viewer can open', () => {
    // Mixed: 1 sfw and 3 nsfw images; plain: 2 sfw. By all images mixed is the more popular, by sfw images plain.
    let mixed: { id: string; version: number };
    let plain: { id: string; version: number };
    let freeNsfw: TestUser;
    let tag: string;

    beforeAll(async () => {
      freeNsfw = await createUser(t, { showNsfw: true });
      tag = `counted${process.pid}`;
      mixed = await createCharacter(t, owner, { name: 'Mixed gallery', tags: [tag] });
      plain = await createCharacter(t, owner, { name: 'Plain gallery', tags: [tag] });
      for (const nsfw of ['false', 'true', 'true', 'true']) {
        await upload(t, owner, mixed.id, png(3, 3), { nsfw }).expect(201);
      }
      for (const nsfw of ['false', 'false']) {
        await upload(t, owner, plain.id, png(3, 3), { nsfw }).expect(201);
      }
    });

    const viewerOf = (name: 'anonymous' | 'free' | 'freeNsfw' | 'owner' | 'admin'): TestUser | null =>
      ({ anonymous: null, free: other, freeNsfw, owner, admin })[name];

    it.each([
      ['anonymous', 1],
      ['free', 1],
      ['freeNsfw', 4],
      // The owner and admins see every image of it, whatever their preference (the owner's is sfw).
      ['owner', 4],
      ['admin', 4],
    ] as const)('the detail tells %s of %i images, as many as their gallery holds', async (name, count) => {
      const viewer = viewerOf(name);
      const detail = await as(viewer, t.http.get(`/characters/${mixed.id}`)).expect(200);
      const gallery = await as(viewer, t.http.get(`/characters/${mixed.id}/images?limit=100`)).expect(200);
      expect({ imageCount: detail.body.imageCount, galleryTotal: gallery.body.total }).toEqual({
        imageCount: count,
        galleryTotal: count,
      });
    });

    it('popular lists are ordered and counted by the images their class can open', async () => {
      const listed = async (viewer: TestUser | null, mode = 'popular') =>
        (await as(viewer, t.http.get(`/characters?mode=${mode}&tag=${tag}`)).expect(200)).body.items.map(
          (c: { id: string; imageCount: number }) => [c.id, c.imageCount],
        );
      expect(await listed(null)).toEqual([
        [plain.id, 2],
        [mixed.id, 1],
      ]);
      expect(await listed(freeNsfw)).toEqual([
        [mixed.id, 4],
        [plain.id, 2],
      ]);
      // The owner's own list counts everything.
      const mine = (await t.http.get(`/characters?mode=mine&limit=100`).set(owner.auth).expect(200)).body.items;
      expect(mine.find((c: { id: string }) => c.id === mixed.id)?.imageCount).toBe(4);
    });

    it('each view is cached on its own, and an upload reaches both', async () => {
      const counts = async () => ({
        anonymous: (await t.http.get(`/characters/${plain.id}`).expect(200)).body.imageCount,
        freeNsfw: (await t.http.get(`/characters/${plain.id}`).set(freeNsfw.auth).expect(200)).body.imageCount,
      });
      expect(await counts()).toEqual({ anonymous: 2, freeNsfw: 2 });
      const before = t.queries();
      expect(await counts()).toEqual({ anonymous: 2, freeNsfw: 2 });
      // Both views came from the cache: no character was read (the bearer's user is cached as well).
      expect(t.queries() - before).toBe(0);

      await upload(t, owner, plain.id, png(3, 3), { nsfw: 'true' }).expect(201);
      expect(await counts()).toEqual({ anonymous: 2, freeNsfw: 3 });
      const { rows } = await t.db.query(`SELECT image_count, sfw_image_count FROM characters WHERE id = $1`, [plain.id]);
      expect(rows[0]).toEqual({ image_count: 3, sfw_image_count: 2 });
    });

    it('a deletion counts the sfw images again, even where the stored count had drifted', async () => {
      const character = await createCharacter(t, owner, { name: 'Drifted' });
      await upload(t, owner, character.id, png(3, 3), { nsfw: 'false' }).expect(201);
      const gone = await upload(t, owner, character.id, png(3, 3), { nsfw: 'true' }).expect(201);
      // As an instance without the column would leave it during a rolling deploy.
      await t.db.query(`UPDATE characters SET sfw_image_count = 0 WHERE id = $1`, [character.id]);
      await t.http.delete(`/images/${gone.body.id}`).set(owner.auth).expect(204);
      const { rows } = await t.db.query(`SELECT image_count, sfw_image_count FROM characters WHERE id = $1`, [character.id]);
      expect(rows[0]).toEqual({ image_count: 1, sfw_image_count: 1 });
      expect((await t.http.get(`/characters/${character.id}`).expect(200)).body.imageCount).toBe(1);
    });

    it('an ETag read anonymously is a valid If-Match for the owner, though the owner’s view differs', async () => {
      const anonymous = await t.http.get(`/characters/${mixed.id}`).expect(200);
      const own = await t.http.get(`/characters/${mixed.id}`).set(owner.auth).expect(200);
      expect(anonymous.headers.etag).not.toBe(own.headers.etag);
      const patched = await t.http
        .patch(`/characters/${mixed.id}`)
        .set(owner.auth)
        .set('If-Match', anonymous.headers.etag)
        .send({ description: 'read while signed out' })
        .expect(200);
      expect(patched.body).toMatchObject({ description: 'read while signed out', imageCount: 4 });
      // That ETag is now of an older version: refused.
      await t.http
        .patch(`/characters/${mixed.id}`)
        .set(owner.auth)
        .set('If-Match', anonymous.headers.etag)
        .send({ description: 'again' })
        .expect(412);
    });
  });

  describe('visibility', () => {
    type Kind = 'public' | 'unlisted' | 'private' | 'nsfw' | 'premium' | 'nsfwPremium';
    type ViewerName = 'anonymous' | 'free' | 'freeNsfw' | 'plus' | 'proNsfw' | 'owner' | 'admin';
    const KINDS: Record<
      Kind,
      { visibility: 'public' | 'unlisted' | 'private'; nsfw: boolean; premium: boolean }
    > = {
      public: { visibility: 'public', nsfw: false, premium: false },
      unlisted: { visibility: 'unlisted', nsfw: false, premium: false },
      private: { visibility: 'private', nsfw: false, premium: false },
      nsfw: { visibility: 'public', nsfw: true, premium: false },
      premium: { visibility: 'public', nsfw: false, premium: true },
      nsfwPremium: { visibility: 'public', nsfw: true, premium: true },
    };
    /** Written out by hand, independently of the service: whose galleries each viewer may open... */
    const OPENABLE: Record<ViewerName, Kind[]> = {
      anonymous: ['public', 'unlisted'],
      free: ['public', 'unlisted'],
      freeNsfw: ['public', 'unlisted', 'nsfw'],
      plus: ['public', 'unlisted', 'premium'],
      proNsfw: ['public', 'unlisted', 'nsfw', 'premium', 'nsfwPremium'],
      owner: Object.keys(KINDS) as Kind[],
      admin: Object.keys(KINDS) as Kind[],
    };
    /** ...and who sees the nsfw-flagged images inside them. */
    const SEES_NSFW_IMAGES: Record<ViewerName, boolean> = {
      anonymous: false,
      free: false,
      freeNsfw: true,
      plus: false,
      proNsfw: true,
      owner: true,
      admin: true,
    };

    const viewers = {} as Record<ViewerName, TestUser | null>;
    const galleries = {} as Record<Kind, { characterId: string; sfw: string; nsfw: string }>;

    beforeAll(async () => {
      viewers.anonymous = null;
      viewers.free = await createUser(t);
      viewers.freeNsfw = await createUser(t, { showNsfw: true });
      viewers.plus = await createUser(t, { tier: 'plus' });
      viewers.proNsfw = await createUser(t, { tier: 'pro', showNsfw: true });
      viewers.owner = await createUser(t);
      viewers.admin = admin;
      for (const [kind, options] of Object.entries(KINDS) as [Kind, (typeof KINDS)[Kind]][]) {
        const { id } = await createCharacter(t, viewers.owner, options);
        const sfw = (await upload(t, viewers.owner, id, png(), { nsfw: 'false' }).expect(201)).body.id;
        const nsfw = (await upload(t, viewers.owner, id, gif(), { nsfw: 'true' }).expect(201)).body.id;
        galleries[kind] = { characterId: id, sfw, nsfw };
      }
    });

    const cases = (Object.keys(OPENABLE) as ViewerName[]).flatMap((viewer) =>
      (Object.keys(KINDS) as Kind[]).map((kind) => [viewer, kind] as const),
    );

    it.each(cases)('%s viewing the %s character gets exactly the allowed images', async (viewer, kind) => {
      const user = viewers[viewer];
      const { characterId, sfw, nsfw } = galleries[kind];
      const get = (path: string) => as(user, t.http.get(path));
      const ownerName = viewers.owner!.username;

      if (!OPENABLE[viewer].includes(kind)) {
        for (const path of [
          `/characters/${characterId}/images`,
          `/users/${ownerName}/characters/${characterId}/images`,
        ]) {
          expect((await get(path).expect(404)).body).toMatchObject({
            code: 'NOT_FOUND',
            message: 'Character not found',
          });
        }
        await get(`/images/${sfw}`).expect(404);
        await get(`/images/${nsfw}`).expect(404);
        return;
      }
      const expected = SEES_NSFW_IMAGES[viewer] ? [nsfw, sfw] : [sfw];
      const ids = (body: { items: { id: string }[]; total: number }) => ({
        ids: body.items.map((i) => i.id),
        total: body.total,
      });
      expect(ids((await get(`/characters/${characterId}/images`).expect(200)).body)).toEqual({
        ids: expected,
        total: expected.length,
      });
      expect(
        ids((await get(`/users/${ownerName}/characters/${characterId}/images`).expect(200)).body),
      ).toEqual({
        ids: expected,
        total: expected.length,
      });
      await get(`/images/${sfw}`).expect(200);
      await get(`/images/${nsfw}`).expect(SEES_NSFW_IMAGES[viewer] ? 200 : 404);
    });
  });
});

describe('images with a 2 KiB upload limit', () => {
  let t: TestApp;
  let owner: TestUser;

  beforeAll(async () => {
    t = await bootTestApp({ UPLOAD_MAX_BYTES: '2048' });
    owner = await createUser(t);
  });
  afterAll(() => t.close());

  it('refuses a larger file with 413 naming file, writing nothing', async () => {
    const character = await createCharacter(t, owner);
    const big = noisyPng(32, 32);
    expect(big.length).toBeGreaterThan(2048);
    const before = await written(t);
    const res = await upload(t, owner, character.id, big, { nsfw: 'true' }).expect(413);
    expect(res.body).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      code: 'PAYLOAD_TOO_LARGE',
      message: 'file must be at most 2048 bytes',
      details: [{ field: 'file', message: 'file must be at most 2048 bytes' }],
    });
    expect(await written(t)).toEqual(before);
  });

  it('accepts a file up to the limit', async () => {
    const character = await createCharacter(t, owner);
    const exact = noisyPng(24, 24);
    expect(exact.length).toBeLessThanOrEqual(2048);
    await upload(t, owner, character.id, exact).expect(201);
    expect(await characterRow(t, character.id)).toMatchObject({ image_count: 1 });
  });
});

describe('uploads served by the app, standing in for the CDN (SERVE_LOCAL_CDN)', () => {
  let t: TestApp;
  let off: TestApp;
  let owner: TestUser;

  beforeAll(async () => {
    t = await bootTestApp();
    // The same data and uploads, as an instance behind a real CDN would see them.
    off = await bootTestApp({ DATABASE_URL: t.databaseUrl, SERVE_LOCAL_CDN: 'false' });
    owner = await createUser(t);
  });
  afterAll(async () => {
    await off?.close();
    await t?.close();
  });

  /** The path and query of a URL the API handed out (its origin is CDN_BASE_URL's), exactly as written. */
  const local = (url: string) => url.slice(new URL(url).origin.length);
  const fetchBytes = (app: TestApp, path: string) =>
    app.http
      .get(path)
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      });

  it('serves the original, and each signed variant URL of the response as a redirect to it', async () => {
    const character = await createCharacter(t, owner);
    const bytes = png(3, 2);
    const image = (await upload(t, owner, character.id, bytes).expect(201)).body as {
      url: string;
      variants: Record<string, string>;
    };
    const original = await fetchBytes(t, local(image.url)).expect(200);
    expect(original.headers['content-type']).toBe('image/png');
    expect(original.body).toEqual(bytes);
    expect(Object.keys(image.variants).sort()).toEqual(['card', 'full', 'thumb']);
    for (const url of Object.values(image.variants)) {
      const res = await t.http.get(local(url)).expect(302);
      expect(res.headers.location).toBe(local(image.url));
      expect((await fetchBytes(t, res.headers.location).expect(200)).body).toEqual(bytes);
    }
  });

  it('refuses a variant URL with a forged or expired signature (403), or an unknown variant (404), as JSON', async () => {
    const character = await createCharacter(t, owner);
    const image = (await upload(t, owner, character.id, png(3, 2)).expect(201)).body as {
      url: string;
      variants: Record<string, string>;
    };
    const card = local(image.variants.card);
    const forged = card.replace(/sig=(.)/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`);
    const key = local(image.url).slice('/cdn/'.length);
    const expired = local(t.app.get(CdnUrlBuilder).variants(key, Date.now() - 30 * 86_400_000).card);
    for (const path of [forged, expired, card.replace('w=512', 'w=4096')]) {
      const res = await t.http.get(path).expect(403);
      expect(res.body).toMatchObject({ statusCode: 403, code: 'INVALID_SIGNATURE' });
    }
    const res = await t.http.get(card.replace('/v/card/', '/v/huge/')).expect(404);
    expect(res.body).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
  });

  it('never leaves the uploads directory, even for a key it signed itself', async () => {
    const urls = t.app.get(CdnUrlBuilder);
    for (const key of ['../package.json', '../../../../../../etc/passwd', '%2e%2e/package.json']) {
      const res = await t.http.get(local(urls.variants(key).full));
      if (res.status === 302) {
        const target = await t.http.get(res.headers.location);
        expect(target.status).toBeGreaterThanOrEqual(400);
      } else {
        expect(res.status).toBeGreaterThanOrEqual(400);
      }
    }
  });

  it('serves nothing at /cdn/ when SERVE_LOCAL_CDN=false: a CDN in front does', async () => {
    const character = await createCharacter(t, owner);
    const image = (await upload(t, owner, character.id, png(3, 2)).expect(201)).body as {
      url: string;
      variants: Record<string, string>;
    };
    await fetchBytes(t, local(image.url)).expect(200);
    await off.http.get(local(image.url)).expect(404);
    await off.http.get(local(image.variants.full)).expect(404);
  });
});
