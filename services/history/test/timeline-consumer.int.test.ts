/**
 * The timeline batch handler on its own, over a real database: several partitions' batches run at
 * the same moment on the same people (each batch reaching every person through a different
 * identity), then all of them are redelivered at once.
 */
import { join } from 'node:path';
import type { Party } from '@omni/contracts';
import { createPool, migrate, type Pool } from '@omni/db';
import type { Received } from '@omni/kafka';
import { AppError } from '@omni/service';
import { handleTimelineBatch } from '@omni/history/src/consumers/timeline';
import { mergeByRequest } from '@omni/history/src/store/merges';
import type { HistoryEvent } from '@omni/history/src/domain/timeline-entry';
import { createWorld, type TestWorld } from '../../../test/support/infra';
import { inboundEnvelope } from './support/events';

describe('handleTimelineBatch under concurrency', () => {
  let world: TestWorld;
  let pool: Pool;

  beforeAll(async () => {
    world = await createWorld('historyconsumer');
    // createPool ignores an idle client's error: world.close() force-drops the database, and pool.end()
    // can resolve before the server has closed every backend
    pool = createPool(world.databaseUrl, { max: 16 });
    await migrate(pool, 'history', join(__dirname, '..', 'migrations'));
  });
  afterAll(async () => {
    await pool?.end();
    await world?.close();
  });

  const identitiesOf = (n: number): Party[] => {
    const phone = `+3463000000${n}`;
    const email = `p${n}@conc.test`;
    return [
      { channel: 'whatsapp', address: phone.slice(1), phone },
      { channel: 'email', address: email },
      { channel: 'sms', address: phone },
      { channel: 'chat', address: `conc-${n}`, email, phone },
      { channel: 'phone', address: phone },
      { channel: 'chat', address: `conc-${n}-b`, email },
    ];
  };

  it('gives each person exactly one customer, and a full redelivery changes nothing', async () => {
    const people = [0, 1, 2, 3, 4, 5];
    // batch k = identity k of every person, 2 messages each (what one partition might hold)
    const batches: Received<HistoryEvent>[][] = [0, 1, 2, 3, 4, 5].map((k) =>
      people.flatMap((n) =>
        [0, 1].map((m) => {
          const value = inboundEnvelope(`conc-${n}-${k}-${m}`, identitiesOf(n)[k]!, `2026-07-01T10:0${k}:0${m}.000Z`, 'hola');
          return { topic: world.topics.inbound, partition: k, offset: String(m), key: value.threadKey, value };
        }),
      ),
    );
    const deps = { pool, topics: world.topics };
    await Promise.all(batches.map((b) => handleTimelineBatch(deps, b)));

    const snapshot = async () => ({
      roots: (
        await pool.query<{ channel: string; address: string; root: string }>(
          'SELECT channel, address, history.root_customer(customer_id) AS root FROM history.identities ORDER BY channel, address',
        )
      ).rows,
      customers: (await pool.query('SELECT id, merged_into FROM history.customers ORDER BY id')).rows,
      merges: (await pool.query('SELECT source_id, target_id, reason FROM history.merges ORDER BY source_id')).rows,
      timeline: (await pool.query('SELECT event_id, customer_id, seq FROM history.timeline ORDER BY event_id')).rows,
    });
    const first = await snapshot();
    expect(first.timeline).toHaveLength(6 * 6 * 2);
    expect(first.roots).toHaveLength(36);
    for (const n of people) {
      const keys = new Set(identitiesOf(n).map((p) => (p.channel === 'whatsapp' ? `whatsapp:${p.address.startsWith('+') ? p.address : `+${p.address}`}` : `${p.channel}:${p.address}`)));
      const roots = new Set(first.roots.filter((r) => keys.has(`${r.channel}:${r.address}`)).map((r) => r.root));
      expect({ person: n, roots: roots.size }).toEqual({ person: n, roots: 1 });
    }
    expect(new Set(first.roots.map((r) => r.root)).size).toBe(people.length);
    for (const m of first.merges) expect(m.reason).toMatch(/^auto: same (phone|email)$/);

    // every batch again, all at once: nothing changes
    await Promise.all(batches.map((b) => handleTimelineBatch(deps, b)));
    expect(await snapshot()).toEqual(first);
  });

  const inbound = (id: string, from: Party, at: string): Received<HistoryEvent> => {
    const value = inboundEnvelope(id, from, at, 'hola');
    return { topic: world.topics.inbound, partition: 0, offset: '0', key: value.threadKey, value };
  };

  it('keeps merges consistent when an API merge races an automatic one', async () => {
    const deps = { pool, topics: world.topics };
    const homeOf = async (channel: string, address: string) =>
      (await pool.query<{ root: string }>('SELECT history.root_customer(customer_id) AS root FROM history.identities WHERE channel = $1::text AND address = $2::text', [channel, address])).rows[0]!.root;
    for (let n = 0; n < 6; n++) {
      const phone = `+3465100000${n}`;
      const visitor: Party = { channel: 'chat', address: `mr-${n}` };
      const sms: Party = { channel: 'sms', address: phone };
      const other: Party = { channel: 'telegram', address: `mr-tg-${n}` };
      await handleTimelineBatch(deps, [inbound(`mr-${n}-a`, visitor, '2026-08-01T10:00:00.000Z')]);
      await handleTimelineBatch(deps, [inbound(`mr-${n}-b`, sms, '2026-08-01T10:01:00.000Z'), inbound(`mr-${n}-c`, other, '2026-08-01T10:01:00.000Z')]);
      const q = await homeOf('sms', phone);
      const r = await homeOf('telegram', `mr-tg-${n}`);
      // the visitor types the SMS number (auto-merge) while an agent merges the SMS customer into another one
      const [api] = await Promise.allSettled([
        mergeByRequest(pool, world.topics.customers, { targetId: r, from: q, reason: 'agent says same', actor: 'agent:x' }),
        handleTimelineBatch(deps, [inbound(`mr-${n}-d`, { ...visitor, phone }, '2026-08-01T10:02:00.000Z')]),
      ]).then((rs) => {
        if (rs[1]!.status === 'rejected') throw rs[1].reason;
        return rs;
      });
      if (api!.status === 'rejected') expect((api!.reason as AppError).status).toBe(409);
      expect(await homeOf('chat', `mr-${n}`)).toBe(await homeOf('sms', phone)); // the evidence always joins them
    }
    const inconsistent = await pool.query(
      `SELECT m.id FROM history.merges m JOIN history.customers c ON c.id = m.source_id
        WHERE m.undone_at IS NULL AND c.merged_into IS DISTINCT FROM m.target_id
       UNION ALL
       SELECT c.id FROM history.customers c WHERE c.merged_into IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM history.merges m WHERE m.source_id = c.id AND m.target_id = c.merged_into AND m.undone_at IS NULL)`,
    );
    expect(inconsistent.rows).toEqual([]);
  });
});
