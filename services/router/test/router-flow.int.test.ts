/**
 * The router over the real broker and database, with agents on real websockets: offers, accept,
 * reject and re-offer, replies, escalation (note required), transfer, SLA overflow, reopen, and a
 * console that reconnects and resumes from its last sequence number.
 *
 * Each test uses its own marker word ("zzN") that an isolation rule turns into a required skill
 * "sN", and its own agents with that skill, so tests sharing this router never see each other's work.
 */
import { DEFAULT_RULES } from '../src/domain/default-rules';
import { RouterHarness } from './support/router-harness';
import type { AgentClient } from './support/agent-client';
import { eventually, TopicWatcher } from '../../../test/support/infra';
import { DeliveryStatus } from '@omni/contracts';
import { Publisher } from '@omni/kafka';

const h = new RouterHarness();
let outbound: TopicWatcher;

beforeAll(async () => {
  await h.start('routerflow', { OFFER_TIMEOUT_MS: '60000', DISCONNECT_GRACE_MS: '60000', QUEUE_SLA_MS_TIER_3: '1000', REOPEN_WINDOW_MS: '6000' });
  outbound = await TopicWatcher.start(h.world, h.world.topics.outbound);
  const isolation = Array.from({ length: 20 }, (_, i) => ({ id: `iso-${i}`, when: { keywords: { any: [`zz${i}`] } }, then: { skills: [`s${i}`] }, continue: true }));
  const res = await h.admin('PUT', '/v1/admin/rules', { rules: [...isolation, ...DEFAULT_RULES], note: 'test isolation' });
  expect(res.status).toBe(201);
});

afterAll(async () => {
  await outbound?.stop();
  await h.stop();
});

async function agent(id: string, skill: string, extra: { tiers?: number[]; skills?: string[] } = {}): Promise<AgentClient> {
  await h.createAgent(id, { ...extra, skills: [skill, ...(extra.skills ?? [])] });
  return h.connect(id);
}

