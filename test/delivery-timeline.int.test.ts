/**
 * Delivery outcomes reach the customer's timeline: the agent reply (omni.outbound.v1) and its
 * delivery status (omni.delivery.v1) are both read by history, so a reply the adapter refused shows
 * as `delivery.failed` with the reason next to the reply itself.
 */
import { OutboundMessage } from '@omni/contracts';
import { startIngestService } from '@omni/ingest';
import { Publisher } from '@omni/kafka';
import * as chatCfg from '@omni/ingest-chat/src/config';
import { start as startChat } from '@omni/ingest-chat/src/start';
import * as historyCfg from '@omni/history/src/config';
import { start as startHistory } from '@omni/history/src/start';
import { bearer, TEST_JWT_SECRET } from './support/tokens';
import { AdapterStub } from './support/adapter-stub';
import { createWorld, eventually, testLogger, type TestWorld } from './support/infra';

describe('delivery statuses on the customer timeline', () => {
  let world: TestWorld;
  let stub: AdapterStub;
  let publisher: Publisher;
  const closers: (() => Promise<void>)[] = [];
  let chatUrl: string;
  let historyUrl: string;

  beforeAll(async () => {
    world = await createWorld('deliverytimeline');
    stub = new AdapterStub({ '/web': 'timeline-secret-1' });
    await stub.listen();
    publisher = new Publisher(world.kafka);
    await publisher.connect();
    const chat = await startIngestService(
      'chat',
      chatCfg.readConfig(world.env({ ADAPTER_API_KEYS: 'web:k-web', DELIVERY_TARGETS: `adapter:web=${stub.url('/web')}|timeline-secret-1` })),
      testLogger,
      startChat,
    );
    chatUrl = chat.url;
    closers.push(chat.close);
    const h = await startHistory(historyCfg.readConfig(world.env({ HISTORY_GROUP_ID: world.groupId('history'), JWT_SECRET: TEST_JWT_SECRET })), testLogger);
    historyUrl = h.url;
    closers.push(h.close);
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await publisher?.disconnect();
    await stub?.close();
    await world?.close();
  });

  it('shows the reply, a delivered one and a refused one with its reason', async () => {
    const res = await fetch(`${chatUrl}/v1/chat/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k-web' },
      body: JSON.stringify({ adapterMessageId: 'tl-1', channel: 'chat', threadKey: 'sess-tl', from: { address: 'visitor-tl', name: 'Marta' }, text: 'hola' }),
    });
    expect(res.status).toBe(202);
    stub.script.set('conv-tl', [{ status: 200 }, { status: 422, body: { error: 'message too long for this channel' } }]);
    const base = { schema: 'omni.outbound.v1', conversationId: 'conv-tl', channel: 'chat', threadKey: 'chat:sess-tl', to: { channel: 'chat', address: 'visitor-tl' }, agentId: 'agent-3', createdAt: new Date().toISOString() } as const;
    const ok: OutboundMessage = { ...base, outboundId: `out-${world.id}-ok`, text: 'primera respuesta' };
    const refused: OutboundMessage = { ...base, outboundId: `out-${world.id}-refused`, text: 'segunda respuesta' };
    await publisher.publish([ok, refused].map((m) => ({ topic: world.topics.outbound, key: m.conversationId, value: m, schema: OutboundMessage })));

    const customer = await eventually(async () => {
      const r = await fetch(`${historyUrl}/v1/customers?identity=${encodeURIComponent('chat:visitor-tl')}`, { headers: bearer('supervisor') });
      return r.status === 200 ? ((await r.json()) as { id: string }) : undefined;
    }, 'customer in history');
    const timeline = await eventually(async () => {
      const r = await fetch(`${historyUrl}/v1/customers/${customer.id}/timeline`, { headers: bearer('supervisor') });
      const body = (await r.json()) as { items: { kind: string; conversationId: string | null; payload: Record<string, unknown> }[] };
      return body.items.some((i) => i.kind === 'delivery.failed') && body.items.some((i) => i.kind === 'delivery.delivered') ? body : undefined;
    }, 'delivery statuses on the timeline');
    const failed = timeline.items.find((i) => i.kind === 'delivery.failed')!;
    expect(failed.conversationId).toBe('conv-tl');
    expect(failed.payload).toMatchObject({ outboundId: refused.outboundId, reason: 'adapter answered HTTP 422', attempt: 1 });
    expect(timeline.items.find((i) => i.kind === 'delivery.delivered')!.payload).toMatchObject({ outboundId: ok.outboundId });
    expect(timeline.items.filter((i) => i.kind === 'message.outbound').map((i) => i.payload.outboundId).sort()).toEqual([ok.outboundId, refused.outboundId].sort());
  });
});
