import { Pool, type PoolClient, type PoolConfig } from 'pg';

export type { Pool, PoolClient };

/** Creates a pg pool for DATABASE_URL; errors on idle clients are logged by the caller, never thrown. */
export function createPool(databaseUrl: string, extra: PoolConfig = {}): Pool {
  // pipeline: a client sends a query without waiting for the previous one's answer (node-postgres
  // pipeline mode; each query still has its own Sync, result and error). Code that awaits each query
  // behaves as before; withTransaction uses it to send BEGIN with the first statement.
  const pool = new Pool({ connectionString: databaseUrl, max: 10, connectionTimeoutMillis: 5000, pipeline: true, ...extra });
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
      const begun = await begin(client);
      const result = await fn(client);
      await begun();
      // statements fn sent without awaiting (deferToCommit) and COMMIT in one round trip; if one of
      // them failed the transaction was aborted (the server answers that COMMIT with a rollback)
      const failed = await firstFailure([...takeDeferred(client), client.query('COMMIT')]);
      if (failed) throw failed.reason;
      return result;
    } catch (thrown) {
      // a deferred write that failed comes first: what fn saw after it was only "transaction aborted" (25P02)
      const earlier = await firstFailure(takeDeferred(client));
      const err: unknown = earlier ? earlier.reason : thrown;
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

/** The largest value of a PostgreSQL `integer` column: a number past it must be refused or dropped before it gets there. */
export const PG_INTEGER_MAX = 2_147_483_647;

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

/** Whether this client sends queries without waiting for the previous answer (createPool's clients do). */
export const isPipelined = (client: PoolClient): boolean => (client as PoolClient & { pipeline?: boolean }).pipeline === true;

/**
 * Starts a transaction. On a pipelined client BEGIN is not awaited: it goes out, and the caller's
 * first statement right behind it, in one round trip instead of two. The returned function rethrows
 * BEGIN's error; call it before COMMIT. (BEGIN fails only on a broken connection — every statement
 * behind it then fails too — or inside an aborted transaction, which a pooled client never is: a
 * failed transaction is rolled back, or the client destroyed, before release.)
 */
export async function begin(client: PoolClient, sql = 'BEGIN'): Promise<() => Promise<void>> {
  if (!isPipelined(client)) {
    await client.query(sql);
    return async () => undefined;
  }
  batchWrites(client);
  const outcome = client.query(sql).then(
    () => undefined,
    (err: unknown) => err,
  );
  return async () => {
    const err = await outcome;
    if (err !== undefined) throw err;
  };
}

const deferred = new WeakMap<PoolClient, Promise<unknown>[]>();

/** This client's deferred writes, handed over once (withTransaction settles them). */
function takeDeferred(client: PoolClient): Promise<unknown>[] {
  const list = deferred.get(client) ?? [];
  deferred.delete(client);
  return list;
}

/** Waits for all of them; the first that failed, in the order given (the order the server ran them). */
async function firstFailure(statements: Promise<unknown>[]): Promise<PromiseRejectedResult | undefined> {
  return (await Promise.allSettled(statements)).find((o): o is PromiseRejectedResult => o.status === 'rejected');
}

/**
 * A write of a withTransaction whose answer fn does not need (`send` issues it): on a pipelined
 * client it is left in flight and withTransaction sends COMMIT right behind it (the transaction
 * fails if the write failed), all in one socket write (batchWrites); otherwise it is awaited here. Either way the server runs statements in the order they
 * were sent, so later statements still see it. Returns once fn may go on.
 */
export function deferToCommit(client: PoolClient, send: () => Promise<unknown>): Promise<void> {
  if (!isPipelined(client)) return send().then(() => undefined);
  batchWrites(client);
  const write = send();
  write.catch(() => undefined); // reported by withTransaction
  const list = deferred.get(client);
  if (list) list.push(write);
  else deferred.set(client, [write]);
  return Promise.resolve();
}

const batching = new WeakSet<PoolClient>();

/**
 * Holds a client's socket writes until the end of this turn of the event loop, so the statements
 * sent back to back in it on a pipelined client (BEGIN and the first statement; the deferred writes and
 * COMMIT) leave in one write. Each write to the server is a syscall that, on a local socket, also
 * runs the server's receive path: it was ~30 % of the router's busy time at 100 msg/s.
 */
export function batchWrites(client: PoolClient): void {
  const stream = (client as PoolClient & { connection?: { stream?: { cork?: () => void; uncork?: () => void } } }).connection?.stream;
  if (!stream?.cork || !stream.uncork || batching.has(client)) return;
  batching.add(client);
  stream.cork();
  setImmediate(() => {
    batching.delete(client);
    stream.uncork!();
  });
}
