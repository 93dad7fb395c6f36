/**
 * A conversation's transcript holds all its messages (issue 12), end to end over the real broker and
 * database: 20 chat messages on one thread → ingest-chat → router (one conversation, 19 follow-ups)
 * → history. Every inbound timeline item carries the conversation id, and the transcript lists all 20.
 * A second part feeds history the router's events before the inbound messages they name (the topics
 * are consumed independently), and after them, and expects the same result.
 */
import { join } from 'node:path';
import { startIngestService } from '@omni/ingest';
import * as chat from '@omni/ingest-chat/src/config';
import { start as startChat } from '@omni/ingest-chat/src/start';
import * as routerCfg from '@omni/router/src/config';
import { start as startRouter } from '@omni/router/src/start';
import * as historyCfg from '@omni/history/src/config';
import { start as startHistory } from '@omni/history/src/start';
import { createPool, migrate, type Pool } from '@omni/db';
import type { Received } from '@omni/kafka';
import { handleTimelineBatch } from '@omni/history/src/consumers/timeline';
import type { HistoryEvent } from '@omni/history/src/domain/timeline-entry';
import { readTimeline } from '@omni/history/src/store/timeline';
import { Script } from '../services/history/test/support/events';
import { createWorld, eventually, testLogger, TopicWatcher, type TestWorld } from './support/infra';
import { bearer } from './support/tokens';

interface Transcript {
  conversation: { id: string };
  messages: { direction: string; eventId: string; text: string }[];
}
interface TimelinePage {
  items: { kind: string; eventId: string; conversationId: string | null }[];
}

