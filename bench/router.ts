/**
 * Router end to end: chat adapter POST (HTTP 2xx = in Kafka) → router consumes, classifies, queues,
 * matches in Postgres → offer frame on the agent's websocket. ingest-chat and the router run as
 * their own processes (as deployed: `node --import tsx services/…/src/main.ts`); this process is
 * the load generator (node:http, keep-alive) and the agents' consoles, so both ends of each
 * measurement are on one clock. Prints assignments/s and the latency
 * from each 2xx to its offer frame (p50, p99) at a stated message rate, next to a raw baseline of
 * the same Kafka hop (publish ack → consumer receive) measured in the same run.
 *
 *   npm run bench:router
 *   BENCH_RATE=500 BENCH_SECONDS=10 BENCH_AGENTS=20 npm run bench:router
 *
 * Needs KAFKA_BROKERS and DATABASE_URL (defaults: 127.0.0.1:9092, postgres://postgres@127.0.0.1:5432/postgres).
 * Creates its own database and topics and removes them afterwards. Agents accept every
 * offer (and with BENCH_CHURN=1 resolve it at once, so capacity churns); there are enough agents
 * (capacity 100 each) that no conversation waits for a free agent: the figure is routing cost.
 *
 * "postgres" and "kafka" CPU are the server behind DATABASE_URL (its postmaster and children) and
 * the broker listening on KAFKA_BROKERS' first port, so a run against a private PostgreSQL and broker
 * is not charged for other work on the machine. With pg_stat_statements loaded on that server
 * (shared_preload_libraries) the run also prints the statements per routed message and per idle
 * second. BENCH_CPU_PROF=<dir> writes V8 CPU profiles of the services named in
 * BENCH_CPU_PROF_SERVICES (default router,ingest-chat); `node --import tsx
 * bench/support/profile-top.ts <file>` summarises one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request, Agent } from 'node:http';
import { createServer } from 'node:net';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import WebSocket from 'ws';
import { InboundMessage } from '@omni/contracts';
import { Publisher, createKafka } from '@omni/kafka';
import { createWorld } from '../test/support/infra';
import { mintToken } from '../services/router/src/auth/tokens';

process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
const BROKERS = process.env.KAFKA_BROKERS;
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
/** 1 = agents accept and resolve every offer (capacity churns); 0 = they accept and keep it */
const CHURN = process.env.BENCH_CHURN === '1';
const AGENTS = Number(process.env.BENCH_AGENTS ?? Math.max(20, Math.ceil((RATE * SECONDS + 40) / 90)));
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 6);
const SECRET = 'bench-secret-0123456789abcdef';
const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'error' });
const PROFILED = new Set((process.env.BENCH_CPU_PROF_SERVICES ?? 'router,ingest-chat').split(','));

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');

/** A free TCP port on 127.0.0.1 (for the service processes; they print nothing we could parse). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

interface Proc {
  url: string;
  pid: number;
  stop: () => Promise<void>;
  /** statements sent to PostgreSQL so far (bench/support/pg-count.cjs), when counted */
  statements: () => Promise<number>;
}

/** Starts a service's main.ts as its own process and waits until /readyz answers 200. */
async function startService(name: string, env: Record<string, string>): Promise<Proc> {
  return startProcess(name, [join(__dirname, '..', 'services', name, 'src', 'main.ts')], env);
}

