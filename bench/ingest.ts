/**
 * npm run bench:ingest — accept throughput and latency of the four ingest services' adapter routes and
 * the Meta webhook, next to a raw kafkajs producer (acks=-1) on the same broker, in the same run.
 *
 * Each service runs in-process on a fresh database and a unique topic suffix (createWorld),
 * so the figures include the HTTP parse, schema validation, the dedupe lookup, the acked publish and
 * the dedupe insert. Env: KAFKA_BROKERS, DATABASE_URL, BENCH_MESSAGES (2000), BENCH_CONCURRENCY (50).
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import type { ChannelKind } from '@omni/contracts';
import { InboundMessage } from '@omni/contracts';
import { createKafka, Publisher } from '@omni/kafka';
import { createWorld } from '../test/support/infra';
import { startIngestService, type IngestServiceConfig, type IngestAppDeps } from '@omni/ingest';
import type { FastifyInstance } from 'fastify';
import * as chat from '@omni/ingest-chat/src/config';
import { start as startChat } from '@omni/ingest-chat/src/start';
import * as email from '@omni/ingest-email/src/config';
import { start as startEmail } from '@omni/ingest-email/src/start';
import * as phone from '@omni/ingest-phone/src/config';
import { start as startPhone } from '@omni/ingest-phone/src/start';
import * as social from '@omni/ingest-social/src/config';
import { start as startSocial } from '@omni/ingest-social/src/start';
import { adapterBody, drive, TEXT, type LoadJob, type LoadResult } from './ingest-load';

process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
const BROKERS = process.env.KAFKA_BROKERS;
const N = Number(process.env.BENCH_MESSAGES ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
// JIT warm-up matters: without it the first rows measured pay for compilation
const WARMUP = Number(process.env.BENCH_WARMUP ?? 600);
/** comma-separated subset of chat,email,phone,social,meta (all by default) */
const ONLY = new Set((process.env.BENCH_ROUTES ?? 'chat,email,phone,social,meta').split(',').map((s) => s.trim()));
const PARTITIONS = 6;
const API_KEY = 'bench-key-0123456789';
const META_SECRET = 'bench-meta-app-secret';

interface Result extends LoadResult {
  name: string;
  /** the raw producer rate measured right before this row (load on a shared machine drifts) */
  baselineRate?: number;
  /** main-thread event-loop busy time (the services, or the raw producer) per accepted message */
  busyMsPerMsg: number;
}

/** Runs fn and measures how long the main thread's event loop was busy meanwhile. */
async function busy<T extends LoadResult>(fn: () => Promise<T>): Promise<T & { busyMsPerMsg: number }> {
  const e0 = performance.eventLoopUtilization();
  const r = await fn();
  const e = performance.eventLoopUtilization(e0);
  return { ...r, busyMsPerMsg: e.active / Math.max(1, r.ok) };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** Sends a job to the load worker and waits for its result. */
function inWorker(worker: Worker, job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.postMessage(job);
  });
}

