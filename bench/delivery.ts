/**
 * Outbound delivery throughput and latency over the real broker and database, to a local adapter
 * stub that answers 200 at once: N replies spread over C conversations are published to
 * omni.outbound.v1; we measure publish → callback arrival per reply and the time until every reply
 * has its `delivered` status. Run: KAFKA_BROKERS=… DATABASE_URL=… npm run bench:delivery
 * (BENCH_REPLIES, BENCH_CONVERSATIONS, DELIVERY_CONCURRENCY override the defaults).
 */
import { OutboundMessage, type DeliveryStatus } from '@omni/contracts';
import { startIngestService } from '@omni/ingest';
import { Publisher } from '@omni/kafka';
import * as chatCfg from '@omni/ingest-chat/src/config';
import { start as startChat } from '@omni/ingest-chat/src/start';
import { AdapterStub } from '../test/support/adapter-stub';
import { createWorld, testLogger, TopicWatcher } from '../test/support/infra';

process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
const REPLIES = Number(process.env.BENCH_REPLIES ?? 2000);
const CONVERSATIONS = Number(process.env.BENCH_CONVERSATIONS ?? 200);
const CONCURRENCY = process.env.DELIVERY_CONCURRENCY ?? '32';

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function main(): Promise<void> {
  const world = await createWorld('benchdelivery');
  const stub = new AdapterStub({ '/web': 'bench-secret-123' });
  await stub.listen();
  const delivery = await TopicWatcher.start<DeliveryStatus>(world, world.topics.delivery);
  const publisher = new Publisher(world.kafka);
  await publisher.connect();
  const svc = await startIngestService(
    'chat',
    chatCfg.readConfig(world.env({ ADAPTER_API_KEYS: 'web:k-web', DELIVERY_TARGETS: `adapter:web=${stub.url('/web')}|bench-secret-123`, DELIVERY_CONCURRENCY: CONCURRENCY, DELIVERY_POLL_MS: '200' })),
    testLogger,
    startChat,
  );
  try {
    for (let c = 0; c < CONVERSATIONS; c++) {
      const res = await fetch(`${svc.url}/v1/chat/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'k-web' },
        body: JSON.stringify({ adapterMessageId: `in-${c}`, channel: 'chat', threadKey: `s-${c}`, from: { address: `v-${c}` }, text: 'hola' }),
      });
      if (res.status !== 202) throw new Error(`seeding thread ${c}: HTTP ${res.status}`);
    }
    // warm-up: the consumer group must have joined before timing starts
    const warm: OutboundMessage = { schema: 'omni.outbound.v1', outboundId: 'warm', conversationId: 'warm', channel: 'chat', threadKey: 'chat:s-0', to: { channel: 'chat', address: 'v-0' }, agentId: 'a', text: 'w', createdAt: new Date().toISOString() };
    await publisher.publish([{ topic: world.topics.outbound, key: 'warm', value: warm, schema: OutboundMessage }]);
    await delivery.waitFor((v) => v.outboundId === 'warm' && v.status === 'delivered', 1, 120000);

    // baseline: what plain signed fetch POSTs to the same stub achieve on this machine right now
    const baseBody = (i: number) => JSON.stringify({ outboundId: `base-${i}`, conversationId: 'base' });
    let next = 0;
    const tb = Date.now();
    await Promise.all(
      Array.from({ length: Number(CONCURRENCY) }, async () => {
        while (next < 1000) {
          const i = next++;
          const r = await fetch(stub.url('/web'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: baseBody(i) });
          await r.text();
        }
      }),
    );
    const baseline = Math.round(1000_000 / (Date.now() - tb));

    const sentAt = new Map<string, number>();
    const msgs: OutboundMessage[] = Array.from({ length: REPLIES }, (_, i) => {
      const c = i % CONVERSATIONS;
      return { schema: 'omni.outbound.v1', outboundId: `b-${i}`, conversationId: `conv-${c}`, channel: 'chat', threadKey: `chat:s-${c}`, to: { channel: 'chat', address: `v-${c}` }, agentId: 'a', text: `reply ${i}`, createdAt: new Date().toISOString() };
    });
    const t0 = Date.now();
    for (let i = 0; i < msgs.length; i += 200) {
      const batch = msgs.slice(i, i + 200);
      const now = Date.now();
      batch.forEach((m) => sentAt.set(m.outboundId, now));
      await publisher.publish(batch.map((m) => ({ topic: world.topics.outbound, key: m.conversationId, value: m, schema: OutboundMessage })));
    }
    await stub.waitFor((r) => r.body.outboundId.startsWith('b-'), REPLIES, 600000);
    const tCallbacks = Date.now();
    await delivery.waitFor((v) => v.outboundId.startsWith('b-') && v.status === 'delivered', REPLIES, 600000);
    const tStatuses = Date.now();
    const lat = stub.requests.filter((r) => r.body.outboundId.startsWith('b-')).map((r) => r.at - sentAt.get(r.body.outboundId)!).sort((a, b) => a - b);
    console.log(`delivery bench: ${REPLIES} replies over ${CONVERSATIONS} conversations, DELIVERY_CONCURRENCY=${CONCURRENCY}`);
    console.log(`  baseline: plain fetch POSTs to the same stub, ${CONCURRENCY} in parallel: ${baseline} requests/s`);
    console.log(`  all callbacks received in ${tCallbacks - t0} ms → ${Math.round((REPLIES * 1000) / (tCallbacks - t0))} replies/s`);
    console.log(`  all 'delivered' statuses on omni.delivery.v1 after ${tStatuses - t0} ms`);
    const spread = await world.pool.query<{ accept_ms: string; deliver_ms: string }>(
      `SELECT (EXTRACT(EPOCH FROM max(created_at) - min(created_at)) * 1000)::int::text AS accept_ms,
              (EXTRACT(EPOCH FROM max(updated_at) - min(created_at)) * 1000)::int::text AS deliver_ms
       FROM ingest.deliveries WHERE outbound_id LIKE 'b-%'`,
    );
    console.log(`  consumer accepted all rows within ${spread.rows[0]!.accept_ms} ms of the first; last recorded at ${spread.rows[0]!.deliver_ms} ms`);
    console.log(`  publish → callback latency ms: p50 ${pct(lat, 50)}, p95 ${pct(lat, 95)}, p99 ${pct(lat, 99)}, max ${lat[lat.length - 1]}`);
  } finally {
    await svc.close();
    await publisher.disconnect();
    await delivery.stop();
    await stub.close();
    await world.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
