/**
 * npm run bench:tracing — what OpenTelemetry tracing costs the ingest path, tracing off and on in
 * the same run.
 *
 * Three ingest-chat processes (their real main.ts) on one world: one without OTEL_* variables (no SDK
 * is started: the API's no-op), one with OTEL_EXPORTER_OTLP_ENDPOINT pointing at an OTLP/HTTP sink
 * in this process that counts what it receives and throws it away (as a collector would take it off
 * the service's hands), and one like it sampling 10% of the requests. The same load (adapter POSTs
 * from a worker thread, as bench:ingest) goes to each in turn, round after round, so drift on a
 * shared machine hits all three alike; the CPU time each process used per message is the steadier
 * figure.
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
    const onError = (err: Error) => reject(err);
    worker.once('error', onError);
    worker.once('message', (r: LoadResult) => {
      worker.off('error', onError);
      resolve(r);
    });
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
  type Mode = 'off' | 'on' | 'on 10%';
  const rows: { mode: Mode; round: number; r: LoadResult; cpuS: number }[] = [];
  try {
    // one after the other: they migrate the same schema
    const start = (tag: string, extra: Record<string, string>) =>
      startServiceProcess('ingest-chat', world.env({ ...base, CHAT_WS_GROUP_ID: world.groupId(`ws-${tag}`), CHAT_WAIT_GROUP_ID: world.groupId(`wt-${tag}`), DELIVERY_GROUP_ID: world.groupId(`dl-${tag}`), ...extra }));
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_SERVICE_NAME: 'ingest-chat-bench' };
    const modes: [Mode, ServiceProcess][] = [
      ['off', await start('off', {})],
      ['on', await start('on', otel)],
      // head sampling: a tenth of the requests that come without a sampled traceparent are traced
      ['on 10%', await start('on10', { ...otel, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' })],
    ];
    procs.push(...modes.map(([, p]) => p));
    for (const [mode, p] of modes) if (p.lines.some((l) => l.includes('tracing on')) !== (mode !== 'off')) throw new Error(`the "${mode}" process did not start as asked`);
    const job = (p: ServiceProcess, run: string, total: number): LoadJob => ({ url: `${p.url}/v1/chat/messages`, route: 'chat', apiKey: API_KEY, metaSecret: 'unused', run, total, concurrency: CONCURRENCY });
    for (const [mode, p] of modes) await inWorker(worker, job(p, `w${mode.replace(/\W/g, '')}${world.id}`, WARMUP));
    const spansBefore = sink.spans;
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [mode, p] of modes) {
        const c0 = processCpuSeconds(p.child.pid);
        const r = await inWorker(worker, job(p, `${mode.replace(/\W/g, '')}${round}${world.id}`, N));
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
    console.log(`\ntracing overhead on ingest-chat POST /v1/chat/messages: ${N} messages per row, concurrency ${CONCURRENCY}, ${ROUNDS} rounds of off / on / on with 10% sampling, broker ${process.env.KAFKA_BROKERS}`);
    console.log('CPU ms/msg: CPU time (user + system) the ingest-chat process used per accepted message, the cost that contention on a shared machine does not blur');
    console.log(['tracing'.padEnd(8), 'round'.padStart(5), 'ok'.padStart(6), 'fail'.padStart(5), 'msgs/s'.padStart(8), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), 'CPU ms/msg'.padStart(11)].join(' '));
    for (const { mode, round, r, cpuS } of rows) {
      const s = [...r.latenciesMs].sort((a, b) => a - b);
      console.log(
        [mode.padEnd(8), String(round).padStart(5), String(r.ok).padStart(6), String(r.failed).padStart(5), (r.ok / r.seconds).toFixed(0).padStart(8), pct(s, 50).toFixed(1).padStart(8), pct(s, 99).toFixed(1).padStart(8), ((cpuS * 1000) / Math.max(1, r.ok)).toFixed(3).padStart(11)].join(' '),
      );
    }
    const sum = (mode: Mode) => {
      const mine = rows.filter((x) => x.mode === mode);
      const ok = mine.reduce((n, x) => n + x.r.ok, 0);
      const secs = mine.reduce((n, x) => n + x.r.seconds, 0);
      const lat = mine.flatMap((x) => x.r.latenciesMs).sort((a, b) => a - b);
      const cpu = mine.reduce((n, x) => n + x.cpuS, 0);
      // each round's rows ran back to back: the median of the per-round ratios to "off" resists drift between rounds
      const ratios = mine.map((x) => {
        const off = rows.find((o) => o.mode === 'off' && o.round === x.round)!.r;
        return x.r.ok / x.r.seconds / (off.ok / off.seconds);
      });
      return { rate: ok / secs, p50: pct(lat, 50), p99: pct(lat, 99), cpuMsPerMsg: (cpu * 1000) / Math.max(1, ok), ratios, median: [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)]! };
    };
    const off = sum('off');
    for (const mode of ['off', 'on', 'on 10%'] as Mode[]) {
      const m = sum(mode);
      const extra =
        mode === 'off'
          ? ''
          : `; CPU per message ${((m.cpuMsPerMsg / off.cpuMsPerMsg - 1) * 100).toFixed(0)}% more than off; rate per round vs off ${m.ratios.map((x) => `${(x * 100).toFixed(0)}%`).join(', ')} (median ${(m.median * 100).toFixed(0)}%)`;
      console.log(`${mode.padEnd(7)}: ${m.rate.toFixed(0)} msgs/s, p50 ${m.p50.toFixed(1)} ms, p99 ${m.p99.toFixed(1)} ms, ${m.cpuMsPerMsg.toFixed(3)} CPU ms/msg${extra}`);
    }
    const traced = rows.filter((x) => x.mode !== 'off').reduce((n, x) => n + x.r.ok, 0);
    console.log(`exported: ${sink.spans - spansBefore} spans for ${traced} requests to the two traced processes, ${sink.requests} OTLP requests, ${(sink.bytes / 1e6).toFixed(1)} MB in all`);
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
