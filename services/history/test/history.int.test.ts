/**
 * The history service over the real broker and database: envelopes are published to the world's
 * topics as ingest and the router would publish them; the service consumes, links identities,
 * writes the timeline and the conversations projection, and answers on its HTTP API.
 */
import { csatKey, mintCsatToken } from '@omni/auth';
import type { Party } from '@omni/contracts';
import { Publisher } from '@omni/kafka';
import * as historyCfg from '@omni/history/src/config';
import { start as startHistory } from '@omni/history/src/start';
import { createWorld, eventually, testLogger, TopicWatcher, type TestWorld } from '../../../test/support/infra';
import { Script } from './support/events';
import { bearer, TEST_JWT_SECRET } from '../../../test/support/tokens';

/** The token the router puts on conversation.resolved for the customer's CSAT answer. */
const csatToken = (conversationId: string) => mintCsatToken(csatKey(TEST_JWT_SECRET), conversationId, `evt-res-${conversationId}`, new Date(), 3600);

interface Item {
  eventId: string;
  tier: number | null;
  customerId: string;
  occurredAt: string;
  kind: string;
  channel: string;
  conversationId: string | null;
}
interface CustomerView {
  id: string;
  mergedInto: string | null;
  members: string[];
  identities: { channel: string; address: string; linkedReason: string; linkedVia: string | null; customerId: string }[];
}

