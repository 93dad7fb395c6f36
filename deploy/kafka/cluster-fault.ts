/**
 * npm run cluster:fault — broker loss under load on a three-broker KRaft cluster (deploy/kafka/kafka.sh
 * with KAFKA_NODES=3 on free ports), topics with replication factor 3 and min.insync.replicas 2.
 *
 * ingest-chat runs in-process and takes a steady stream of adapter messages while:
 *   1. all three brokers are up;
 *   2. broker 2 is stopped (2 of 3 in sync ≥ min.insync.replicas: every request must be accepted);
 *   3. broker 2 is back and every partition is fully in sync again;
 *   4. broker 3 is stopped (again 2 of 3: every request accepted);
 *   5. broker 1 is stopped as well (1 < min.insync.replicas: ingest must answer 503, never 2xx);
 *   6. brokers 1 and 3 are back.
 * Then every acknowledged message (202) is looked for on omni.inbound.v1: none may be missing.
 * Exits non-zero on any violation. Not part of `npm test` (it needs ~3 minutes and three JVMs).
 *
 * Env: KAFKA_BROKERS is ignored (the script runs its own cluster); DATABASE_URL as for the tests
 * (else the local or embedded PostgreSQL); FAULT_RATE (requests/s, 40); FAULT_PHASE_S (10).
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { startIngestService } from '@omni/ingest';
import { readConfig } from '@omni/ingest-chat/src/config';
import { start as startChat } from '@omni/ingest-chat/src/start';
import { freePort, localPostgres, stopEmbedded } from '../postgres/local-pg';
import { createWorld, testLogger } from '../../test/support/infra';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..', '..');
const RATE = Number(process.env.FAULT_RATE ?? 40);
const PHASE_MS = Number(process.env.FAULT_PHASE_S ?? 10) * 1000;

/** phase when the request was sent and when its answer came */
type Outcome = { phase: string; phaseEnd: string; status: number; messageId?: string; ms: number; at: string };
const BELOW_MIN_ISR = new Set(['brokers 1 and 3 down', 'brokers returning']);

