/**
 * End to end over the real broker and database: chat adapter POST → omni.inbound.v1 → router opens a
 * tier-1 conversation → omni.conversations.v1 → history timeline → GET on the history API.
 */
import { startIngestService } from '@omni/ingest';
import * as chat from '@omni/ingest-chat/src/config';
import { start as startChat } from '@omni/ingest-chat/src/start';
import * as routerCfg from '@omni/router/src/config';
import { start as startRouter } from '@omni/router/src/start';
import * as historyCfg from '@omni/history/src/config';
import { start as startHistory } from '@omni/history/src/start';
import { bearer, TEST_JWT_SECRET } from './support/tokens';
import { createWorld, eventually, testLogger, TopicWatcher, type TestWorld } from './support/infra';

describe('walking skeleton: chat → router → history', () => {
  let world: TestWorld;
  const closers: (() => Promise<void>)[] = [];
  let chatUrl: string;
  let historyUrl: string;
  let inbound: TopicWatcher;
  let conversations: TopicWatcher;

  beforeAll(async () => {
    world = await createWorld('skeleton');
    inbound = await TopicWatcher.start(world, world.topics.inbound);
    conversations = await TopicWatcher.start(world, world.topics.conversations);
    const c = await startIngestService('chat', chat.readConfig(world.env({ ADAPTER_API_KEYS: 'webwidget:k-123' })), testLogger, startChat);
    chatUrl = c.url;
    closers.push(c.close);
    const r = await startRouter(routerCfg.readConfig(world.env({ ROUTER_GROUP_ID: world.groupId('router') })), testLogger);
    closers.push(r.close);
    const h = await startHistory(historyCfg.readConfig(world.env({ HISTORY_GROUP_ID: world.groupId('history'), JWT_SECRET: TEST_JWT_SECRET })), testLogger);
    historyUrl = h.url;
    closers.push(h.close);
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await inbound?.stop();
    await conversations?.stop();
    await world?.close();
  });

  it('puts the message and the opened conversation on the customer timeline', async () => {
    const res = await fetch(`${chatUrl}/v1/chat/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k-123' },
      body: JSON.stringify({ adapterMessageId: 'w-1', channel: 'chat', threadKey: 'sess-9', from: { address: 'visitor-9', name: 'Lucía' }, text: 'No puedo entrar, olvidé mi contraseña' }),
    });
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { status: string; messageId: string };
    expect(accepted.status).toBe('accepted');

    // 2xx came after the ack, so the message is on the topic, keyed by thread.
    const [msg] = await inbound.waitFor((v) => v.messageId === accepted.messageId);
    expect(msg!.key).toBe('chat:sess-9');
    expect(msg!.value).toMatchObject({ channel: 'chat', provider: 'adapter:webwidget', providerMessageId: 'w-1', threadKey: 'chat:sess-9', from: { address: 'visitor-9', name: 'Lucía' } });

    const [opened] = await conversations.waitFor((v) => v.type === 'conversation.opened' && v.messageId === accepted.messageId);
    expect(opened!.value).toMatchObject({ tier: 1, channel: 'chat', threadKey: 'chat:sess-9' });
    expect(opened!.key).toBe(opened!.value.conversationId);
    const row = await world.pool.query('SELECT tier FROM router.queue_entries WHERE conversation_id = $1::text', [opened!.value.conversationId]);
    expect(row.rows).toEqual([{ tier: 1 }]);

    const customer = await eventually(async () => {
      const r = await fetch(`${historyUrl}/v1/customers?identity=${encodeURIComponent('chat:visitor-9')}`, { headers: bearer('supervisor') });
      return r.status === 200 ? ((await r.json()) as { id: string }) : undefined;
    }, 'customer in history');
    const timeline = await eventually(async () => {
      const r = await fetch(`${historyUrl}/v1/customers/${customer.id}/timeline`, { headers: bearer('supervisor') });
      const body = (await r.json()) as { items: { kind: string; eventId: string; conversationId: string | null }[] };
      return body.items.some((i) => i.kind === 'conversation.opened') ? body : undefined;
    }, 'opened event on the timeline');
    const kinds = timeline.items.map((i) => i.kind);
    expect(kinds).toContain('message.inbound');
    expect(kinds).toContain('conversation.opened');
    expect(timeline.items.find((i) => i.kind === 'message.inbound')!.eventId).toBe(accepted.messageId);
    expect(timeline.items.find((i) => i.kind === 'conversation.opened')!.conversationId).toBe(opened!.value.conversationId);
  });

  it('answers a redelivered adapter post 200 duplicate and publishes nothing twice', async () => {
    const body = JSON.stringify({ adapterMessageId: 'w-2', channel: 'chat', threadKey: 'sess-10', from: { address: 'visitor-10' }, text: 'hola' });
    const post = () => fetch(`${chatUrl}/v1/chat/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'k-123' }, body });
    const first = await post();
    expect(first.status).toBe(202);
    const second = await post();
    expect(second.status).toBe(200);
    const dup = (await second.json()) as { status: string; messageId: string };
    expect(dup.status).toBe('duplicate');
    // A later message on another thread arriving proves the consumer has read past any copy.
    const marker = await fetch(`${chatUrl}/v1/chat/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k-123' },
      body: JSON.stringify({ adapterMessageId: 'w-3', channel: 'chat', threadKey: 'sess-10', from: { address: 'visitor-10' }, text: 'marker' }),
    });
    const m = (await marker.json()) as { messageId: string };
    await inbound.waitFor((v) => v.messageId === m.messageId);
    expect(inbound.seen.filter((s) => s.value.messageId === dup.messageId)).toHaveLength(1);
  });

  it('rejects a bad key and a malformed body with a JSON error naming the problem', async () => {
    const noKey = await fetch(`${chatUrl}/v1/chat/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toMatchObject({ error: 'UNAUTHORIZED' });
    const bad = await fetch(`${chatUrl}/v1/chat/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k-123' },
      body: JSON.stringify({ adapterMessageId: 'w-4', channel: 'chat', from: { address: 'v' }, text: 'x' }),
    });
    expect(bad.status).toBe(400);
    const err = (await bad.json()) as { error: string; fields: { field: string }[] };
    expect(err.error).toBe('VALIDATION');
    expect(err.fields.map((f) => f.field)).toContain('body.threadKey');
  });
});
