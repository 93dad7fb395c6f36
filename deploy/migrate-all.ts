/**
 * Creates the database if missing and applies every service's migrations (ingest, router, history, knowledge).
 * Services also migrate their own schema at start-up; this lets ops run it once, up front.
 */
import { join } from 'node:path';
import { createPool, ensureDatabase, migrate } from '@omni/db';
import { INGEST_MIGRATIONS } from '@omni/ingest';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/omni';
const plan: [string, string][] = [
  ['ingest', INGEST_MIGRATIONS],
  ['router', join(__dirname, '..', 'services', 'router', 'migrations')],
  ['history', join(__dirname, '..', 'services', 'history', 'migrations')],
  ['knowledge', join(__dirname, '..', 'services', 'knowledge', 'migrations')],
];

async function main() {
  await ensureDatabase(url);
  const pool = createPool(url);
  try {
    for (const [schema, dir] of plan) {
      const r = await migrate(pool, schema, dir);
      console.log(`migrate: ${schema} ${r.applied.length ? `applied ${r.applied.join(', ')}` : 'up to date'}`);
    }
  } finally {
    await pool.end();
  }
}

main().catch((err) => {
  console.error(`migrate: ${(err as Error).message}`);
  process.exit(1);
});
