import { runPrefix, withAdminClient } from './databases';

export default async function globalTeardown(): Promise<void> {
  const prefix = runPrefix();
  await withAdminClient(async (c) => {
    const { rows } = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [
      `${prefix}%`,
    ]);
    // Clones first, the template last (a template cannot be dropped while a clone is being made from it).
    const names = rows.map((r) => r.datname).sort((a, b) => Number(a.endsWith('_tmpl')) - Number(b.endsWith('_tmpl')));
    for (const name of names) {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });
}
