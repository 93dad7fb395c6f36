/**
 * History write path: timeline events/s written from Kafka to Postgres by the real history consumer
 * (start() of the service: batches, identity resolution, projection, outbox), next to a raw
 * multi-row INSERT into the same table in the same run, and consumer lag sampled while events are
 * produced at a steady rate.
 *
 *   npm run bench:history
 *   BENCH_CONVERSATIONS=4000 BENCH_RATE=2000 BENCH_STEADY_S=15 npm run bench:history
 *
 * Needs KAFKA_BROKERS and DATABASE_URL (defaults: 127.0.0.1:9092, postgres://postgres@127.0.0.1:5432/postgres).
 * Creates its own database and topics and removes them afterwards.
 */
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import pino from 'pino';
import type { Party, TopicNames } from '@omni/contracts';
import { Publisher, type OutgoingRecord } from '@omni/kafka';
import { createWorld } from '../test/support/infra';
import { readConfig } from '../services/history/src/config';
import { start } from '../services/history/src/start';
import { Script } from '../services/history/test/support/events';

process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
const CONVERSATIONS = Number(process.env.BENCH_CONVERSATIONS ?? 4000);
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 1500);
const RATE = Number(process.env.BENCH_RATE ?? 2000);
const STEADY_S = Number(process.env.BENCH_STEADY_S ?? 15);
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 6);

function party(n: number): Party {
  switch (n % 4) {
    case 0:
      return { channel: 'chat', address: `visitor-${n}`, email: `c${n}@bench.test` };
    case 1:
      return { channel: 'email', address: `c${n}@bench.test` };
    case 2:
      return { channel: 'whatsapp', address: `3460${String(n).padStart(7, '0')}`, phone: `+3460${String(n).padStart(7, '0')}` };
    default:
      return { channel: 'sms', address: `+3461${String(n).padStart(7, '0')}` };
  }
}

/** One conversation as ingest and the router would publish it: 7 events on 4 topics. */
function conversation(s: Script, tag: string, i: number, t0: number) {
  const p = party(i % CUSTOMERS);
  const at = (sec: number) => new Date(t0 + sec * 1000).toISOString();
  const c = { conversationId: `${tag}-c${i}`, customer: p, tier: 1 };
  s.inbound(`${tag}-in${i}`, p, at(0), 'no puedo entrar en mi cuenta, ayuda por favor', `${p.channel}:${tag}-t${i}`);
  s.conv(`${tag}-op${i}`, 'conversation.opened', { ...c, at: at(1) }, { messageId: `${tag}-in${i}`, category: 'access' });
  s.conv(`${tag}-q${i}`, 'conversation.queued', { ...c, at: at(1) });
  s.conv(`${tag}-as${i}`, 'conversation.assigned', { ...c, at: at(30) }, { agentId: `agent-${i % 40}` });
  s.outbound(`${tag}-out${i}`, { conversationId: c.conversationId, to: p, agentId: `agent-${i % 40}`, at: at(60), text: 'te envío un enlace para restablecerla' });
  s.delivery(`${tag}-dl${i}`, { outboundId: `${tag}-out${i}`, conversationId: c.conversationId, to: p, at: at(61), status: 'delivered' });
  s.conv(`${tag}-rs${i}`, 'conversation.resolved', { ...c, at: at(300) }, { agentId: `agent-${i % 40}` });
}

async function lag(kafka: Kafka, groupId: string, topics: string[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let total = 0;
    const committed = await admin.fetchOffsets({ groupId, topics });
    for (const t of committed) {
      const ends = await admin.fetchTopicOffsets(t.topic);
      for (const p of t.partitions) {
        const end = Number(ends.find((e) => e.partition === p.partition)?.high ?? 0);
        total += end - Math.max(0, Number(p.offset));
      }
    }
    return total;
  } finally {
    await admin.disconnect();
  }
}

async function timelineCount(pool: Pool, prefix: string): Promise<number> {
  const r = await pool.query<{ n: string }>('SELECT count(*) AS n FROM history.timeline WHERE event_id LIKE $1::text', [`${prefix}%`]);
  return Number(r.rows[0]!.n);
}

async function publishAll(publisher: Publisher, records: OutgoingRecord[]) {
  for (let i = 0; i < records.length; i += 2000) await publisher.publish(records.slice(i, i + 2000));
}

