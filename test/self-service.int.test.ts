/**
 * Self-service before a human (tier 0) and suggestions on offers, over the real stack (issue 18,
 * docs/knowledge.md): ingest-chat (visitor websocket), ingest-phone (Twilio SMS), router, knowledge
 * and history on the real broker and database.
 *
 * - a chat conversation in an enabled category gets the tier-0 article with YES/NO buttons; YES
 *   resolves it as self-served with no agent, and knowledge records the use;
 * - NO routes it with its original waiting time: it is offered before a conversation opened after it,
 *   and the offer carries the Spanish password-reset article;
 * - an SMS customer's "NO" routes it;
 * - a VIP skips self-service, and its offer carries the Spanish password-reset article;
 * - with knowledge stopped, a new conversation is still offered (no suggestions, no self-service).
 */
import type { ConversationEvent, OutboundMessage } from '@omni/contracts';
import * as knowledgeCfg from '@omni/knowledge/src/config';
import { start as startKnowledge } from '@omni/knowledge/src/start';
import { expectedTwilioSignature } from '@omni/ingest-phone/src/domain/twilio-signature';
import { AgentClient } from '../services/router/test/support/agent-client';
import { WsClient } from '../services/ingest-chat/test/ws-client';
import { createWorld, eventually, testLogger, TopicWatcher, type TestWorld } from './support/infra';
import { ADAPTER_KEY, postJson, startStack, type Stack } from './support/stack';
import { TEST_JWT_SECRET, testToken } from './support/tokens';

const TWILIO_TOKEN = 'fuzz-token'; // startStack's
const PUBLIC = 'https://example.test';
const PASSWORD_ES = 'kb-seed-password-reset-es';

let world: TestWorld;
let stack: Stack;
let closeKnowledge: (() => Promise<void>) | undefined;
let conversations: TopicWatcher<ConversationEvent>;
let outbound: TopicWatcher<OutboundMessage>;
const sockets: { close: () => Promise<void> }[] = [];
const agents = new Map<string, AgentClient>();

beforeAll(async () => {
  world = await createWorld('selfsvc');
  conversations = await TopicWatcher.start<ConversationEvent>(world, world.topics.conversations);
  outbound = await TopicWatcher.start<OutboundMessage>(world, world.topics.outbound);
  // knowledge first (the router needs its URL); it reads transcripts from history only for drafts, not used here
  const k = await startKnowledge(
    knowledgeCfg.readConfig(world.env({ KNOWLEDGE_GROUP_ID: world.groupId('knowledge'), HISTORY_URL: 'http://127.0.0.1:9', JWT_SECRET: TEST_JWT_SECRET })),
    testLogger,
  );
  closeKnowledge = k.close;
  stack = await startStack(world, {
    kinds: ['chat', 'phone'],
    // a generous knowledge budget: on a loaded test machine a cold knowledge query can pass the 300 ms default,
    // and these tests are about what happens with the answer (the stopped-knowledge case shows the fallback)
    env: { JWT_SECRET: TEST_JWT_SECRET, KNOWLEDGE_URL: k.url, KNOWLEDGE_TIMEOUT_MS: '10000', SWEEP_INTERVAL_MS: '200', OFFER_TIMEOUT_MS: '600000' },
  });
  // admins enable self-service for passwords (a new rule-set version, the rules unchanged)
  const admin = { authorization: `Bearer ${testToken('admin', 'root')}`, 'content-type': 'application/json' };
  const active = (await (await fetch(`${stack.router.url}/v1/admin/rules`, { headers: admin })).json()) as { rules: unknown[] };
  const put = await fetch(`${stack.router.url}/v1/admin/rules`, {
    method: 'PUT',
    headers: admin,
    body: JSON.stringify({ rules: active.rules, note: 'self-service for passwords', selfService: { categories: ['access-passwords'], waitMs: 600_000 } }),
  });
  expect(put.status).toBe(201);
  expect(((await put.json()) as { selfService: unknown }).selfService).toEqual({ categories: ['access-passwords'], waitMs: 600_000 });
}, 120_000);

afterAll(async () => {
  for (const s of sockets) await s.close().catch(() => undefined);
  await stack?.close();
  await closeKnowledge?.().catch(() => undefined);
  await conversations?.stop();
  await outbound?.stop();
  await world?.close();
});

