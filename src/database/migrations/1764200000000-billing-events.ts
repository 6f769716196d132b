import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Billing events already applied, by the provider's event id: a delivery repeated later is recognised even when
 * its `occurredAt` equals that of a newer event (providers stamp events to the second), which the ordering by
 * time alone let through — a replayed "active" after a "canceled" of the same second reactivated a subscription.
 */
export class BillingEvents1764200000000 implements MigrationInterface {
  name = 'BillingEvents1764200000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE billing_events (
        id varchar(128) PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        occurred_at timestamptz NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX billing_events_user_idx ON billing_events (user_id)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE billing_events`);
  }
}
