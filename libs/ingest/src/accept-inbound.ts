import type { Pool } from 'pg';
import { InboundMessage, prepareForContract, type TopicNames } from '@omni/contracts';
import type { Logger } from '@omni/logging';
import type { Publisher } from '@omni/kafka';
import type { IngestMetrics } from './ingest-metrics';

export interface IngestDeps {
  pool: Pool;
  publisher: Publisher;
  topics: TopicNames;
  metrics: IngestMetrics;
  /** for errors after a publish (which are logged, not answered) */
  logger?: Logger;
}

export type AcceptResult = { status: 'accepted' | 'duplicate'; messageId: string };
/** The outcome of one envelope: accepted/duplicate, or the error that kept it out of Kafka. */
export type AcceptOutcome = AcceptResult | { status: 'failed'; messageId: string; error: Error };

/**
 * Publishes envelopes to omni.inbound.v1 unless already published, and resolves only after Kafka
 * acked them (acks=-1). Each envelope first goes through the contract's clean step and validation
 * (prepareForContract): customer text loses NUL and lone surrogates (listed in `cleaned`), an id or
 * key PostgreSQL cannot store is a ContractError (400). The dedupe row is written after the ack: a
 * crash in between means the provider retries and the copy is dropped by message id downstream —
 * never a lost message. Concurrent calls on the same deps are coalesced (see InboundBatcher); each
 * caller's guarantees are those of a call of its own. Rejects with the first failure of the
 * caller's envelopes (the others, if published, are recorded for dedupe, so a retry publishes no copy).
 */
export async function acceptInbound(deps: IngestDeps, envelopes: InboundMessage[]): Promise<AcceptResult[]> {
  const outcomes = await acceptInboundEach(deps, envelopes);
  const failed = outcomes.find((o): o is Extract<AcceptOutcome, { status: 'failed' }> => o.status === 'failed');
  if (failed) throw failed.error;
  return outcomes as AcceptResult[];
}

/** acceptInbound with one outcome per envelope: for callers that answer each message on its own (batched webhooks). */
export function acceptInboundEach(deps: IngestDeps, envelopes: InboundMessage[]): Promise<AcceptOutcome[]> {
  if (envelopes.length === 0) return Promise.resolve([]);
  let batcher = batchers.get(deps);
  if (!batcher) batchers.set(deps, (batcher = new InboundBatcher(deps)));
  return batcher.accept(envelopes);
}

const batchers = new WeakMap<IngestDeps, InboundBatcher>();

interface PendingAccept {
  envelopes: InboundMessage[];
  resolve: (r: AcceptOutcome[]) => void;
  reject: (err: unknown) => void;
}

/**
 * Coalesces concurrent accepts: envelopes that arrive while earlier batches are in flight share one
 * dedupe lookup, one produce request and one dedupe insert, instead of two database round trips and
 * a publish each. Under light load a call runs at once (no added latency). Failures are per
 * envelope: one the contract or the broker refuses fails alone; the broker down fails every
 * envelope of that batch (all answer 503 and are retried); an envelope that was published is never
 * reported failed, even if its dedupe row could not be written.
 */
export class InboundBatcher {
  private queue: PendingAccept[] = [];
  private inFlight = 0;

  constructor(
    private readonly deps: IngestDeps,
    private readonly maxInFlight = 4,
    private readonly maxBatch = 500,
  ) {}

