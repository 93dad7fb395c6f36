/**
 * The HTTP load generator of bench/ingest.ts. It runs in a worker thread so that the client's own
 * CPU (request encoding, response parsing) is not charged to the services on the main thread.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { isMainThread, parentPort } from 'node:worker_threads';
import type { ChannelKind } from '@omni/contracts';

export const TEXT = 'Hola, no puedo acceder a mi cuenta desde ayer; he probado a cambiar la contraseña y sigue fallando. ¿Me ayudáis? '.repeat(2);

export interface LoadResult {
  ok: number;
  failed: number;
  seconds: number;
  latenciesMs: number[];
  firstError?: string;
}

export interface LoadJob {
  url: string;
  route: ChannelKind | 'meta';
  run: string;
  total: number;
  concurrency: number;
  apiKey: string;
  metaSecret: string;
}

export function adapterBody(kind: ChannelKind, run: string, i: number): string {
  const channel = kind === 'social' ? 'telegram' : kind;
  return JSON.stringify({
    adapterMessageId: `${run}-${kind}-${i}`,
    channel,
    threadKey: `bench-${i % 500}`,
    from: { address: kind === 'email' ? `customer${i % 500}@example.org` : kind === 'phone' ? `+3460000${String(i % 500).padStart(4, '0')}` : `user-${i % 500}`, name: 'Bench Customer' },
    text: TEXT,
    ...(kind === 'email' ? { subject: 'No puedo acceder' } : {}),
  });
}

export function metaBody(run: string, i: number): string {
  return JSON.stringify({
    object: 'page',
    entry: [{ id: '104857600123456', time: 1763857200000, messaging: [{ sender: { id: `psid-${i % 500}` }, recipient: { id: '104857600123456' }, timestamp: 1763857200000, message: { mid: `m_${run}_${i}`, text: TEXT } }] }],
  });
}

/** Runs `total` operations with at most `concurrency` in flight; records each one's latency. */
export async function drive(total: number, concurrency: number, op: (i: number) => Promise<void>): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  let next = 0;
  let ok = 0;
  let failed = 0;
  let firstError: string | undefined;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        const s = process.hrtime.bigint();
        try {
          await op(i);
          ok++;
        } catch (err) {
          failed++;
          firstError ??= (err as Error).message;
        }
        latenciesMs.push(Number(process.hrtime.bigint() - s) / 1e6);
      }
    }),
  );
  return { ok, failed, seconds: Number(process.hrtime.bigint() - t0) / 1e9, latenciesMs, ...(firstError ? { firstError } : {}) };
}

async function runJob(job: LoadJob, agent: http.Agent): Promise<LoadResult> {
  const u = new URL(job.url);
  const post = (body: string, headers: Record<string, string>) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 || res.statusCode === 202 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  return drive(job.total, job.concurrency, (i) => {
    if (job.route === 'meta') {
      const body = metaBody(job.run, i);
      return post(body, { 'x-hub-signature-256': 'sha256=' + createHmac('sha256', job.metaSecret).update(body).digest('hex') });
    }
    return post(adapterBody(job.route, job.run, i), { 'x-api-key': job.apiKey });
  });
}

if (!isMainThread && parentPort) {
  // keep-alive sockets: fetch costs several times more CPU per request than node:http
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const port = parentPort;
  port.on('message', (job: LoadJob | 'stop') => {
    if (job === 'stop') {
      agent.destroy();
      port.close();
      return;
    }
    runJob(job, agent).then(
      (r) => port.postMessage(r),
      (err) => port.postMessage({ ok: 0, failed: job.total, seconds: 0, latenciesMs: [], firstError: String(err) }),
    );
  });
}