/** A visitor on the chat websocket (session in Spanish). */
async function visitor(visitorId: string): Promise<WsClient> {
  const res = await postJson(`${stack.ingest.chat.url}/v1/chat/sessions`, { visitorId, language: 'es' });
  expect(res.status).toBe(201);
  const c = await WsClient.connect(`${stack.ingest.chat.url.replace(/^http/, 'ws')}/v1/chat/ws?token=${encodeURIComponent(res.body.token)}`);
  sockets.push(c);
  await c.waitFor((f) => f.type === 'ready');
  return c;
}

/** Sends a visitor message; returns the conversation it opened or joined (from the router's events). */
async function say(c: WsClient, clientMessageId: string, text: string): Promise<string> {
  c.send({ type: 'message', clientMessageId, text });
  const [ack] = await c.waitFor((f) => f.type === 'ack' && f.clientMessageId === clientMessageId);
  const [e] = await conversations.waitFor((v) => v.messageId === ack!.messageId && (v.type === 'conversation.opened' || v.type === 'conversation.message'));
  return e!.value.conversationId;
}

async function sms(from: string, sid: string, body: string): Promise<void> {
  const params = { MessageSid: sid, SmsMessageSid: sid, AccountSid: 'AC00112233445566778899aabbccddeeff', From: from, To: '+34910000001', Body: body, NumMedia: '0' };
  const res = await fetch(`${stack.ingest.phone.url}/v1/phone/twilio/sms`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': expectedTwilioSignature(TWILIO_TOKEN, `${PUBLIC}/v1/phone/twilio/sms`, params) },
    body: new URLSearchParams(params).toString(),
  });
  expect(res.status).toBe(200);
}