  accept(envelopes: InboundMessage[]): Promise<AcceptOutcome[]> {
    // cleaned and validated here so that one caller's bad envelope fails that caller only, not its batch
    let prepared: InboundMessage[];
    try {
      prepared = envelopes.map((e) => prepareForContract(InboundMessage, e));
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ envelopes: prepared, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch: PendingAccept[] = [];
      let size = 0;
      while (this.queue.length > 0 && (size === 0 || size + this.queue[0]!.envelopes.length <= this.maxBatch)) {
        const p = this.queue.shift()!;
        batch.push(p);
        size += p.envelopes.length;
      }
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async run(batch: PendingAccept[]): Promise<void> {
    try {
      const results = await acceptInboundUnbatched(this.deps, batch.flatMap((p) => p.envelopes));
      let i = 0;
      for (const p of batch) {
        p.resolve(results.slice(i, i + p.envelopes.length));
        i += p.envelopes.length;
      }
    } catch (err) {
      // only what precedes any publish can land here (the dedupe lookup): nothing was published
      for (const p of batch) p.reject(err);
    }
  }
}

/** acceptInbound for one batch, without coalescing; one outcome per envelope. */
export async function acceptInboundUnbatched(deps: IngestDeps, envelopes: InboundMessage[]): Promise<AcceptOutcome[]> {
  if (envelopes.length === 0) return [];
  const ids = envelopes.map((e) => e.messageId);
  const seen = new Set(
    (await deps.pool.query<{ message_id: string }>('SELECT message_id FROM ingest.dedupe WHERE message_id = ANY($1::text[])', [ids])).rows.map((r) => r.message_id),
  );
  const fresh: InboundMessage[] = [];
  const batchIds = new Set<string>();
  for (const e of envelopes) {
    if (seen.has(e.messageId) || batchIds.has(e.messageId)) continue;
    batchIds.add(e.messageId);
    fresh.push(e);
  }
  // One publish call per envelope: the publisher still sends them in one request, and one the
  // broker refuses for good fails alone.
  const published = await Promise.allSettled(fresh.map((e) => deps.publisher.publish([{ topic: deps.topics.inbound, key: e.threadKey, value: e, schema: InboundMessage }])));
  const failedIds = new Map<string, Error>();
  const ok: InboundMessage[] = [];
  published.forEach((r, i) => (r.status === 'fulfilled' ? ok.push(fresh[i]!) : failedIds.set(fresh[i]!.messageId, r.reason as Error)));
  if (ok.length > 0) await recordPublished(deps, ok);
  const freshIds = new Set(ok.map((e) => e.messageId));
  return envelopes.map((e): AcceptOutcome => {
    const error = failedIds.get(e.messageId);
    if (error) return { status: 'failed', messageId: e.messageId, error };
    const status = freshIds.has(e.messageId) ? 'accepted' : 'duplicate';
    (status === 'accepted' ? deps.metrics.accepted : deps.metrics.duplicate).inc({ channel: e.channel, provider: e.provider });
    freshIds.delete(e.messageId); // a second copy inside the same batch counts as duplicate
    return { status, messageId: e.messageId };
  });
}

const DEDUPE_INSERT = `INSERT INTO ingest.dedupe (message_id, channel, provider, provider_message_id, thread_key)
   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
   ON CONFLICT (message_id) DO NOTHING`;
const dedupeParams = (es: InboundMessage[]) => [es.map((e) => e.messageId), es.map((e) => e.channel), es.map((e) => e.provider), es.map((e) => e.providerMessageId), es.map((e) => e.threadKey)];

/** How long a dedupe row that could not be written after its publish is retried in the background. */
export const DEDUPE_RECORD_RETRY_MS = 10 * 60_000;

/**
 * Writes the dedupe rows of published envelopes. These messages are in Kafka, so whatever happens
 * here they are answered accepted. The row is not only dedupe: delivery finds a thread's provider
 * through it, so a row that cannot be written now (PostgreSQL restarting between the ack and the
 * insert) is retried in the background with backoff for DEDUPE_RECORD_RETRY_MS — without it, the
 * agent's replies on that thread could never be delivered (found by the CI fault run). Never thrown.
 */
async function recordPublished(deps: IngestDeps, es: InboundMessage[]): Promise<void> {
  try {
    await deps.pool.query(DEDUPE_INSERT, dedupeParams(es));
  } catch (err) {
    deps.logger?.warn({ err: (err as Error).message, messages: es.length }, 'dedupe rows not written after publish; retrying in the background');
    void retryRecord(deps, es, Date.now() + DEDUPE_RECORD_RETRY_MS);
  }
}

async function retryRecord(deps: IngestDeps, es: InboundMessage[], giveUpAt: number): Promise<void> {
  for (let delayMs = 250; ; delayMs = Math.min(delayMs * 2, 5000)) {
    await new Promise((r) => setTimeout(r, delayMs).unref());
    if (deps.pool.ending) break;
    try {
      await deps.pool.query(DEDUPE_INSERT, dedupeParams(es));
      deps.logger?.info({ messages: es.length }, 'dedupe rows written on retry');
      return;
    } catch (err) {
      if (Date.now() >= giveUpAt) {
        deps.logger?.error({ err: (err as Error).message }, 'giving up on the dedupe rows');
        break;
      }
    }
  }
  deps.logger?.error(
    { messages: es.length, messageIds: es.map((e) => e.messageId).slice(0, 20) },
    'dedupe rows of published messages not written: a provider retry may publish a copy (dropped downstream by id), and replies on these threads wait for their provider',
  );
}
