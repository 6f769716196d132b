import { createHmac } from 'node:crypto';
import { createCharacter, createUser, TestUser } from './support/fixtures';
import { bootTestApp, TestApp } from './support/test-app';

const BILLING_SECRET = 'billing-secret-for-tests-0123456789';

const sign = (body: string, secret = BILLING_SECRET) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

describe('users', () => {
  let t: TestApp;
  let user: TestUser;
  let admin: TestUser;

  beforeAll(async () => {
    t = await bootTestApp({ BILLING_WEBHOOK_SECRET: BILLING_SECRET });
    user = await createUser(t);
    admin = await createUser(t, { role: 'admin' });
  });
  afterAll(() => t.close());

  const subscriptionOf = async (id: string) =>
    (
      await t.db.query(
        `SELECT subscription_tier AS tier, subscription_status AS status, subscription_renews_at AS "renewsAt"
         FROM users WHERE id = $1`,
        [id],
      )
    ).rows[0];

  describe('profile and preferences', () => {
    it('shows the caller their own profile with e-mail and no password hash', async () => {
      const res = await t.http.get('/users/me').set(user.auth).expect(200);
      expect(res.body).toMatchObject({
        id: user.id,
        username: user.username,
        email: `${user.username}@example.com`,
        preferences: { showNsfw: false, language: 'en' },
        subscription: { tier: 'free', status: 'active', renewsAt: null },
      });
      expect(JSON.stringify(res.body)).not.toMatch(/argon2|password/i);
    });

    it('shows anyone a public profile without e-mail; 404 for unknown usernames', async () => {
      const res = await t.http.get(`/users/${user.username}`).expect(200);
      expect(Object.keys(res.body).sort()).toEqual(['createdAt', 'id', 'username']);
      await t.http.get('/users/nobody_at_all').expect(404);
    });

    it('merges partial preference updates', async () => {
      await t.http.patch('/users/me/preferences').set(user.auth).send({ language: 'de' }).expect(200);
      const res = await t.http.patch('/users/me/preferences').set(user.auth).send({ showNsfw: true }).expect(200);
      expect(res.body.preferences).toEqual({ showNsfw: true, language: 'de' });
      const { rows } = await t.db.query(`SELECT preferences FROM users WHERE id = $1`, [user.id]);
      expect(rows[0].preferences).toEqual({ showNsfw: true, language: 'de' });
    });

    it('needs a token for /users/me', async () => {
      await t.http.get('/users/me').expect(401);
      await t.http.patch('/users/me/preferences').send({ showNsfw: true }).expect(401);
    });
  });

  describe('admin subscription changes', () => {
    it('lets an admin set a subscription', async () => {
      const target = await createUser(t);
      const res = await t.http
        .put(`/admin/users/${target.id}/subscription`)
        .set(admin.auth)
        .send({ tier: 'pro', status: 'active', renewsAt: '2027-01-01T00:00:00Z' })
        .expect(200);
      expect(res.body.subscription).toEqual({ tier: 'pro', status: 'active', renewsAt: '2027-01-01T00:00:00.000Z' });
      expect(await subscriptionOf(target.id)).toMatchObject({ tier: 'pro', status: 'active' });
    });

    it('refuses with 409, changing nothing, when a billing event dated after now set the subscription', async () => {
      const target = await createUser(t);
      const future = new Date(Date.now() + 60_000).toISOString();
      await t.http.put(`/admin/users/${target.id}/subscription`).set(admin.auth).send({ tier: 'plus', status: 'active' }).expect(200);
      const billing = JSON.stringify({
        id: `evt_${target.id}`,
        type: 'subscription.updated',
        occurredAt: future,
        userId: target.id,
        subscription: { tier: 'pro', status: 'active' },
      });
      await t.http
        .post('/webhooks/billing')
        .set('Content-Type', 'application/json')
        .set('X-Signature', sign(billing))
        .send(billing)
        .expect(200, { applied: true });
      const res = await t.http
        .put(`/admin/users/${target.id}/subscription`)
        .set(admin.auth)
        .send({ tier: 'free', status: 'canceled' })
        .expect(409);
      expect(res.body.code).toBe('SUBSCRIPTION_CHANGED_LATER');
      expect(await subscriptionOf(target.id)).toMatchObject({ tier: 'pro', status: 'active' });
    });

    it('refuses non-admins (403) and anonymous callers (401); 404 for unknown users', async () => {
      const target = await createUser(t);
      const body = { tier: 'pro', status: 'active' };
      const res = await t.http.put(`/admin/users/${target.id}/subscription`).set(user.auth).send(body).expect(403);
      expect(res.body.code).toBe('FORBIDDEN_ROLE');
      await t.http.put(`/admin/users/${target.id}/subscription`).send(body).expect(401);
      await t.http
        .put('/admin/users/00000000-0000-4000-8000-000000000000/subscription')
        .set(admin.auth)
        .send(body)
        .expect(404);
      expect(await subscriptionOf(target.id)).toMatchObject({ tier: 'free' });
    });
  });

  describe('billing webhook', () => {
    const event = (userId: string, tier: string, status: string, occurredAt: string) =>
      JSON.stringify({
        id: `evt_${Math.random().toString(36).slice(2)}`,
        type: 'subscription.updated',
        occurredAt,
        userId,
        subscription: { tier, status, renewsAt: '2027-02-01T00:00:00Z' },
      });
    const post = (body: string, signature?: string) => {
      const req = t.http.post('/webhooks/billing').set('Content-Type', 'application/json');
      return (signature === undefined ? req : req.set('X-Signature', signature)).send(body);
    };

    it('applies a correctly signed event', async () => {
      const target = await createUser(t);
      const body = event(target.id, 'plus', 'active', '2026-06-01T00:00:00Z');
      const res = await post(body, sign(body)).expect(200);
      expect(res.body).toEqual({ applied: true });
      expect(await subscriptionOf(target.id)).toMatchObject({ tier: 'plus', status: 'active' });
    });

    it.each([
      ['no signature', undefined],
      ['a wrong secret', 'other'],
      ['a malformed header', 'sha256=zz'],
    ])('refuses %s with 401 and changes nothing', async (_name, variant) => {
      const target = await createUser(t);
      const body = event(target.id, 'pro', 'active', '2026-06-01T00:00:00Z');
      const signature =
        variant === undefined ? undefined : variant === 'other' ? sign(body, 'another-secret-value-123') : variant;
      const res = await post(body, signature).expect(401);
      expect(res.body.code).toBe('INVALID_SIGNATURE');
      expect(await subscriptionOf(target.id)).toMatchObject({ tier: 'free' });
    });

    it.each([
      ['an empty event id', (body: Record<string, unknown>) => ({ ...body, id: '' }), 'id'],
      ['a date far in the future (it would lock the subscription)', (body: Record<string, unknown>) => ({ ...body, occurredAt: '9999-12-31T00:00:00Z' }), 'occurredAt'],
      ['a week date JavaScript cannot read', (body: Record<string, unknown>) => ({ ...body, occurredAt: '2026-W01-1' }), 'occurredAt'],
      ['a day the month does not have (Date.parse makes 31 February 3 March)', (body: Record<string, unknown>) => ({ ...body, occurredAt: '2026-02-31T00:00:00Z' }), 'occurredAt'],
      ['no subscription', ({ subscription: _left, ...body }: Record<string, unknown>) => body, 'subscription'],
      ['the subscription as an array', (body: Record<string, unknown>) => ({ ...body, subscription: [body.subscription] }), 'subscription'],
    ])('refuses %s with a 400 naming the field, and changes nothing: the event stays unused', async (_name, alter, field) => {
      const target = await createUser(t);
      const valid = event(target.id, 'pro', 'active', '2026-06-01T00:00:00Z');
      const body = JSON.stringify(alter(JSON.parse(valid) as Record<string, unknown>));
      const res = await post(body, sign(body)).expect(400);
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
      expect(await subscriptionOf(target.id)).toMatchObject({ tier: 'free' });
      // Not recorded as applied, nor the clock moved: the provider's corrected retry (same id) goes through.
      await post(valid, sign(valid)).expect(200, { applied: true });
      expect(await subscriptionOf(target.id)).toMatchObject({ tier: 'pro', status: 'active' });
    });

    it('refuses a body altered after signing', async () => {
      const target = await createUser(t);
      const body = event(target.id, 'plus', 'active', '2026-06-01T00:00:00Z');
      await post(body.replace('"plus"', '"pro"'), sign(body)).expect(401);
      expect(await subscriptionOf(target.id)).toMatchObject({ tier: 'free' });
    });

    it('ignores a repeated event even when a newer one carries the same time (no rollback by replay)', async () => {
      const target = await createUser(t);
      const sameSecond = '2026-06-01T00:00:00Z';
      const active = event(target.id, 'pro', 'active', sameSecond);
      const canceled = event(target.id, 'pro', 'canceled', sameSecond);
      expect((await post(active, sign(active)).expect(200)).body).toEqual({ applied: true });
      expect((await post(canceled, sign(canceled)).expect(200)).body).toEqual({ applied: true });
      expect((await post(active, sign(active)).expect(200)).body).toEqual({ applied: false });
      expect(await subscriptionOf(target.id)).toMatchObject({ tier: 'pro', status: 'canceled' });
    });

    it('validates a signed body and names the bad field', async () => {
      const body = JSON.stringify({ id: 'e', type: 'subscription.updated', occurredAt: 'now', userId: 'x', subscription: {} });
      const res = await post(body, sign(body)).expect(400);
      const fields = res.body.details.map((d: { field: string }) => d.field);
      expect(fields).toEqual(expect.arrayContaining(['occurredAt', 'userId', 'subscription.tier', 'subscription.status']));
    });

    it('ignores an event older than the last one applied (late or replayed delivery)', async () => {
      const target = await createUser(t);
      const newer = event(target.id, 'pro', 'active', '2026-07-01T00:00:00Z');
      const older = event(target.id, 'free', 'canceled', '2026-06-01T00:00:00Z');
      await post(newer, sign(newer)).expect(200);
      const res = await post(older, sign(older)).expect(200);
      expect(res.body).toEqual({ applied: false });
      expect(await subscriptionOf(target.id)).toMatchObject({ tier: 'pro', status: 'active' });
    });

    it('404s for an unknown user', async () => {
      const body = event('00000000-0000-4000-8000-000000000000', 'pro', 'active', '2026-06-01T00:00:00Z');
      await post(body, sign(body)).expect(404);
    });

    it('unlocks premium characters at once, and locks them again when canceled', async () => {
      const owner = await createUser(t);
      const subscriber = await createUser(t);
      const premium = await createCharacter(t, owner, { premium: true });
      await t.http.get(`/characters/${premium.id}`).set(subscriber.auth).expect(404);
      const up = event(subscriber.id, 'plus', 'active', '2026-06-01T00:00:00Z');
      await post(up, sign(up)).expect(200);
      await t.http.get(`/characters/${premium.id}`).set(subscriber.auth).expect(200);
      const cancel = event(subscriber.id, 'plus', 'canceled', '2026-06-02T00:00:00Z');
      await post(cancel, sign(cancel)).expect(200);
      await t.http.get(`/characters/${premium.id}`).set(subscriber.auth).expect(404);
    });
  });
});