async function main(): Promise<void> {
  const world = await createWorld('benchingest', { partitions: PARTITIONS });
  const { id, topics, kafka } = world;
  const logger = pino({ level: 'silent' });
  const env: NodeJS.ProcessEnv = world.env({
    ADAPTER_API_KEYS: `bench:${API_KEY}`,
    META_APP_SECRET: META_SECRET,
    META_VERIFY_TOKEN: 'bench-verify',
    CHAT_SESSION_SECRET: 'bench-chat-session-secret',
    CHAT_WS_GROUP_ID: `bench-chat-ws-${id}`,
    CHAT_WAIT_GROUP_ID: `bench-chat-waits-${id}`,
    TWILIO_AUTH_TOKEN: 'bench-twilio-token',
    TWILIO_PUBLIC_URL: 'https://bench.example',
    // the load generator is one IP posting provider webhooks at full speed: measure throughput, not the per-IP limit
    PUBLIC_RATE_LIMIT_PER_MINUTE: '100000000',
    CREDENTIAL_RATE_LIMIT_PER_MINUTE: '100000000',
  });
  type Build<C> = (c: C, d: IngestAppDeps) => Promise<{ app: FastifyInstance; close?: () => Promise<void> }>;
  const services: { kind: ChannelKind; url: string; close: () => Promise<void> }[] = [];
  const startOne = async <C extends IngestServiceConfig>(kind: ChannelKind, read: (e: NodeJS.ProcessEnv) => C, build: Build<C>) => {
    try {
      const s = await startIngestService(kind, read(env), logger, build);
      services.push({ kind, url: s.url, close: s.close });
    } catch (err) {
      console.error(`ingest-${kind} did not start (skipped): ${(err as Error).message}`);
    }
  };
  // one after the other: they migrate the same schema
  if (ONLY.has('chat')) await startOne('chat', chat.readConfig, startChat);
  if (ONLY.has('email')) await startOne('email', email.readConfig, startEmail);
  if (ONLY.has('phone')) await startOne('phone', phone.readConfig, startPhone);
  if (ONLY.has('social') || ONLY.has('meta')) await startOne('social', social.readConfig, startSocial);

  const results: Result[] = [];
  // a worker does not inherit tsx's loader: register it, then load the TypeScript module
  const worker = new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(join(__dirname, 'ingest-load.ts'))});`, { eval: true });
  try {
    // Baseline: a plain kafkajs producer, acks=-1, one message per send, same sizes and concurrency,
    // on the main thread like the services' own producers.
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const sample = adapterBody('chat', 'raw-xxxxxxxx', 0);
    const raw = (tag: string) => (i: number) =>
      producer.send({ topic: topics.inbound, acks: -1, messages: [{ key: `bench-${i % 500}`, value: sample.replace('raw-xxxxxxxx', `${tag}${i}`) }] }).then(() => undefined);
    const baseline = async (name: string) => {
      const r = await busy(() => drive(N, CONCURRENCY, raw(`${name}-`)));
      results.push({ name: `  kafkajs raw producer (baseline)`, ...r });
      return r.ok / r.seconds;
    };
    await drive(WARMUP, CONCURRENCY, raw('warm-'));
    const routes: { name: string; job: Omit<LoadJob, 'run' | 'total' | 'concurrency'> }[] = [];
    for (const s of services.filter((x) => ONLY.has(x.kind))) routes.push({ name: `${s.kind}: POST /v1/${s.kind}/messages`, job: { url: `${s.url}/v1/${s.kind}/messages`, route: s.kind, apiKey: API_KEY, metaSecret: META_SECRET } });
    const soc = services.find((s) => s.kind === 'social');
    if (soc && ONLY.has('meta')) routes.push({ name: 'social: POST /v1/social/meta (Messenger)', job: { url: `${soc.url}/v1/social/meta`, route: 'meta', apiKey: API_KEY, metaSecret: META_SECRET } });
    for (const r of routes) await inWorker(worker, { ...r.job, run: `w${id}`, total: WARMUP, concurrency: CONCURRENCY });
    await drive(WARMUP, CONCURRENCY, raw('warm2-'));

    // Where the gap comes from: the services' own Publisher (idempotent producer, one request in
    // flight, concurrent calls coalesced), without HTTP or Postgres.
    const publisher = new Publisher(createKafka({ brokers: BROKERS, clientId: `bench-pub-${id}`, logger }));
    await publisher.connect();
    const now = new Date().toISOString();
    const viaPublisher = (tag: string) => (i: number) => {
      const value: InboundMessage = { schema: 'omni.inbound.v1', messageId: `msg_${tag}${i}`, channel: 'chat', provider: 'bench', providerMessageId: `${tag}${i}`, threadKey: `chat:bench-${i % 500}`, from: { channel: 'chat', address: `user-${i % 500}` }, sentAt: now, receivedAt: now, text: TEXT };
      return publisher.publish([{ topic: topics.inbound, key: value.threadKey, value, schema: InboundMessage }]);
    };
    await drive(WARMUP, CONCURRENCY, viaPublisher('pw-'));
    const pubBase = await baseline('publisher');
    results.push({ name: '@omni/kafka Publisher direct', baselineRate: pubBase, ...(await busy(() => drive(N, CONCURRENCY, viaPublisher('p-')))) });
    await publisher.disconnect();
    for (const r of routes) {
      const baselineRate = await baseline(r.name);
      const res = await busy(() => inWorker(worker, { ...r.job, run: `r${id}`, total: N, concurrency: CONCURRENCY }));
      if (res.firstError) console.error(`${r.name}: ${res.failed} failed, first: ${res.firstError}`);
      results.push({ name: r.name, baselineRate, ...res });
    }
    await producer.disconnect();
  } finally {
    worker.postMessage('stop');
    await worker.terminate().catch(() => undefined);
    for (const s of services) await s.close().catch(() => undefined);
    await world.close();
  }

  console.log(`\ningest bench: ${N} messages per row, concurrency ${CONCURRENCY}, ~${Buffer.byteLength(adapterBody('chat', 'x', 0))} B bodies, broker ${BROKERS}, ${PARTITIONS} partitions`);
  console.log('each route row follows the raw-producer row measured just before it; "vs raw" compares the two');
  console.log(['route'.padEnd(44), 'ok'.padStart(6), 'fail'.padStart(5), 'msgs/s'.padStart(8), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), 'vs raw'.padStart(7), 'busy ms/msg'.padStart(12)].join(' '));
  const ratios: number[] = [];
  for (const r of results) {
    const sorted = [...r.latenciesMs].sort((a, b) => a - b);
    const rate = r.ok / r.seconds;
    if (r.baselineRate) ratios.push(rate / r.baselineRate);
    console.log(
      [
        r.name.padEnd(44),
        String(r.ok).padStart(6),
        String(r.failed).padStart(5),
        rate.toFixed(0).padStart(8),
        pct(sorted, 50).toFixed(1).padStart(8),
        pct(sorted, 99).toFixed(1).padStart(8),
        (r.baselineRate ? `${((rate / r.baselineRate) * 100).toFixed(0)}%` : '').padStart(7),
        r.busyMsPerMsg.toFixed(3).padStart(12),
      ].join(' '),
    );
  }
  console.log(`goal: every ingest route ≥ 70% of the raw producer rate; lowest here ${(Math.min(...ratios) * 100).toFixed(0)}%`);
  console.log('busy ms/msg: main-thread event-loop time per message (services for route rows, producer for raw rows); on a CPU-starved machine the rate ratio follows it');
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
