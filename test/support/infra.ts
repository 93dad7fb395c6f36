import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { Pool } from 'pg';
import pino from 'pino';
import { topicNames, type TopicNames } from '@omni/contracts';
import { ensureTopics } from '@omni/kafka';
import { TEST_JWT_SECRET } from './tokens';

/** A logger for services under test: silent unless TEST_LOG_LEVEL is set. */
export const testLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

function required(name: 'KAFKA_BROKERS' | 'DATABASE_URL'): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: integration tests must run under the jest global setup`);
  return v;
}

/**
 * An isolated world for one test file: a fresh database on the test server, a unique topic suffix
 * (so topics are the file's own) and fresh consumer group ids. `env` is what a service's config
 * reader gets.
 */
export interface TestWorld {
  id: string;
  databaseUrl: string;
  brokers: string;
  suffix: string;
  topics: TopicNames;
  kafka: Kafka;
  pool: Pool;
  env: (extra?: Record<string, string>) => NodeJS.ProcessEnv;
  groupId: (name: string) => string;
  close: () => Promise<void>;
}

export interface WorldOptions {
  /** partitions of every topic (3 unless given) */
  partitions?: number;
  /** replication of every topic (1 and 1 unless given; the cluster fault test uses 3 and 2) */
  replicationFactor?: number;
  minInsyncReplicas?: number;
}

/** Creates a world (tests, and the benches, which want more partitions). */
export async function createWorld(name: string, opts: WorldOptions = {}): Promise<TestWorld> {
  const partitions = opts.partitions ?? 3;
  const id = `${name.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 20)}_${randomBytes(4).toString('hex')}`;
  const serverUrl = required('DATABASE_URL');
  const brokers = required('KAFKA_BROKERS');
  const dbName = `omni_t_${id}`;
  const admin = new Pool({ connectionString: serverUrl, max: 1 });
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();
  const suffix = `.t${id}`;
  const topics = topicNames(suffix);
  const kafka = new Kafka({ brokers: brokers.split(','), clientId: `test-${id}`, logLevel: logLevel.NOTHING });
  const replicationFactor = opts.replicationFactor ?? 1;
  const minInsyncReplicas = opts.minInsyncReplicas ?? 1;
  await ensureTopics(kafka, topics, partitions, { replicationFactor, minInsyncReplicas });
  const pool = new Pool({ connectionString: databaseUrl, max: 4 });
  // pool.end() resolves before the server has closed every backend, so DROP DATABASE … WITH (FORCE)
  // in close() can still terminate one of them: that error is expected, not a test failure.
  pool.on('error', () => undefined);
  return {
    id,
    databaseUrl,
    brokers,
    suffix,
    topics,
    kafka,
    pool,
    env: (extra = {}) => ({
      KAFKA_BROKERS: brokers,
      DATABASE_URL: databaseUrl,
      KAFKA_TOPIC_SUFFIX: suffix,
      KAFKA_TOPIC_PARTITIONS: String(partitions),
      KAFKA_REPLICATION_FACTOR: String(replicationFactor),
      KAFKA_MIN_INSYNC_REPLICAS: String(minInsyncReplicas),
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'silent',
      // under jest, services stop within a quarter second instead of waiting out an idle 5 s fetch
      // (README: KAFKA_FETCH_MAX_WAIT_MS); the benchmarks, which build their worlds here too, keep
      // the product default, since it sets how often an idle consumer fetches
      // (history's timeline consumer likewise at its former 100 ms instead of the product's 500)
      ...(process.env.JEST_WORKER_ID ? { KAFKA_FETCH_MAX_WAIT_MS: '250', HISTORY_FETCH_MAX_WAIT_MS: '100' } : {}),
      // the key router and history verify staff tokens with (test/support/tokens.ts mints them)
      JWT_SECRET: TEST_JWT_SECRET,
      ...extra,
    }),
    groupId: (n: string) => `${n}-${id}-${randomBytes(3).toString('hex')}`,
    close: async () => {
      await pool.end();
      const a = new Pool({ connectionString: serverUrl, max: 1 });
      await a.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
      await a.end();
      const ka = kafka.admin();
      await ka.connect();
      await ka.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
      await ka.disconnect();
    },
  };
}

export interface Seen<T = unknown> {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: T;
}

/**
 * Reads a topic from the beginning with a fresh group id and keeps everything it saw, so a test can
 * wait for a message (or prove none came) without sleeping.
 */
export class TopicWatcher<T = Record<string, unknown>> {
  readonly seen: Seen<T>[] = [];
  private consumer?: Consumer;
  private waiters: (() => void)[] = [];

  private constructor(private readonly world: TestWorld, private readonly topic: string) {}

  static async start<T = Record<string, unknown>>(world: TestWorld, topic: string): Promise<TopicWatcher<T>> {
    const w = new TopicWatcher<T>(world, topic);
    // a short broker wait: stop() waits for the fetch in flight, and an idle one lasts maxWaitTimeInMs (kafkajs: 5 s)
    const consumer = world.kafka.consumer({ groupId: world.groupId('watch'), sessionTimeout: 30000, maxWaitTimeInMs: 250 });
    w.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic: t, partition, message }) => {
        w.seen.push({ topic: t, partition, offset: message.offset, key: message.key?.toString() ?? null, value: JSON.parse(message.value?.toString() ?? 'null') as T });
        const ws = w.waiters;
        w.waiters = [];
        ws.forEach((f) => f());
      },
    });
    return w;
  }

  /** Resolves with the matching messages once `count` of them have arrived; fails after the deadline. */
  async waitFor(pred: (v: T, s: Seen<T>) => boolean, count = 1, timeoutMs = 60000): Promise<Seen<T>[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.seen.filter((s) => pred(s.value, s));
      if (found.length >= count) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${count} matching message(s) on ${this.topic}; saw ${this.seen.length} in all (${found.length} matching)`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

/**
 * Polls `fn` until it returns a non-undefined value (a row in a table, an HTTP answer) or the
 * deadline passes. For state that has no event to wait on.
 */
export async function eventually<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 60000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A service under test: a fresh world, a watcher on omni.inbound.v1 and the service started on that world. */
export interface ServiceUnderTest {
  world: TestWorld;
  inbound: TopicWatcher;
  url: string;
  /** stops the service alone (idempotent); close() still tears down the rest */
  stopService: () => Promise<void>;
  close: () => Promise<void>;
}

export async function serviceUnderTest(name: string, startService: (world: TestWorld) => Promise<{ url: string; close: () => Promise<void> }>): Promise<ServiceUnderTest> {
  const world = await createWorld(name);
  const inbound = await TopicWatcher.start(world, world.topics.inbound);
  let s: { url: string; close: () => Promise<void> };
  try {
    s = await startService(world);
  } catch (err) {
    await inbound.stop();
    await world.close();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  const stopService = () => (stopped ??= s.close());
  return {
    world,
    inbound,
    url: s.url,
    stopService,
    close: async () => {
      await stopService();
      await inbound.stop();
      await world.close();
    },
  };
}
