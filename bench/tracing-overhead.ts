/**
 * npm run bench:tracing — what OpenTelemetry tracing costs the ingest path, tracing off and on in
 * the same run.
 *
 * Two ingest-chat processes (their real main.ts) on one world: one without OTEL_* variables (no SDK
 * is started: the API's no-op), one with OTEL_EXPORTER_OTLP_ENDPOINT pointing at an OTLP/HTTP sink
 * in this process that counts what it receives and throws it away (as a collector would take it off
 * the service's hands). The same load (adapter POSTs from a worker thread, as bench:ingest) goes to
 * each in turn, off/on/off/on…, so drift on a shared machine hits both alike.
 * Env: KAFKA_BROKERS, DATABASE_URL, BENCH_MESSAGES (2000), BENCH_CONCURRENCY (50), BENCH_ROUNDS (4),
 * BENCH_WARMUP (3000 per process).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createWorld } from '../test/support/infra';
import { processCpuSeconds, startServiceProcess, type ServiceProcess } from '../test/support/service-process';
import type { LoadJob, LoadResult } from './ingest-load';

process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
const N = Number(process.env.BENCH_MESSAGES ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
// the JIT needs a few thousand requests per process before CPU per message settles
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3000);
const API_KEY = 'bench-key-0123456789';

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

function inWorker(worker: Worker, job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.postMessage(job);
  });
}

async function main(): Promise<void> {
  const world = await createWorld('benchtracing', { partitions: 6 });
  // the OTLP sink: counts requests, bytes and spans (by their "spanId" keys), answers 200
  const sink = { requests: 0, bytes: 0, spans: 0 };
  const server = createServer((req, res) => {
    let tail = '';
    req.on('data', (c: Buffer) => {
      sink.bytes += c.length;
      const text = tail + c.toString('latin1');
      sink.spans += (text.match(/"spanId"/g) ?? []).length;
      tail = text.slice(-10);
    });
    req.on('end', () => {
      sink.requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const base = { ADAPTER_API_KEYS: `bench:${API_KEY}`, LOG_LEVEL: 'info', PUBLIC_RATE_LIMIT_PER_MINUTE: '100000000', CREDENTIAL_RATE_LIMIT_PER_MINUTE: '100000000' };
  const procs: ServiceProcess[] = [];
  const worker = new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(join(__dirname, 'ingest-load.ts'))});`, { eval: true });
  const rows: { mode: 'off' | 'on'; round: number; r: LoadResult; cpuS: number }[] = [];
  try {
    // one after the other: both migrate the same schema
    const off = await startServiceProcess('ingest-chat', world.env({ ...base, CHAT_WS_GROUP_ID: world.groupId('ws-off'), DELIVERY_GROUP_ID: world.groupId('dl-off') }));
    procs.push(off);
    const on = await startServiceProcess(
      'ingest-chat',
      world.env({ ...base, CHAT_WS_GROUP_ID: world.groupId('ws-on'), DELIVERY_GROUP_ID: world.groupId('dl-on'), OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_SERVICE_NAME: 'ingest-chat-bench' }),
    );
    procs.push(on);
    if (!on.lines.some((l) => l.includes('tracing on'))) throw new Error('the traced process did not start tracing');
    if (off.lines.some((l) => l.includes('tracing on'))) throw new Error('the untraced process started tracing');
    const job = (p: ServiceProcess, run: string, total: number): LoadJob => ({ url: `${p.url}/v1/chat/messages`, route: 'chat', apiKey: API_KEY, metaSecret: 'unused', run, total, concurrency: CONCURRENCY });
    await inWorker(worker, job(off, `woff${world.id}`, WARMUP));
    await inWorker(worker, job(on, `won${world.id}`, WARMUP));
    const spansBefore = sink.spans;
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [mode, p] of [['off', off], ['on', on]] as const) {
        const c0 = processCpuSeconds(p.child.pid);
        const r = await inWorker(worker, job(p, `${mode}${round}${world.id}`, N));
        const cpuS = processCpuSeconds(p.child.pid) - c0;
        if (r.firstError) console.error(`${mode} round ${round}: ${r.failed} failed, first: ${r.firstError}`);
        rows.push({ mode, round, r, cpuS });
      }
    }
    // the last batch of spans is exported within the schedule delay (5 s by default)
    const deadline = Date.now() + 15000;
    let last = -1;
    while (Date.now() < deadline && sink.spans !== last) {
      last = sink.spans;
      await new Promise((r) => setTimeout(r, 6000));
    }
    const traced = rows.filter((x) => x.mode === 'on').reduce((n, x) => n + x.r.ok, 0);
    console.log(`\ntracing overhead on ingest-chat POST /v1/chat/messages: ${N} messages per row, concurrency ${CONCURRENCY}, ${ROUNDS} rounds off/on alternating, broker ${process.env.KAFKA_BROKERS}`);
    console.log('CPU ms/msg: CPU time (user + system) the ingest-chat process used per accepted message, the cost that contention on a shared machine does not blur');
    console.log(['tracing'.padEnd(8), 'round'.padStart(5), 'ok'.padStart(6), 'fail'.padStart(5), 'msgs/s'.padStart(8), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), 'CPU ms/msg'.padStart(11)].join(' '));
    for (const { mode, round, r, cpuS } of rows) {
      const s = [...r.latenciesMs].sort((a, b) => a - b);
      console.log(
        [mode.padEnd(8), String(round).padStart(5), String(r.ok).padStart(6), String(r.failed).padStart(5), (r.ok / r.seconds).toFixed(0).padStart(8), pct(s, 50).toFixed(1).padStart(8), pct(s, 99).toFixed(1).padStart(8), ((cpuS * 1000) / Math.max(1, r.ok)).toFixed(3).padStart(11)].join(' '),
      );
    }
    const sum = (mode: 'off' | 'on') => {
      const rs = rows.filter((x) => x.mode === mode).map((x) => x.r);
      const ok = rs.reduce((n, r) => n + r.ok, 0);
      const secs = rs.reduce((n, r) => n + r.seconds, 0);
      const lat = rs.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
      const cpu = rows.filter((x) => x.mode === mode).reduce((n, x) => n + x.cpuS, 0);
      return { rate: ok / secs, p50: pct(lat, 50), p99: pct(lat, 99), cpuMsPerMsg: (cpu * 1000) / Math.max(1, ok) };
    };
    const a = sum('off');
    const b = sum('on');
    // each round's on/off pair ran back to back: the median of their ratios resists the drift between rounds
    const ratios = Array.from({ length: ROUNDS }, (_, i) => {
      const [off, on] = [rows[2 * i]!.r, rows[2 * i + 1]!.r];
      return on.ok / on.seconds / (off.ok / off.seconds);
    });
    const median = [...ratios].sort((x, y) => x - y)[Math.floor(ratios.length / 2)]!;
    console.log(`all rounds: off ${a.rate.toFixed(0)} msgs/s (p50 ${a.p50.toFixed(1)}, p99 ${a.p99.toFixed(1)} ms, ${a.cpuMsPerMsg.toFixed(3)} CPU ms/msg), on ${b.rate.toFixed(0)} msgs/s (p50 ${b.p50.toFixed(1)}, p99 ${b.p99.toFixed(1)} ms, ${b.cpuMsPerMsg.toFixed(3)} CPU ms/msg)`);
    console.log(`tracing on: CPU per message ${((b.cpuMsPerMsg / a.cpuMsPerMsg - 1) * 100).toFixed(0)}% more; rate per round on/off ${ratios.map((x) => `${(x * 100).toFixed(0)}%`).join(', ')} (median ${(median * 100).toFixed(0)}%); ${sink.spans - spansBefore} spans exported for ${traced} traced requests (${((sink.spans - spansBefore) / Math.max(1, traced)).toFixed(1)} a request), ${sink.requests} OTLP requests, ${(sink.bytes / 1e6).toFixed(1)} MB in all`);
  } finally {
    worker.postMessage('stop');
    await worker.terminate().catch(() => undefined);
    for (const p of procs) await p.stop().catch(() => undefined);
    server.close();
    await world.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
