/**
 * Whole-stack fault run (issue 11), as deployed: a dedicated Kafka broker (deploy/kafka/kafka.sh on
 * free ports, its own data dir), a dedicated throwaway PostgreSQL cluster (initdb/pg_ctl into a temp
 * dir, run as the postgres user on a free port) and the six services, each its own process
 * (`node --import tsx services/<name>/src/main.ts`). This process is the load (generic adapter
 * routes of all four ingest services, retried like a provider until 2xx), the simulated agents
 * (router websocket: accept every offer, reply, resolve; reconnect with lastSeq) and the adapters'
 * callback endpoint for replies.
 *
 * Under steady load it SIGKILLs each service in turn and restarts it, restarts the broker, crashes
 * and restarts PostgreSQL (immediate stop), then drains and counts from the topics and the router and
 * history schemas, prints one table and exits 1 on any loss, double assignment or agent over capacity.
 *
 *   npm run chaos                                  # CHAOS_SECONDS=600 of faults and load
 *   CHAOS_SECONDS=120 npm run chaos                # the short version (CI)
 *   env: CHAOS_RATE (messages/s over the four channels, 8), CHAOS_AGENTS (6), CHAOS_CAPACITY (2 per
 *   channel), CHAOS_DRAIN_S (240), CHAOS_KEEP=1 keeps the temp dirs and logs, CHAOS_FAULTS (a subset,
 *   e.g. "router,history,kafka,postgres").
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { Pool } from 'pg';
import WebSocket from 'ws';
import { topicNames } from '@omni/contracts';
import { mintToken } from '../services/router/src/auth/tokens';

const run = promisify(execFile);
const root = join(__dirname, '..');
const SECONDS = Number(process.env.CHAOS_SECONDS ?? 600);
const RATE = Number(process.env.CHAOS_RATE ?? 8);
const AGENTS = Number(process.env.CHAOS_AGENTS ?? 6);
const CAPACITY = Number(process.env.CHAOS_CAPACITY ?? 2);
const DRAIN_S = Number(process.env.CHAOS_DRAIN_S ?? 240);
const KEEP = process.env.CHAOS_KEEP === '1';
/** a subset of faults, comma separated (ingest-chat, …, router, history, kafka, postgres); default all */
const FAULTS = process.env.CHAOS_FAULTS ?? '';
const JWT_SECRET = 'chaos-jwt-secret-0123456789abcdef';
const API_KEY = 'k-chaos';
const CALLBACK_SECRET = 'chaos-callback-secret';
const SERVICES = ['ingest-chat', 'ingest-email', 'ingest-phone', 'ingest-social', 'router', 'history'] as const;
type Service = (typeof SERVICES)[number];
const SKILLS = ['apis', 'databases', 'infrastructure', 'integrations', 'social', 'translation'];
/** one channel per ingest service: [service, adapter route kind, channel] */
const LANES = [
  ['ingest-chat', 'chat', 'chat'],
  ['ingest-email', 'email', 'email'],
  ['ingest-phone', 'phone', 'sms'],
  ['ingest-social', 'social', 'whatsapp'],
] as const;