describe('history: customers, identities, timeline, merges, KPIs, CSAT', () => {
  let world: TestWorld;
  let baseUrl: string;
  let close: () => Promise<void>;
  let publisher: Publisher;
  let script: Script;
  let customersTopic: TopicWatcher<{ customerId: string; version: number; mergedInto?: string; identities: { channel: string; address: string }[]; attributes?: Record<string, unknown> }>;

  beforeAll(async () => {
    world = await createWorld('history');
    customersTopic = await TopicWatcher.start(world, world.topics.customers);
    const h = await startHistory(historyCfg.readConfig(world.env({ HISTORY_GROUP_ID: world.groupId('history'), FCR_RECONTACT_DAYS: '7', JWT_SECRET: TEST_JWT_SECRET })), testLogger);
    baseUrl = h.url;
    close = h.close;
    publisher = new Publisher(world.kafka);
    await publisher.connect();
    script = new Script(world.topics);
  });

  afterAll(async () => {
    await publisher?.disconnect();
    await close?.();
    await customersTopic?.stop();
    await world?.close();
  });

  /** Publishes what was scripted and waits until every event id is on the timeline. */
  async function publishAndWait(): Promise<string[]> {
    const { records, ids } = script.take();
    await publisher.publish(records);
    const unique = [...new Set(ids)];
    await eventually(async () => {
      const r = await world.pool.query<{ n: string }>('SELECT count(*) AS n FROM history.timeline WHERE event_id = ANY($1::text[])', [unique]);
      return Number(r.rows[0]!.n) === unique.length ? true : undefined;
    }, `${unique.length} events on the timeline`);
    return unique;
  }

  /** HTTP over the real socket (light-my-request's ESM cookie dependency does not load under jest on Node 20). */
  async function call(method: 'GET' | 'POST', url: string, payload?: object): Promise<{ statusCode: number; body: string; json: () => unknown }> {
    // as supervisor maria: reads everything, merges and unmerges (roles: docs/access-control.md)
    const res = await fetch(baseUrl + url, {
      method,
      headers: { ...bearer('supervisor', 'maria'), ...(payload ? { 'content-type': 'application/json' } : {}) },
      ...(payload ? { body: JSON.stringify(payload) } : {}),
    });
    const body = await res.text();
    return { statusCode: res.status, body, json: () => JSON.parse(body) };
  }

  async function get<T>(url: string, status = 200): Promise<T> {
    const res = await call('GET', url);
    expect({ url, status: res.statusCode, body: res.statusCode === status ? null : res.body }).toEqual({ url, status, body: null });
    return res.json() as T;
  }

  async function post<T>(url: string, body: unknown, status: number): Promise<T> {
    const res = await call('POST', url, body as object);
    expect({ url, status: res.statusCode, body: res.statusCode === status ? null : res.body }).toEqual({ url, status, body: null });
    return res.json() as T;
  }

  /** Walks every page with a small page size, so the cursor is exercised too. */
  async function fullTimeline(customerId: string, query = ''): Promise<Item[]> {
    const items: Item[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const page: { items: Item[]; nextCursor: string | null } = await get(
        `/v1/customers/${customerId}/timeline?limit=3${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      items.push(...page.items);
      cursor = page.nextCursor;
      if (!cursor) return items;
    }
    throw new Error('too many pages');
  }

  const lookup = (identity: string) => get<CustomerView>(`/v1/customers?identity=${encodeURIComponent(identity)}`);

  it('links chat (typed e-mail), e-mail, WhatsApp and a call from the WhatsApp number into one customer with one ordered timeline', async () => {
    const chat: Party = { channel: 'chat', address: 'visitor-ana', name: 'Ana Pérez', email: 'Ana.Perez@Example.com' };
    script.inbound('in-chat-1', chat, '2026-02-01T09:00:00.000Z', 'No puedo entrar en mi cuenta', 'chat:sess-ana');
    script.conv('ev-c1-open', 'conversation.opened', { conversationId: 'c1', customer: chat, tier: 1, at: '2026-02-01T09:00:01.000Z', threadKey: 'chat:sess-ana' }, { messageId: 'in-chat-1', category: 'access' });
    script.outbound('out-c1-1', { conversationId: 'c1', to: chat, agentId: 'agent-luis', at: '2026-02-01T09:02:00.000Z', text: '¿Has probado a restablecer la contraseña?' });
    await publishAndWait();
    const c1 = await lookup('chat:visitor-ana');
    expect(c1.identities).toEqual([expect.objectContaining({ channel: 'chat', address: 'visitor-ana', linkedReason: 'first contact' })]);

    script.inbound('in-mail-1', { channel: 'email', address: 'ana.perez@example.com' }, '2026-02-01T10:00:00.000Z', 'Sigo sin poder entrar');
    await publishAndWait();
    expect((await lookup('email:ANA.PEREZ@example.com')).id).toBe(c1.id);

    // WhatsApp first: nothing ties this number to Ana yet, so it is a customer of its own…
    const wa: Party = { channel: 'whatsapp', address: '34600112233', phone: '+34600112233' };
    script.inbound('in-wa-1', wa, '2026-02-01T11:00:00.000Z', 'Hola, soy Ana');
    await publishAndWait();
    const waCustomer = await lookup('whatsapp:34600112233');
    expect(waCustomer.id).not.toBe(c1.id);
    // …and the call from the same number (formatted differently) joins it on the phone number.
    script.inbound('in-call-1', { channel: 'phone', address: '+34 600 11 22 33' }, '2026-02-01T12:00:00.000Z', '[voicemail] llamadme por favor');
    await publishAndWait();
    expect((await lookup('phone:+34600112233')).id).toBe(waCustomer.id);

    // Ana, back on the same chat session, types her phone into the pre-chat form: the two customers
    // are merged into the older one, reason "auto: same phone".
    script.inbound('in-chat-2', { ...chat, phone: '+34600112233' }, '2026-02-01T13:00:00.000Z', 'Os dejo mi teléfono', 'chat:sess-ana');
    await publishAndWait();
    const ana = await lookup('phone:+34600112233');
    expect(ana.id).toBe(c1.id);
    expect((await lookup('whatsapp:+34600112233')).id).toBe(c1.id);
    expect(ana.members).toEqual([waCustomer.id]);
    const reasons = Object.fromEntries(ana.identities.map((i) => [`${i.channel}:${i.address}`, [i.linkedReason, i.linkedVia]]));
    expect(reasons).toEqual({
      'chat:visitor-ana': ['first contact', null],
      'email:ana.perez@example.com': ['auto: same email', 'email:ana.perez@example.com'],
      'whatsapp:+34600112233': ['first contact', null],
      'phone:+34600112233': ['auto: same phone', 'phone:+34600112233'],
    });
    const merges = await get<{ items: { sourceId: string; targetId: string; reason: string; evidence: string; actor: string }[] }>(`/v1/customers/${c1.id}/merges`);
    expect(merges.items).toEqual([expect.objectContaining({ sourceId: waCustomer.id, targetId: c1.id, reason: 'auto: same phone', evidence: 'phone:+34600112233', actor: 'system' })]);

    // One timeline, in order, across the four channels.
    const timeline = await fullTimeline(ana.id);
    expect(timeline.map((i) => [i.eventId, i.channel])).toEqual([
      ['in-chat-1', 'chat'],
      ['ev-c1-open', 'chat'],
      ['out-c1-1', 'chat'],
      ['in-mail-1', 'email'],
      ['in-wa-1', 'whatsapp'],
      ['in-call-1', 'phone'],
      ['in-chat-2', 'chat'],
    ]);
    // channel filter and time range
    expect((await fullTimeline(ana.id, '&channel=whatsapp')).map((i) => i.eventId)).toEqual(['in-wa-1']);
    expect((await fullTimeline(ana.id, `&from=${encodeURIComponent('2026-02-01T10:00:00.000Z')}&to=${encodeURIComponent('2026-02-01T12:00:00.000Z')}`)).map((i) => i.eventId)).toEqual([
      'in-mail-1',
      'in-wa-1',
    ]);
    // inbound messages show the conversation the router attached them to, and the filter brings them
    expect(timeline.find((i) => i.eventId === 'in-chat-1')).toMatchObject({ conversationId: 'c1', tier: 1 });
    expect((await fullTimeline(ana.id, '&conversation=c1')).map((i) => i.eventId)).toEqual(['in-chat-1', 'ev-c1-open', 'out-c1-1']);

    // The transcript has the customer's message (referenced by the opened event) and the agent's reply, in order.
    const transcript = await get<{ conversation: { customerId: string; status: string; tierPath: number[]; agents: string[] }; messages: { direction: string; eventId: string; text: string }[] }>('/v1/conversations/c1');
    expect(transcript.conversation).toMatchObject({ customerId: c1.id, status: 'open', tierPath: [1], agents: ['agent-luis'] });
    expect(transcript.messages.map((m) => [m.direction, m.eventId])).toEqual([
      ['inbound', 'in-chat-1'],
      ['outbound', 'out-c1-1'],
    ]);

    // The router sees the merged customer on the compacted customers topic.
    await customersTopic.waitFor((v) => v.customerId === waCustomer.id && v.mergedInto === c1.id);
    const [latest] = (await customersTopic.waitFor((v) => v.customerId === c1.id && v.identities.length === 4)).slice(-1);
    expect(latest!.value.identities).toEqual(expect.arrayContaining([{ channel: 'phone', address: '+34600112233' }, { channel: 'email', address: 'ana.perez@example.com' }]));
    expect(latest!.value.attributes).toEqual({ escalatedConversations: 0, mergedCustomers: [waCustomer.id] });
  });

  it('merge then unmerge restores both timelines exactly', async () => {
    const x: Party = { channel: 'messenger', address: 'psid-100', name: 'Xavi' };
    const y: Party = { channel: 'instagram', address: 'igsid-200', name: 'Xavi M.' };
    script.inbound('mx-1', x, '2026-03-01T10:00:00.000Z', 'hola');
    script.conv('mx-open', 'conversation.opened', { conversationId: 'cx', customer: x, tier: 1, at: '2026-03-01T10:00:01.000Z' }, { messageId: 'mx-1' });
    script.outbound('mx-out', { conversationId: 'cx', to: x, agentId: 'agent-1', at: '2026-03-01T10:05:00.000Z', text: 'hola Xavi' });
    script.delivery('mx-dlv', { outboundId: 'mx-out', conversationId: 'cx', to: x, at: '2026-03-01T10:05:01.000Z', status: 'delivered' });
    script.inbound('my-1', y, '2026-03-01T10:02:00.000Z', 'soy yo otra vez');
    script.inbound('my-2', y, '2026-03-02T08:00:00.000Z', '¿alguien?');
    await publishAndWait();
    const cx = await lookup('messenger:psid-100');
    const cy = await lookup('instagram:igsid-200');
    const beforeX = await fullTimeline(cx.id);
    const beforeY = await fullTimeline(cy.id);
    expect(beforeX.map((i) => i.eventId)).toEqual(['mx-1', 'mx-open', 'mx-out', 'mx-dlv']);
    expect(beforeY.map((i) => i.eventId)).toEqual(['my-1', 'my-2']);

    const merged = await post<{ merge: { id: string; sourceId: string; targetId: string; actor: string; reason: string }; customer: CustomerView }>(
      `/v1/customers/${cx.id}/merge`,
      { from: cy.id, reason: 'same person, confirmed by phone', actor: 'agent:maria' },
      201,
    );
    expect(merged.merge).toMatchObject({ sourceId: cy.id, targetId: cx.id, actor: 'supervisor:maria', reason: 'same person, confirmed by phone' });
    expect(merged.customer.members).toEqual([cy.id]);
    const both = await fullTimeline(cx.id);
    expect(both.map((i) => i.eventId)).toEqual(['mx-1', 'mx-open', 'my-1', 'mx-out', 'mx-dlv', 'my-2']);
    expect((await lookup('instagram:igsid-200')).id).toBe(cx.id);
    expect((await get<CustomerView>(`/v1/customers/${cy.id}`)).mergedInto).toBe(cx.id);
    await customersTopic.waitFor((v) => v.customerId === cy.id && v.mergedInto === cx.id);

    const undone = await post<{ undoneAt: string | null; undoneBy: string }>(`/v1/merges/${merged.merge.id}/unmerge`, { actor: 'agent:maria', reason: 'different people after all' }, 200);
    expect(undone.undoneBy).toBe('supervisor:maria');
    expect(undone.undoneAt).not.toBeNull();
    expect(await fullTimeline(cx.id)).toEqual(beforeX);
    expect(await fullTimeline(cy.id)).toEqual(beforeY);
    expect((await lookup('instagram:igsid-200')).id).toBe(cy.id);
    expect((await get<CustomerView>(`/v1/customers/${cy.id}`)).mergedInto).toBeNull();
    const versionAfterMerge = customersTopic.seen.filter((s) => s.value.customerId === cy.id && s.value.mergedInto === cx.id).map((s) => s.value.version)[0]!;
    await customersTopic.waitFor((v) => v.customerId === cy.id && v.mergedInto === undefined && v.version > versionAfterMerge);

    // undoing twice is a conflict and changes nothing
    const again = await call('POST', `/v1/merges/${merged.merge.id}/unmerge`, { actor: 'agent:maria' });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: 'CONFLICT' });
    expect(await fullTimeline(cy.id)).toEqual(beforeY);
  });

  it('keeps an undone automatic merge undone when the same evidence arrives again', async () => {
    const visitor: Party = { channel: 'chat', address: 'visitor-undo' };
    const sms: Party = { channel: 'sms', address: '+34644000001' };
    script.inbound('undo-chat-1', visitor, '2026-03-05T09:00:00.000Z', 'hola');
    await publishAndWait();
    script.inbound('undo-sms-1', sms, '2026-03-05T09:05:00.000Z', 'hola por sms');
    await publishAndWait();
    const chatCustomer = await lookup('chat:visitor-undo');
    const smsCustomer = await lookup('sms:+34644000001');
    expect(chatCustomer.id).not.toBe(smsCustomer.id);
    script.inbound('undo-chat-2', { ...visitor, phone: '+34644000001' }, '2026-03-05T09:10:00.000Z', 'mi número');
    await publishAndWait();
    const [auto] = (await get<{ items: { id: string; sourceId: string; targetId: string; reason: string }[] }>(`/v1/customers/${chatCustomer.id}/merges`)).items;
    expect(auto).toMatchObject({ sourceId: smsCustomer.id, targetId: chatCustomer.id, reason: 'auto: same phone' });
    const beforeChat = await fullTimeline(chatCustomer.id);
    expect(beforeChat.map((i) => i.eventId)).toEqual(['undo-chat-1', 'undo-sms-1', 'undo-chat-2']);

    await post(`/v1/merges/${auto!.id}/unmerge`, { actor: 'agent:maria', reason: 'shared family phone' }, 200);
    expect((await lookup('sms:+34644000001')).id).toBe(smsCustomer.id);
    // the visitor repeats the number, and the SMS side writes again: no new merge
    script.inbound('undo-chat-3', { ...visitor, phone: '+34644000001' }, '2026-03-05T09:20:00.000Z', 'otra vez mi número');
    script.inbound('undo-sms-2', sms, '2026-03-05T09:25:00.000Z', 'sigo aquí');
    await publishAndWait();
    expect((await lookup('sms:+34644000001')).id).toBe(smsCustomer.id);
    expect((await lookup('chat:visitor-undo')).id).toBe(chatCustomer.id);
    expect((await fullTimeline(chatCustomer.id)).map((i) => i.eventId)).toEqual(['undo-chat-1', 'undo-chat-2', 'undo-chat-3']);
    expect((await fullTimeline(smsCustomer.id)).map((i) => i.eventId)).toEqual(['undo-sms-1', 'undo-sms-2']);
    expect((await get<{ items: unknown[] }>(`/v1/customers/${chatCustomer.id}/merges`)).items).toHaveLength(1);
  });

  it('leaves the timeline and the projection unchanged when events are published twice and redelivered to a new consumer group', async () => {
    const p: Party = { channel: 'sms', address: '+34 655 000 111' };
    const at = (m: number) => new Date(Date.parse('2026-04-01T10:00:00.000Z') + m * 60_000).toISOString();
    const build = () => {
      script.inbound('dup-in', p, at(0), 'mi pedido no llega');
      script.conv('dup-open', 'conversation.opened', { conversationId: 'cdup', customer: p, tier: 1, at: at(0) }, { messageId: 'dup-in', category: 'orders' });
      script.conv('dup-queued', 'conversation.queued', { conversationId: 'cdup', customer: p, tier: 1, at: at(0) });
      script.conv('dup-assigned', 'conversation.assigned', { conversationId: 'cdup', customer: p, tier: 1, at: at(2) }, { agentId: 'agent-2' });
      script.outbound('dup-out', { conversationId: 'cdup', to: p, agentId: 'agent-2', at: at(3), text: 'lo miro' });
      script.conv('dup-resolved', 'conversation.resolved', { conversationId: 'cdup', customer: p, tier: 1, at: at(9) }, { agentId: 'agent-2' });
    };
    build();
    const ids = await publishAndWait();
    const customer = await lookup('sms:+34655000111');
    const snapshot = async () => ({
      timeline: await fullTimeline(customer.id),
      rows: (await world.pool.query('SELECT event_id, seq FROM history.timeline WHERE event_id = ANY($1::text[]) ORDER BY seq', [ids])).rows,
      conversation: (await world.pool.query('SELECT status, first_response_at, resolved_at, queue_waits, agents FROM history.conversations WHERE id = $1::text', ['cdup'])).rows,
      identities: (await world.pool.query('SELECT count(*)::int AS n FROM history.identities')).rows,
    });
    const before = await snapshot();
    expect(before.conversation).toEqual([expect.objectContaining({ status: 'resolved', agents: ['agent-2'], queue_waits: [expect.objectContaining({ tier: 1, ms: 120_000 })] })]);

    // The same envelopes again, then a marker on the same partitions: once the marker is in, the copies were read.
    build();
    script.inbound('dup-marker', p, at(20), 'gracias');
    script.conv('dup-marker-conv', 'conversation.closed', { conversationId: 'cdup', customer: p, tier: 1, at: at(20) });
    await publishAndWait();
    const after = await snapshot();
    expect(after.rows).toEqual(before.rows);
    expect(after.timeline.filter((i) => !i.eventId.startsWith('dup-marker'))).toEqual(before.timeline);

    // A second history instance with a fresh group re-reads every topic from the start (a full redelivery).
    const redeliverGroup = world.groupId('history-redeliver');
    const second = await startHistory(historyCfg.readConfig(world.env({ HISTORY_GROUP_ID: redeliverGroup })), testLogger);
    try {
      const admin = world.kafka.admin();
      await admin.connect();
      try {
        const topics = [world.topics.inbound, world.topics.conversations, world.topics.outbound, world.topics.delivery];
        const ends = new Map<string, string>();
        for (const t of topics) for (const o of await admin.fetchTopicOffsets(t)) ends.set(`${t}:${o.partition}`, o.high);
        await eventually(async () => {
          const committed = await admin.fetchOffsets({ groupId: redeliverGroup, topics });
          const done = committed.every((t) =>
            t.partitions.every((pp) => {
              const end = Number(ends.get(`${t.topic}:${pp.partition}`) ?? 0);
              return end === 0 || Number(pp.offset) >= end; // an empty partition has nothing to commit
            }),
          );
          return done ? true : undefined;
        }, 'the redelivery group to commit every partition to the end');
      } finally {
        await admin.disconnect();
      }
    } finally {
      await second.close();
    }
    const redelivered = await snapshot();
    expect(redelivered).toEqual(after);
  });

  it('computes the KPIs of a scripted day equal to the values worked out by hand', async () => {
    const day = (hm: string) => `2026-01-01T${hm}:00.000Z`;
    const k1: Party = { channel: 'chat', address: 'kpi-1' };
    const k2: Party = { channel: 'email', address: 'k2@kpi.test' };
    const k3: Party = { channel: 'whatsapp', address: '34611000001', phone: '+34611000001' };
    const k3call: Party = { channel: 'phone', address: '+34611000001' };
    const k4: Party = { channel: 'messenger', address: 'psid-9001' };
    const k5: Party = { channel: 'chat', address: 'kpi-5' };
    const s = script;
    // A: chat, tier 1, passwords. queued 10:00 → offered 10:01 (wait 60 s), first reply 10:02 (120 s), resolved 10:10 at tier 1 (600 s). CSAT 5.
    const a = { conversationId: 'kA', customer: k1, tier: 1 };
    s.conv('kA-open', 'conversation.opened', { ...a, at: day('10:00') }, { category: 'passwords' });
    s.conv('kA-q', 'conversation.queued', { ...a, at: day('10:00') });
    s.conv('kA-off', 'conversation.offered', { ...a, at: day('10:01') }, { agentId: 'ag-1' });
    s.conv('kA-asg', 'conversation.assigned', { ...a, at: '2026-01-01T10:01:10.000Z' }, { agentId: 'ag-1' });
    s.outbound('kA-out', { conversationId: 'kA', to: k1, agentId: 'ag-1', at: day('10:02'), text: 'hi' });
    s.conv('kA-res', 'conversation.resolved', { ...a, at: day('10:10') }, { agentId: 'ag-1' });
    // B: email, tier 1 → 2, networking. t1 wait 11:00→11:03 (180 s); first reply 11:05 (300 s); escalated 11:20;
    //    t2 wait 11:20→11:30 (600 s); resolved 12:00 at tier 2 (3600 s). CSAT 3.
    const b = { conversationId: 'kB', customer: k2, tier: 1 };
    s.conv('kB-open', 'conversation.opened', { ...b, at: day('11:00') }, { category: 'networking' });
    s.conv('kB-q', 'conversation.queued', { ...b, at: day('11:00') });
    s.conv('kB-asg', 'conversation.assigned', { ...b, at: day('11:03') }, { agentId: 'ag-1' });
    s.outbound('kB-out', { conversationId: 'kB', to: k2, agentId: 'ag-1', at: day('11:05'), text: 'checking' });
    s.conv('kB-esc', 'conversation.escalated', { ...b, tier: 2, at: day('11:20') }, { fromTier: 1, agentId: 'ag-1', handoffNote: 'router reset done, still drops every 10 min' });
    s.conv('kB-q2', 'conversation.queued', { ...b, tier: 2, at: day('11:20') });
    s.conv('kB-off2', 'conversation.offered', { ...b, tier: 2, at: day('11:30') }, { agentId: 'ag-7' });
    s.outbound('kB-out2', { conversationId: 'kB', to: k2, agentId: 'ag-7', at: day('11:35'), text: 'firmware' });
    s.conv('kB-res', 'conversation.resolved', { ...b, tier: 2, at: day('12:00') }, { agentId: 'ag-7' });
    // C: WhatsApp, tier 1, passwords. wait 13:00→13:02 (120 s); first reply 13:04 (240 s); resolved 13:30 at tier 1 (1800 s).
    //    The same customer calls on 2026-01-03 (within 7 days) → recontact, so C is not a first-contact resolution.
    const c = { conversationId: 'kC', customer: k3, tier: 1 };
    s.conv('kC-open', 'conversation.opened', { ...c, at: day('13:00') }, { category: 'passwords' });
    s.conv('kC-q', 'conversation.queued', { ...c, at: day('13:00') });
    s.conv('kC-off', 'conversation.offered', { ...c, at: day('13:02') }, { agentId: 'ag-2' });
    s.outbound('kC-out', { conversationId: 'kC', to: k3, agentId: 'ag-2', at: day('13:04'), text: 'reset link sent' });
    s.conv('kC-res', 'conversation.resolved', { ...c, at: day('13:30') }, { agentId: 'ag-2' });
    s.conv('kD-open', 'conversation.opened', { conversationId: 'kD', customer: k3call, tier: 1, at: '2026-01-03T09:00:00.000Z' }, { category: 'passwords' });
    // E: Messenger, enters at tier 2, databases. t2 wait 15:00→15:10 (600 s); first reply 15:15 (900 s); escalated to 3 at 15:30;
    //    t3 wait 15:30→16:30 (3600 s); resolved 17:00 at tier 3 (7200 s). No CSAT.
    const e = { conversationId: 'kE', customer: k4, tier: 2 };
    s.conv('kE-open', 'conversation.opened', { ...e, at: day('15:00') }, { category: 'databases' });
    s.conv('kE-q', 'conversation.queued', { ...e, at: day('15:00') });
    s.conv('kE-asg', 'conversation.assigned', { ...e, at: day('15:10') }, { agentId: 'ag-3' });
    s.outbound('kE-out', { conversationId: 'kE', to: k4, agentId: 'ag-3', at: day('15:15'), text: 'which version?' });
    s.conv('kE-esc', 'conversation.escalated', { ...e, tier: 3, at: day('15:30') }, { fromTier: 2, agentId: 'ag-3', handoffNote: 'replication lag on 14.2' });
    s.conv('kE-q3', 'conversation.queued', { ...e, tier: 3, at: day('15:30') });
    s.conv('kE-asg3', 'conversation.assigned', { ...e, tier: 3, at: day('16:30') }, { agentId: 'ag-9' });
    s.conv('kE-res', 'conversation.resolved', { ...e, tier: 3, at: day('17:00') }, { agentId: 'ag-9' });
    // F: chat, tier 1, passwords, still waiting (never served, never answered, not resolved).
    const f = { conversationId: 'kF', customer: k5, tier: 1 };
    s.conv('kF-open', 'conversation.opened', { ...f, at: day('18:00') }, { category: 'passwords' });
    s.conv('kF-q', 'conversation.queued', { ...f, at: day('18:00') });
    // D's customer (phone) must be linked to C's (WhatsApp) by the phone number: publish the WhatsApp side first.
    const { records, ids } = s.take();
    const dIdx = ids.indexOf('kD-open');
    const d = { records: records.splice(dIdx, 1), ids: ids.splice(dIdx, 1) };
    s.records.push(...records);
    s.ids.push(...ids);
    await publishAndWait();
    s.records.push(...d.records);
    s.ids.push(...d.ids);
    await publishAndWait();
    expect((await lookup('phone:+34611000001')).id).toBe((await lookup('whatsapp:34611000001')).id);

    await post('/v1/conversations/kA/csat', { token: csatToken('kA'), score: 5, comment: 'rápido' }, 201);
    await post('/v1/conversations/kB/csat', { token: csatToken('kB'), score: 3 }, 201);

    const q = `from=${encodeURIComponent('2026-01-01T00:00:00.000Z')}&to=${encodeURIComponent('2026-01-02T00:00:00.000Z')}`;
    const k = await get<Record<string, unknown>>(`/v1/kpis?${q}`);
    const s_ = 1000;
    expect(k).toMatchObject({
      conversations: 5, // A B C E F (D opened on the 3rd: outside the window)
      resolved: 4, // A B C E
      firstContactResolution: { rate: 0.25, count: 1, of: 4 }, // only A: B and E escalated, C recontacted
      // first replies 120, 300, 240, 900 s → mean 1560/4 = 390 s; nearest rank p50 = 2nd of [120,240,300,900] = 240 s, p95 = 4th = 900 s
      firstResponseTime: { count: 4, averageMs: 390 * s_, p50Ms: 240 * s_, p95Ms: 900 * s_ },
      // resolutions 600, 3600, 1800, 7200 s → mean 13200/4 = 3300 s; p50 = 2nd of [600,1800,3600,7200] = 1800 s; p95 = 7200 s
      resolutionTime: { count: 4, averageMs: 3300 * s_, p50Ms: 1800 * s_, p95Ms: 7200 * s_ },
      escalation: {
        rate: 0.4, // B and E of 5
        escalated: 2,
        of: 5,
        byTier: [
          { tier: 1, handled: 4, escalated: 1, rate: 0.25 }, // A B C F handled at 1; B escalated
          { tier: 2, handled: 2, escalated: 1, rate: 0.5 }, // B E at 2; E escalated
          { tier: 3, handled: 1, escalated: 0, rate: 0 }, // E
        ],
        paths: [
          { fromTier: 1, toTier: 2, count: 1 },
          { fromTier: 2, toTier: 3, count: 1 },
        ],
      },
      queueWait: [
        { tier: 1, count: 3, averageMs: 120 * s_, p50Ms: 120 * s_, p95Ms: 180 * s_ }, // A 60, C 120, B 180 s (F never served); mean 360/3
        { tier: 2, count: 2, averageMs: 600 * s_, p50Ms: 600 * s_, p95Ms: 600 * s_ }, // B 600, E 600 s
        { tier: 3, count: 1, averageMs: 3600 * s_, p50Ms: 3600 * s_, p95Ms: 3600 * s_ }, // E 3600 s
      ],
      tier1Resolution: { share: 0.5, count: 2, of: 4 }, // A and C resolved at tier 1
      csat: { average: 4, responses: 2, responseRate: 0.5, of: 4 }, // (5 + 3) / 2; 2 answers of 4 resolved
    });
    // filters: entry tier 2 → E only; channel chat → A and F (A is the one resolved, and an FCR)
    expect(await get(`/v1/kpis?${q}&tier=2`)).toMatchObject({ conversations: 1, resolved: 1, firstContactResolution: { rate: 0 } });
    expect(await get(`/v1/kpis?${q}&channel=chat`)).toMatchObject({ conversations: 2, resolved: 1, firstContactResolution: { rate: 1 }, csat: { average: 5 } });

    const cats = await get<{ categories: unknown[]; byEscalationRate: string[]; byRecontactRate: string[] }>(`/v1/kpis/categories?${q}`);
    expect(cats.categories).toEqual([
      // passwords: A C F; none escalated; resolved A C; C recontacted → 1/2
      { category: 'passwords', conversations: 3, escalated: 0, escalationRate: 0, resolved: 2, recontacted: 1, recontactRate: 0.5, selfServiceOffered: 0, selfServed: 0, deflectionRate: null },
      { category: 'databases', conversations: 1, escalated: 1, escalationRate: 1, resolved: 1, recontacted: 0, recontactRate: 0, selfServiceOffered: 0, selfServed: 0, deflectionRate: null },
      { category: 'networking', conversations: 1, escalated: 1, escalationRate: 1, resolved: 1, recontacted: 0, recontactRate: 0, selfServiceOffered: 0, selfServed: 0, deflectionRate: null },
    ]);
    expect(cats.byEscalationRate).toEqual(['databases', 'networking', 'passwords']);
    expect(cats.byRecontactRate).toEqual(['passwords', 'databases', 'networking']);

    // The transcript of B: messages in order, the tier path, the handoff note, the agents.
    const t = await get<{ conversation: Record<string, unknown>; messages: { direction: string; eventId: string; agentId: string | null }[] }>('/v1/conversations/kB');
    expect(t.conversation).toMatchObject({
      status: 'resolved',
      tierPath: [1, 2],
      agents: ['ag-1', 'ag-7'],
      escalations: [expect.objectContaining({ fromTier: 1, toTier: 2, handoffNote: 'router reset done, still drops every 10 min' })],
      csat: { score: 3, comment: null, at: expect.any(String) },
    });
    expect(t.messages.map((m) => [m.direction, m.eventId, m.agentId])).toEqual([
      ['outbound', 'kB-out', 'ag-1'],
      ['outbound', 'kB-out2', 'ag-7'],
    ]);
    // CSAT is on the customer's timeline too
    const kbCustomer = await lookup('email:k2@kpi.test');
    expect((await fullTimeline(kbCustomer.id, '&conversation=kB')).map((i) => i.kind)).toContain('csat.submitted');
    // …and the router's customer context counts the escalated conversation
    await customersTopic.waitFor((v) => v.customerId === kbCustomer.id && v.attributes?.escalatedConversations === 1);
  });

  it('links every identity of a person to one customer when their events arrive at once on many partitions', async () => {
    // 4 people × 6 identities, each identity writing 3 times on its own thread (so on different
    // partitions), all published in one go: batches of several partitions race on the same evidence.
    const people = [0, 1, 2, 3].map((n) => {
      const phone = `+3462000000${n}`;
      const email = `race${n}@example.org`;
      return [
        { channel: 'chat', address: `race-visitor-${n}`, email, phone },
        { channel: 'email', address: email.toUpperCase() },
        { channel: 'whatsapp', address: phone.slice(1), phone },
        { channel: 'sms', address: phone },
        { channel: 'phone', address: phone },
        { channel: 'chat', address: `race-visitor-${n}b`, email },
      ] as Party[];
    });
    for (let round = 0; round < 3; round++)
      people.forEach((identities, n) =>
        identities.forEach((p, i) => script.inbound(`race-${n}-${i}-${round}`, p, `2026-06-01T10:0${round}:0${i}.000Z`, 'hola', `${p.channel}:race-${n}-${i}-${round}`)),
      );
    await publishAndWait();
    for (const [n, identities] of people.entries()) {
      const ids = new Set<string>();
      for (const p of identities) ids.add((await lookup(`${p.channel}:${p.address}`)).id);
      expect({ person: n, customers: [...ids] }).toEqual({ person: n, customers: [expect.any(String)] });
      const c = await lookup(`${identities[0]!.channel}:${identities[0]!.address}`);
      expect(c.identities).toHaveLength(6);
      expect(c.mergedInto).toBeNull();
      expect(await fullTimeline(c.id)).toHaveLength(18);
    }
    // merges only ever point at top-level customers, and each source has at most one live merge
    const bad = await world.pool.query(
      `SELECT m.id FROM history.merges m JOIN history.customers c ON c.id = m.source_id
        WHERE m.undone_at IS NULL AND c.merged_into IS DISTINCT FROM m.target_id`,
    );
    expect(bad.rows).toEqual([]);
  });

  it('documents every route in the OpenAPI document', async () => {
    const doc = await get<{ paths: Record<string, unknown> }>('/openapi.json');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/customers',
        '/v1/customers/{id}',
        '/v1/customers/{id}/timeline',
        '/v1/customers/{id}/merge',
        '/v1/customers/{id}/merges',
        '/v1/merges/{mergeId}',
        '/v1/merges/{mergeId}/unmerge',
        '/v1/conversations/{id}',
        '/v1/conversations/{id}/csat',
        '/v1/kpis',
        '/v1/kpis/categories',
      ]),
    );
  });

  it('answers bad requests with clear 4xx errors and changes nothing', async () => {
    const p: Party = { channel: 'telegram', address: 'tg-77' };
    const q: Party = { channel: 'telegram', address: 'tg-78' };
    const r: Party = { channel: 'telegram', address: 'tg-79' };
    script.inbound('bad-in', p, '2026-05-01T10:00:00.000Z', 'hola');
    script.inbound('bad-in-q', q, '2026-05-01T10:00:00.000Z', 'hola');
    script.inbound('bad-in-r', r, '2026-05-01T10:00:00.000Z', 'hola');
    script.conv('bad-open', 'conversation.opened', { conversationId: 'cbad', customer: p, tier: 1, at: '2026-05-01T10:00:01.000Z' }, { messageId: 'bad-in' });
    script.conv('bad-open-2', 'conversation.opened', { conversationId: 'crated', customer: r, tier: 1, at: '2026-05-01T10:00:01.000Z' });
    script.conv('bad-res-2', 'conversation.resolved', { conversationId: 'crated', customer: r, tier: 1, at: '2026-05-01T10:30:00.000Z' });
    await publishAndWait();
    await post('/v1/conversations/crated/csat', { token: csatToken('crated'), score: 4 }, 201);
    const cp = await lookup('telegram:tg-77');
    const cq = await lookup('telegram:tg-78');
    const cr = await lookup('telegram:tg-79');
    await post(`/v1/customers/${cr.id}/merge`, { from: cq.id, reason: 'same person', actor: 'admin:root' }, 201);
    const state = async () => ({
      customers: (await world.pool.query('SELECT id, merged_into, version FROM history.customers ORDER BY id')).rows,
      merges: (await world.pool.query('SELECT id, undone_at FROM history.merges ORDER BY id')).rows,
      timeline: (await world.pool.query('SELECT count(*)::int AS n FROM history.timeline')).rows,
      conversations: (await world.pool.query('SELECT id, csat_score FROM history.conversations ORDER BY id')).rows,
      outbox: (await world.pool.query('SELECT count(*)::int AS n FROM history.outbox')).rows,
    });
    await eventually(async () => ((await world.pool.query('SELECT 1 FROM history.outbox')).rowCount === 0 ? true : undefined), 'the outbox to drain');
    const before = await state();

    const expectError = async (method: 'GET' | 'POST', url: string, payload: object | undefined, status: number, field?: string) => {
      const res = await call(method, url, payload);
      expect({ url, status: res.statusCode }).toEqual({ url, status });
      const body = res.json() as { error: string; message: string; fields?: { field: string }[] };
      expect(body.message.length).toBeGreaterThan(0);
      if (field) expect(body.fields?.map((f) => f.field)).toContain(field);
    };
    await expectError('GET', '/v1/customers/cus_nobody', undefined, 404, 'params.id');
    await expectError('GET', '/v1/customers/cus_nobody/timeline', undefined, 404, 'params.id');
    await expectError('GET', `/v1/customers/${cp.id}/timeline?cursor=not-a-cursor`, undefined, 400, 'querystring.cursor');
    await expectError('GET', `/v1/customers/${cp.id}/timeline?cursor=${Buffer.from('["yesterday","1"]').toString('base64url')}`, undefined, 400, 'querystring.cursor');
    await expectError('GET', `/v1/customers/${cp.id}/timeline?channel=fax`, undefined, 400);
    await expectError('GET', '/v1/customers?identity=nochannel', undefined, 400, 'querystring.identity');
    await expectError('GET', '/v1/customers?identity=telegram:tg-unknown', undefined, 404);
    await expectError('GET', '/v1/conversations/nope', undefined, 404, 'params.id');
    await expectError('POST', '/v1/conversations/cbad/csat', { token: csatToken('cbad'), score: 7 }, 400, 'body.score');
    await expectError('POST', '/v1/conversations/cbad/csat', { token: csatToken('cbad'), score: 4 }, 409, 'params.id'); // not resolved yet
    await expectError('POST', '/v1/conversations/nope/csat', { token: csatToken('nope'), score: 4 }, 404);
    await expectError('POST', '/v1/conversations/crated/csat', { token: csatToken('crated'), score: 1 }, 409, 'params.id'); // already rated
    // CSAT needs the customer's token: none, forged, or issued for another conversation is refused
    await expectError('POST', '/v1/conversations/cbad/csat', { score: 4 }, 400, 'body.token');
    await expectError('POST', '/v1/conversations/crated/csat', { token: csatToken('crated').slice(0, -2) + 'xx', score: 4 }, 401, 'body.token');
    await expectError('POST', '/v1/conversations/crated/csat', { token: mintCsatToken(csatKey('another-secret-0123456789abcdefghij'), 'crated', 'e', new Date(), 60), score: 4 }, 401, 'body.token');
    await expectError('POST', '/v1/conversations/crated/csat', { token: csatToken('cbad'), score: 4 }, 403, 'body.token');
    await expectError('POST', `/v1/customers/${cp.id}/merge`, { from: cp.id, reason: 'x', actor: 'admin:root' }, 400, 'body.from');
    await expectError('POST', '/v1/customers/cus_nobody/merge', { from: cp.id, reason: 'x', actor: 'admin:root' }, 404, 'params.id');
    await expectError('POST', `/v1/customers/${cp.id}/merge`, { from: 'cus_nobody', reason: 'x', actor: 'admin:root' }, 404, 'body.from');
    await expectError('POST', `/v1/customers/${cp.id}/merge`, { from: cq.id, reason: 'x', actor: 'admin:root' }, 409, 'body.from'); // q is already merged into r
    await expectError('POST', `/v1/customers/${cq.id}/merge`, { from: cp.id, reason: 'x', actor: 'admin:root' }, 409, 'params.id'); // into a merged customer
    await expectError('POST', `/v1/customers/${cp.id}/merge`, { from: cr.id }, 400, 'body.reason');
    await expectError('POST', '/v1/merges/mrg_nope/unmerge', { actor: 'admin:root' }, 404, 'params.mergeId');
    await expectError('GET', `/v1/kpis?from=${encodeURIComponent('2026-02-01T00:00:00Z')}&to=${encodeURIComponent('2026-01-01T00:00:00Z')}`, undefined, 400, 'querystring.to');
    await expectError('GET', '/v1/kpis?tier=9', undefined, 400);
    expect(await state()).toEqual(before);
  });
});
