/**
 * Regression (issue 11): "History's outbox blocks on an identity that grows when lower-cased". Parties
 * whose addresses are as long as the inbound contract allows and grow under Unicode case mapping or
 * IDNA (İ, A-labels, combining marks, astral characters), or are all whitespace, go through the real
 * timeline handler; every omni.customers.v1 record it queues satisfies the contract, so the relay has
 * nothing it must refuse.
 */
import { join } from 'node:path';
import { CustomerRecord, check, problemsOf, type Party } from '@omni/contracts';
import { createPool, migrate, type Pool } from '@omni/db';
import { handleTimelineBatch } from '@omni/history/src/consumers/timeline';
import { createWorld, type TestWorld } from '../../../test/support/infra';
import { inboundEnvelope } from './support/events';

describe("History's outbox blocks on an identity that grows when lower-cased", () => {
  let world: TestWorld;
  let pool: Pool;

  beforeAll(async () => {
    world = await createWorld('recordsfit');
    pool = createPool(world.databaseUrl, { max: 4 });
    await migrate(pool, 'history', join(__dirname, '..', 'migrations'));
  });
  afterAll(async () => {
    await pool?.end();
    await world?.close();
  });

  it('queues only customers.v1 records the contract accepts', async () => {
    const fill = (unit: string, tail = '') => [...unit.repeat(400)].slice(0, 320 - [...tail].length).join('') + tail;
    const parties: Party[] = [
      { channel: 'email', address: fill('İ', '@example.com') },
      { channel: 'email', address: fill('A', '@xn--bcher-kva.de') },
      { channel: 'email', address: `a@${fill('ü.')}`.slice(0, 320) },
      { channel: 'email', address: fill('a\u0301', '@example.com') },
      { channel: 'chat', address: fill('😀') },
      { channel: 'chat', address: '   ', email: fill('İ', '@x.com') },
      { channel: 'whatsapp', address: fill('9') },
      { channel: 'sms', address: fill('＋３') },
    ];
    const batch = parties.map((from, n) => {
      const value = inboundEnvelope(`fit-${n}`, from, '2026-07-01T10:00:00.000Z', 'hola', `${from.channel}:thread-${n}`);
      return { topic: world.topics.inbound, partition: 0, offset: String(n), key: value.threadKey, value };
    });
    await handleTimelineBatch({ pool, topics: world.topics }, batch);
    const { rows } = await pool.query<{ value: unknown }>(`SELECT value FROM history.outbox WHERE schema_id = 'omni.customers.v1'`);
    expect(rows.length).toBeGreaterThanOrEqual(parties.length);
    for (const r of rows) expect(problemsOf(CustomerRecord, r.value)).toEqual([]);
    expect(rows.every((r) => check(CustomerRecord, r.value))).toBe(true);
    // every party has its own identity: none of them was folded onto another
    expect((await pool.query('SELECT count(*)::int AS n FROM history.identities')).rows[0].n).toBe(parties.length);
  });
});