const t0 = Date.now();
const log = (s: string) => process.stdout.write(`[chaos +${((Date.now() - t0) / 1000).toFixed(0)}s] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------- infrastructure under test

/** A dedicated single-node broker started and stopped by deploy/kafka/kafka.sh. */
class Broker {
  constructor(readonly env: NodeJS.ProcessEnv) {}
  static async create(dir: string): Promise<{ broker: Broker; brokers: string }> {
    const port = await freePort();
    const env = { ...process.env, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(await freePort()), KAFKA_DATA_DIR: join(dir, 'kafka'), KAFKA_HEAP: '512m' };
    return { broker: new Broker(env), brokers: `127.0.0.1:${port}` };
  }
  start = () => run('bash', [join(root, 'deploy', 'kafka', 'kafka.sh'), 'start'], { env: this.env, timeout: 240000 });
  stop = () => run('bash', [join(root, 'deploy', 'kafka', 'kafka.sh'), 'stop'], { env: this.env, timeout: 120000 });
}

/** A throwaway PostgreSQL cluster in a temp dir, run as the postgres user (initdb refuses root). */
class PgCluster {
  private readonly bin: string;
  constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    // the newest installed server (Debian layout), else initdb/pg_ctl from PATH
    const base = '/usr/lib/postgresql';
    const newest = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a))[0] : undefined;
    this.bin = newest ? join(base, newest, 'bin') : '';
  }
  private asPostgres(cmd: string, args: string[]) {
    const asRoot = process.getuid?.() === 0;
    return asRoot ? run('runuser', ['-u', 'postgres', '--', join(this.bin, cmd), ...args], { timeout: 120000 }) : run(join(this.bin, cmd), args, { timeout: 120000 });
  }
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }
  async init(): Promise<void> {
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: g } = await run('id', ['-g', 'postgres']);
      chownSync(this.dir, Number(stdout.trim()), Number(g.trim()));
    }
    chmodSync(this.dir, 0o700);
    await this.asPostgres('initdb', ['-D', join(this.dir, 'data'), '-U', 'postgres', '-A', 'trust', '--no-sync']);
    await this.start();
  }
  start = () =>
    this.asPostgres('pg_ctl', [
      '-D', join(this.dir, 'data'), '-l', join(this.dir, 'postgres.log'), '-w', '-t', '120',
      '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=128MB`,
      'start',
    ]);
  /** an immediate stop is a crash: no checkpoint, recovery from the WAL on start */
  crash = () => this.asPostgres('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  stop = () => this.asPostgres('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'fast', '-w', 'stop']);
}

/** One service as its own process, logging to a file; SIGKILL and restart. */
class Proc {
  child?: ChildProcess;
  url = '';
  /** exits nobody asked for (a crash): restarted at once, as a supervisor would, and reported */
  crashes = 0;
  private expectExit = false;
  private stopping = false;
  constructor(
    readonly name: Service,
    readonly env: Record<string, string>,
    readonly logFile: string,
  ) {}
  async start(): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    const out = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services', this.name, 'src', 'main.ts')], {
      env: { ...process.env, ...this.env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    this.child = child;
    this.expectExit = false;
    child.once('exit', (code, signal) => {
      if (this.expectExit || this.stopping) return;
      this.crashes++;
      log(`${this.name} exited on its own (${signal ?? code}); restarting it as a supervisor would`);
      void sleep(1000).then(() => (this.stopping ? undefined : this.start().catch((err) => void log(`${this.name} restart failed: ${(err as Error).message}`))));
    });
    await until(`${this.name} ready`, async () => {
      if (child.exitCode !== null) throw new Error(`${this.name} exited with ${child.exitCode}; see ${this.logFile}`);
      return (await fetch(`${this.url}/readyz`)).ok;
    }, 120000);
  }
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    this.expectExit = true;
    c.kill('SIGKILL');
    await gone;
  }
  async stop(): Promise<void> {
    this.stopping = true;
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 20000);
    await gone;
    clearTimeout(t);
  }
}

// ---------------------------------------------------------------- load: customers as providers would send

interface Sent {
  key: string;
  lane: number;
  body: Record<string, unknown>;
  messageId?: string;
  attempts: number;
  statuses: Map<number, number>;
}

class Load {
  readonly sent: Sent[] = [];
  private readonly inflight = new Set<Promise<void>>();
  giveUpAt = Infinity;
  private threads: string[][] = LANES.map(() => []);
  constructor(private readonly urls: () => string[]) {}

