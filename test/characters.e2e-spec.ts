import { createCharacter, createUser, tableCounts, TestUser } from './support/fixtures';
import { bootTestApp, TestApp } from './support/test-app';

describe('characters', () => {
  let t: TestApp;
  let owner: TestUser;
  let other: TestUser;
  let admin: TestUser;

  beforeAll(async () => {
    t = await bootTestApp();
    [owner, other, admin] = await Promise.all([createUser(t), createUser(t), createUser(t, { role: 'admin' })]);
  });
  afterAll(() => t.close());

  describe('create, read, update, delete', () => {
    it('creates a character owned by the caller and returns it with its version', async () => {
      const res = await t.http
        .post('/characters')
        .set(owner.auth)
        .send({ name: '  Kaira Vex ', description: 'A pilot.', tags: ['Sci-Fi', 'pilot'], nsfw: false })
        .expect(201);
      expect(res.body).toMatchObject({
        name: 'Kaira Vex',
        description: 'A pilot.',
        tags: ['sci-fi', 'pilot'],
        visibility: 'public',
        owner: { id: owner.id, username: owner.username },
        imageCount: 0,
        avatarUrl: null,
        version: 1,
      });
      expect(res.headers.etag).toMatch(/^"[\w-]{22}"$/);
      expect(res.headers['cache-control']).toBe('no-store');
      const { rows } = await t.db.query(`SELECT owner_id, name, tags FROM characters WHERE id = $1`, [res.body.id]);
      expect(rows).toEqual([{ owner_id: owner.id, name: 'Kaira Vex', tags: ['sci-fi', 'pilot'] }]);
    });

    it('stores names and descriptions NFC-normalized, so a decomposed accent is found by the precomposed search', async () => {
      const res = await t.http
        .post('/characters')
        .set(owner.auth)
        .send({ name: 'Cafe\u0301 Nfd', description: 'Cre\u0300me' })
        .expect(201);
      expect(res.body).toMatchObject({ name: 'Caf\u00e9 Nfd', description: 'Cr\u00e8me' });
      const { rows } = await t.db.query(`SELECT name, description FROM characters WHERE id = $1`, [res.body.id]);
      expect(rows).toEqual([{ name: 'Caf\u00e9 Nfd', description: 'Cr\u00e8me' }]);
      const patched = await t.http.patch(`/characters/${res.body.id}`).set(owner.auth).send({ name: 'Noe\u0308l Nfd' }).expect(200);
      expect(patched.body.name).toBe('No\u00ebl Nfd');
      const found = await t.http.get(`/characters?q=${encodeURIComponent('No\u00ebl Nfd')}`).expect(200);
      expect(found.body.items.map((c: { id: string }) => c.id)).toContain(res.body.id);
    });

    it('reads a character by id, anonymously', async () => {
      const c = await createCharacter(t, owner, { name: 'Readable' });
      const res = await t.http.get(`/characters/${c.id}`).expect(200);
      expect(res.body).toMatchObject({ id: c.id, name: 'Readable' });
    });

    it('updates with a matching If-Match and bumps the version; refuses a stale one with 412', async () => {
      const c = await createCharacter(t, owner);
      const ok = await t.http
        .patch(`/characters/${c.id}`)
        .set(owner.auth)
        .set('If-Match', '"1"')
        .send({ name: 'Renamed' })
        .expect(200);
      expect(ok.body).toMatchObject({ name: 'Renamed', version: 2 });
      // The write answers with the ETag a GET now gives, so the frontend can send it back in If-Match.
      const read = await t.http.get(`/characters/${c.id}`).expect(200);
      expect(ok.headers.etag).toBe(read.headers.etag);
      const byEtag = await t.http
        .patch(`/characters/${c.id}`)
        .set(owner.auth)
        .set('If-Match', read.headers.etag)
        .send({ name: 'By ETag' })
        .expect(200);
      expect(byEtag.body.version).toBe(3);
      await t.http.patch(`/characters/${c.id}`).set(owner.auth).set('If-Match', read.headers.etag).send({ name: 'x' }).expect(412);

      const stale = await t.http
        .patch(`/characters/${c.id}`)
        .set(owner.auth)
        .set('If-Match', 'W/"1"')
        .send({ name: 'Lost update' })
        .expect(412);
      expect(stale.body).toMatchObject({ statusCode: 412, code: 'VERSION_MISMATCH' });
      const { rows } = await t.db.query(`SELECT name, version FROM characters WHERE id = $1`, [c.id]);
      expect(rows[0]).toEqual({ name: 'By ETag', version: 3 });
    });

    describe('If-Match as RFC 9110 reads it', () => {
      const versionOf = async (id: string) =>
        (await t.db.query<{ name: string; version: number }>(`SELECT name, version FROM characters WHERE id = $1`, [id])).rows[0];

      it('takes * when the character exists, and answers 404 as any PATCH does when it does not or is not visible', async () => {
        const c = await createCharacter(t, owner);
        const ok = await t.http.patch(`/characters/${c.id}`).set(owner.auth).set('If-Match', '*').send({ name: 'Any' }).expect(200);
        expect(ok.body).toMatchObject({ name: 'Any', version: 2 });
        // A 412 here would tell a viewer that a character it cannot see exists.
        const hidden = await createCharacter(t, owner, { visibility: 'private' });
        const res = await t.http.patch(`/characters/${hidden.id}`).set(other.auth).set('If-Match', '*').send({ name: 'x' }).expect(404);
        expect(res.body.code).toBe('NOT_FOUND');
        await t.http.patch('/characters/00000000-0000-4000-8000-000000000000').set(owner.auth).set('If-Match', '*').send({ name: 'x' }).expect(404);
        expect(await versionOf(hidden.id)).toEqual({ name: hidden.name, version: 1 });
      });

      it('takes a list if any member matches, and refuses it with 412 if none does', async () => {
        const c = await createCharacter(t, owner);
        await t.http.patch(`/characters/${c.id}`).set(owner.auth).set('If-Match', '"5", "1"').send({ name: 'Listed' }).expect(200);
        const etag = (await t.http.get(`/characters/${c.id}`).expect(200)).headers.etag;
        await t.http.patch(`/characters/${c.id}`).set(owner.auth).set('If-Match', `"9", ${etag}`).send({ name: 'By list ETag' }).expect(200);
        await t.http.patch(`/characters/${c.id}`).set(owner.auth).set('If-Match', '"1",, "3"').send({ name: 'Empty member' }).expect(200);
        const stale = await t.http.patch(`/characters/${c.id}`).set(owner.auth).set('If-Match', `"1", "2", ${etag}`).send({ name: 'Lost' }).expect(412);
        expect(stale.body.code).toBe('VERSION_MISMATCH');
        expect(await versionOf(c.id)).toEqual({ name: 'Empty member', version: 4 });
      });

      it('compares strongly: a weak ETag or version never matches (412), even the current one', async () => {
        const c = await createCharacter(t, owner);
        const etag = (await t.http.get(`/characters/${c.id}`).expect(200)).headers.etag;
        for (const weak of ['W/"1"', `W/${etag}`]) {
          const res = await t.http.patch(`/characters/${c.id}`).set(owner.auth).set('If-Match', weak).send({ name: 'Weak' });
          expect({ weak, status: res.status, code: res.body.code }).toEqual({ weak, status: 412, code: 'VERSION_MISMATCH' });
          // Not "changed since you read it": reloading would bring the same tag, weakened again by the same proxy.
          expect(res.body.message).toMatch(/only weak ETags/);
        }
        expect(await versionOf(c.id)).toEqual({ name: c.name, version: 1 });
      });

      it('answers a caller who may not write 403 before it looks at If-Match', async () => {
        const c = await createCharacter(t, owner);
        for (const header of ['"9"', '"AAAAAAAAAAAAAAAAAAAAAA"', '*']) {
          const res = await t.http.patch(`/characters/${c.id}`).set(other.auth).set('If-Match', header).send({ name: 'Stolen' });
          expect({ header, status: res.status, code: res.body.code }).toEqual({ header, status: 403, code: 'NOT_OWNER' });
        }
        expect(await versionOf(c.id)).toEqual({ name: c.name, version: 1 });
      });
    });

    it('accepts the version in the body instead of If-Match', async () => {
      const c = await createCharacter(t, owner);
      await t.http.patch(`/characters/${c.id}`).set(owner.auth).send({ description: 'x', version: 1 }).expect(200);
      await t.http.patch(`/characters/${c.id}`).set(owner.auth).send({ description: 'y', version: 1 }).expect(412);
    });

    it('lets one of two concurrent updates with the same version win', async () => {
      const c = await createCharacter(t, owner);
      const results = await Promise.all(
        ['A', 'B', 'C'].map((name) =>
          t.http.patch(`/characters/${c.id}`).set(owner.auth).set('If-Match', '"1"').send({ name }),
        ),
      );
      expect(results.map((r) => r.status).sort()).toEqual([200, 412, 412]);
      const { rows } = await t.db.query(`SELECT version FROM characters WHERE id = $1`, [c.id]);
      expect(rows[0].version).toBe(2);
    });

    it('deletes a character (204) and then answers 404', async () => {
      const c = await createCharacter(t, owner);
      await t.http.delete(`/characters/${c.id}`).set(owner.auth).expect(204);
      await t.http.get(`/characters/${c.id}`).expect(404);
      const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM characters WHERE id = $1`, [c.id]);
      expect(rows[0].n).toBe(0);
    });
  });

  describe('permissions', () => {
    it('refuses writes from another user (403) and from anonymous callers (401), changing nothing', async () => {
      const c = await createCharacter(t, owner, { name: 'Mine' });
      const before = await tableCounts(t);
      const patch = await t.http.patch(`/characters/${c.id}`).set(other.auth).send({ name: 'Stolen' }).expect(403);
      expect(patch.body.code).toBe('NOT_OWNER');
      await t.http.delete(`/characters/${c.id}`).set(other.auth).expect(403);
      await t.http.patch(`/characters/${c.id}`).send({ name: 'Stolen' }).expect(401);
      await t.http.delete(`/characters/${c.id}`).expect(401);
      await t.http.post('/characters').send({ name: 'Anon' }).expect(401);
      expect(await tableCounts(t)).toEqual(before);
    });

    it('answers 404, not 403, when the caller cannot even see the character', async () => {
      const c = await createCharacter(t, owner, { visibility: 'private' });
      const res = await t.http.patch(`/characters/${c.id}`).set(other.auth).send({ name: 'x' }).expect(404);
      expect(res.body.code).toBe('NOT_FOUND');
    });

    it('lets an admin edit and feature any character; refuses featured fields to owners', async () => {
      const c = await createCharacter(t, owner);
      const denied = await t.http.patch(`/characters/${c.id}`).set(owner.auth).send({ featured: true }).expect(403);
      expect(denied.body.code).toBe('ADMIN_ONLY_FIELD');
      const res = await t.http
        .patch(`/characters/${c.id}`)
        .set(admin.auth)
        .send({ featured: true, featuredRank: 3 })
        .expect(200);
      expect(res.body).toMatchObject({ featured: true, featuredRank: 3 });
      await t.http.delete(`/characters/${c.id}`).set(admin.auth).expect(204);
    });

    it('only accepts an avatar that is an image of the character', async () => {
      const c = await createCharacter(t, owner);
      const res = await t.http
        .patch(`/characters/${c.id}`)
        .set(owner.auth)
        .send({ avatarImageId: '00000000-0000-4000-8000-000000000000' })
        .expect(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ field: 'avatarImageId' }] });
    });
  });

  describe('bulk update', () => {
    it('changes up to 500 of the caller’s characters in one transaction', async () => {
      const chars = await Promise.all([1, 2, 3].map(() => createCharacter(t, owner)));
      const res = await t.http
        .post('/characters/bulk')
        .set(owner.auth)
        .send({ ids: chars.map((c) => c.id), set: { visibility: 'unlisted', tags: ['Bulk'], nsfw: true } })
        .expect(200);
      expect(res.body.updated).toBe(3);
      expect(res.body.items.every((i: { version: number }) => i.version === 2)).toBe(true);
      const { rows } = await t.db.query(
        `SELECT DISTINCT visibility, tags, nsfw FROM characters WHERE id = ANY($1::uuid[])`,
        [chars.map((c) => c.id)],
      );
      expect(rows).toEqual([{ visibility: 'unlisted', tags: ['bulk'], nsfw: true }]);
    });

    it('changes nothing when one id is not the caller’s', async () => {
      const mine = await createCharacter(t, owner);
      const theirs = await createCharacter(t, other);
      const before = await tableCounts(t);
      const res = await t.http
        .post('/characters/bulk')
        .set(owner.auth)
        .send({ ids: [mine.id, theirs.id], set: { nsfw: true } })
        .expect(404);
      expect(res.body).toMatchObject({ code: 'CHARACTERS_NOT_FOUND', details: [{ field: 'ids[1]' }] });
      expect(await tableCounts(t)).toEqual(before);
    });

    it('handles 500 ids at once', async () => {
      const { rows } = await t.db.query<{ id: string }>(
        `INSERT INTO characters (owner_id, name) SELECT $1, 'bulk ' || g FROM generate_series(1, 500) g RETURNING id`,
        [owner.id],
      );
      const res = await t.http
        .post('/characters/bulk')
        .set(owner.auth)
        .send({ ids: rows.map((r) => r.id), set: { tags: ['many'] } })
        .expect(200);
      expect(res.body.updated).toBe(500);
      await t.db.query(`DELETE FROM characters WHERE id = ANY($1::uuid[])`, [rows.map((r) => r.id)]);
    });
  });
});
