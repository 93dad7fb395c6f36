/**
 * Re-filing identities stored under the old normalisation (issue 12): a Kelvin-sign address the old
 * rules filed under the ASCII customer gets its own customer and its events; one person the old
 * rules split (A-label and U-label of one domain) is merged; renamed forms (Mexico's mobile "1",
 * non-ASCII case kept) move to the new identity on the same customer; a dry run changes nothing and a
 * second run finds nothing to do. Then the renamed WhatsApp identity links to the same number on SMS
 * on its next message, through the ordinary linking path.
 */
import { join } from 'node:path';
import type { Party } from '@omni/contracts';
import { createPool, migrate, type Pool } from '@omni/db';
import { handleTimelineBatch } from '@omni/history/src/consumers/timeline';
import { renormaliseIdentities } from '@omni/history/src/store/renormalise-identities';
import { createWorld, type TestWorld } from '../../../test/support/infra';
import { inboundEnvelope } from './support/events';

const K = '\u212A';

describe('renormalise identities', () => {
  let world: TestWorld;
  let pool: Pool;

  beforeAll(async () => {
    world = await createWorld('renormalise');
    pool = createPool(world.databaseUrl, { max: 4 });
    await migrate(pool, 'history', join(__dirname, '..', 'migrations'));
    // what the old rules wrote: [customer, identity as filed, raw addresses of its events]
    const old: [string, string, string, [string, Party][]][] = [
      ['cA', 'email', 'anak@x.com', [['e1', { channel: 'email', address: 'anak@x.com' }], ['e2', { channel: 'email', address: `ana${K}@x.com`, name: 'Mallory' }]]],
      ['cB', 'whatsapp', '+5215512345678', [['e3', { channel: 'whatsapp', address: '5215512345678' }]]],
      ['cC', 'sms', '+525512345678', [['e4', { channel: 'sms', address: '+52 55 1234 5678' }]]],
      ['cD', 'email', 'ana@xn--bcher-kva.de', [['e5', { channel: 'email', address: 'ana@xn--bcher-kva.de' }]]],
      ['cE', 'email', 'ana@bücher.de', [['e6', { channel: 'email', address: 'ana@BÜCHER.de' }]]],
      ['cF', 'email', 'josé@x.com', [['e7', { channel: 'email', address: 'JOSÉ@x.com' }]]],
    ];
    let n = 0;
    for (const [id, channel, address, events] of old) {
      await pool.query(`INSERT INTO history.customers (id, created_at) VALUES ($1::text, now() - ($2::int * interval '1 hour'))`, [id, 10 - n++]);
      await pool.query(`INSERT INTO history.identities (channel, address, customer_id, linked_reason) VALUES ($1::text, $2::text, $3::text, 'first contact')`, [channel, address, id]);
      const key = channel === 'email' ? `email:${address}` : `phone:${address}`;
      await pool.query('INSERT INTO history.identity_evidence (key, channel, address) VALUES ($1::text, $2::text, $3::text)', [key, channel, address]);
      for (const [eventId, party] of events)
        await pool.query(
          `INSERT INTO history.timeline (event_id, customer_id, occurred_at, kind, channel, source_topic, payload)
           VALUES ($1::text, $2::text, now(), 'message.inbound', $3::text, 'omni.inbound.v1', $4::jsonb)`,
          [eventId, id, channel, JSON.stringify(inboundEnvelope(eventId, party, '2026-07-01T10:00:00.000Z', 'hola'))],
        );
    }
  });
  afterAll(async () => {
    await pool?.end();
    await world?.close();
  });

  const snapshot = async () => ({
    identities: (await pool.query('SELECT channel, address, customer_id FROM history.identities ORDER BY channel, address')).rows,
    evidence: (await pool.query('SELECT key, channel, address FROM history.identity_evidence ORDER BY key, channel, address')).rows,
    customers: (await pool.query('SELECT id, merged_into FROM history.customers ORDER BY id')).rows,
    timeline: (await pool.query('SELECT event_id, customer_id FROM history.timeline ORDER BY event_id')).rows,
  });
  const homeOf = async (channel: string, address: string) =>
    (await pool.query<{ customer_id: string }>('SELECT customer_id FROM history.identities WHERE channel = $1::text AND address = $2::text', [channel, address])).rows[0]?.customer_id;

  it('reports without changing anything in a dry run', async () => {
    const before = await snapshot();
    const report = await renormaliseIdentities(pool, world.topics.customers, { apply: false });
    expect(report.split).toEqual([{ from: 'email:anak@x.com', to: `email:ana${K}@x.com`, customerId: expect.any(String), events: 1 }]);
    expect(await snapshot()).toEqual(before);
  });

  it('re-files, splits, merges and retires, then has nothing left to do', async () => {
    const report = await renormaliseIdentities(pool, world.topics.customers, { apply: true });
    // the look-alike: its own customer, with its own event; the ASCII person keeps theirs
    const mallory = await homeOf('email', `ana${K}@x.com`);
    expect(mallory).toBeDefined();
    expect(mallory).not.toBe('cA');
    const timeline = new Map((await snapshot()).timeline.map((r: { event_id: string; customer_id: string }) => [r.event_id, r.customer_id]));
    expect(timeline.get('e1')).toBe('cA');
    expect(timeline.get('e2')).toBe(mallory);
    // renamed forms on the same customers
    expect(await homeOf('whatsapp', '+525512345678')).toBe('cB');
    expect(await homeOf('whatsapp', '+5215512345678')).toBeUndefined();
    expect(await homeOf('email', 'josÉ@x.com')).toBe('cF');
    expect(await homeOf('email', 'josé@x.com')).toBeUndefined();
    // A-label and U-label: one person, merged younger into older
    expect(report.merged).toEqual([{ sourceId: 'cE', targetId: 'cD', via: 'email:ana@bücher.de' }]);
    expect((await pool.query('SELECT merged_into FROM history.customers WHERE id = $1::text', ['cE'])).rows[0].merged_into).toBe('cD');
    expect(report.retired.sort()).toEqual(['email:ana@xn--bcher-kva.de', 'email:josé@x.com', 'whatsapp:+5215512345678']);
    // no stale evidence under the old forms
    const keys = (await snapshot()).evidence.map((e: { key: string }) => e.key);
    expect(keys).not.toContain('phone:+5215512345678');
    expect(keys).not.toContain('email:josé@x.com');
    // customers.v1 records queued for the changed customers
    expect((await pool.query('SELECT count(*)::int AS n FROM history.outbox')).rows[0].n).toBeGreaterThan(0);

    const again = await renormaliseIdentities(pool, world.topics.customers, { apply: true });
    expect({ ...again, evidencePending: 0 }).toEqual({ renamed: [], split: [], merged: [], retired: [], evidencePending: 0, evidenceRemoved: 0 });
  });

  it('links the renamed WhatsApp identity to the same number on SMS on its next message', async () => {
    const value = inboundEnvelope('e8', { channel: 'whatsapp', address: '5215512345678' }, '2026-07-02T10:00:00.000Z', 'otra vez');
    await handleTimelineBatch({ pool, topics: world.topics }, [{ topic: world.topics.inbound, partition: 0, offset: '0', key: value.threadKey, value }]);
    const roots = await pool.query<{ r: string }>(
      `SELECT history.root_customer(customer_id) AS r FROM history.identities WHERE (channel, address) IN (('whatsapp', '+525512345678'), ('sms', '+525512345678'))`,
    );
    expect(roots.rows).toHaveLength(2);
    expect(new Set(roots.rows.map((x) => x.r)).size).toBe(1);
  });
});