  /** One message: a new thread, or (one in three) a follow-up on one of the lane's recent threads. */
  private next(i: number): Sent {
    const lane = i % LANES.length;
    const [, , channel] = LANES[lane]!;
    const recent = this.threads[lane]!;
    let thread: string;
    if (recent.length > 0 && i % 3 === 0) thread = recent[(i * 7) % recent.length]!;
    else {
      thread = `${channel}-${i}`;
      recent.push(thread);
      if (recent.length > 20) recent.shift();
    }
    const n = Number(thread.split('-').pop());
    const from =
      channel === 'email' ? { address: `c${n}@chaos.example` } : channel === 'sms' ? { address: `+3460${String(1000000 + n)}` } : channel === 'whatsapp' ? { address: `3461${String(1000000 + n)}` } : { address: `v-${n}` };
    const body = {
      adapterMessageId: `m-${i}`,
      channel,
      threadKey: thread,
      from,
      text: `No puedo entrar, olvidé mi contraseña [chaos m-${i}]`,
      ...(channel === 'email' ? { subject: 'No puedo entrar' } : {}),
    };
    return { key: `m-${i}`, lane, body, attempts: 0, statuses: new Map() };
  }

  /** Posts until a 2xx (the provider's retry), backing off; gives up only at giveUpAt. */
  private async deliver(s: Sent): Promise<void> {
    const [, kind] = LANES[s.lane]!;
    let wait = 250;
    while (Date.now() < this.giveUpAt) {
      s.attempts++;
      try {
        const res = await fetch(`${this.urls()[s.lane]}/v1/${kind}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
          body: JSON.stringify(s.body),
          signal: AbortSignal.timeout(15000),
        });
        s.statuses.set(res.status, (s.statuses.get(res.status) ?? 0) + 1);
        const answer = (await res.json().catch(() => ({}))) as { messageId?: string };
        if (res.status >= 200 && res.status < 300) {
          s.messageId = answer.messageId;
          return;
        }
        if (res.status >= 400 && res.status < 500) throw new Error(`${s.key}: ${res.status} ${JSON.stringify(answer)}`);
      } catch (err) {
        if ((err as Error).message.startsWith(`${s.key}:`)) throw err;
        s.statuses.set(0, (s.statuses.get(0) ?? 0) + 1); // connection refused/reset, timeout
      }
      await sleep(wait);
      wait = Math.min(wait * 2, 3000);
    }
  }

  /** Sends at RATE (open loop: a slow answer does not slow the sender) until `done()` says stop. */
  async runUntil(done: () => boolean): Promise<void> {
    const start = Date.now();
    const base = this.sent.length;
    while (!done()) {
      const wait = start + ((this.sent.length - base) * 1000) / RATE - Date.now();
      if (wait > 0) {
        await sleep(Math.min(wait, 200));
        continue;
      }
      const s = this.next(this.sent.length);
      this.sent.push(s);
      const p = this.deliver(s).catch((err) => void log(`refused: ${(err as Error).message}`));
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    }
  }

  async settle(): Promise<void> {
    await Promise.all([...this.inflight]);
  }
}

// ---------------------------------------------------------------- agents over the router websocket

class SimAgent {
  lastSeq = 0;
  ws?: WebSocket;
  closed = false;
  readonly repliesAcked = new Set<string>();
  private refs = 0;
  private readonly replied = new Set<string>();
  /** what the router says is ours: offered or assigned, since when (a command lost to a fault is re-sent) */
  private readonly mine = new Map<string, { status: 'offered' | 'assigned'; since: number }>();
  private timer?: NodeJS.Timeout;
  constructor(
    readonly id: string,
    private readonly routerUrl: () => string,
  ) {}

  async run(): Promise<void> {
    // a command answered with an error during a fault (router or database restarting) is sent again
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const [c, m] of this.mine) if (now - m.since > 3000) this.act(c, m.status);
    }, 3000);
    while (!this.closed) {
      try {
        await this.session();
      } catch {
        // router down or restarting: reconnect
      }
      if (!this.closed) await sleep(500);
    }
    clearInterval(this.timer);
  }

  private send(cmd: Record<string, unknown>): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ ...cmd, ref: `${this.id}-${++this.refs}` }));
  }

  private session(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const url = new URL('/v1/agents/ws', this.routerUrl().replace(/^http/, 'ws'));
      url.searchParams.set('token', mintToken(JWT_SECRET, { sub: this.id, role: 'agent' }));
      url.searchParams.set('lastSeq', String(this.lastSeq));
      const ws = new WebSocket(url);
      this.ws = ws;
      ws.on('error', reject);
      ws.on('close', () => resolve());
      ws.on('message', (data) => {
        const f = JSON.parse(String(data)) as { type: string; seq?: number; conversationId?: string; command?: string; outboundId?: string; conversations?: { conversationId: string; status: string }[] };
        if (typeof f.seq === 'number') this.lastSeq = Math.max(this.lastSeq, f.seq);
        const c = f.conversationId;
        if (f.type === 'welcome') {
          this.mine.clear();
          for (const x of f.conversations ?? []) this.hold(x.conversationId, x.status === 'offered' ? 'offered' : 'assigned');
        } else if ((f.type === 'offer' || f.type === 'assigned') && c) this.hold(c, f.type === 'offer' ? 'offered' : 'assigned');
        else if ((f.type === 'offer-closed' || f.type === 'unassigned') && c) this.mine.delete(c);
        else if (f.type === 'ack' && f.command === 'reply' && f.outboundId) this.repliesAcked.add(f.outboundId);
      });
    });
  }

  stop(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.ws?.terminate();
  }

  private hold(conversationId: string, status: 'offered' | 'assigned'): void {
    this.mine.set(conversationId, { status, since: Date.now() });
    if (status === 'offered') this.act(conversationId, status);
    else setTimeout(() => this.act(conversationId, 'assigned'), 200);
  }

  /** accept an offer; on an assignment reply once, then resolve */
  private act(conversationId: string, status: 'offered' | 'assigned'): void {
    const m = this.mine.get(conversationId);
    if (!m || m.status !== status) return;
    m.since = Date.now();
    if (status === 'offered') {
      this.send({ type: 'accept', conversationId });
      return;
    }
    if (!this.replied.has(conversationId)) {
      this.replied.add(conversationId);
      this.send({ type: 'reply', conversationId, text: `Hola, le ayudo con eso (${conversationId})` });
    }
    setTimeout(() => this.send({ type: 'resolve', conversationId }), 300);
  }
}

// ---------------------------------------------------------------- counting

async function readTopic(kafka: Kafka, topic: string): Promise<Record<string, unknown>[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  if (total === 0) return [];
  const out: Record<string, unknown>[] = [];
  const consumer = kafka.consumer({ groupId: `chaos-count-${topic}-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        out.push(JSON.parse(message.value!.toString()) as Record<string, unknown>);
        if (out.length >= total) resolve();
      },
    });
  });
  await consumer.disconnect();
  return out;
}