describe('admin API', () => {
  it('needs an admin token: 401 without, 403 with an agent token', async () => {
    const none = await fetch(`${h.url}/v1/admin/agents`);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: 'UNAUTHORIZED' });
    const agentTok = await fetch(`${h.url}/v1/admin/agents`, { headers: { authorization: `Bearer ${h.agentToken('x')}` } });
    expect(agentTok.status).toBe(403);
  });

  it('validates agent profiles naming the field', async () => {
    const bad = await h.admin('PUT', '/v1/admin/agents/bad1', { name: 'x', tiers: [7], capacity: { chat: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.fields.map((f: { field: string }) => f.field)).toContain('body.tiers.0');
  });

  it('stores rules as versions, rejects a bad regex, and can re-activate an old version', async () => {
    const before = await h.admin('GET', '/v1/admin/rules');
    expect(before.status).toBe(200);
    const bad = await h.admin('PUT', '/v1/admin/rules', { rules: [{ id: 'r', when: { patterns: { en: ['(oops'] } }, then: {} }] });
    expect(bad.status).toBe(400);
    expect(bad.body.fields[0].field).toBe('body.rules.0.when.patterns.en.0');
    const versions = await h.admin('GET', '/v1/admin/rules/versions');
    expect(versions.body.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    const again = await h.admin('POST', `/v1/admin/rules/versions/${before.body.version}/activate`);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ version: before.body.version, active: true });
  });

  it('documents the admin routes in /openapi.json', async () => {
    const res = await fetch(`${h.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/admin/agents/{id}', '/v1/admin/rules', '/v1/admin/rules/versions']));
  });

  it('refuses a websocket with a bad token before the upgrade', async () => {
    const res = await fetch(`${h.url}/v1/agents/ws?token=nope`);
    expect(res.status).toBe(401);
  });
});

describe('routing', () => {
  it('offers with customer context, accepts, replies to outbound, resolves', async () => {
    const a = await agent('a1', 's1');
    const { messageId, threadKey } = await h.send('zz1 Hola, olvidé mi contraseña y no puedo entrar', { name: 'Lucía Pérez', from: 'lucia-1' });
    const conv = await h.openedBy(messageId);
    const offer = await a.offer(conv);
    expect(offer).toMatchObject({
      type: 'offer',
      conversationId: conv,
      conversation: { tier: 1, category: 'access-passwords', language: 'es', customer: { name: 'Lucía Pérez', identity: 'chat:lucia-1' }, handoffNotes: [] },
    });
    expect(typeof offer.seq).toBe('number');
    expect(await a.command({ type: 'accept', conversationId: conv })).toMatchObject({ type: 'ack', command: 'accept' });
    await a.waitFor((f) => f.type === 'assigned' && f.conversationId === conv);
    const r = await a.command({ type: 'reply', conversationId: conv, text: 'Hola Lucía, te envío un enlace para restablecerla.' });
    expect(r.type).toBe('ack');
    const [out] = await outbound.waitFor((v) => v.outboundId === r.outboundId);
    expect(out!.value).toMatchObject({ conversationId: conv, channel: 'chat', threadKey, agentId: 'a1', to: { address: 'lucia-1' }, inReplyToMessageId: messageId });
    expect(await a.command({ type: 'resolve', conversationId: conv })).toMatchObject({ type: 'ack' });
    await h.event(conv, 'resolved');
    expect(h.eventTypes(conv)).toEqual(['opened', 'classified', 'queued', 'offered', 'accepted', 'assigned', 'resolved']);
    const [resolved] = await h.event(conv, 'resolved');
    expect(resolved).toMatchObject({ actor: { type: 'agent', id: 'a1' }, agentId: 'a1' });
    const row = await h.world.pool.query('SELECT status FROM router.conversations WHERE id = $1::text', [conv]);
    expect(row.rows[0].status).toBe('resolved');
  });

  it('tells the agent when a reply could not be delivered, once per delivery event', async () => {
    const a = await agent('d1', 's11');
    const { messageId } = await h.send('zz11 my order never arrived', { from: 'dora-11' });
    const conv = await h.openedBy(messageId);
    await a.offer(conv);
    await a.command({ type: 'accept', conversationId: conv });
    await a.waitFor((f) => f.type === 'assigned' && f.conversationId === conv);
    const r = await a.command({ type: 'reply', conversationId: conv, text: 'Lo reviso ahora mismo.' });
    // what the ingest service's delivery worker publishes when the adapter refuses the reply for good
    const failed: DeliveryStatus = {
      schema: 'omni.delivery.v1',
      eventId: `dlv_${r.outboundId as string}_failed`,
      outboundId: r.outboundId as string,
      conversationId: conv,
      channel: 'chat',
      to: { channel: 'chat', address: 'dora-11' },
      status: 'failed',
      attempt: 1,
      occurredAt: new Date().toISOString(),
      reason: 'adapter answered 400: recipient blocked',
    };
    const publisher = new Publisher(h.world.kafka);
    await publisher.connect();
    try {
      // redelivered twice: the console must still see it once
      for (let i = 0; i < 2; i++) await publisher.publish([{ topic: h.world.topics.delivery, key: conv, value: failed, schema: DeliveryStatus }]);
    } finally {
      await publisher.disconnect();
    }
    const [frame] = await a.waitFor((f) => f.type === 'delivery-failed' && f.outboundId === r.outboundId);
    expect(frame).toMatchObject({ conversationId: conv, channel: 'chat', to: 'dora-11', reason: 'adapter answered 400: recipient blocked' });
    expect(typeof frame!.seq).toBe('number');
    // a later event proves the duplicate was consumed (same partition, in order) without a second frame
    await publisher.connect();
    try {
      await publisher.publish([{ topic: h.world.topics.delivery, key: conv, value: { ...failed, eventId: `${failed.eventId}_cb`, status: 'callback-task', reason: 'marker' }, schema: DeliveryStatus }]);
    } finally {
      await publisher.disconnect();
    }
    await a.waitFor((f) => f.type === 'callback-task' && f.reason === 'marker');
    expect(a.frames.filter((f) => f.type === 'delivery-failed' && f.outboundId === r.outboundId)).toHaveLength(1);
  });

  it("a burst routed together: a thread's second message joins its conversation, a repeat is ignored, no agent past capacity", async () => {
    const b1 = await agent('burst1', 's19', { skills: [] });
    const b2 = await agent('burst2', 's19', { skills: [] });
    // ten threads; threads 0–2 write twice; thread 4's first message arrives twice — all in one produce request
    const first = Array.from({ length: 10 }, (_, i) => h.envelope(`zz19 olvidé mi contraseña (${i})`, { thread: `burst-${i}` }));
    const second = [0, 1, 2].map((i) => h.envelope(`zz19 sigo sin poder entrar (${i})`, { thread: `burst-${i}` }));
    await h.publishInbound([...first.slice(0, 5), first[4]!, ...second, ...first.slice(5)]);
    const convs = await Promise.all(first.map((m) => h.openedBy(m.messageId)));
    expect(new Set(convs).size).toBe(10);
    // capacity is chat: 3 each, so six offers and four conversations left in the queue
    await h.conversations.waitFor((v) => v.type === 'conversation.offered' && convs.includes(v.conversationId as string), 6);
    const rows = await h.world.pool.query<{ id: string; status: string; agent_id: string | null; messages: number; queued: boolean }>(
      `SELECT c.id, c.status, c.agent_id, (SELECT count(*)::int FROM router.conversation_messages m WHERE m.conversation_id = c.id) AS messages,
              EXISTS (SELECT 1 FROM router.queue_entries q WHERE q.conversation_id = c.id) AS queued
         FROM router.conversations c WHERE c.id = ANY($1::text[])`,
      [convs],
    );
    const byId = new Map(rows.rows.map((r) => [r.id, r]));
    expect(convs.map((c) => byId.get(c)!.messages)).toEqual([2, 2, 2, 1, 1, 1, 1, 1, 1, 1]);
    const offered = rows.rows.filter((r) => r.status === 'offered');
    expect(offered).toHaveLength(6);
    expect(offered.filter((r) => r.agent_id === 'burst1')).toHaveLength(3);
    expect(offered.filter((r) => r.agent_id === 'burst2')).toHaveLength(3);
    expect(rows.rows.filter((r) => r.status === 'queued' && r.queued)).toHaveLength(4);
    // each offered conversation went opened → classified → queued → offered, once
    // (a second message on the thread is named by one conversation.message event, for history)
    for (const r of offered) {
      expect(h.eventTypes(r.id).filter((t) => t !== 'message')).toEqual(['opened', 'classified', 'queued', 'offered']);
      expect(h.eventTypes(r.id).filter((t) => t === 'message')).toHaveLength(r.messages - 1);
    }
    // the consoles got one offer frame per offered conversation, carrying the latest message
    for (const [client, id] of [[b1, 'burst1'], [b2, 'burst2']] as const) {
      for (const r of offered.filter((o) => o.agent_id === id)) await client.offer(r.id);
    }
    const withSecond = offered.find((r) => convs.indexOf(r.id) <= 2);
    if (withSecond) {
      const client = withSecond.agent_id === 'burst1' ? b1 : b2;
      expect((await client.offer(withSecond.id)).conversation).toMatchObject({ lastText: expect.stringContaining('sigo sin poder entrar') });
    }
  });

  it('an agent cannot act on a conversation that is not offered or assigned to it', async () => {
    const owner = await agent('o1', 's9');
    const { messageId } = await h.send('zz9 my order never arrived');
    const conv = await h.openedBy(messageId);
    await owner.offer(conv);
    const other = await agent('o2', 's8');
    expect(await other.command({ type: 'accept', conversationId: conv })).toMatchObject({ type: 'error', code: 'NOT_OFFERED' });
    expect(await other.command({ type: 'reply', conversationId: conv, text: 'hi' })).toMatchObject({ type: 'error', code: 'NOT_ASSIGNED' });
    expect(await other.command({ type: 'bogus' })).toMatchObject({ type: 'error', code: 'UNKNOWN_TYPE' });
    expect(await other.command({ type: 'accept' })).toMatchObject({ type: 'error', code: 'BAD_FRAME' });
  });

  it('re-offers a rejected conversation to the next agent and never back to one who declined', async () => {
    const b1 = await agent('b1', 's2');
    const b2 = await agent('b2', 's2');
    const { messageId } = await h.send('zz2 I need a refund for my order');
    const conv = await h.openedBy(messageId);
    const [first] = await h.event(conv, 'offered');
    const firstAgent = first!.agentId === 'b1' ? b1 : b2;
    const secondAgent = firstAgent === b1 ? b2 : b1;
    await firstAgent.offer(conv);
    expect(await firstAgent.command({ type: 'reject', conversationId: conv, reason: 'busy' })).toMatchObject({ type: 'ack' });
    await secondAgent.offer(conv);
    expect(await secondAgent.command({ type: 'reject', conversationId: conv })).toMatchObject({ type: 'ack' });
    await h.event(conv, 'rejected', 2);
    await h.event(conv, 'requeued', 2);
    // Nobody left who has not declined: it waits until a new agent comes.
    const b3 = await agent('b3', 's2');
    await b3.offer(conv);
    const offers = await h.event(conv, 'offered', 3);
    expect(offers.map((o) => o.agentId)).toEqual([firstAgent.agentId, secondAgent.agentId, 'b3']);
    expect(firstAgent.frames.filter((f) => f.type === 'offer' && f.conversationId === conv)).toHaveLength(1);
    expect(secondAgent.frames.filter((f) => f.type === 'offer' && f.conversationId === conv)).toHaveLength(1);
  });

  it('escalation needs a handoff note; the next tier sees it', async () => {
    const t1 = await agent('d1', 's4');
    const { messageId } = await h.send('zz4 my printer setup keeps failing', { name: 'Ann' });
    const conv = await h.openedBy(messageId);
    await t1.offer(conv);
    await t1.command({ type: 'accept', conversationId: conv });
    expect(await t1.command({ type: 'escalate', conversationId: conv })).toMatchObject({ type: 'error', code: 'HANDOFF_NOTE_REQUIRED' });
    expect(await t1.command({ type: 'escalate', conversationId: conv, note: '   ' })).toMatchObject({ type: 'error', code: 'HANDOFF_NOTE_REQUIRED' });
    expect(await t1.command({ type: 'escalate', conversationId: conv, note: 'x', toTier: 1 })).toMatchObject({ type: 'error', code: 'INVALID_TIER' });
    const row = await h.world.pool.query('SELECT status, tier, agent_id FROM router.conversations WHERE id = $1::text', [conv]);
    expect(row.rows[0]).toEqual({ status: 'assigned', tier: 1, agent_id: 'd1' });
    const note = 'Reinstalled the driver and power-cycled; still error 0x42.';
    expect(await t1.command({ type: 'escalate', conversationId: conv, note })).toMatchObject({ type: 'ack', tier: 2 });
    const [esc] = await h.event(conv, 'escalated');
    expect(esc).toMatchObject({ tier: 2, fromTier: 1, handoffNote: note, actor: { type: 'agent', id: 'd1' } });
    await t1.waitFor((f) => f.type === 'unassigned' && f.conversationId === conv);
    const t2 = await agent('d2', 's4', { tiers: [2] });
    const offer = await t2.offer(conv);
    expect(offer.conversation).toMatchObject({ tier: 2, handoffNotes: [{ fromTier: 1, toTier: 2, agentId: 'd1', note }] });
  });

  it('transfers to a named agent and to a tier', async () => {
    const e1 = await agent('e1', 's5');
    const { messageId } = await h.send('zz5 my wifi connection drops');
    const conv = await h.openedBy(messageId);
    await e1.offer(conv);
    await e1.command({ type: 'accept', conversationId: conv });
    const e2 = await agent('e2', 's5');
    expect(await e1.command({ type: 'transfer', conversationId: conv, toAgentId: 'nobody' })).toMatchObject({ type: 'error', code: 'AGENT_UNAVAILABLE' });
    expect(await e1.command({ type: 'transfer', conversationId: conv, toAgentId: 'e2', note: 'knows our routers' })).toMatchObject({ type: 'ack' });
    const [tr] = await h.event(conv, 'transferred');
    expect(tr).toMatchObject({ agentId: 'e1', toAgentId: 'e2', handoffNote: 'knows our routers' });
    await e2.offer(conv);
    await e2.command({ type: 'accept', conversationId: conv });
    // Up a tier is an escalation: the note is required there too.
    expect(await e2.command({ type: 'transfer', conversationId: conv, toTier: 3 })).toMatchObject({ type: 'error', code: 'HANDOFF_NOTE_REQUIRED' });
    expect(await e2.command({ type: 'transfer', conversationId: conv, toTier: 1, note: 'back to the pool' })).toMatchObject({ type: 'ack' });
    await h.event(conv, 'transferred', 2);
    // e2 just let it go and e1 is free: it is offered again to someone in tier 1.
    await h.event(conv, 'offered', 3);
  });

  it('overflows a queue past its SLA to the next tier (widen) with an event', async () => {
    // tier 4 agent with the skill the "servers" rule requires
    const g = await agent('g1', 's7', { tiers: [4], skills: ['infrastructure'] });
    const { messageId } = await h.send('zz7 the production server is not responding');
    const conv = await h.openedBy(messageId);
    const [queued] = await h.event(conv, 'queued');
    expect(queued).toMatchObject({ tier: 3, category: 'servers' });
    const [over] = await h.event(conv, 'overflowed');
    expect(over).toMatchObject({ tier: 3, actor: { type: 'system' }, data: { mode: 'widen', tiers: [3, 4] } });
    const offer = await g.offer(conv);
    expect(offer.conversation).toMatchObject({ tier: 3 });
    // one key, one partition: the topic order is the order things happened
    await h.event(conv, 'offered');
    const types = h.eventTypes(conv);
    expect(types.indexOf('overflowed')).toBeLessThan(types.indexOf('offered'));
  });

  it('counts work waiting past its SLA and offers not yet answered per tier on GET /v1/queues (the wallboard)', async () => {
    type TierRow = { tier: number; waiting: number; slaBreached: number; slaAtRisk: number; offersPending: number };
    const tier3 = async () => ((await h.admin('GET', '/v1/queues')).body.tiers as TierRow[]).find((t) => t.tier === 3)!;
    // nobody has s19: it waits in tier 3 past its 1 s SLA and overflows
    const { messageId } = await h.send('zz19 the production server is not responding');
    const conv = await h.openedBy(messageId);
    await h.event(conv, 'overflowed');
    const waiting = await eventually(async () => ((await tier3()).slaBreached >= 1 ? tier3() : undefined), 'tier 3 counting a breached SLA');
    expect(waiting.waiting).toBeGreaterThanOrEqual(waiting.slaBreached);
    // an agent who can take it gets the offer: it is pending until answered
    const k = await agent('k1', 's19', { tiers: [3], skills: ['infrastructure'] });
    await k.offer(conv);
    await eventually(async () => ((await tier3()).offersPending >= 1 ? true : undefined), 'tier 3 counting the pending offer');
    expect(await k.command({ type: 'accept', conversationId: conv })).toMatchObject({ type: 'ack' });
    // the wallboard's current work: the conversation under its agent, assigned
    const work = await eventually(async () => {
      const res = await h.admin('GET', '/v1/agents/work');
      expect(res.status).toBe(200);
      const mine = (res.body.agents as { agentId: string; conversations: { id: string; status: string }[] }[]).find((a) => a.agentId === 'k1');
      return mine?.conversations.find((c) => c.id === conv && c.status === 'assigned');
    }, "k1's assigned conversation in GET /v1/agents/work");
    expect(work).toMatchObject({ tier: 3, category: 'servers' });
  });

  it('reopens within the window (same agent first), opens a new conversation after it', async () => {
    const r1 = await agent('h1', 's6');
    const first = await h.send('zz6 I need help with my order', { thread: 'reopen-1' });
    const conv = await h.openedBy(first.messageId);
    await r1.offer(conv);
    await r1.command({ type: 'accept', conversationId: conv });
    await r1.command({ type: 'resolve', conversationId: conv });
    await h.event(conv, 'resolved');
    const r2 = await agent('h2', 's6'); // idle and less loaded, but not the previous agent
    await h.send('zz6 sorry, one more thing', { thread: 'reopen-1' });
    await h.event(conv, 'reopened');
    const [again] = await h.event(conv, 'offered', 2).then((o) => o.slice(-1));
    expect(again!.agentId).toBe('h1');
    await r1.offer(conv).then(() => r1.command({ type: 'accept', conversationId: conv }));
    await r1.command({ type: 'resolve', conversationId: conv });
    await h.event(conv, 'resolved', 2);
    // After the window the sweep closes it; the next message starts a new conversation.
    await h.event(conv, 'closed');
    const later = await h.send('zz6 new problem', { thread: 'reopen-1' });
    const next = await h.openedBy(later.messageId);
    expect(next).not.toBe(conv);
    expect(r2.frames.some((f) => f.conversationId === conv)).toBe(false);
  });

  it('a second agent joins read-only or as helper and sees the customer messages', async () => {
    const owner = await agent('k1', 's10');
    const { messageId } = await h.send('zz10 my account profile is wrong', { thread: 'collab-1' });
    const conv = await h.openedBy(messageId);
    await owner.offer(conv);
    await owner.command({ type: 'accept', conversationId: conv });
    const buddy = await agent('k2', 's11'); // other skill: never offered this conversation
    expect(await buddy.command({ type: 'invite', conversationId: conv, agentId: 'k1', role: 'helper' })).toMatchObject({ type: 'error', code: 'NOT_ASSIGNED' });
    expect(await owner.command({ type: 'invite', conversationId: conv, agentId: 'k2', role: 'observer' })).toMatchObject({ type: 'ack' });
    const [joined] = await buddy.waitFor((f) => f.type === 'joined' && f.conversationId === conv);
    expect(joined).toMatchObject({ role: 'observer', invitedBy: 'k1', conversation: { category: 'user-accounts' } });
    const m = await h.send('zz10 it shows the wrong address', { thread: 'collab-1' });
    await owner.waitFor((f) => f.type === 'message' && f.messageId === m.messageId);
    await buddy.waitFor((f) => f.type === 'message' && f.messageId === m.messageId);
    expect(await buddy.command({ type: 'reply', conversationId: conv, text: 'hi' })).toMatchObject({ type: 'error', code: 'NOT_ASSIGNED' });
    expect(await owner.command({ type: 'invite', conversationId: conv, agentId: 'k2', role: 'helper' })).toMatchObject({ type: 'ack' });
    const r = await buddy.command({ type: 'reply', conversationId: conv, text: 'I am helping Kim with this.' });
    expect(r.type).toBe('ack');
    const [out] = await outbound.waitFor((v) => v.outboundId === r.outboundId);
    expect(out!.value).toMatchObject({ conversationId: conv, agentId: 'k2' });
    await owner.command({ type: 'resolve', conversationId: conv });
    await buddy.waitFor((f) => f.type === 'left' && f.conversationId === conv && f.reason === 'resolved');
    expect(await buddy.command({ type: 'leave', conversationId: conv })).toMatchObject({ type: 'error', code: 'NOT_PARTICIPANT' });
    // capacity untouched: the helper was never assigned
    expect(h.eventTypes(conv).filter((t) => t === 'assigned')).toHaveLength(1);
  });

  it('a console that reconnects with lastSeq gets exactly what it missed', async () => {
    let c = await agent('i1', 's3');
    const { messageId, threadKey } = await h.send('zz3 cannot install the update', { thread: 'resume-1' });
    const conv = await h.openedBy(messageId);
    await c.offer(conv);
    await c.command({ type: 'accept', conversationId: conv });
    await c.waitFor((f) => f.type === 'assigned' && f.conversationId === conv);
    const seen = c.seqs;
    const last = c.lastSeq;
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => seen[0]! + i));
    await c.close();
    // While it is away, the customer writes twice.
    const m1 = await h.send('zz3 it says error 1603', { thread: 'resume-1' });
    const m2 = await h.send('zz3 any news?', { thread: 'resume-1' });
    const stored = async () => (await h.world.pool.query('SELECT seq FROM router.agent_events WHERE agent_id = $1::text AND seq > $2::bigint ORDER BY seq', ['i1', last])).rows.map((r) => Number(r.seq));
    const { eventually } = await import('../../../test/support/infra');
    const missed = await eventually(async () => ((await stored()).length >= 2 ? stored() : undefined), 'events stored while away');
    c = await h.connect('i1', { lastSeq: last });
    const replay = await c.waitFor((f) => f.type === 'message', 2);
    expect(replay.map((f) => f.messageId)).toEqual([m1.messageId, m2.messageId]);
    expect(replay[0]).toMatchObject({ conversationId: conv, text: 'zz3 it says error 1603' });
    // No gap, no duplicate: the replayed seqs continue exactly where the console left off.
    const after = c.seqs;
    expect(after.slice(0, missed.length)).toEqual(missed);
    expect(after[0]).toBe(last + 1);
    expect(new Set(after).size).toBe(after.length);
    // Live events keep numbering on from there.
    const before = c.lastSeq;
    const m3 = await h.send('zz3 still there?', { thread: 'resume-1' });
    const [live] = await c.waitFor((f) => f.type === 'message' && f.messageId === m3.messageId);
    expect(live!.seq).toBe(before + 1);
    expect(threadKey).toBe('chat:resume-1');
  });
});