/** Starts a TypeScript entry as its own process (statements to PostgreSQL counted) and waits for /readyz. */
async function startProcess(name: string, args: string[], env: Record<string, string>): Promise<Proc> {
  const port = await freePort();
  const countFile = join(tmpdir(), `bench-pg-${process.pid}-${name}-${port}`);
  // BENCH_CPU_PROF=<dir>: V8 CPU profiles of the router and ingest-chat, one file per thread (the
  // largest is the main thread; tsx's loader runs in another), written when they stop. The profiler
  // costs CPU of its own: CPU and idle figures of such a run are not comparable with others.
  const prof = process.env.BENCH_CPU_PROF && PROFILED.has(name) ? ['--cpu-prof', '--cpu-prof-dir', join(process.env.BENCH_CPU_PROF, `${name}-${RATE}`)] : [];
  const child: ChildProcess = spawn(process.execPath, [...prof, '--require', join(__dirname, 'support', 'pg-count.cjs'), '--import', 'tsx', ...args], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', BENCH_PG_COUNT_FILE: countFile },
    stdio: ['ignore', process.env.BENCH_CHILD_LOGS ? 'inherit' : 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 60000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before it was ready`);
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`${name} not ready within 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
    statements: async () => {
      rmSync(countFile, { force: true });
      child.kill('SIGWINCH');
      const until = Date.now() + 5000;
      while (!existsSync(countFile) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      return existsSync(countFile) ? Number(readFileSync(countFile, 'utf8')) : NaN;
    },
  };
}

/** The pid of the process listening on this local TCP port (from /proc/net/tcp* and /proc/<pid>/fd), if any. */
function pidListening(port: number): number | undefined {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const l of readFileSync(f, 'utf8').split('\n').slice(1)) {
        const c = l.trim().split(/\s+/);
        if (c[1]?.endsWith(`:${hex}`) && c[3] === '0A') inodes.add(c[9]!);
      }
    } catch {
      // not Linux
    }
  }
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      for (const fd of readdirSync(`/proc/${d}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${d}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return Number(d);
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
}

/**
 * Whose CPU counts as "postgres" and "kafka": the postmaster serving DATABASE_URL with its children,
 * and the broker listening on the first KAFKA_BROKERS port. Other PostgreSQL servers and brokers on
 * this machine (other sessions' tests) are left out; with neither found, every postgres process and
 * every Kafka JVM counts, as before.
 */
let serverPids: { postmaster?: number; kafka?: number } = {};
async function findServers(pool: { query: (sql: string) => Promise<{ rows: { pid: number }[] }> }): Promise<void> {
  const backend = (await pool.query('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  let postmaster: number | undefined;
  try {
    const st = readFileSync(`/proc/${backend}/stat`, 'utf8');
    postmaster = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    postmaster = undefined; // the server is not on this machine
  }
  serverPids = { postmaster, kafka: pidListening(Number(BROKERS.split(',')[0]!.split(':')[1])) };
}

/**
 * CPU time used so far (ms) by the router and ingest processes, the Postgres server, the Kafka
 * broker and this process, read from /proc (Linux; empty elsewhere). Sampled at the start and end
 * of the measured phase, it says where a message's CPU goes, which on a shared machine is steadier
 * than latency.
 */
function cpuSnapshot(pids: Record<string, number>): Map<string, number> {
  const byPid = new Map(Object.entries(pids).map(([k, v]) => [v, k]));
  const out = new Map<string, number>();
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  const add = (k: string, ms: number) => out.set(k, (out.get(k) ?? 0) + ms);
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const d of entries) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(f[11]) + Number(f[12])) * tick; // utime + stime
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const pid = Number(d);
      const ppid = Number(f[1]);
      if (byPid.has(pid)) add(byPid.get(pid)!, ms);
      // the postmaster's cutime/cstime: backends that exited in between (it reaps them)
      else if (pid === serverPids.postmaster) add('postgres', ms + (Number(f[13]) + Number(f[14])) * tick);
      else if (comm === 'postgres' && (serverPids.postmaster === undefined || ppid === serverPids.postmaster)) add('postgres', ms);
      else if (comm === 'java' && (serverPids.kafka === undefined ? readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('kafka') : pid === serverPids.kafka)) add('kafka', ms);
    } catch {
      // the process ended meanwhile
    }
  }
  const own = process.cpuUsage();
  add('bench (load + consoles)', (own.user + own.system) / 1000);
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    add('machine idle', ((cpu[3] ?? 0) + (cpu[4] ?? 0)) * tick);
  } catch {
    // not Linux
  }
  return out;
}

/**
 * pg_stat_statements of the bench database, when the server has it loaded
 * (shared_preload_libraries): reset at the start of the measured window, read at its end.
 */
async function statementStats(pool: { query: (sql: string) => Promise<{ rows: Record<string, unknown>[] }> }, op: 'reset' | 'read', perMessage = 1): Promise<string[]> {
  try {
    await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    if (op === 'reset') {
      await pool.query('SELECT pg_stat_statements_reset()');
      return [];
    }
    const { rows } = await pool.query(
      `SELECT calls, total_exec_time, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS q FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 25`,
    );
    return rows.map((r) => `    ${fmt(Number(r.calls) / perMessage).padStart(6)}/msg ${fmt(Number(r.total_exec_time) / perMessage).padStart(6)} ms/msg  ${String(r.q)}`);
  } catch {
    return op === 'read' ? ['    (pg_stat_statements not loaded on this server)'] : [];
  }
}

/**
 * Waits until the broker answers metadata for every partition of a just-created topic: runs failed
 * now and then with "This server does not host this topic-partition" on the first send to a topic
 * createTopics had reported ready.
 */
async function topicReady(admin: ReturnType<Awaited<ReturnType<typeof createWorld>>['kafka']['admin']>, topic: string): Promise<void> {
  const until = Date.now() + 30000;
  for (;;) {
    const ok = await admin.fetchTopicMetadata({ topics: [topic] }).then(
      (m) => m.topics[0]?.partitions.length === PARTITIONS && m.topics[0].partitions.every((p) => p.leader >= 0),
      () => false,
    );
    if (ok) return;
    if (Date.now() > until) throw new Error(`topic ${topic} has no leaders after 30 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Calls fn RATE times a second for SECONDS (open loop: a slow answer does not slow the sender). */
async function atRate(rate: number, seconds: number, fn: (i: number) => Promise<void>): Promise<void> {
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(fn(i));
  }
  await Promise.all(inflight);
}

/** CPU ms per message per process between two snapshots (without the machine's idle counter). */
function perMessage(cpu0: Map<string, number>, cpu1: Map<string, number>, n: number): Map<string, number> {
  return new Map([...cpu1].filter(([k]) => k !== 'machine idle').map(([k, v]) => [k, (v - (cpu0.get(k) ?? 0)) / Math.max(1, n)]));
}
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const line = (m: Map<string, number>) => [...m].map(([k, v]) => `${k} ${fmt(v)}`).join(', ');

interface PhaseResult {
  lat: number[];
  offers: number;
  cpu: Map<string, number>;
  statementsPerMessage: number;
}

/**
 * The bare pipeline (bench/bare-pipeline.ts) at the same rate: POST → kafkajs acks=-1 → consumer →
 * one transaction inserting a conversation and an offer → one websocket frame; 2xx → frame timed here.
 */
async function barePipeline(world: Awaited<ReturnType<typeof createWorld>>, env: Record<string, string>): Promise<PhaseResult> {
  const topic = `bench.router.bare${world.suffix}`;
  const ka = world.kafka.admin();
  await ka.connect();
  await ka.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }] });
  await topicReady(ka, topic);
  await ka.disconnect();
  const script = join(__dirname, 'bare-pipeline.ts');
  const bareEnv = { ...env, BARE_TOPIC: topic, BARE_GROUP: `bare-${world.id}`, BARE_PARTITIONS: String(PARTITIONS) };
  const consumer = await startProcess('bare-consumer', [script, 'consumer'], bareEnv);
  const ingest = await startProcess('bare-ingest', [script, 'ingest'], bareEnv);
  try {
    const framedAt = new Map<string, number>();
    const ws = new WebSocket(consumer.url.replace('http', 'ws'));
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as { conversation?: { lastText?: string } };
      const tag = /\[(b?m\d+|bw\d+)\]/.exec(f.conversation?.lastText ?? '')?.[1];
      if (tag && !framedAt.has(tag)) framedAt.set(tag, performance.now());
    });
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 64 });
    const u = new URL(ingest.url);
    const post = (tag: string) =>
      new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ threadKey: tag, text: `[${tag}] I forgot my password` });
        const req = request(
          { host: u.hostname, port: u.port, path: '/messages', method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    await Promise.all(Array.from({ length: 20 }, (_, i) => post(`bw${i}`)));
    const warm = Date.now() + 30000;
    while ([...framedAt.keys()].filter((k) => k.startsWith('bw')).length < 20 && Date.now() < warm) await new Promise((r) => setTimeout(r, 50));
    const okAt = new Map<string, number>();
    const pids = { 'bare ingest': ingest.pid, 'bare consumer': consumer.pid };
    const st0 = await consumer.statements();
    const cpu0 = cpuSnapshot(pids);
    await atRate(RATE, SECONDS, async (i) => {
      const status = await post(`bm${i}`).catch(() => 0);
      if (status === 202) okAt.set(`bm${i}`, performance.now());
    });
    const deadline = Date.now() + 60000;
    const done = () => [...okAt.keys()].filter((k) => framedAt.has(k)).length;
    while (done() < okAt.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const cpu1 = cpuSnapshot(pids);
    const st1 = await consumer.statements();
    ws.close();
    const lat = [...okAt].filter(([k]) => framedAt.has(k)).map(([k, t]) => framedAt.get(k)! - t);
    return { lat, offers: done(), cpu: perMessage(cpu0, cpu1, done()), statementsPerMessage: (st1 - st0) / Math.max(1, done()) };
  } finally {
    await ingest.stop();
    await consumer.stop();
    const kb = world.kafka.admin();
    await kb.connect();
    await kb.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await kb.disconnect();
  }
}

async function main(): Promise<void> {
  const world = await createWorld('benchrouter', { partitions: PARTITIONS });
  const { id, suffix, topics, kafka } = world;
  await findServers(world.pool);
  const env = world.env({
    LOG_LEVEL: 'warn',
    // router tuning knobs pass through (MATCH_WORKERS, PG_POOL_MAX, INBOUND_CONCURRENCY…)
    ...Object.fromEntries(['MATCH_WORKERS', 'PG_POOL_MAX', 'INBOUND_CONCURRENCY', 'INBOUND_TX_MAX', 'MATCH_BATCH_SIZE'].filter((k) => process.env[k]).map((k) => [k, process.env[k]!])),
  }) as Record<string, string>;
  const closers: (() => Promise<void>)[] = [];
  try {
    // --- baseline: the same Kafka hop, publish ack → consumer receive, at the same rate ---
    const baseTopic = `bench.router.baseline${suffix}`;
    const ka = kafka.admin();
    await ka.connect();
    for (let attempt = 1; ; attempt++) {
      try {
        // a just-created topic's metadata can lag on the broker: retry the leader wait
        await ka.createTopics({ waitForLeaders: true, topics: [{ topic: baseTopic, numPartitions: PARTITIONS }] });
        await topicReady(ka, baseTopic);
        break;
      } catch (err) {
        if (attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    await ka.disconnect();
    const basePub = new Publisher(createKafka({ brokers: BROKERS, clientId: `bench-pub-${id}`, logger }));
    await basePub.connect();
    for (let attempt = 1; ; attempt++) {
      // the first send to a new topic can still meet a broker whose metadata lags (retried, not timed)
      try {
        await basePub.publish([{ topic: baseTopic, key: 'warm', value: { schema: 'bench', i: -1 }, schema: { type: 'object' } as never }]);
        break;
      } catch (err) {
        if (attempt >= 10) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    const acked = new Map<string, number>();
    const baseLat: number[] = [];
    const early = new Map<string, number>();
    const baseConsumer = kafka.consumer({ groupId: `bench-base-${id}`, maxWaitTimeInMs: 10 });
    await baseConsumer.connect();
    await baseConsumer.subscribe({ topic: baseTopic, fromBeginning: true });
    await baseConsumer.run({
      partitionsConsumedConcurrently: PARTITIONS,
      eachMessage: async ({ message }) => {
        const k = message.key!.toString();
        const t = acked.get(k);
        if (t === undefined) early.set(k, performance.now());
        else baseLat.push(performance.now() - t);
      },
    });
    await new Promise((r) => setTimeout(r, 3000)); // let the group settle before timing
    await atRate(RATE, SECONDS, async (i) => {
      const key = `b${i}`;
      await basePub.publish([{ topic: baseTopic, key, value: { schema: 'bench', i }, schema: { type: 'object' } as never }]);
      const now = performance.now();
      const e = early.get(key);
      if (e !== undefined) baseLat.push(e - now);
      else acked.set(key, now);
    });
    const deadline = Date.now() + 30000;
    while (baseLat.length < RATE * SECONDS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await baseConsumer.disconnect();
    await basePub.disconnect();

    // --- the bare pipeline, same rate (its own processes, stopped before the router starts) ---
    const bare = await barePipeline(world, env);

    // --- the router path ---
    const chat = await startService('ingest-chat', { ...env, ADAPTER_API_KEYS: 'bench:k-bench', CHAT_SESSION_SECRET: 'bench-chat-session-secret' });
    closers.push(chat.stop);
    // consoles closed after the routed phase must not release their agents' work inside the idle window
    const router = await startService('router', { ...env, JWT_SECRET: SECRET, ROUTER_GROUP_ID: `router-${id}`, OFFER_TIMEOUT_MS: '60000', DISCONNECT_GRACE_MS: '3600000' });
    closers.push(router.stop);
    const adminToken = mintToken(SECRET, { sub: 'bench', role: 'admin' });
    const offeredAt = new Map<string, number>();
    const sockets: WebSocket[] = [];
    for (let a = 0; a < AGENTS; a++) {
      const agentId = `agent-${a}`;
      const res = await fetch(`${router.url}/v1/admin/agents/${agentId}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: agentId, tiers: [1, 2, 3], skills: [], languages: ['es', 'en'], capacity: { chat: 100 } }),
      });
      if (!res.ok) throw new Error(`agent create failed: ${res.status}`);
      const ws = new WebSocket(`${router.url.replace('http', 'ws')}/v1/agents/ws?token=${mintToken(SECRET, { sub: agentId, role: 'agent' })}`);
      ws.on('message', (data) => {
        const f = JSON.parse(String(data)) as { type: string; conversationId?: string; conversation?: { lastText?: string } };
        if (f.type === 'offer') {
          const tag = /\[(m\d+)\]/.exec(f.conversation?.lastText ?? '')?.[1];
          if (tag && !offeredAt.has(tag)) offeredAt.set(tag, performance.now());
          ws.send(JSON.stringify({ type: 'accept', conversationId: f.conversationId }));
        }
        if (f.type === 'assigned' && CHURN) ws.send(JSON.stringify({ type: 'resolve', conversationId: f.conversationId }));
      });
      await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
      sockets.push(ws);
    }
    // warm-up: a few conversations through the whole path before timing
    // node:http with keep-alive: fetch costs several times the CPU per request on this side
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 64 });
    const chatUrl = new URL(chat.url);
    const post = (i: number, tag: string) =>
      new Promise<{ status: number }>((resolve, reject) => {
        const body = JSON.stringify({ adapterMessageId: `${tag}-${i}`, channel: 'chat', threadKey: `${tag}-${i}`, from: { address: `v-${tag}-${i}` }, text: `[${tag}${i}] I forgot my password` });
        const req = request(
          { host: chatUrl.hostname, port: chatUrl.port, path: '/v1/chat/messages', method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/json', 'x-api-key': 'k-bench', 'content-length': Buffer.byteLength(body) } },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    await Promise.all(Array.from({ length: 20 }, (_, i) => post(i, 'w')));
    const warmDeadline = Date.now() + 30000;
    while ([...offeredAt.keys()].filter((k) => k.startsWith('w')).length < 20 && Date.now() < warmDeadline) await new Promise((r) => setTimeout(r, 50));

    const okAt = new Map<string, number>();
    let errors = 0;
    const pids = { router: router.pid, 'ingest-chat': chat.pid };
    const st0 = await router.statements();
    await statementStats(world.pool, 'reset');
    const cpu0 = cpuSnapshot(pids);
    const tStart = performance.now();
    await atRate(RATE, SECONDS, async (i) => {
      try {
        const res = await post(i, 'm');
        if (res.status === 202) okAt.set(`m${i}`, performance.now());
        else errors++;
      } catch {
        errors++; // connection refused/reset under overload: counted, not timed
      }
    });
    const sendEnd = performance.now();
    const total = Math.round(RATE * SECONDS);
    const offerDeadline = Date.now() + 120000;
    const measured = () => [...okAt.keys()].filter((k) => offeredAt.has(k)).length;
    while (measured() < okAt.size && Date.now() < offerDeadline) await new Promise((r) => setTimeout(r, 50));
    const lat = [...okAt].filter(([k]) => offeredAt.has(k)).map(([k, t]) => offeredAt.get(k)! - t);
    const lastOffer = Math.max(...[...okAt.keys()].map((k) => offeredAt.get(k) ?? 0));
    const offers = measured();
    const cpu1 = cpuSnapshot(pids);
    const st1 = await router.statements();
    const wallMs = performance.now() - tStart;
    const topStatements = await statementStats(world.pool, 'read', offers);
    const cpuLine = [...cpu1]
      .filter(([k]) => k !== 'machine idle')
      .map(([k, v]) => `${k} ${fmt((v - (cpu0.get(k) ?? 0)) / Math.max(1, offers))}`)
      .join(', ');
    const idle = cpu1.has('machine idle') ? (cpu1.get('machine idle')! - cpu0.get('machine idle')!) / (wallMs * cpus().length) : NaN;
    for (const ws of sockets) ws.close();
    const routerCpu = perMessage(cpu0, cpu1, offers);

    // --- idle: the whole stack (all six services and the broker), no traffic, 30 s (BENCH_IDLE_SECONDS=0: skipped) ---
    const idleMs = Number(process.env.BENCH_IDLE_SECONDS ?? 30) * 1000;
    const idlePhase = idleMs <= 0 ? undefined : await (async () => {
      const others = { JWT_SECRET: SECRET, ADAPTER_API_KEYS: 'bench:k-bench' };
      const history = await startService('history', { ...env, ...others, HISTORY_GROUP_ID: `history-${id}` });
      closers.push(history.stop);
      const email = await startService('ingest-email', { ...env, ...others, POSTMARK_BASIC_AUTH: 'pm:pm-password-0123', SENDGRID_BASIC_AUTH: 'sg:sg-password-0123', MAILGUN_SIGNING_KEY: 'mailgun-key-0123456789' });
      closers.push(email.stop);
      const phone = await startService('ingest-phone', { ...env, ...others, TWILIO_AUTH_TOKEN: 'twilio-token-0123456789', TWILIO_PUBLIC_URL: 'https://support.example.com' });
      closers.push(phone.stop);
      const social = await startService('ingest-social', { ...env, ...others, META_APP_SECRET: 'meta-app-secret-0123456789', META_VERIFY_TOKEN: 'meta-verify' });
      closers.push(social.stop);
      await new Promise((r) => setTimeout(r, 10000)); // start-up settles
      // history catches up with the run's events: the idle window starts once its timeline stops growing
      const timelineRows = async () => Number((await world.pool.query('SELECT count(*) AS n FROM history.timeline').catch(() => ({ rows: [{ n: -1 }] }))).rows[0]!.n);
      for (let last = -2, until = Date.now() + 120000; Date.now() < until; ) {
        const n = await timelineRows();
        if (n === last) break;
        last = n;
        await new Promise((r) => setTimeout(r, 3000));
      }
      const stack = { router: router.pid, 'ingest-chat': chat.pid, history: history.pid, 'ingest-email': email.pid, 'ingest-phone': phone.pid, 'ingest-social': social.pid };
      await statementStats(world.pool, 'reset');
      const i0 = cpuSnapshot(stack);
      const ist0 = await router.statements();
      const it0 = performance.now();
      await new Promise((r) => setTimeout(r, idleMs));
      const i1 = cpuSnapshot(stack);
      const ist1 = await router.statements();
      const idleWall = performance.now() - it0;
      const idleStatements = await statementStats(world.pool, 'read', idleWall / 1000);
      const idlePct = new Map([...i1].filter(([k]) => k !== 'machine idle' && !k.startsWith('bench')).map(([k, v]) => [k, (100 * (v - (i0.get(k) ?? 0))) / idleWall]));
      return { idlePct, idleWall, routerStatements: ist1 - ist0, idleStatements };
    })();
    // Where the time goes, from the database's own clock: message received by ingest → conversation
    // opened by the router → offer event stored for the agent.
    const parts = await world.pool.query<{ p50_consume: number; p99_consume: number; p50_match: number; p99_match: number }>(
      `WITH x AS (
         SELECT extract(epoch FROM c.opened_at - m.received_at) * 1000 AS consume_ms,
                extract(epoch FROM e.created_at - c.opened_at) * 1000 AS match_ms
           FROM router.conversations c
           JOIN router.conversation_messages m ON m.conversation_id = c.id
           JOIN router.agent_events e ON e.frame->>'type' = 'offer' AND e.frame->>'conversationId' = c.id
          WHERE c.last_text LIKE '[m%')
       SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY consume_ms) AS p50_consume, percentile_cont(0.99) WITHIN GROUP (ORDER BY consume_ms) AS p99_consume,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY match_ms) AS p50_match, percentile_cont(0.99) WITHIN GROUP (ORDER BY match_ms) AS p99_match FROM x`,
    );
    const b = parts.rows[0]!;

    const out = [
      `router bench: ${total} chat messages at ${RATE}/s for ${SECONDS} s, ${AGENTS} agents (accept${CHURN ? ' + resolve' : ' only'}), ${PARTITIONS} partitions (one router process, one ingest-chat process)`,
      `  HTTP 2xx: ${okAt.size}, errors: ${errors}; offers received: ${offers}; send phase ${fmt((sendEnd - tStart) / 1000)} s`,
      `  assignments/s (offers over first POST → last offer): ${fmt(offers / ((lastOffer - tStart) / 1000))}`,
      `  ingest 2xx → offer frame on agent websocket: p50 ${fmt(pct(lat, 50))} ms, p99 ${fmt(pct(lat, 99))} ms, max ${fmt(Math.max(...lat))} ms`,
      `  breakdown (db clock): ingest receivedAt → conversation opened p50 ${fmt(b.p50_consume)} / p99 ${fmt(b.p99_consume)} ms; opened → offer stored p50 ${fmt(b.p50_match)} / p99 ${fmt(b.p99_match)} ms (≤ 0: offered in the arrival transaction)`,
      `  CPU ms per routed message (first POST → last offer): ${cpuLine || 'n/a (no /proc)'}; machine ${fmt(100 * (1 - idle))}% busy over ${cpus().length} CPUs`,
      `  raw Kafka hop baseline (publish ack → consumer receive, same rate): p50 ${fmt(pct(baseLat, 50))} ms, p99 ${fmt(pct(baseLat, 99))} ms (${baseLat.length} msgs)`,
      `  goal: p99 <= 25 ms at 1000 msg/s -> ${pct(lat, 99) <= 25 && RATE >= 1000 ? 'met' : 'NOT met'}`,
      `  bare pipeline, same rate (fastify POST → kafkajs acks=-1 → kafkajs consumer → 1 tx: conversation + offer row → 1 websocket frame):`,
      `    2xx → frame p50 ${fmt(pct(bare.lat, 50))} ms, p99 ${fmt(pct(bare.lat, 99))} ms (${bare.offers} frames); CPU ms per message: ${line(bare.cpu)}; total ${fmt(sum(bare.cpu))}`,
      `    PostgreSQL statements per message: bare consumer ${fmt(bare.statementsPerMessage)}, router ${fmt((st1 - st0) / Math.max(1, offers))} (client-side count, incl. BEGIN/COMMIT, sweeps and polls in the window)`,
      `  router / bare: CPU per message ${fmt(sum(routerCpu))} / ${fmt(sum(bare.cpu))} = ${fmt(sum(routerCpu) / sum(bare.cpu))}×; p50 ${fmt(pct(lat, 50) / pct(bare.lat, 50))}×; p99 ${fmt(pct(lat, 99) / pct(bare.lat, 99))}×`,
      idlePhase
        ? `  idle stack over ${fmt(idlePhase.idleWall / 1000)} s (six services + broker; postgres and kafka: the servers this run used): ${line(idlePhase.idlePct)} — total ${fmt(sum(idlePhase.idlePct))}% of one core; router statements ${fmt(idlePhase.routerStatements / (idlePhase.idleWall / 1000))}/s`
        : '  idle stack: not measured (BENCH_IDLE_SECONDS=0)',
    ];
    if (process.env.BENCH_STATEMENTS !== '0')
      out.push(
        `  statements of the bench database during the routed window (pg_stat_statements, all services; calls and execution time per routed message):`,
        ...topStatements,
        `  … and during the idle window (per second):`,
        ...(idlePhase?.idleStatements ?? []).slice(0, 12).map((l) => l.replace('/msg', '/s ').replace('ms/msg', 'ms/s ')),
      );
    process.stdout.write(out.join('\n') + '\n');

  } finally {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    const ka = kafka.admin();
    await ka.connect();
    await ka.deleteTopics({ topics: [`bench.router.baseline${suffix}`] }).catch(() => undefined);
    await ka.disconnect();
    await world.close();
  }
}

void main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);

export type { InboundMessage };
