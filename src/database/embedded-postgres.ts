import type { PGlite } from '@electric-sql/pglite';
import type { DataSource } from 'typeorm';

interface EmbeddedExtra {
  pglite?: PGlite;
}

/**
 * node-postgres settings that talk to an in-process PGlite instead of a socket.
 *
 * The PGlite instance is created from the package's main entry and handed to the adapter: the adapter's own
 * CommonJS build (0.5.x) looks for its WASM data under a `release/` folder that the package does not ship, so
 * letting it create the instance fails outside ESM. Loaded lazily: a deployment on real PostgreSQL never loads
 * the WASM build. The instance rides along in `extra.pglite` so it can be closed after the pool (see
 * closeEmbeddedPostgres); node-postgres ignores the extra key.
 */
export function embeddedPgConfig(dir: string): Record<string, unknown> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { PGlite } = require('@electric-sql/pglite') as typeof import('@electric-sql/pglite');
  const { createPgConfig } = require('@electric-sql/pglite/node-postgres') as typeof import('@electric-sql/pglite/node-postgres');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const pglite = new PGlite(dir);
  return { ...createPgConfig(pglite), pglite };
}

/** Closes the data source, then the PGlite instance behind it (which flushes and releases its directory). */
export async function closeEmbeddedPostgres(dataSource: DataSource): Promise<void> {
  const pglite = (dataSource.options.extra as EmbeddedExtra | undefined)?.pglite;
  if (!pglite) {
    return;
  }
  if (dataSource.isInitialized) {
    await dataSource.destroy();
  }
  if (!pglite.closed) {
    await pglite.close();
  }
}
