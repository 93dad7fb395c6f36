import type { Pool } from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { newId, type TopicNames } from '@omni/contracts';
import type { Logger } from '@omni/logging';
import { noKnownProvider, resolveProvider, UNRESOLVED_PROVIDER } from './accept-outbound';
import { callbackHeaders } from './callback-signature';
import type { DeliveryTarget } from './delivery-config';
import { deadLetterRecord, statusRecord } from './delivery-events';
import { claimDue, msUntilNextDue, recordAttempt, releaseClaim, type DeliveryRow } from './delivery-store';
import { classifyNetworkError, classifyResponse, decide, type AttemptOutcome, type RetryPolicy } from './retry-policy';

export interface DeliveryWorkerDeps {
  pool: Pool;
  topics: TopicNames;
  channels: readonly string[];
  targets: Map<string, DeliveryTarget>;
  policy: RetryPolicy;
  /** for building an email reply's body when its provider is resolved late (EMAIL_MESSAGE_ID_DOMAIN, EMAIL_REPLY_TO_ADDRESS) */
  emailDomain: string;
  replyToBase: string;
  timeoutMs: number;
  concurrency: number;
  pollMs: number;
  logger: Logger;
  /** called after a transaction wrote outbox records, so they leave without waiting for the poll */
  onOutbox: () => void;
  registry?: Registry;
}

// A claim outlives the HTTP timeout by this much, so a slow answer is recorded before the lease ends.
const LEASE_MARGIN_MS = 5000;
const CLAIM_BATCH_WAIT_MS = 5;

/**
 * The delivery loop: claims due rows of ingest.deliveries (only the oldest pending row of each
 * conversation), POSTs each to its target concurrently, records the outcome and its status event in
 * one transaction. Up to `concurrency` attempts are in flight, one per conversation at most, so a
 * slow or failing adapter holds back only its own conversations. Any replica may run it.
 */
export class DeliveryWorker {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private stopped = false;
  private kicked = false;
  private wake?: () => void;
  private loopDone?: Promise<void>;
  private readonly attempts?: Counter<'channel' | 'result'>;
  private readonly latency?: Histogram<'channel'>;

  constructor(private readonly deps: DeliveryWorkerDeps) {
    if (deps.registry) {
      this.attempts = new Counter({ name: 'delivery_attempts_total', help: 'Outbound delivery attempts by result', labelNames: ['channel', 'result'], registers: [deps.registry] });
      this.latency = new Histogram({
        name: 'delivery_callback_duration_seconds',
        help: 'Duration of delivery callback POSTs',
        labelNames: ['channel'],
        buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [deps.registry],
      });
      const pool = deps.pool;
      const channels = deps.channels;
      new Gauge({
        name: 'delivery_retry_oldest_age_seconds',
        help: 'Age of the oldest reply still pending after at least one failed attempt (0 when none)',
        labelNames: ['channel'],
        registers: [deps.registry],
        async collect() {
          // the database's trouble must not break /metrics: the last values stay
          const rows = await pool
            .query<{ channel: string; age: number }>(
              `SELECT channel, extract(epoch FROM now() - min(created_at))::float8 AS age FROM ingest.deliveries
                WHERE status = 'pending' AND attempts > 0 AND channel = ANY($1::text[]) GROUP BY channel`,
              [channels],
            )
            .then((r) => r.rows)
            .catch(() => undefined);
          if (!rows) return;
          this.reset();
          for (const c of channels) this.set({ channel: c }, rows.find((r) => r.channel === c)?.age ?? 0);
        },
      });
    }
  }

  start(): void {
    this.loopDone = this.loop();
  }

