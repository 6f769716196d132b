import { Client } from 'pg';

/** The server the suites run against; every suite gets its own database on it, made from a migrated template. */
export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function withAdminClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export const runPrefix = (): string => {
  const id = process.env.CARDS_TEST_RUN;
  if (!id) {
    throw new Error('CARDS_TEST_RUN is not set: run the e2e suites through jest (global-setup creates it)');
  }
  return `cards_test_${id}`;
};

export const templateName = (): string => `${runPrefix()}_tmpl`;