describe('a conversation of 20 customer messages (chat → router → history)', () => {
  let world: TestWorld;
  const closers: (() => Promise<void>)[] = [];
  let chatUrl: string;
  let historyUrl: string;
  let conversations: TopicWatcher;

  beforeAll(async () => {
    world = await createWorld('transcript');
    conversations = await TopicWatcher.start(world, world.topics.conversations);
    const c = await startIngestService('chat', chat.readConfig(world.env({ ADAPTER_API_KEYS: 'webwidget:k-123' })), testLogger, startChat);
    chatUrl = c.url;
    closers.push(c.close);
    const r = await startRouter(routerCfg.readConfig(world.env({ ROUTER_GROUP_ID: world.groupId('router') })), testLogger);
    closers.push(r.close);
    const h = await startHistory(historyCfg.readConfig(world.env({ HISTORY_GROUP_ID: world.groupId('history') })), testLogger);
    historyUrl = h.url;
    closers.push(h.close);
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await conversations?.stop();
    await world?.close();
  });

  it('shows all 20 in the transcript and attaches each timeline item to the conversation', async () => {
    const ids: string[] = [];
    // sequential, as a visitor types: each answer is the ack of a message on the thread's partition
    for (let i = 1; i <= 20; i++) {
      const res = await fetch(`${chatUrl}/v1/chat/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'k-123' },
        body: JSON.stringify({ adapterMessageId: `t-${i}`, channel: 'chat', threadKey: 'sess-20', from: { address: 'visitor-20' }, text: `mensaje ${i}: no puedo entrar` }),
      });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { messageId: string }).messageId);
    }
    const [opened] = await conversations.waitFor((v) => v.type === 'conversation.opened' && v.messageId === ids[0]);
    const conversationId = opened!.value.conversationId as string;
    // the router names every follow-up on the conversation, once
    const followUps = await conversations.waitFor((v) => v.type === 'conversation.message' && v.conversationId === conversationId, 19);
    expect(followUps.map((f) => f.value.messageId).sort()).toEqual(ids.slice(1).sort());

    const transcript = await eventually(async () => {
      const r = await fetch(`${historyUrl}/v1/conversations/${conversationId}`, { headers: bearer('supervisor') });
      if (r.status !== 200) return undefined;
      const t = (await r.json()) as Transcript;
      return t.messages.filter((m) => m.direction === 'inbound').length === 20 ? t : undefined;
    }, 'all 20 messages in the transcript');
    expect(transcript.messages.map((m) => m.eventId)).toEqual(ids);
    expect(transcript.messages.map((m) => m.text)).toEqual(ids.map((_, i) => `mensaje ${i + 1}: no puedo entrar`));

    const customer = (await (await fetch(`${historyUrl}/v1/customers?identity=${encodeURIComponent('chat:visitor-20')}`, { headers: bearer('supervisor') })).json()) as { id: string };
    const timeline = (await (await fetch(`${historyUrl}/v1/customers/${customer.id}/timeline?limit=200`, { headers: bearer('supervisor') })).json()) as TimelinePage;
    const inbound = timeline.items.filter((i) => i.kind === 'message.inbound');
    expect(inbound.map((i) => i.eventId)).toEqual(ids);
    for (const item of timeline.items) expect({ eventId: item.eventId, conversationId: item.conversationId }).toEqual({ eventId: item.eventId, conversationId });
    // …and the conversation filter returns them all
    const filtered = (await (await fetch(`${historyUrl}/v1/customers/${customer.id}/timeline?limit=200&conversation=${conversationId}`, { headers: bearer('supervisor') })).json()) as TimelinePage;
    expect(filtered.items.filter((i) => i.kind === 'message.inbound')).toHaveLength(20);
  });
});

describe('history attaches a follow-up whichever topic arrives first', () => {
  let world: TestWorld;
  let pool: Pool;

  beforeAll(async () => {
    world = await createWorld('transcriptorder');
    pool = createPool(world.databaseUrl, { max: 4 });
    await migrate(pool, 'history', join(__dirname, '..', 'services', 'history', 'migrations'));
  });
  afterAll(async () => {
    await pool?.end();
    await world?.close();
  });

  const received = (s: Script): Received<HistoryEvent>[] =>
    s.records.map((r, n) => ({ topic: r.topic, partition: 0, offset: String(n), key: r.key, value: r.value as HistoryEvent }));

  it.each([
    ['routing events first', true],
    ['inbound messages first', false],
  ])('%s', async (name, routingFirst) => {
    const tag = routingFirst ? 'rf' : 'if';
    const customer = { channel: 'chat' as const, address: `v-order-${tag}` };
    const c = { conversationId: `conv-${tag}`, customer, tier: 1, at: '2026-07-01T10:00:00.000Z' };
    const inbound = new Script(world.topics);
    const routing = new Script(world.topics);
    for (let i = 0; i < 5; i++) inbound.inbound(`m-${tag}-${i}`, customer, `2026-07-01T10:00:0${i}.000Z`, `hola ${i}`);
    routing.conv(`e-${tag}-open`, 'conversation.opened', c, { messageId: `m-${tag}-0` });
    for (let i = 1; i < 5; i++) routing.conv(`e-${tag}-${i}`, 'conversation.message', { ...c, at: `2026-07-01T10:00:0${i}.500Z` }, { messageId: `m-${tag}-${i}` });
    const [first, second] = routingFirst ? [routing, inbound] : [inbound, routing];
    const deps = { pool, topics: world.topics };
    await handleTimelineBatch(deps, received(first));
    await handleTimelineBatch(deps, received(second));

    const { rows } = await pool.query<{ message_ids: string[] }>('SELECT message_ids FROM history.conversations WHERE id = $1::text', [c.conversationId]);
    expect(rows[0]!.message_ids).toEqual([0, 1, 2, 3, 4].map((i) => `m-${tag}-${i}`));
    const home = (await pool.query<{ customer_id: string }>('SELECT customer_id FROM history.identities WHERE address = $1::text', [customer.address])).rows[0]!.customer_id;
    const page = await readTimeline(pool, { customers: [home], limit: 100 });
    const messages = page.items.filter((i) => i.kind === 'message.inbound');
    expect(messages).toHaveLength(5);
    for (const m of messages) expect([name, m.eventId, m.conversationId]).toEqual([name, m.eventId, c.conversationId]);
  });
});
