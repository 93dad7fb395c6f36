import { Pool, type PoolClient, type PoolConfig } from 'pg';

export type { Pool, PoolClient };

/** Creates a pg pool for DATABASE_URL; errors on idle clients are logged by the caller, never thrown. */
export function createPool(databaseUrl: string, extra: PoolConfig = {}): Pool {
  const pool = new Pool({ connectionString: databaseUrl, max: 10, connectionTimeoutMillis: 5000, ...extra });
  pool.on('error', () => {
    // An idle client lost its connection (server restart); the pool replaces it on next checkout.
  });
  // A checked-out client whose server goes away between queries (say, while its holder awaits a Kafka
  // publish) emits 'error' with no listener, which would end the process; its next query fails anyway.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** Runs fn with a pooled client and always releases it. */
export async function withClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await fn(client);
  } finally {
    client.release();
  }
}

/** Runs fn inside BEGIN/COMMIT; any throw rolls back. Retries serialization failures and deadlocks. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      const code = (err as { code?: string }).code;
      // 40001 serialization_failure, 40P01 deadlock_detected: safe to run the whole unit again.
      if ((code === '40001' || code === '40P01') && attempt < attempts) continue;
      throw err;
    } finally {
      client.release(broken);
    }
  }
}

/** Creates the database named in the URL if it does not exist (connects to the server's `postgres` db). */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres';
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const pool = createPool(admin.toString(), { max: 1 });
  try {
    const found = await pool.query('SELECT 1 FROM pg_database WHERE datname = $1::text', [name]);
    if (found.rowCount === 0) {
      const ident = '"' + name.replace(/"/g, '""') + '"';
      await pool.query(`CREATE DATABASE ${ident}`).catch((err: { code?: string }) => {
        if (err.code !== '42P04' && err.code !== '23505') throw err; // created concurrently by another service
      });
    }
  } finally {
    await pool.end();
  }
}

/**
 * Runs a batched DELETE until a batch comes back short, and returns how many rows went. The
 * statement's last parameter is the batch size (its LIMIT); select the victims `FOR UPDATE SKIP
 * LOCKED` so that replicas running the same sweep split the rows instead of waiting on each other.
 */
export async function deleteInBatches(pool: Pick<Pool, 'query'>, sql: string, params: unknown[], batchSize = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = (await pool.query(sql, [...params, batchSize])).rowCount ?? 0;
    total += deleted;
    if (deleted < batchSize) return total;
  }
}
