import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { withClient } from './pool';

export interface MigrationResult {
  schema: string;
  applied: string[];
}

const FILE = /^(\d{4})_[a-z0-9_-]+\.sql$/;

/**
 * Applies a service's numbered migrations (`NNNN_name.sql`) to its own schema, forward-only, each in
 * its own transaction, recorded in `<schema>.schema_migrations`. A session advisory lock keyed on
 * the schema makes concurrent replicas wait for each other instead of racing.
 */
export async function migrate(pool: Pool, schema: string, dir: string): Promise<MigrationResult> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name ${schema}`);
  const files = (await readdir(dir)).filter((f) => FILE.test(f)).sort();
  return withClient(pool, async (client) => {
    await client.query('SELECT pg_advisory_lock(hashtext($1::text))', [`migrate:${schema}`]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (
           version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const done = new Set(
        (await client.query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations`)).rows.map((r) => r.version),
      );
      const applied: string[] = [];
      for (const file of files) {
        const version = Number(file.slice(0, 4));
        if (done.has(version)) continue;
        const sql = await readFile(join(dir, file), 'utf8');
        await client.query('BEGIN');
        try {
          await client.query(`SET LOCAL search_path TO ${schema}, public`);
          await client.query(sql);
          await client.query(`INSERT INTO ${schema}.schema_migrations (version, name) VALUES ($1::int, $2::text)`, [version, file]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${schema}/${file} failed: ${(err as Error).message}`);
        }
        applied.push(file);
      }
      return { schema, applied };
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1::text))', [`migrate:${schema}`]);
    }
  });
}