const dups = (ids: string[]) => {
  const seen = new Map<string, number>();
  for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
  return [...seen.values()].filter((n) => n > 1).length;
};

interface Frame {
  type: string;
  conversationId?: string;
  at: string;
}

/**
 * From every agent's stored event stream (router.agent_events, in seq order, exactly what the
 * consoles were sent): conversations held (assigned) by two agents at once or twice by one, and
 * agents whose offered + assigned conversations on one channel ever passed their capacity.
 */
async function assignmentChecks(pool: Pool): Promise<{ assignedTwice: string[]; overCapacity: string[] }> {
  const { rows } = await pool.query<{ agent_id: string; seq: string; frame: Frame }>('SELECT agent_id, seq, frame FROM router.agent_events ORDER BY agent_id, seq');
  const channelOf = new Map((await pool.query<{ id: string; channel: string }>('SELECT id, channel FROM router.conversations')).rows.map((r) => [r.id, r.channel]));
  const intervals = new Map<string, { agent: string; from: number; to: number }[]>();
  const overCapacity = new Set<string>();
  const assignedTwice = new Set<string>();
  let agent = '';
  let holding = new Map<string, 'offered' | 'assigned'>();
  let open = new Map<string, number>();
  const closeAll = () => {
    for (const [c, from] of open) intervals.set(c, [...(intervals.get(c) ?? []), { agent, from, to: Infinity }]);
  };
  for (const r of rows) {
    if (r.agent_id !== agent) {
      closeAll();
      agent = r.agent_id;
      holding = new Map();
      open = new Map();
    }
    const f = r.frame;
    const c = f.conversationId;
    if (!c) continue;
    const at = Date.parse(f.at);
    if (f.type === 'offer') holding.set(c, 'offered');
    else if (f.type === 'offer-closed') holding.delete(c);
    else if (f.type === 'assigned') {
      if (open.has(c)) assignedTwice.add(c);
      holding.set(c, 'assigned');
      open.set(c, at);
    } else if (f.type === 'unassigned') {
      holding.delete(c);
      const from = open.get(c);
      if (from !== undefined) intervals.set(c, [...(intervals.get(c) ?? []), { agent, from, to: at }]);
      open.delete(c);
    }
    const perChannel = new Map<string, number>();
    for (const h of holding.keys()) {
      const ch = channelOf.get(h) ?? '?';
      perChannel.set(ch, (perChannel.get(ch) ?? 0) + 1);
    }
    if ([...perChannel.values()].some((n) => n > CAPACITY)) overCapacity.add(agent);
  }
  closeAll();
  for (const [c, list] of intervals) {
    const sorted = [...list].sort((a, b) => a.from - b.from);
    for (let i = 1; i < sorted.length; i++) if (sorted[i]!.from < sorted[i - 1]!.to) assignedTwice.add(c);
  }
  return { assignedTwice: [...assignedTwice], overCapacity: [...overCapacity] };
}

