/**
 * Two replicas of ingest-chat share one consumer group and one ingest.deliveries table: every reply
 * is delivered once (a status per attempt, one `delivered`), and replies of each conversation reach
 * the adapter in order even with transient failures in between.
 */
import { OutboundMessage, type DeliveryStatus } from '@omni/contracts';
import { startIngestService } from '@omni/ingest';
import { Publisher } from '@omni/kafka';
import * as chatCfg from '@omni/ingest-chat/src/config';
import { start as startChat } from '@omni/ingest-chat/src/start';
import { AdapterStub } from './support/adapter-stub';
import { createWorld, testLogger, TopicWatcher, type TestWorld } from './support/infra';

const SECRET = 'replica-secret-1';

describe('outbound delivery with two replicas', () => {
  let world: TestWorld;
  let stub: AdapterStub;
  let publisher: Publisher;
  let delivery: TopicWatcher<DeliveryStatus>;
  const services: { url: string; close: () => Promise<void> }[] = [];
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    world = await createWorld('deliveryreplicas');
    stub = new AdapterStub({ '/web': SECRET });
    await stub.listen();
    delivery = await TopicWatcher.start<DeliveryStatus>(world, world.topics.delivery);
    publisher = new Publisher(world.kafka);
    await publisher.connect();
    env = world.env({
      ADAPTER_API_KEYS: 'web:k-web',
      DELIVERY_TARGETS: `adapter:web=${stub.url('/web')}|${SECRET}`,
      DELIVERY_BASE_BACKOFF_MS: '20',
      DELIVERY_MAX_BACKOFF_MS: '100',
      DELIVERY_POLL_MS: '100',
      DELIVERY_MAX_ATTEMPTS: '10',
      DELIVERY_CONCURRENCY: '4',
      // a held attempt must still be in flight when the replicas shut down, however slowly the
      // loaded machine closes their consumers: no attempt may time out first
      DELIVERY_TIMEOUT_MS: '120000',
    });
    for (let i = 0; i < 2; i++) services.push(await startIngestService('chat', chatCfg.readConfig(env), testLogger, startChat));
  });

  afterAll(async () => {
    for (const s of services.reverse()) await s.close();
    await publisher?.disconnect();
    await delivery?.stop();
    await stub?.close();
    await world?.close();
  });

  it('delivers every reply once and in order per conversation', async () => {
    const conversations = 12;
    const perConversation = 4;
    const sent = new Map<string, string[]>();
    for (let c = 0; c < conversations; c++) {
      const conv = `conv-r${c}`;
      const res = await fetch(`${services[c % 2]!.url}/v1/chat/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'k-web' },
        body: JSON.stringify({ adapterMessageId: `in-${c}`, channel: 'chat', threadKey: `s-${c}`, from: { address: `v-${c}` }, text: 'hola' }),
      });
      expect(res.status).toBe(202);
      // every third conversation's adapter fails transiently twice along the way
      if (c % 3 === 0) stub.script.set(conv, [{ status: 200 }, { status: 503 }, { status: 429, headers: { 'retry-after': '0' } }]);
      sent.set(conv, []);
    }
    const msgs: OutboundMessage[] = [];
    for (let i = 0; i < perConversation; i++)
      for (let c = 0; c < conversations; c++) {
        const conv = `conv-r${c}`;
        const outboundId = `out-${world.id}-${c}-${i}`;
        sent.get(conv)!.push(outboundId);
        msgs.push({ schema: 'omni.outbound.v1', outboundId, conversationId: conv, channel: 'chat', threadKey: `chat:s-${c}`, to: { channel: 'chat', address: `v-${c}` }, agentId: 'a1', text: `reply ${i}`, createdAt: new Date().toISOString() });
      }
    await publisher.publish(msgs.map((m) => ({ topic: world.topics.outbound, key: m.conversationId, value: m, schema: OutboundMessage })));
    await delivery.waitFor((v) => v.status === 'delivered', msgs.length, 120000);

    for (const [conv, ids] of sent) {
      const arrivals = stub.requests.filter((r) => r.body.conversationId === conv).map((r) => r.body.outboundId);
      const firstArrivals = arrivals.filter((id, i) => arrivals.indexOf(id) === i);
      expect({ conv, order: firstArrivals }).toEqual({ conv, order: ids });
      // retries happen only on the reply that failed: no reply is attempted before its predecessor is delivered
      for (let i = 1; i < arrivals.length; i++) {
        const prev = ids.indexOf(arrivals[i - 1]!);
        expect(ids.indexOf(arrivals[i]!)).toBeGreaterThanOrEqual(prev);
      }
    }
    for (const m of msgs) expect(delivery.seen.filter((s) => s.value.outboundId === m.outboundId && s.value.status === 'delivered')).toHaveLength(1);
    const failedOnes = stub.requests.length - msgs.length;
    expect(failedOnes).toBe(2 * 4); // conversations 0, 3, 6, 9: two transient failures each
    expect(delivery.seen.filter((s) => s.value.status === 'retrying')).toHaveLength(failedOnes);
    expect(stub.requests.every((r) => r.verified)).toBe(true);
  });

  it('hands an in-flight delivery back on shutdown, and the next replica delivers it', async () => {
    const res = await fetch(`${services[0]!.url}/v1/chat/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k-web' },
      body: JSON.stringify({ adapterMessageId: 'in-handoff', channel: 'chat', threadKey: 's-handoff', from: { address: 'v-h' }, text: 'hola' }),
    });
    expect(res.status).toBe(202);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // the second replica may take the row over when the first stops: it is held as well
    stub.script.set('conv-handoff', [{ status: 200, hold: held }, { status: 200, hold: held }]);
    const out: OutboundMessage = { schema: 'omni.outbound.v1', outboundId: `out-${world.id}-handoff`, conversationId: 'conv-handoff', channel: 'chat', threadKey: 'chat:s-handoff', to: { channel: 'chat', address: 'v-h' }, agentId: 'a1', text: 'reply', createdAt: new Date().toISOString() };
    await publisher.publish([{ topic: world.topics.outbound, key: out.conversationId, value: out, schema: OutboundMessage }]);
    try {
      await stub.waitFor((r) => r.body.outboundId === out.outboundId);
      // both replicas shut down gracefully while the adapter still holds the answer
      for (const s of services.splice(0)) await s.close();
      const row = await world.pool.query('SELECT status, attempts, claim_token FROM ingest.deliveries WHERE outbound_id = $1::text', [out.outboundId]);
      expect(row.rows).toEqual([{ status: 'pending', attempts: 0, claim_token: null }]);
      release();
      stub.script.delete('conv-handoff');
      services.push(await startIngestService('chat', chatCfg.readConfig(env), testLogger, startChat));
      await delivery.waitFor((v) => v.outboundId === out.outboundId && v.status === 'delivered');
      expect(delivery.seen.filter((s) => s.value.outboundId === out.outboundId).map((s) => `${s.value.status}:${s.value.attempt}`)).toEqual(['delivered:1']);
      const reqs = stub.of(out.outboundId);
      expect(reqs.length).toBeGreaterThanOrEqual(2);
      expect(reqs.every((r) => r.headers['idempotency-key'] === out.outboundId && r.rawBody === reqs[0]!.rawBody)).toBe(true);
    } finally {
      release();
    }
  });
});
