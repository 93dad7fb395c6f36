import type { Pool } from 'pg';
import { assertValid, InboundMessage, type TopicNames } from '@omni/contracts';
import type { Publisher } from '@omni/kafka';
import type { IngestMetrics } from './ingest-metrics';

export interface IngestDeps {
  pool: Pool;
  publisher: Publisher;
  topics: TopicNames;
  metrics: IngestMetrics;
}

export type AcceptResult = { status: 'accepted' | 'duplicate'; messageId: string };

/**
 * Publishes envelopes to omni.inbound.v1 unless already published, and resolves only after Kafka
 * acked them (acks=-1). The dedupe row is written after the ack: a crash in between means the
 * provider retries and the copy is dropped by message id downstream — never a lost message.
 * Concurrent calls on the same deps are coalesced (see InboundBatcher); each caller's guarantees
 * are those of a call of its own.
 */
export function acceptInbound(deps: IngestDeps, envelopes: InboundMessage[]): Promise<AcceptResult[]> {
  if (envelopes.length === 0) return Promise.resolve([]);
  let batcher = batchers.get(deps);
  if (!batcher) batchers.set(deps, (batcher = new InboundBatcher(deps)));
  return batcher.accept(envelopes);
}

const batchers = new WeakMap<IngestDeps, InboundBatcher>();

interface PendingAccept {
  envelopes: InboundMessage[];
  resolve: (r: AcceptResult[]) => void;
  reject: (err: unknown) => void;
}

/**
 * Coalesces concurrent accepts: envelopes that arrive while earlier batches are in flight share one
 * dedupe lookup, one publish and one dedupe insert, instead of two database round trips and a
 * publish each. Under light load a call runs at once (no added latency). A failure (broker down)
 * fails every caller of that batch, which all answer 503 and are retried by their providers.
 */
export class InboundBatcher {
  private queue: PendingAccept[] = [];
  private inFlight = 0;

  constructor(
    private readonly deps: IngestDeps,
    private readonly maxInFlight = 4,
    private readonly maxBatch = 500,
  ) {}

  accept(envelopes: InboundMessage[]): Promise<AcceptResult[]> {
    // validated here so that one caller's bad envelope fails that caller only, not its batch
    try {
      for (const e of envelopes) assertValid(InboundMessage, e);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ envelopes, resolve, reject });
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
      for (const p of batch) p.reject(err);
    }
  }
}

/** acceptInbound for one batch, without coalescing. */
export async function acceptInboundUnbatched(deps: IngestDeps, envelopes: InboundMessage[]): Promise<AcceptResult[]> {
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
  if (fresh.length > 0) {
    await deps.publisher.publish(fresh.map((e) => ({ topic: deps.topics.inbound, key: e.threadKey, value: e, schema: InboundMessage })));
    await deps.pool.query(
      `INSERT INTO ingest.dedupe (message_id, channel, provider, provider_message_id, thread_key)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
       ON CONFLICT (message_id) DO NOTHING`,
      [fresh.map((e) => e.messageId), fresh.map((e) => e.channel), fresh.map((e) => e.provider), fresh.map((e) => e.providerMessageId), fresh.map((e) => e.threadKey)],
    );
  }
  const freshIds = new Set(fresh.map((e) => e.messageId));
  return envelopes.map((e) => {
    const status = freshIds.has(e.messageId) ? 'accepted' : 'duplicate';
    (status === 'accepted' ? deps.metrics.accepted : deps.metrics.duplicate).inc({ channel: e.channel, provider: e.provider });
    freshIds.delete(e.messageId); // a second copy inside the same batch counts as duplicate
    return { status, messageId: e.messageId };
  });
}