  /** New rows may be due (the consumer accepted some, or an attempt finished). */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** Stops claiming, aborts in-flight POSTs and hands their rows back (their attempt is not counted). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.kick();
    await this.loopDone;
    await Promise.allSettled([...this.inFlight]);
  }

  private async loop(): Promise<void> {
    const { pool, channels, concurrency, pollMs, timeoutMs, logger } = this.deps;
    while (!this.stopped) {
      this.kicked = false;
      let waitMs = pollMs;
      try {
        let free = concurrency - this.inFlight.size;
        if (free > 0 && free < concurrency / 4) {
          // Only a few slots came free: wait a moment so that one claim (one commit) takes several
          // rows instead of one per finished attempt — the commit rate, not HTTP, limits throughput.
          await new Promise((r) => setTimeout(r, CLAIM_BATCH_WAIT_MS));
          free = concurrency - this.inFlight.size;
        }
        if (free > 0) {
          const token = newId('claim');
          const rows = await claimDue(pool, channels, free, timeoutMs + LEASE_MARGIN_MS, token);
          for (const row of rows) {
            const p: Promise<void> = this.attempt(row, token)
              .catch((err) => logger.warn({ err, outboundId: row.outboundId }, 'recording a delivery attempt failed; the row is retried after its lease'))
              .finally(() => {
                this.inFlight.delete(p);
                this.kick();
              });
            this.inFlight.add(p);
          }
          if (rows.length === free) continue; // there may be more due rows
          const next = await msUntilNextDue(pool, channels);
          // a floor, so rows locked by another replica's claim in progress do not make us spin
          if (next !== undefined) waitMs = Math.min(pollMs, Math.max(20, next));
        }
      } catch (err) {
        logger.warn({ err }, 'delivery loop: claiming failed; retrying');
      }
      if (this.kicked || this.stopped) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, waitMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private async attempt(claimed: DeliveryRow, token: string): Promise<void> {
    let row = claimed;
    let outcome: AttemptOutcome | undefined;
    // jitter spreads retries against an adapter; a provider look-up hits only our database, so it waits
    // the full backoff ceiling: the budget is then DELIVERY_MAX_ATTEMPTS attempts over a known time
    let random: (() => number) | undefined;
    if (row.provider === UNRESOLVED_PROVIDER) {
      const r = await resolveProvider(this.deps.pool, this.deps, row, token);
      if (r.kind === 'lost') {
        this.deps.logger.warn({ outboundId: row.outboundId }, 'delivery claim expired before the provider was resolved; another attempt owns the row');
        return;
      }
      if (r.kind === 'websocket') return; // ingest-chat delivers websocket replies itself
      if (r.kind === 'unknown') {
        outcome = { kind: 'transient', reason: noKnownProvider(row.outbound.threadKey) };
        random = () => 1;
      } else if (r.kind === 'undeliverable') outcome = { kind: 'permanent', reason: r.reason };
      else row = { ...row, provider: r.provider, body: r.body };
    }
    if (!outcome) {
      const target = this.deps.targets.get(row.provider);
      const started = process.hrtime.bigint();
      outcome = target
        ? await this.post(target, row)
        : { kind: 'permanent', reason: `no delivery target for provider ${row.provider}` }; // configuration changed since acceptance
      this.latency?.observe({ channel: row.channel }, Number(process.hrtime.bigint() - started) / 1e9);
    }
    if (this.stopped && this.abort.signal.aborted && outcome.kind === 'transient') {
      await releaseClaim(this.deps.pool, row, token).catch(() => undefined);
      return;
    }
    const decision = decide(outcome, row.attempts, this.deps.policy, random);
    this.attempts?.inc({ channel: row.channel, result: decision.status });
    const { topics } = this.deps;
    const out = row.outbound;
    let recorded: boolean;
    if (decision.status === 'delivered') {
      recorded = await recordAttempt(this.deps.pool, row, token, { status: 'delivered', providerMessageId: decision.providerMessageId }, [
        statusRecord(topics, out, 'delivered', row.attempts, { providerMessageId: decision.providerMessageId }),
      ]);
    } else if (decision.status === 'retrying') {
      recorded = await recordAttempt(this.deps.pool, row, token, { status: 'pending', delayMs: decision.delayMs, lastError: decision.reason }, [
        statusRecord(topics, out, 'retrying', row.attempts, { reason: `${decision.reason}; next attempt in ${decision.delayMs} ms` }),
      ]);
    } else {
      recorded = await recordAttempt(this.deps.pool, row, token, { status: 'failed', lastError: decision.reason }, [
        statusRecord(topics, out, 'failed', row.attempts, { reason: decision.reason }),
        deadLetterRecord(topics, out, row.source, decision.reason),
      ]);
    }
    if (!recorded) {
      this.deps.logger.warn({ outboundId: row.outboundId }, 'delivery claim expired before the attempt was recorded; another attempt owns the row');
      return;
    }
    this.deps.onOutbox();
    if (decision.status === 'failed') this.deps.logger.warn({ outboundId: row.outboundId, conversationId: row.conversationId, reason: decision.reason }, 'delivery failed');
  }

  private async post(target: DeliveryTarget, row: DeliveryRow): Promise<AttemptOutcome> {
    // One controller with a plain timer rather than AbortSignal.any(timeout, stop): measurably cheaper
    // per request on Node 20, and the request is aborted by whichever comes first.
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new DOMException('delivery timed out', 'TimeoutError')), this.deps.timeoutMs);
    const onStop = () => ac.abort();
    this.abort.signal.addEventListener('abort', onStop, { once: true });
    try {
      const res = await fetch(target.url, {
        method: 'POST',
        headers: callbackHeaders(target.secret, row.outboundId, row.body),
        body: row.body,
        redirect: 'manual',
        signal: ac.signal,
      });
      const text = await res.text();
      const outcome = classifyResponse(res.status, res.headers.get('retry-after'));
      if (outcome.kind === 'delivered') {
        const id = providerMessageIdOf(text);
        return id ? { kind: 'delivered', providerMessageId: id } : outcome;
      }
      return outcome;
    } catch (err) {
      return classifyNetworkError(err);
    } finally {
      clearTimeout(timer);
      this.abort.signal.removeEventListener('abort', onStop);
    }
  }
}

/** An adapter may answer `{"providerMessageId": "..."}` (the id its provider gave the sent message). */
function providerMessageIdOf(text: string): string | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as { providerMessageId?: unknown };
    return typeof v?.providerMessageId === 'string' && v.providerMessageId ? v.providerMessageId : undefined;
  } catch {
    return undefined;
  }
}