async function main() {
  const world = await createWorld('benchhistory', { partitions: PARTITIONS });
  const { id, topics, kafka, pool } = world;
  const publisher = new Publisher(kafka);
  await publisher.connect();
  const groupId = `history-bench-${id}`;
  const consumed = [topics.inbound, topics.conversations, topics.outbound, topics.delivery];
  let service: Awaited<ReturnType<typeof start>> | undefined;
  try {
    // 1. Backlog: everything is in Kafka before the consumer starts; time how fast it drains.
    const s = new Script(topics);
    const t0 = Date.parse('2026-06-01T00:00:00Z');
    for (let i = 0; i < CONVERSATIONS; i++) conversation(s, 'b', i, t0 + i * 1000);
    const { records } = s.take();
    const pubStart = performance.now();
    await publishAll(publisher, records);
    const pubMs = performance.now() - pubStart;
    console.log(`published ${records.length} events (${CONVERSATIONS} conversations, ${CUSTOMERS} customers) in ${(pubMs / 1000).toFixed(1)} s`);

    const cfg = readConfig(
      world.env({
        HISTORY_GROUP_ID: groupId,
        ...(process.env.HISTORY_PARTITIONS_CONCURRENTLY ? { HISTORY_PARTITIONS_CONCURRENTLY: process.env.HISTORY_PARTITIONS_CONCURRENTLY } : {}),
      }),
    );
    const drainStart = performance.now();
    service = await start(cfg, pino({ level: 'silent' }));
    let firstRowAt: number | undefined;
    for (;;) {
      const n = await timelineCount(pool, 'b-');
      if (n > 0 && firstRowAt === undefined) firstRowAt = performance.now();
      if (n >= records.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const drainMs = performance.now() - (firstRowAt ?? drainStart);
    const consumerRate = records.length / (drainMs / 1000);
    console.log(`consumer: ${records.length} events in ${(drainMs / 1000).toFixed(2)} s (from first row; ${((performance.now() - drainStart) / 1000).toFixed(2)} s incl. start-up) = ${consumerRate.toFixed(0)} events/s`);

    // 2. Baseline: the same number of rows into the same table with raw multi-row INSERTs (500 rows each).
    const customer = (await pool.query<{ id: string }>('SELECT id FROM history.customers LIMIT 1')).rows[0]!.id;
    const sample = JSON.stringify(records[0]!.value);
    const rows = records.length;
    // twice, on a table already holding the consumer's rows, to damp the noise of a shared machine
    const baseRates: number[] = [];
    for (const round of [1, 2]) {
      const baseStart = performance.now();
      for (let i = 0; i < rows; i += 500) {
        const n = Math.min(500, rows - i);
        const values: string[] = [];
        const params: unknown[] = [];
        for (let j = 0; j < n; j++) {
          const o = params.length;
          values.push(`($${o + 1}::text, $${o + 2}::text, $${o + 3}::timestamptz, $${o + 4}::text, $${o + 5}::text, $${o + 6}::text, $${o + 7}::text, $${o + 8}::int, $${o + 9}::text, $${o + 10}::text, $${o + 11}::jsonb)`);
          params.push(`raw${round}-${i + j}`, customer, new Date(t0 + (i + j) * 1000).toISOString(), 'conversation.queued', 'chat', `raw-c${(i + j) >> 3}`, 'chat:raw', 1, null, 'bench', sample);
        }
        await pool.query(
          `INSERT INTO history.timeline (event_id, customer_id, occurred_at, kind, channel, conversation_id, thread_key, tier, agent_id, source_topic, payload) VALUES ${values.join(', ')}`,
          params,
        );
      }
      const baseMs = performance.now() - baseStart;
      baseRates.push(rows / (baseMs / 1000));
      console.log(`baseline #${round}: ${rows} rows by multi-row INSERT (500/statement, 1 connection) in ${(baseMs / 1000).toFixed(2)} s = ${baseRates[baseRates.length - 1]!.toFixed(0)} rows/s`);
    }
    const baseRate = baseRates.reduce((a, b) => a + b, 0) / baseRates.length;
    console.log(`consumer / baseline (mean ${baseRate.toFixed(0)} rows/s) = ${((100 * consumerRate) / baseRate).toFixed(0)}% (goal ≥ 50%)`);

    // 3. Steady rate: produce at RATE events/s for STEADY_S seconds and sample the group's lag.
    const s2 = new Script(topics);
    const perConv = 7;
    const convs = Math.ceil((RATE * STEADY_S) / perConv);
    for (let i = 0; i < convs; i++) conversation(s2, 's', i, t0 + i * 1000);
    const steady = s2.take().records;
    const samples: { t: number; lag: number }[] = [];
    const runStart = performance.now();
    let sent = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push({ t: (performance.now() - runStart) / 1000, lag: await lag(kafka, groupId, consumed) });
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    while (sent < steady.length) {
      const due = Math.min(steady.length, Math.floor(((performance.now() - runStart) / 1000) * RATE));
      if (due > sent) {
        await publisher.publish(steady.slice(sent, due));
        sent = due;
      } else await new Promise((r) => setTimeout(r, 20));
    }
    const produceS = (performance.now() - runStart) / 1000;
    for (;;) {
      if ((await timelineCount(pool, 's-')) >= steady.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const catchUpS = (performance.now() - runStart) / 1000 - produceS;
    sampling = false;
    await sampler;
    console.log(`steady: ${steady.length} events at ${RATE}/s target (${(steady.length / produceS).toFixed(0)}/s achieved) over ${produceS.toFixed(1)} s; caught up ${catchUpS.toFixed(2)} s after the last send`);
    console.log(`lag samples (s: events behind): ${samples.map((x) => `${x.t.toFixed(0)}:${x.lag}`).join(' ')}`);
    const lags = samples.map((x) => x.lag);
    console.log(`lag max ${Math.max(...lags)}, mean ${(lags.reduce((a, b) => a + b, 0) / Math.max(1, lags.length)).toFixed(0)}`);
  } finally {
    await service?.close().catch(() => undefined);
    await publisher.disconnect().catch(() => undefined);
    await world.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