async function agent(id: string, capacity: Record<string, number>): Promise<AgentClient> {
  const res = await fetch(`${stack.router.url}/v1/admin/agents/${id}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${testToken('admin', 'root')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: id, tiers: [1], skills: [], languages: ['es', 'en'], capacity }),
  });
  expect([200, 201]).toContain(res.status);
  const a = await AgentClient.connect(stack.router.url, id, testToken('agent', id));
  sockets.push(a);
  agents.set(id, a);
  return a;
}

const events = (conversationId: string) => conversations.seen.filter((s) => s.value.conversationId === conversationId).map((s) => s.value);
const routerRow = async (id: string) =>
  (
    await world.pool.query<{ status: string; opened_at: Date; waiting_since: Date | null; q_since: Date | null }>(
      'SELECT c.status, c.opened_at, c.waiting_since, q.waiting_since AS q_since FROM router.conversations c LEFT JOIN router.queue_entries q ON q.conversation_id = c.id WHERE c.id = $1::text',
      [id],
    )
  ).rows[0]!;

let declinedChat: string; // routed after NO; offered first below

it('chat: the tier-0 answer comes with YES/NO buttons; YES resolves the conversation as self-served, with no agent', async () => {
  const v = await visitor('v-yes');
  const conv = await say(v, 'm1', 'Hola, olvidé mi contraseña y no puedo entrar');
  const [offered] = await conversations.waitFor((e) => e.conversationId === conv && e.type === 'conversation.self-service-offered');
  const articleIds = (offered!.value.data as { articleIds: string[] }).articleIds;
  expect(articleIds[0]).toBe(PASSWORD_ES);
  expect(articleIds.length).toBeLessThanOrEqual(2);
  // on the visitor's socket: the article link, the question in Spanish, and the buttons
  const [answer] = await v.waitFor((f) => f.type === 'reply' && f.agentId === 'system:self-service');
  expect(answer!.text).toContain(`/articles/${PASSWORD_ES}`);
  expect(answer!.text).toContain('¿Esto resolvió tu consulta?');
  expect(answer!.choices).toEqual([
    { value: 'yes', label: 'Sí' },
    { value: 'no', label: 'No' },
  ]);
  expect((await routerRow(conv)).status).toBe('self-service');

  v.send({ type: 'choice', clientMessageId: 'm2', outboundId: answer!.outboundId, value: 'yes' });
  const [resolved] = await conversations.waitFor((e) => e.conversationId === conv && e.type === 'conversation.resolved');
  expect(resolved!.value).toMatchObject({ reason: 'self-served', data: { articleIds } });
  expect(resolved!.value.agentId).toBeUndefined();
  expect(events(conv).map((e) => e.type)).toEqual([
    'conversation.opened',
    'conversation.classified',
    'conversation.self-service-offered',
    'conversation.message',
    'conversation.resolved',
  ]);
  expect((await routerRow(conv)).status).toBe('resolved');
  // knowledge recorded the use of each offered article (its helped rate counts this resolution)
  const uses = await eventually(async () => {
    const r = await world.pool.query<{ article_id: string; declined_at: Date | null }>(
      `SELECT article_id, declined_at FROM knowledge.article_uses WHERE conversation_id = $1::text AND used_by = 'system:self-service' ORDER BY article_id`,
      [conv],
    );
    return r.rows.length === articleIds.length ? r.rows : undefined;
  }, 'self-service uses in knowledge');
  expect(uses.map((u) => u.article_id)).toEqual([...articleIds].sort());
  expect(uses.every((u) => u.declined_at === null)).toBe(true);
  // history: the automatic answer is in the transcript, but it is nobody's first response and no agent served it
  const transcript = await eventually(async () => {
    const r = await fetch(`${stack.history.url}/v1/conversations/${conv}`, { headers: { authorization: `Bearer ${testToken('supervisor', 'lead')}` } });
    const body = r.status === 200 ? ((await r.json()) as { conversation: { resolvedAt: string | null; firstResponseAt: string | null; agents: string[] }; messages: { direction: string; agentId: string | null }[] }) : undefined;
    return body?.conversation.resolvedAt && body.messages.some((m) => m.direction === 'outbound') ? body : undefined;
  }, 'self-served conversation in history');
  expect(transcript.conversation).toMatchObject({ firstResponseAt: null, agents: [] });
  expect(transcript.messages.filter((m) => m.direction === 'outbound').map((m) => m.agentId)).toEqual(['system:self-service']);
});

it("chat: NO routes it with its original waiting time — it is offered before a conversation opened after it, with the Spanish password article", async () => {
  const v = await visitor('v-no');
  const conv = await say(v, 'm1', 'No me acuerdo de la contraseña');
  const [answer] = await v.waitFor((f) => f.type === 'reply' && f.agentId === 'system:self-service');
  // another customer writes (a category without self-service): queued now, after the first one's first message
  const later = await visitor('v-later');
  const laterConv = await say(later, 'm1', '¿Dónde está mi pedido?');
  await conversations.waitFor((e) => e.conversationId === laterConv && e.type === 'conversation.queued');
  const opened = (await routerRow(conv)).opened_at;

  v.send({ type: 'choice', clientMessageId: 'm2', outboundId: answer!.outboundId, value: 'no' });
  const [queued] = await conversations.waitFor((e) => e.conversationId === conv && e.type === 'conversation.queued');
  expect(queued!.value.data).toMatchObject({ selfService: 'declined' });
  const row = await routerRow(conv);
  expect(row.status).toBe('queued');
  // waiting since the first message, not since the NO
  expect(row.q_since!.toISOString()).toBe(opened.toISOString());
  expect(row.q_since!.getTime()).toBeLessThan((await routerRow(laterConv)).q_since!.getTime());

  // one free chat slot: the declined conversation goes first, and its offer carries the suggestions
  const a = await agent('ag-first', { chat: 1 });
  const [first] = await a.waitFor((f) => f.type === 'offer');
  expect(first!.conversationId).toBe(conv);
  const suggestions = first!.suggestions as { id: string; language: string }[];
  expect(suggestions[0]).toMatchObject({ id: PASSWORD_ES, language: 'es' });
  declinedChat = conv;
  // the declined answer's uses are marked declined in knowledge (they did not help)
  await eventually(async () => {
    const r = await world.pool.query('SELECT 1 FROM knowledge.article_uses WHERE conversation_id = $1::text AND declined_at IS NOT NULL', [conv]);
    return r.rowCount ? true : undefined;
  }, 'declined self-service use');
});

it('SMS: the answer asks for a YES/NO reply; the customer\'s "NO" routes the conversation', async () => {
  const from = '+34600111222';
  await sms(from, 'SMa0000000000000000000000000000001', 'Hola, olvidé mi contraseña');
  const [opened] = await conversations.waitFor((e) => e.threadKey === `sms:${from}` && e.type === 'conversation.opened');
  const conv = opened!.value.conversationId;
  await conversations.waitFor((e) => e.conversationId === conv && e.type === 'conversation.self-service-offered');
  const [answer] = await outbound.waitFor((o) => o.conversationId === conv);
  expect(answer!.value).toMatchObject({ channel: 'sms', agentId: 'system:self-service', to: { address: from } });
  expect(answer!.value.text).toContain('Responde SÍ o NO');
  expect(answer!.value.text).toContain(`/articles/${PASSWORD_ES}`);

  await sms(from, 'SMa0000000000000000000000000000002', 'NO');
  const [queued] = await conversations.waitFor((e) => e.conversationId === conv && e.type === 'conversation.queued');
  expect(queued!.value.data).toMatchObject({ selfService: 'declined' });
  const row = await routerRow(conv);
  expect(row.status).toBe('queued');
  expect(row.q_since!.toISOString()).toBe(row.opened_at.toISOString());
  expect(events(conv).some((e) => e.type === 'conversation.resolved')).toBe(false);
});

it('a VIP skips self-service; the offer for its "contraseña" conversation carries the Spanish password-reset article', async () => {
  // the router's customer profile (from omni.customers.v1) says VIP
  await world.pool.query(
    `INSERT INTO router.customer_profiles (identity, customer_id, display_name, attributes, version) VALUES ('chat:vip-1', 'cust-vip-1', 'Vera', '{"vip": true}'::jsonb, 1)`,
  );
  const res = await postJson(`${stack.ingest.chat.url}/v1/chat/messages`, { adapterMessageId: 'vip-m1', channel: 'chat', threadKey: 'vip-thread', from: { address: 'vip-1' }, text: 'Hola, olvidé mi contraseña y no puedo entrar en mi cuenta' });
  expect(res.status).toBe(202);
  const [opened] = await conversations.waitFor((e) => e.messageId === res.body.messageId && e.type === 'conversation.opened');
  const conv = opened!.value.conversationId;
  await conversations.waitFor((e) => e.conversationId === conv && e.type === 'conversation.queued');
  expect(events(conv).map((e) => e.type)).not.toContain('conversation.self-service-offered');
  expect(outbound.seen.some((o) => o.value.conversationId === conv)).toBe(false);
  const a = await agent('ag-vip', { chat: 5 });
  const offer = await a.offer(conv);
  expect((offer.suggestions as { id: string }[])[0]).toMatchObject({ id: PASSWORD_ES, language: 'es' });
  expect(offer.conversation).toBeDefined(); // the customer context is still there
  expect(declinedChat).toBeDefined();
});

it('no answer within waitMs: the sweep routes it, waiting since its first message', async () => {
  const admin = { authorization: `Bearer ${testToken('admin', 'root')}`, 'content-type': 'application/json' };
  const active = (await (await fetch(`${stack.router.url}/v1/admin/rules`, { headers: admin })).json()) as { rules: unknown[] };
  const put = await fetch(`${stack.router.url}/v1/admin/rules`, { method: 'PUT', headers: admin, body: JSON.stringify({ rules: active.rules, selfService: { categories: ['access-passwords'], waitMs: 1_000 } }) });
  expect(put.status).toBe(201);
  const from = '+34600999888';
  await sms(from, 'SMa0000000000000000000000000000009', 'Buenas, olvidé mi contraseña');
  const [opened] = await conversations.waitFor((e) => e.threadKey === `sms:${from}` && e.type === 'conversation.opened');
  const conv = opened!.value.conversationId;
  const [offered] = await conversations.waitFor((e) => e.conversationId === conv && e.type === 'conversation.self-service-offered');
  const [queued] = await conversations.waitFor((e) => e.conversationId === conv && e.type === 'conversation.queued');
  expect(queued!.value.data).toMatchObject({ selfService: 'expired' });
  expect(Date.parse(queued!.value.occurredAt)).toBeGreaterThanOrEqual(Date.parse((offered!.value.data as { deadline: string }).deadline));
  const row = await routerRow(conv);
  expect(row.status).toBe('queued');
  expect(row.q_since!.toISOString()).toBe(row.opened_at.toISOString());
  const ss = await world.pool.query('SELECT self_service_state FROM router.conversation_knowledge WHERE conversation_id = $1::text', [conv]);
  expect(ss.rows).toEqual([{ self_service_state: 'expired' }]);
});

it('outside business hours, the sweep that routes an unanswered one tells the customer when the team is back', async () => {
  const admin = { authorization: `Bearer ${testToken('admin', 'root')}`, 'content-type': 'application/json' };
  const putHours = (hours: unknown) => fetch(`${stack.router.url}/v1/admin/business-hours`, { method: 'PUT', headers: admin, body: JSON.stringify({ hours }) });
  // every tier closed until a special opening on Monday 7 June 2027, 09:00–17:00 in Madrid (waitMs is still the 1 s set above)
  const closed = { timeZone: 'Europe/Madrid', weekly: {}, exceptions: [{ date: '2027-06-07', hours: [{ start: '09:00', end: '17:00' }] }] };
  expect((await putHours({ tiers: Object.fromEntries([1, 2, 3, 4, 5].map((t) => [String(t), closed])) })).status).toBe(201);
  try {
    const from = '+34600999777';
    await sms(from, 'SMa0000000000000000000000000000010', 'Hola, olvidé mi contraseña otra vez');
    const [opened] = await conversations.waitFor((e) => e.threadKey === `sms:${from}` && e.type === 'conversation.opened');
    const conv = opened!.value.conversationId;
    await conversations.waitFor((e) => e.conversationId === conv && e.type === 'conversation.self-service-offered');
    const [queued] = await conversations.waitFor((e) => e.conversationId === conv && e.type === 'conversation.queued');
    expect(queued!.value.data).toMatchObject({ selfService: 'expired' });
    // the self-service answer first, then the out-of-hours notice in Spanish with the opening
    const [, notice] = await outbound.waitFor((o) => o.conversationId === conv, 2);
    expect(notice!.value).toMatchObject({ agentId: 'system:business-hours', channel: 'sms' });
    expect(notice!.value.text).toMatch(/^Hemos recibido tu mensaje\. .*lunes.*7 de junio.*09:00 \(Europe\/Madrid\)/);
    expect(outbound.seen.filter((o) => o.value.conversationId === conv && o.value.agentId === 'system:business-hours')).toHaveLength(1);
  } finally {
    expect((await putHours({ tiers: {} })).status).toBe(201);
  }
});

it("history's KPIs count it: deflection per category and channel, and knowledge's helped rate for the password article", async () => {
  type Group = { offered: number; selfServed: number; rateOfOffered: number | null };
  type Kpis = {
    deflection: Group & { byCategory: (Group & { category: string })[]; byChannel: (Group & { channel: string })[] };
    knowledge: { available: boolean; articles: { articleId: string; uses: number; helped: number }[] };
  };
  const to = new Date(Date.now() + 60_000).toISOString();
  // the earlier tests: one YES (chat), one NO (chat), one NO (SMS), one without an answer (routed by the sweep)
  const k = await eventually(async () => {
    const r = await fetch(`${stack.history.url}/v1/kpis?to=${encodeURIComponent(to)}`, { headers: { authorization: `Bearer ${testToken('supervisor', 'lead')}` } });
    if (r.status !== 200) return undefined;
    const body = (await r.json()) as Kpis;
    const pw = body.deflection.byCategory.find((c) => c.category === 'access-passwords');
    return pw && pw.offered >= 4 && pw.selfServed >= 1 && body.knowledge.available ? body : undefined;
  }, 'deflection and knowledge KPIs in history');
  const pw = k.deflection.byCategory.find((c) => c.category === 'access-passwords')!;
  expect(pw.selfServed).toBe(1);
  expect(pw.rateOfOffered).toBeCloseTo(1 / pw.offered, 5);
  const chat = k.deflection.byChannel.find((c) => c.channel === 'chat')!;
  expect(chat.selfServed).toBe(1);
  expect(k.deflection.byChannel.find((c) => c.channel === 'sms')?.selfServed ?? 0).toBe(0);
  const article = k.knowledge.articles.find((a) => a.articleId === PASSWORD_ES);
  expect(article?.helped).toBeGreaterThanOrEqual(1);
}, 120_000);

it('with knowledge stopped, a new conversation is offered all the same (no suggestions, no self-service)', async () => {
  await closeKnowledge!();
  closeKnowledge = undefined;
  await agent('ag-down', { chat: 5 });
  const sent = Date.now();
  const res = await postJson(`${stack.ingest.chat.url}/v1/chat/messages`, { adapterMessageId: 'down-m1', channel: 'chat', threadKey: 'down-thread', from: { address: 'down-1' }, text: 'Hola, olvidé mi contraseña y no puedo entrar en mi cuenta' });
  expect(res.status).toBe(202);
  const [opened] = await conversations.waitFor((e) => e.messageId === res.body.messageId && e.type === 'conversation.opened');
  const conv = opened!.value.conversationId;
  const [offered] = await conversations.waitFor((e) => e.conversationId === conv && e.type === 'conversation.offered');
  // whichever agent with room got it, its offer frame says there are no suggestions
  const frame = await agents.get(offered!.value.agentId!)!.offer(conv);
  expect(frame.suggestions).toEqual([]);
  expect(events(conv).map((e) => e.type)).not.toContain('conversation.self-service-offered');
  const row = await world.pool.query<{ suggestions: unknown[] }>('SELECT suggestions FROM router.conversation_knowledge WHERE conversation_id = $1::text', [conv]);
  expect(row.rows).toEqual([{ suggestions: [] }]);
  testLogger.info({ ms: Date.now() - sent }, 'offer with knowledge stopped');
});