// ---------------------------------------------------------------- the run

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'omni-chaos-'));
  log(`work dir ${dir}; ${SECONDS} s of load at ${RATE} msg/s over chat, email, sms, whatsapp; ${AGENTS} agents, capacity ${CAPACITY} per channel`);
  const { broker, brokers } = await Broker.create(dir);
  const pgDir = mkdtempSync(join(tmpdir(), 'omni-chaos-pg-'));
  const pg = new PgCluster(pgDir, await freePort());
  const procs = new Map<Service, Proc>();
  const agents: SimAgent[] = [];
  let callbacks: ReturnType<typeof createHttpServer> | undefined;
  let exitCode = 1;
  try {
    log('starting the dedicated broker and PostgreSQL');
    await Promise.all([broker.start(), pg.init()]);
    const admin = new Pool({ connectionString: pg.url, max: 1 });
    await admin.query('CREATE DATABASE omni');
    await admin.end();
    const databaseUrl = pg.url.replace(/\/postgres$/, '/omni');

    // the adapters' reply endpoint: answers 200 to every signed callback
    const delivered = new Set<string>();
    callbacks = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        try {
          const b = JSON.parse(body) as { outboundId?: string };
          if (b.outboundId) delivered.add(b.outboundId);
        } catch {
          // counted from omni.delivery.v1 anyway
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    const cbPort = await freePort();
    await new Promise<void>((r) => callbacks!.listen(cbPort, '127.0.0.1', r));

    const devEnv = Object.fromEntries(
      readFileSync(join(root, 'deploy', 'dev.env'), 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('#') && l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const env: Record<string, string> = {
      ...devEnv,
      KAFKA_BROKERS: brokers,
      DATABASE_URL: databaseUrl,
      KAFKA_TOPIC_SUFFIX: '',
      KAFKA_TOPIC_PARTITIONS: '6',
      LOG_LEVEL: 'warn',
      ADAPTER_API_KEYS: `chaos:${API_KEY}`,
      JWT_SECRET,
      DELIVERY_TARGETS: `adapter:chaos=http://127.0.0.1:${cbPort}/callbacks|${CALLBACK_SECRET}`,
      DELIVERY_BASE_BACKOFF_MS: '200',
      DELIVERY_MAX_BACKOFF_MS: '3000',
      DELIVERY_MAX_ATTEMPTS: '40',
      SHUTDOWN_GRACE_MS: '5000',
      // dev.env leaves it to deploy/stack.sh (it follows the stack's ports); the load uses the adapter route
      TWILIO_PUBLIC_URL: 'http://127.0.0.1',
    };
    // migrations race if six processes run them at once on a fresh database: start one first
    for (const name of SERVICES) procs.set(name, new Proc(name, env, join(dir, `${name}.log`)));
    log('starting the services');
    await procs.get('history')!.start();
    await Promise.all(SERVICES.filter((s) => s !== 'history').map((s) => procs.get(s)!.start()));
    const routerUrl = () => procs.get('router')!.url;
    const adminToken = mintToken(JWT_SECRET, { sub: 'chaos', role: 'admin' });
    for (let a = 0; a < AGENTS; a++) {
      const id = `chaos-agent-${a}`;
      const res = await fetch(`${routerUrl()}/v1/admin/agents/${id}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: id, tiers: [1, 2, 3, 4, 5], skills: SKILLS, languages: ['es', 'en'], capacity: Object.fromEntries(LANES.map(([, , ch]) => [ch, CAPACITY])) }),
      });
      if (!res.ok) throw new Error(`creating agent ${id}: ${res.status} ${await res.text()}`);
      const agent = new SimAgent(id, routerUrl);
      agents.push(agent);
      void agent.run();
    }

    // ---- load with a fault at the start of each phase
    const load = new Load(() => LANES.map(([svc]) => procs.get(svc)!.url));
    const allFaults: { key: string; name: string; act: () => Promise<void> }[] = [
      ...SERVICES.map((s) => ({
        key: s,
        name: `SIGKILL ${s}`,
        act: async () => {
          const p = procs.get(s)!;
          await p.kill();
          await sleep(2000);
          await p.start();
        },
      })),
      {
        key: 'kafka',
        name: 'restart Kafka broker',
        act: async () => {
          await broker.stop();
          await sleep(2000);
          await broker.start();
        },
      },
      {
        key: 'postgres',
        name: 'crash + restart PostgreSQL',
        act: async () => {
          await pg.crash();
          await sleep(2000);
          await pg.start();
        },
      },
    ];
    const only = FAULTS ? new Set(FAULTS.split(',').map((f) => f.trim())) : null;
    const faults = only ? allFaults.filter((f) => only.has(f.key)) : allFaults;
    if (only && faults.length !== only.size) throw new Error(`CHAOS_FAULTS: known faults are ${allFaults.map((f) => f.key).join(', ')}`);
    const phaseMs = (SECONDS * 1000) / (faults.length + 1);
    const faultLog: string[] = [];
    log(`warm-up ${Math.round(phaseMs / 1000)} s`);
    const warmEnd = Date.now() + phaseMs;
    await load.runUntil(() => Date.now() >= warmEnd);
    for (const f of faults) {
      // the load keeps going while the fault happens; the phase lasts phaseMs, and at least 5 s after recovery
      let phaseOver = false;
      const during = load.runUntil(() => phaseOver);
      const started = Date.now();
      log(`fault: ${f.name}`);
      await f.act();
      const took = Date.now() - started;
      faultLog.push(`${f.name}: back in ${(took / 1000).toFixed(1)} s`);
      log(`${f.name}: back in ${(took / 1000).toFixed(1)} s`);
      await sleep(Math.max(5000, phaseMs - took));
      phaseOver = true;
      await during;
    }

    // ---- drain: finish the providers' retries, then wait for routing, the timeline and replies
    log(`load over: ${load.sent.length} messages sent; draining (up to ${DRAIN_S} s)`);
    const drainEnd = Date.now() + DRAIN_S * 1000;
    load.giveUpAt = drainEnd;
    await load.settle();
    const acked = load.sent.filter((s) => s.messageId).map((s) => s.messageId!);
    const pool = new Pool({ connectionString: databaseUrl, max: 2 });
    const progress = async () => {
      const routed = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM router.conversation_messages WHERE message_id = ANY($1::text[])', [acked])).rows[0]!.n;
      const onTimeline = (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM history.timeline WHERE kind = 'message.inbound' AND event_id = ANY($1::text[])`, [acked])).rows[0]!.n;
      const open = (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM router.conversations WHERE status NOT IN ('resolved', 'closed')`)).rows[0]!.n;
      const outboxes = (
        await pool.query<{ n: number }>('SELECT (SELECT count(*) FROM router.outbox) + (SELECT count(*) FROM history.outbox) + (SELECT count(*) FROM ingest.outbox) AS n')
      ).rows[0]!.n;
      return { routed, onTimeline, open, outboxes: Number(outboxes) };
    };
    let last = await progress();
    while (Date.now() < drainEnd && (last.routed < acked.length || last.onTimeline < acked.length || last.open > 0 || last.outboxes > 0)) {
      await sleep(2000);
      last = await progress();
    }
    // replies: every published reply delivered (or the deadline)
    const kafka = new Kafka({ brokers: [brokers], clientId: 'chaos-count', logLevel: logLevel.NOTHING });
    const topics = topicNames('');
    let outbound = await readTopic(kafka, topics.outbound);
    let delivery = await readTopic(kafka, topics.delivery);
    const deliveredIds = () => new Set(delivery.filter((d) => d.status === 'delivered').map((d) => d.outboundId as string));
    const failedIds = () => new Set(delivery.filter((d) => d.status === 'failed').map((d) => d.outboundId as string));
    // a reply is settled once delivered or failed for good
    while (Date.now() < drainEnd && new Set(outbound.map((o) => o.outboundId)).size > new Set([...deliveredIds(), ...failedIds()]).size) {
      await sleep(3000);
      outbound = await readTopic(kafka, topics.outbound);
      delivery = await readTopic(kafka, topics.delivery);
    }
    const inbound = await readTopic(kafka, topics.inbound);
    const dlq = await readTopic(kafka, topics.dlq);
    const ackedSet = new Set(acked);
    const routedIds = new Set((await pool.query<{ message_id: string }>('SELECT message_id FROM router.conversation_messages WHERE message_id = ANY($1::text[])', [acked])).rows.map((r) => r.message_id));
    const timelineIds = new Set(
      (await pool.query<{ event_id: string }>(`SELECT event_id FROM history.timeline WHERE kind = 'message.inbound' AND event_id = ANY($1::text[])`, [acked])).rows.map((r) => r.event_id),
    );
    const attached = (
      await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM history.timeline t WHERE t.kind = 'message.inbound' AND t.event_id = ANY($1::text[])
            AND EXISTS (SELECT 1 FROM history.message_conversations m WHERE m.message_id = t.event_id)`,
        [acked],
      )
    ).rows[0]!.n;
    const lost = acked.filter((id) => !routedIds.has(id) || !timelineIds.has(id));
    const inboundIds = inbound.map((m) => m.messageId as string);
    const notAcked = load.sent.filter((s) => !s.messageId).length;
    const extraOnTopic = [...new Set(inboundIds)].filter((id) => !ackedSet.has(id)).length;
    const { assignedTwice, overCapacity } = await assignmentChecks(pool);
    const repliesAcked = new Set(agents.flatMap((a) => [...a.repliesAcked]));
    const outboundIds = new Set(outbound.map((o) => o.outboundId as string));
    const repliesLost = [...repliesAcked].filter((id) => !outboundIds.has(id));
    const repliesFailed = [...failedIds()].filter((id) => !deliveredIds().has(id));
    const failedReasons = delivery.filter((d) => d.status === 'failed' && repliesFailed.includes(d.outboundId as string)).map((d) => `${d.outboundId}: ${d.reason}`);
    const crashes = [...procs.values()].reduce((n, p) => n + p.crashes, 0);
    const statusTotals = new Map<number, number>();
    for (const s of load.sent) for (const [k, v] of s.statuses) statusTotals.set(k, (statusTotals.get(k) ?? 0) + v);
    await pool.end();

    const rows: [string, string | number][] = [
      ['messages sent (distinct)', load.sent.length],
      ['acknowledged (2xx)', acked.length],
      ['never acknowledged (retries gave up)', notAcked],
      ['routed (router.conversation_messages)', routedIds.size],
      ['on the timeline (history.timeline)', timelineIds.size],
      ['… attached to their conversation', attached],
      ['lost (acknowledged, not routed or not on the timeline)', lost.length],
      ['published twice (omni.inbound.v1)', dups(inboundIds)],
      ['published twice (omni.outbound.v1)', dups(outbound.map((o) => o.outboundId as string))],
      ['on omni.inbound.v1 but never acknowledged', extraOnTopic],
      ['dead-lettered (omni.dlq.v1)', dlq.length],
      ['assigned twice', assignedTwice.length],
      ['agents over capacity', overCapacity.length],
      ['replies acknowledged to agents', repliesAcked.size],
      ['replies published (omni.outbound.v1)', outboundIds.size],
      ['replies lost (acknowledged, not published)', repliesLost.length],
      ['replies delivered (omni.delivery.v1 delivered)', deliveredIds().size],
      ['replies received by the adapter endpoint', delivered.size],
      ['replies failed for good (omni.delivery.v1 failed)', repliesFailed.length],
      ['conversations still open after the drain', last.open],
      ['outbox rows left', last.outboxes],
      ['service processes that exited on their own', crashes],
    ];
    const w = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(`\nchaos run: ${SECONDS} s, ${RATE} msg/s, ${AGENTS} agents (capacity ${CAPACITY}/channel), faults:\n`);
    for (const f of faultLog) process.stdout.write(`  - ${f}\n`);
    process.stdout.write(`HTTP answers to the load (0 = connection refused/reset/timeout): ${[...statusTotals].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}×${v}`).join(', ')}\n\n`);
    process.stdout.write(`| ${'count'.padEnd(w)} | value |\n|${'-'.repeat(w + 2)}|-------|\n`);
    for (const [k, v] of rows) process.stdout.write(`| ${k.padEnd(w)} | ${String(v).padStart(5)} |\n`);
    if (lost.length) process.stdout.write(`\nlost: ${lost.slice(0, 20).join(', ')}${lost.length > 20 ? ' …' : ''}\n`);
    if (assignedTwice.length) process.stdout.write(`assigned twice: ${assignedTwice.slice(0, 20).join(', ')}\n`);
    if (overCapacity.length) process.stdout.write(`over capacity: ${overCapacity.join(', ')}\n`);
    for (const d of dlq.slice(0, 10)) {
      const src = d.source as { topic: string; groupId: string };
      process.stdout.write(`dead-lettered from ${src.topic} (group ${src.groupId}): ${String(d.reason).slice(0, 300)}\n`);
    }
    if (failedReasons.length) process.stdout.write(`replies failed: ${failedReasons.slice(0, 10).join('; ')}\n`);
    const failed = lost.length > 0 || assignedTwice.length > 0 || overCapacity.length > 0 || repliesLost.length > 0 || repliesFailed.length > 0 || crashes > 0;
    process.stdout.write(`\nresult: ${failed ? 'FAILED' : 'ok'} (exit ${failed ? 1 : 0}); logs in ${dir}${KEEP ? '' : ' (removed; CHAOS_KEEP=1 keeps them)'}\n`);
    exitCode = failed ? 1 : 0;
  } finally {
    for (const a of agents) a.stop();
    await Promise.all([...procs.values()].map((p) => p.stop().catch(() => undefined)));
    callbacks?.close();
    await broker.stop().catch(() => undefined);
    await pg.stop().catch(() => undefined);
    if (!KEEP) {
      rmSync(dir, { recursive: true, force: true });
      rmSync(pgDir, { recursive: true, force: true });
    }
  }
  process.exit(exitCode);
}

void main().catch((err) => {
  process.stderr.write(`chaos failed: ${(err as Error).stack}\n`);
  process.exit(2);
});