async function main(): Promise<void> {
  const port = await freePort();
  const dataDir = path.join(root, '.run', `cluster-fault-${process.pid}`);
  const kenv = { ...process.env, KAFKA_NODES: '3', KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(port + 10), KAFKA_DATA_DIR: dataDir };
  const kafkaSh = (...args: string[]) => run('bash', [path.join(root, 'deploy/kafka/kafka.sh'), ...args], { env: kenv, timeout: 240000 });
  const log = (msg: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

  let pgName: string | undefined;
  if (!process.env.DATABASE_URL) {
    const pg = await localPostgres({ name: `cluster-fault-pg-${process.pid}`, port: await freePort(), fresh: true });
    if (pg.started) pgName = `cluster-fault-pg-${process.pid}`;
    process.env.DATABASE_URL = pg.serverUrl;
  }
  log('starting a 3-broker cluster');
  rmSync(dataDir, { recursive: true, force: true });
  await kafkaSh('start');
  const brokers = (await kafkaSh('brokers')).stdout.trim();
  process.env.KAFKA_BROKERS = brokers;
  const failures: string[] = [];
  const world = await createWorld('clusterfault', { partitions: 6, replicationFactor: 3, minInsyncReplicas: 2 });
  const service = await startIngestService('chat', readConfig(world.env({ ADAPTER_API_KEYS: 'fault:fault-key' })), testLogger, startChat);
  const admin = new Kafka({ brokers: brokers.split(','), clientId: 'cluster-fault', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();

  const outcomes: Outcome[] = [];
  let phase = 'all up';
  let seq = 0;
  let running = true;
  const inflight = new Set<Promise<void>>();
  const one = async () => {
    const id = `fault-${seq++}`;
    const started = Date.now();
    const p = phase;
    try {
      const res = await fetch(`${service.url}/v1/chat/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'fault-key' },
        body: JSON.stringify({ adapterMessageId: id, channel: 'chat', threadKey: `t-${seq % 50}`, from: { address: `v-${seq % 50}` }, text: `message ${id}` }),
        signal: AbortSignal.timeout(60000),
      });
      const body = (await res.json().catch(() => ({}))) as { messageId?: string };
      outcomes.push({ phase: p, phaseEnd: phase, status: res.status, messageId: body.messageId, ms: Date.now() - started, at: new Date(started).toISOString().slice(11, 23) });
    } catch {
      outcomes.push({ phase: p, phaseEnd: phase, status: 0, ms: Date.now() - started, at: new Date(started).toISOString().slice(11, 23) });
    }
  };
  const load = (async () => {
    while (running) {
      const p = one();
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      await new Promise((r) => setTimeout(r, 1000 / RATE));
    }
  })();
  const hold = (ms = PHASE_MS) => new Promise((r) => setTimeout(r, ms));
  const fullyInSync = async (timeoutMs = 120000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const md = await admin.fetchTopicMetadata({ topics: [world.topics.inbound] }).catch(() => undefined);
      const parts = md?.topics[0]?.partitions ?? [];
      if (parts.length > 0 && parts.every((p) => p.isr.length === 3)) return;
      if (Date.now() > deadline) throw new Error('partitions not fully in sync in time');
      await hold(500);
    }
  };

  try {
    await hold();
    phase = 'broker 2 down';
    log('stopping broker 2');
    await kafkaSh('stop-node', '2');
    await hold();
    phase = 'broker 2 returning';
    log('starting broker 2');
    await kafkaSh('start-node', '2');
    await fullyInSync();
    log('all partitions in sync (3/3)');
    phase = 'all up again';
    await hold(PHASE_MS / 2);
    phase = 'broker 3 down';
    log('stopping broker 3');
    await kafkaSh('stop-node', '3');
    await hold();
    phase = 'brokers 1 and 3 down';
    log('stopping broker 1 as well: one broker left, below min.insync.replicas');
    await kafkaSh('stop-node', '1');
    await hold();
    phase = 'brokers returning';
    log('starting brokers 1 and 3');
    await Promise.all([kafkaSh('start-node', '1'), kafkaSh('start-node', '3')]);
    await fullyInSync();
    phase = 'recovered';
    await hold(PHASE_MS / 2);
  } finally {
    running = false;
    await load;
    await Promise.all([...inflight]);
  }

  // Summary per phase
  const phases = [...new Set(outcomes.map((o) => o.phase))];
  log('phase                     sent   2xx   503  other   p99 ms');
  for (const ph of phases) {
    const os = outcomes.filter((o) => o.phase === ph);
    const ok = os.filter((o) => o.status >= 200 && o.status < 300).length;
    const s503 = os.filter((o) => o.status === 503).length;
    // a 503 is wrong when min.insync.replicas brokers were up from the request's start to its answer
    const wrong503 = os.filter((o) => o.status === 503 && !BELOW_MIN_ISR.has(o.phase) && !BELOW_MIN_ISR.has(o.phaseEnd)).length;
    const lat = os.map((o) => o.ms).sort((a, b) => a - b);
    const p99 = lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))] ?? 0;
    log(`${ph.padEnd(25)} ${String(os.length).padStart(5)} ${String(ok).padStart(5)} ${String(s503).padStart(5)} ${String(os.length - ok - s503).padStart(6)} ${String(p99).padStart(8)}`);
    const other = os.filter((o) => !(o.status >= 200 && o.status < 300) && o.status !== 503);
    if (other.length) failures.push(`${ph}: ${other.length} answers neither 2xx nor 503 (${[...new Set(other.map((o) => o.status))].join(',')})`);
    // with at least min.insync.replicas brokers up, nothing may be refused
    if (wrong503 > 0) failures.push(`${ph}: ${wrong503} × 503 while ≥ 2 brokers were up`);
    if (ph === 'brokers 1 and 3 down' && s503 === 0) failures.push(`${ph}: no 503 while below min.insync.replicas`);
  }

  // Every acknowledged message must be on the topic.
  const acked = new Set(outcomes.filter((o) => o.status === 202 && o.messageId).map((o) => o.messageId!));
  const offsets = await admin.fetchTopicOffsets(world.topics.inbound);
  const total = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  const seen = new Set<string>();
  const consumer = world.kafka.consumer({ groupId: world.groupId('verify') });
  await consumer.connect();
  await consumer.subscribe({ topic: world.topics.inbound, fromBeginning: true });
  let read = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${read} of ${total} records in time`)), 120000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        read++;
        const v = JSON.parse(message.value!.toString()) as { messageId?: string };
        if (v.messageId) seen.add(v.messageId);
        if (read >= total) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  }).catch((err: Error) => failures.push(err.message));
  await consumer.disconnect();
  const missing = [...acked].filter((id) => !seen.has(id));
  log(`acknowledged ${acked.size}, on the topic ${seen.size} distinct (${total} records), missing ${missing.length}`);
  for (const id of missing.slice(0, 10)) {
    const o = outcomes.find((x) => x.messageId === id)!;
    log(`missing ${id}: sent ${o.at} during "${o.phase}", answered 202 after ${o.ms} ms during "${o.phaseEnd}"`);
  }
  if (missing.length) failures.push(`${missing.length} acknowledged messages missing, e.g. ${missing.slice(0, 3).join(', ')}`);

  await admin.disconnect();
  await service.close();
  await world.close();
  await kafkaSh('stop');
  rmSync(dataDir, { recursive: true, force: true });
  if (pgName) stopEmbedded(pgName, process.env, true);
  if (failures.length) {
    log(`FAILED:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  } else {
    log('passed: no acknowledged message lost; 503 only below min.insync.replicas');
  }
}

main().catch((err: Error) => {
  process.stderr.write(`cluster-fault: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
