/**
 * Erasure in history over the real broker and database: an admin erases a customer (the whole merge
 * tree); a dump of the database then holds none of the person's addresses, names or message text,
 * the compacted customers topic gets tombstones, and an erasure stopped halfway (as a crash would)
 * is finished when the service starts again.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Party } from '@omni/contracts';
import { Publisher } from '@omni/kafka';
import * as historyCfg from '@omni/history/src/config';
import { start as startHistory } from '@omni/history/src/start';
import { requestErasure, runErasure } from '@omni/history/src/store/erasure';
import { sweepMessageContent } from '@omni/history/src/store/content-retention';
import { createWorld, eventually, testLogger, TopicWatcher, type TestWorld } from '../../../test/support/infra';
import { bearer, TEST_JWT_SECRET } from '../../../test/support/tokens';
import { Script } from './support/events';

const run = promisify(execFile);

describe('history: erasure of a customer', () => {
  let world: TestWorld;
  let history: Awaited<ReturnType<typeof startHistory>>;
  let publisher: Publisher;
  let script: Script;
  let customers: TopicWatcher<Record<string, unknown> | null>;
  let erasures: TopicWatcher;
  const env = () => world.env({ HISTORY_GROUP_ID: `history-${world.id}`, JWT_SECRET: TEST_JWT_SECRET });

  beforeAll(async () => {
    world = await createWorld('erasure');
    customers = await TopicWatcher.start(world, world.topics.customers);
    erasures = await TopicWatcher.start(world, world.topics.erasures);
    history = await startHistory(historyCfg.readConfig(env()), testLogger);
    publisher = new Publisher(world.kafka);
    await publisher.connect();
    script = new Script(world.topics);
  });
  afterAll(async () => {
    await publisher?.disconnect();
    await history?.close();
    await customers?.stop();
    await erasures?.stop();
    await world?.close();
  });

  async function publishAndWait(): Promise<void> {
    const { records, ids } = script.take();
    await publisher.publish(records);
    const unique = [...new Set(ids)];
    await eventually(async () => {
      const r = await world.pool.query<{ n: string }>('SELECT count(*) AS n FROM history.timeline WHERE event_id = ANY($1::text[])', [unique]);
      return Number(r.rows[0]!.n) === unique.length ? true : undefined;
    }, 'events on the timeline');
  }
  const call = async (method: string, path: string, role: 'admin' | 'supervisor', body?: unknown) => {
    const res = await fetch(history.url + path, {
      method,
      headers: { ...bearer(role), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const lookup = async (identity: string) => (await call('GET', `/v1/customers?identity=${encodeURIComponent(identity)}`, 'supervisor')).body.id as string;
  const dump = async () => (await run('pg_dump', ['--data-only', '--schema=history', world.databaseUrl], { maxBuffer: 64 * 1024 * 1024 })).stdout;

  /** A person with two identities (merged), a resolved conversation, a reply and a delivery. */
  async function person(tag: string): Promise<{ ids: string[]; secrets: string[] }> {
    const email: Party = { channel: 'email', address: `${tag}@example.com`, name: `${tag} Person` };
    const wa: Party = { channel: 'whatsapp', address: `3460099${tag.length}${tag.charCodeAt(0)}` };
    const text = `${tag.toUpperCase()}-SECRET-TEXT`;
    const conv = `conv-${tag}`;
    script.inbound(`${tag}-in-1`, email, '2026-06-01T10:00:00.000Z', `${text} one`);
    script.inbound(`${tag}-in-2`, wa, '2026-06-01T11:00:00.000Z', `${text} two`);
    script.conv(`${tag}-open`, 'conversation.opened', { conversationId: conv, customer: email, tier: 1, at: '2026-06-01T10:00:01.000Z' }, { messageId: `${tag}-in-1` });
    script.outbound(`${tag}-out`, { conversationId: conv, to: email, agentId: 'agent-1', at: '2026-06-01T10:05:00.000Z', text: `${text} reply` });
    script.delivery(`${tag}-dlv`, { outboundId: `${tag}-out`, conversationId: conv, to: email, at: '2026-06-01T10:05:01.000Z', status: 'delivered' });
    script.conv(`${tag}-res`, 'conversation.resolved', { conversationId: conv, customer: email, tier: 1, at: '2026-06-01T10:30:00.000Z' });
    await publishAndWait();
    const a = await lookup(`email:${email.address}`);
    const b = await lookup(`whatsapp:${wa.address}`);
    expect((await call('POST', `/v1/customers/${a}/merge`, 'supervisor', { from: b, reason: `${text} same person` })).status).toBe(201);
    return { ids: [a, b], secrets: [email.address, wa.address, `${tag} Person`, text] };
  }

  it('removes every trace of the person from history and tombstones the customers topic; others stay', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    await eventually(async () => ((await world.pool.query('SELECT 1 FROM history.outbox')).rowCount === 0 ? true : undefined), 'outbox drained');
    const before = await dump();
    for (const s of [...alice.secrets, ...bob.secrets]) expect(before).toContain(s);

    expect((await call('POST', `/v1/customers/${alice.ids[1]}/erase`, 'supervisor', {})).status).toBe(403);
    const erased = await call('POST', `/v1/customers/${alice.ids[1]}/erase`, 'admin', { reason: 'GDPR art. 17 request' });
    expect(erased.status).toBe(200);
    expect(erased.body).toMatchObject({ done: true });
    expect([...erased.body.customers].sort()).toEqual([...alice.ids].sort());

    const after = await dump();
    for (const s of alice.secrets) expect({ secret: s, found: after.includes(s) }).toEqual({ secret: s, found: false });
    for (const s of bob.secrets) expect(after).toContain(s);
    for (const id of alice.ids) await customers.waitFor((v, seen) => v === null && seen.key === id);
    expect((await call('GET', `/v1/customers/${alice.ids[0]}`, 'supervisor')).status).toBe(404);
    expect((await call('GET', `/v1/customers?identity=${encodeURIComponent(`email:alice@example.com`)}`, 'supervisor')).status).toBe(404);
    // again: the customer is gone
    expect((await call('POST', `/v1/customers/${alice.ids[0]}/erase`, 'admin', {})).status).toBe(404);
    // one omni.erasures.v1 event names what the other services need, read before history deleted it
    const [event] = await erasures.waitFor((v) => v.erasureId === erased.body.erasureId);
    expect(event!.key).toBe(erased.body.erasureId);
    expect(event!.value).toMatchObject({ part: 0, parts: 1, conversationIds: ['conv-alice'], threadKeys: expect.any(Array) });
    expect([...(event!.value.customerIds as string[])].sort()).toEqual([...alice.ids].sort());
    expect(event!.value.identities).toEqual(expect.arrayContaining([{ channel: 'email', address: 'alice@example.com' }, { channel: 'whatsapp', address: expect.stringMatching(/^\+?3460099/) }]));
    await eventually(async () => ((await world.pool.query('SELECT 1 FROM history.outbox')).rowCount === 0 ? true : undefined), 'erasure event relayed');
    const audit = await call('GET', '/v1/audit?action=customer.erase', 'admin');
    expect(audit.body.items).toEqual([expect.objectContaining({ actor: expect.objectContaining({ role: 'admin' }), target: { type: 'customer', id: alice.ids[0] } })]);
  });

  it('finishes an erasure interrupted halfway when the service starts again', async () => {
    const carol = await person('carol');
    const erasure = (await requestErasure(history.pool, carol.ids[0]!, 'admin:test', world.topics.erasures))!;
    const stopped = await runErasure({ pool: history.pool, customersTopic: world.topics.customers, erasuresTopic: world.topics.erasures, tombstone: async () => undefined }, erasure.id, { stopAfter: 'conversations' });
    expect(stopped).toMatchObject({ done: false, step: 'identities' });
    expect(await dump()).toContain('carol@example.com'); // identities not yet removed
    await history.close();
    // the event was committed with the erasure record, so it goes out whether the relay sent it before the stop or after the restart
    const [event] = await erasures.waitFor((v) => v.erasureId === erasure.id);
    expect(event!.value.identities).toEqual(expect.arrayContaining([{ channel: 'email', address: 'carol@example.com' }]));
    history = await startHistory(historyCfg.readConfig(env()), testLogger);
    const row = await world.pool.query('SELECT step, done_at FROM history.erasures WHERE id = $1::text', [erasure.id]);
    expect(row.rows[0]).toMatchObject({ step: 'done', done_at: expect.any(Date) });
    const after = await dump();
    for (const s of carol.secrets) expect({ secret: s, found: after.includes(s) }).toEqual({ secret: s, found: false });
    for (const id of carol.ids) await customers.waitFor((v, seen) => v === null && seen.key === id);
    // running a finished erasure again changes nothing
    await expect(runErasure({ pool: history.pool, customersTopic: world.topics.customers, erasuresTopic: world.topics.erasures, tombstone: async () => undefined }, erasure.id)).resolves.toMatchObject({ done: true });
  });

  it('removes message content past the retention period, in batches, keeping the rows', async () => {
    script.inbound('dave-new', { channel: 'email', address: 'dave@example.com' }, new Date().toISOString(), 'DAVE-RECENT-TEXT');
    await publishAndWait();
    expect(await dump()).toContain('BOB-SECRET-TEXT');
    const rowsBefore = (await world.pool.query('SELECT count(*)::int AS n FROM history.timeline')).rows[0].n;
    const swept = await sweepMessageContent(history.pool, 30, 2); // batches of 2: the loop must reach every old row
    expect(swept).toBeGreaterThanOrEqual(3); // bob's two messages and reply
    expect(await sweepMessageContent(history.pool, 30, 2)).toBe(0); // nothing left: idempotent
    const after = await dump();
    for (const text of ['BOB-SECRET-TEXT one', 'BOB-SECRET-TEXT two', 'BOB-SECRET-TEXT reply']) expect({ text, found: after.includes(text) }).toEqual({ text, found: false });
    expect(after).toContain('BOB-SECRET-TEXT same person'); // a merge reason is not message content
    expect(after).toContain('DAVE-RECENT-TEXT');
    expect((await world.pool.query('SELECT count(*)::int AS n FROM history.timeline')).rows[0].n).toBe(rowsBefore);
    const bob = await lookup('email:bob@example.com');
    const items = (await call('GET', `/v1/customers/${bob}/timeline`, 'supervisor')).body.items as { kind: string; payload: Record<string, unknown> }[];
    expect(items.filter((i) => i.kind.startsWith('message.')).every((i) => i.payload.contentRemoved === true && i.payload.text === undefined)).toBe(true);
  });
});
