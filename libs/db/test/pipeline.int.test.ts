/**
 * withTransaction on a pipelined pool (createPool): BEGIN goes out with the first statement and the
 * writes left to deferToCommit go out with COMMIT. The promise is the one a plain transaction makes:
 * all of it or none of it, in the order sent, and the error of the statement that failed.
 */
import fc from 'fast-check';
import { createPool, deferToCommit, isPipelined, withTransaction, type Pool } from '@omni/db';
import { createWorld, type TestWorld } from '../../../test/support/infra';

const runs = (n: number) => n * Number(process.env.PROPERTY_RUNS_FACTOR ?? 1);

describe('withTransaction, pipelined', () => {
  let world: TestWorld;
  let pool: Pool;
  beforeAll(async () => {
    world = await createWorld('dbpipe');
    pool = createPool(world.databaseUrl, { max: 3 });
    await pool.query('CREATE TABLE steps (tx int NOT NULL, n int NOT NULL, PRIMARY KEY (tx, n))');
    await pool.query('CREATE TABLE pair (id int PRIMARY KEY, v int NOT NULL)');
    await pool.query('INSERT INTO pair VALUES (1, 0), (2, 0)');
  });
  afterAll(async () => {
    await pool.end();
    await world.close();
  });

  it('pool clients are pipelined', async () => {
    const c = await pool.connect();
    try {
      expect(isPipelined(c)).toBe(true);
    } finally {
      c.release();
    }
  });

  it('BEGIN leaves with the first statement, and the deferred writes with COMMIT: two socket writes for five statements', async () => {
    let writes = 0;
    const seen = await withTransaction(pool, async (client) => {
      // count what reaches the socket from here on (net.Socket flushes a corked batch with one _writev)
      const stream = (client as unknown as { connection: { stream: { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void } } }).connection.stream;
      const [w, wv] = [stream._write, stream._writev];
      stream._write = function (...a: unknown[]) {
        writes++;
        return w.apply(this, a);
      };
      stream._writev = function (...a: unknown[]) {
        writes++;
        return wv.apply(this, a);
      };
      try {
        // BEGIN was queued (corked) before fn ran: it leaves with this statement
        const r = await client.query('SELECT 1 AS one');
        await deferToCommit(client, () => client.query('INSERT INTO steps (tx, n) VALUES (-1, 1)'));
        await deferToCommit(client, () => client.query('INSERT INTO steps (tx, n) VALUES (-1, 2)'));
        return r.rows[0].one as number;
      } finally {
        // restored once COMMIT has left (after this turn of the event loop)
        setImmediate(() => {
          stream._write = w;
          stream._writev = wv;
        });
      }
    });
    expect(seen).toBe(1);
    expect((await pool.query('SELECT n FROM steps WHERE tx = -1 ORDER BY n')).rows.map((r) => r.n)).toEqual([1, 2]);
    // the counting began after BEGIN was queued: the first write carries BEGIN + SELECT, the second
    // the two inserts + COMMIT (without batching: one write per statement counted here, 4)
    expect(writes).toBe(2);
  });

  it('random mixes of awaited and deferred writes: all rows in order, or none and the failing statement’s error', async () => {
    // a step: an insert, awaited or deferred, that fails (a duplicate key) when `fail`
    const step = fc.record({ deferred: fc.boolean(), fail: fc.boolean() });
    let tx = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), fc.boolean(), async (steps, readBack) => {
        const id = ++tx;
        const firstFail = steps.findIndex((s) => s.fail);
        const outcome = await withTransaction(pool, async (client) => {
          for (const [i, s] of steps.entries()) {
            // n = i, or a repeat of 0 (after step 0 was written: a unique violation) for a failing one
            const n = s.fail ? (i === 0 ? -1 : 0) : i;
            const write = () => client.query('INSERT INTO steps (tx, n) VALUES ($1, CASE WHEN $2::int < 0 THEN 1 / 0 ELSE $2::int END)', [id, n]);
            if (s.deferred) await deferToCommit(client, write);
            else await write();
          }
          // a read after deferred writes sees them (the server runs statements in the order sent)
          if (readBack) return Number((await client.query('SELECT count(*)::int AS n FROM steps WHERE tx = $1', [id])).rows[0].n);
          return -1;
        }).then(
          (v) => ({ ok: true as const, v }),
          (e: { code?: string }) => ({ ok: false as const, code: e.code }),
        );
        const stored = (await pool.query('SELECT n FROM steps WHERE tx = $1 ORDER BY n', [id])).rows.map((r) => r.n as number);
        if (firstFail < 0) {
          expect(outcome).toEqual({ ok: true, v: readBack ? steps.length : -1 });
          expect(stored).toEqual(steps.map((_, i) => i));
        } else {
          expect(outcome.ok).toBe(false);
          // the first failing statement's error: 22012 (division by zero) for step 0, else 23505 (unique)
          expect(outcome.ok === false && outcome.code).toBe(firstFail === 0 ? '22012' : '23505');
          expect(stored).toEqual([]);
        }
        // the client went back to the pool usable: nothing left in flight, no transaction open
        expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
      }),
      { numRuns: runs(60) },
    );
  });

  it('a deadlock met by a deferred write is retried like any other and both transactions commit once', async () => {
    // two transactions lock the two rows in opposite orders, the second lock a deferred write:
    // Postgres aborts one (40P01) and withTransaction runs it again
    let attempts = 0;
    let holding = 0;
    let release!: () => void;
    const bothHold = new Promise<void>((r) => (release = r));
    const both = await Promise.all(
      [
        [1, 2],
        [2, 1],
      ].map(([a, b]) =>
        withTransaction(pool, async (client) => {
          const first = ++attempts <= 2;
          await client.query('UPDATE pair SET v = v + 1 WHERE id = $1', [a]);
          // the first attempts: both hold their first row before either asks for the second
          if (first) {
            if (++holding === 2) release();
            await bothHold;
          }
          await deferToCommit(client, () => client.query('UPDATE pair SET v = v + 1 WHERE id = $1', [b]));
          return a;
        }),
      ),
    );
    expect(both.sort()).toEqual([1, 2]);
    const rows = (await pool.query('SELECT id, v FROM pair ORDER BY id')).rows;
    expect(rows).toEqual([
      { id: 1, v: 2 },
      { id: 2, v: 2 },
    ]);
    // one of the two was aborted and ran again
    expect(attempts).toBe(3);
  });
});
