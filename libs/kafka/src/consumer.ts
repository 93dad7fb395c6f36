import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { Span } from '@opentelemetry/api';
import { endSpan, startBatchSpan, startProcessSpan, tracingActive, withSpan } from '@omni/tracing';
import type { TSchema, Static } from '@sinclair/typebox';
import { Counter, type Registry } from 'prom-client';
import { cleanBySchema, problemsOf, DeadLetter, truncateCodePoints } from '@omni/contracts';
import type { Logger } from '@omni/logging';
import type { Publisher } from './publisher';
import { KAFKA_MAX_MESSAGE_BYTES } from './message-size';
import { fetchMaxWaitOf } from './client';

// what of a dead-lettered message's value goes into its DLQ record (escaped JSON can grow 6×)
const DLQ_VALUE_CHARS = 128 * 1024;

/** A message after JSON parsing and contract validation. */
export interface Received<T> {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: T;
}

/** Thrown by a handler for input that will never succeed: goes to the DLQ without further retries. */
export class PermanentError extends Error {}

export interface ConsumerSpec<T> {
  kafka: Kafka;
  groupId: string;
  /** topic name → schema its values must satisfy */
  topics: Record<string, TSchema>;
  logger: Logger;
  publisher: Publisher;
  dlqTopic: string;
  fromBeginning?: boolean;
  partitionsConsumedConcurrently?: number;
  /**
   * Broker-side fetch batching (optional): wait up to maxWaitTimeInMs for minBytes per fetch, which
   * makes batches larger under a steady trickle at the cost of that much latency.
   */
  fetch?: { minBytes?: number; maxWaitTimeInMs?: number };
  /** counts dead-lettered messages in consumer_dead_lettered_total (the service's /metrics) */
  registry?: Registry;
  /** attempts for a failing message before it is dead-lettered (infrastructure errors retry forever) */
  attempts?: number;
  /** Process messages one by one, in order… */
  handle?: (msg: Received<T>) => Promise<void>;
  /** …or a whole fetched batch of one partition at once (must be idempotent as a unit). */
  handleBatch?: (msgs: Received<T>[]) => Promise<void>;
  /**
   * A record with a null value is a tombstone (a compacted topic's "this key is gone", e.g. an erased
   * customer): it is outside every contract, so it is given here by key and never dead-lettered;
   * without this handler it is skipped.
   */
  handleTombstone?: (key: string) => Promise<void>;
}

// Errors that say "the database or broker is not there right now", not "this message is bad".
// Retrying these forever (without committing) is right: dead-lettering them would lose messages.
const INFRA_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '53300', 'KAFKA_UNAVAILABLE']);
export function isInfrastructureError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e?.code && (INFRA_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED/i.test(e?.message ?? '');
}

/**
 * Runs a consumer group that commits an offset only after the handler's effect is durable.
 * Invalid JSON or contract violations go straight to the dead-letter topic with the reason; handler
 * failures are retried with backoff, then dead-lettered; infrastructure failures stop the batch
 * without committing so Kafka redelivers once the dependency is back.
 */
export async function startConsumer<T>(spec: ConsumerSpec<T>): Promise<Consumer> {
  // Retries are bounded inside one run; after them kafkajs crashes the consumer and restarts it
  // (restartOnFailure), for ever, until we disconnect. Unbounded retries inside a run would outlive
  // disconnect(): kafkajs cannot cancel a retrier in progress, so a consumer closed during a broker
  // outage kept the process alive, retrying (found by the Kafka outage test).
  let closing = false;
  // the consumer's own batching wait, else the client's KAFKA_FETCH_MAX_WAIT_MS (else kafkajs's 5 s)
  const maxWait = spec.fetch?.maxWaitTimeInMs ?? fetchMaxWaitOf(spec.kafka);
  const consumer = spec.kafka.consumer({
    groupId: spec.groupId,
    sessionTimeout: 30000,
    heartbeatInterval: 3000,
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 5000, restartOnFailure: async () => !closing },
    allowAutoTopicCreation: false,
    // a fetch can hold the largest record the topics allow (the broker returns an oversized first
    // batch anyway, but aligned limits keep one big envelope from starving a partition's fetch)
    maxBytesPerPartition: KAFKA_MAX_MESSAGE_BYTES,
    maxBytes: 2 * KAFKA_MAX_MESSAGE_BYTES,
    ...(spec.fetch?.minBytes !== undefined ? { minBytes: spec.fetch.minBytes } : {}),
    ...(maxWait !== undefined ? { maxWaitTimeInMs: maxWait } : {}),
  });
  const disconnect = consumer.disconnect.bind(consumer);
  consumer.disconnect = async () => {
    closing = true;
    await disconnect();
  };
  const log = spec.logger.child({ consumerGroup: spec.groupId });
  const attempts = spec.attempts ?? 3;

  const dead = spec.registry
    ? ((spec.registry.getSingleMetric('consumer_dead_lettered_total') as Counter<'group' | 'topic'> | undefined) ??
      new Counter({ name: 'consumer_dead_lettered_total', help: 'Messages a consumer sent to omni.dlq.v1', labelNames: ['group', 'topic'], registers: [spec.registry] }))
    : undefined;
  const deadLetter = async (topic: string, partition: number, m: KafkaMessage, reason: string) => {
    // an error, not a warning: a dead-lettered message is not processed until someone replays it
    dead?.inc({ group: spec.groupId, topic });
    if (topic === spec.dlqTopic) {
      // a consumer of the DLQ itself: sending it back would loop; the error log is the record
      log.error({ topic, partition, offset: m.offset, reason, key: m.key?.toString() }, 'dead letter could not be processed; skipped');
      return;
    }
    log.error({ topic, partition, offset: m.offset, reason }, 'message dead-lettered');
    // The record must fit in the DLQ whatever the original was: a value over DLQ_VALUE_CHARS is cut
    // (the original stays at its topic/partition/offset until retention removes it), and if the broker
    // still refuses the record it goes without the value: a dead letter that cannot be written would
    // stop this consumer, the very thing dead-lettering is for.
    const original = m.value?.toString() ?? null;
    const cut = original !== null && original.length > DLQ_VALUE_CHARS;
    const value: DeadLetter = {
      schema: 'omni.dlq.v1',
      source: { topic, partition, offset: m.offset, groupId: spec.groupId },
      reason: truncateCodePoints(cut ? `${reason} (value cut to ${DLQ_VALUE_CHARS} of ${original.length} characters; the original is at the source offset)` : reason, 4000),
      key: m.key ? truncateCodePoints(m.key.toString(), 4096) : null,
      value: cut ? truncateCodePoints(original, DLQ_VALUE_CHARS) : original,
      failedAt: new Date().toISOString(),
    };
    const record = (v: DeadLetter) => [{ topic: spec.dlqTopic, key: `${topic}:${partition}:${m.offset}`, value: v, schema: DeadLetter }];
    try {
      await spec.publisher.publish(record(value));
    } catch (err) {
      if ((err as { code?: string }).code !== 'KAFKA_REJECTED') throw err;
      await spec.publisher.publish(record({ ...value, value: null, reason: truncateCodePoints(`${value.reason} (value left out: ${(err as Error).message})`, 4000) }));
    }
  };

  const decode = (topic: string, m: KafkaMessage): { ok: true; value: T } | { ok: false; reason: string } => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(m.value?.toString() ?? 'null');
    } catch (err) {
      return { ok: false, reason: `invalid JSON: ${(err as Error).message}` };
    }
    const schema = spec.topics[topic];
    if (!schema) return { ok: false, reason: `no schema for topic ${topic}` };
    // A message this consumer can store after the contract's clean step (text with NUL or a lone
    // surrogate from an older producer) is cleaned, not dead-lettered; ids and keys are not cleaned.
    const { value } = cleanBySchema(schema, parsed);
    const problems = problemsOf(schema, value);
    if (problems.length > 0) return { ok: false, reason: `contract violation: ${problems.join('; ')}` };
    return { ok: true, value: value as T };
  };

  const tombstone = async (topic: string, partition: number, m: KafkaMessage): Promise<void> => {
    const key = m.key?.toString();
    if (!spec.handleTombstone || !key) return;
    const r = await withRetries(() => spec.handleTombstone!(key));
    if (!r.ok) await deadLetter(topic, partition, m, r.reason);
  };

  const withRetries = async (what: () => Promise<void>): Promise<{ ok: true } | { ok: false; reason: string }> => {
    for (let i = 1; ; i++) {
      try {
        await what();
        return { ok: true };
      } catch (err) {
        if (isInfrastructureError(err)) throw err;
        if (err instanceof PermanentError || i >= attempts) return { ok: false, reason: (err as Error).message };
        log.warn({ err, attempt: i }, 'handler failed, retrying');
        await new Promise((r) => setTimeout(r, 100 * 2 ** i));
      }
    }
  };

  await consumer.connect();
  for (const topic of Object.keys(spec.topics)) await consumer.subscribe({ topic, fromBeginning: spec.fromBeginning ?? true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: spec.partitionsConsumedConcurrently ?? 3,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      const { topic, partition } = batch;
      const good: Received<T>[] = [];
      let last: string | undefined;
      const commit = async () => {
        if (last !== undefined) await consumer.commitOffsets([{ topic, partition, offset: (BigInt(last) + 1n).toString() }]);
      };
      try {
        if (spec.handleBatch) {
          const tombstones: KafkaMessage[] = [];
          const bad: Promise<void>[] = [];
          const goodMessages: KafkaMessage[] = [];
          for (const m of batch.messages) {
            if (m.value === null) {
              tombstones.push(m);
              continue;
            }
            const d = decode(topic, m);
            if (d.ok) {
              good.push({ topic, partition, offset: m.offset, key: m.key?.toString() ?? null, value: d.value });
              goodMessages.push(m);
            } else bad.push(deadLetter(topic, partition, m, d.reason));
          }
          // all of a batch's dead letters in one produce request (the publisher coalesces them): a
          // batch full of poison must not outlast the session timeout, or the group evicts this
          // member, the batch is never committed and is fetched again for ever (found by the decode
          // property with hundreds of refused messages)
          await Promise.all(bad);
          await heartbeat();
          if (good.length > 0) {
            const traced = traceRecords(spec.groupId, topic, partition, goodMessages);
            try {
              const r = await withSpan(traced?.active, () => withRetries(() => spec.handleBatch!(good)));
              await heartbeat();
              if (!r.ok) {
                // The batch as a unit failed: fall back to one-by-one so only the bad message is dead-lettered.
                for (const g of good) {
                  const span = traced?.spans.get(g.offset);
                  const one = await withSpan(span, () => withRetries(() => spec.handleBatch!([g])));
                  if (!one.ok) {
                    traced?.failed.set(g.offset, one.reason);
                    await deadLetter(topic, partition, batch.messages.find((m) => m.offset === g.offset)!, one.reason);
                  }
                  await heartbeat();
                }
              }
            } catch (err) {
              traced?.fail(err);
              throw err;
            } finally {
              traced?.end();
            }
          }
          // after the batch: a key's tombstone is its last word, so it must not be undone by an older record
          for (const m of tombstones) await tombstone(topic, partition, m);
          const lastMsg = batch.messages[batch.messages.length - 1];
          if (lastMsg) {
            resolveOffset(lastMsg.offset);
            last = lastMsg.offset;
          }
        } else {
          for (const m of batch.messages) {
            if (!isRunning() || isStale()) break;
            const d = m.value === null ? undefined : decode(topic, m);
            if (!d) await tombstone(topic, partition, m);
            else if (!d.ok) await deadLetter(topic, partition, m, d.reason);
            else {
              const span = startProcessSpan({ topic, partition, offset: m.offset, groupId: spec.groupId, headers: m.headers });
              try {
                const r = await withSpan(span, () => withRetries(() => spec.handle!({ topic, partition, offset: m.offset, key: m.key?.toString() ?? null, value: d.value })));
                if (!r.ok) {
                  endSpan(span, new Error(`dead-lettered: ${r.reason}`));
                  await deadLetter(topic, partition, m, r.reason);
                } else endSpan(span);
              } catch (err) {
                // infrastructure: the message is not committed and comes again
                endSpan(span, err);
                throw err;
              }
            }
            resolveOffset(m.offset);
            last = m.offset;
            await heartbeat();
          }
        }
      } finally {
        await commit();
      }
    },
  });
  return consumer;
}

export type ReceivedOf<S extends TSchema> = Received<Static<S>>;

/**
 * With tracing on, a span per handled record (a child of the context in its headers, so each
 * message's trace shows its processing) and the span the handler runs in: the record's own when it
 * came alone, otherwise a batch span linked to the records' spans, since what a batch handler
 * writes (outbox rows, frames) cannot be attributed to one record.
 */
function traceRecords(groupId: string, topic: string, partition: number, messages: KafkaMessage[]) {
  if (!tracingActive()) return undefined;
  const spans = new Map<string, Span>();
  for (const m of messages) {
    const span = startProcessSpan({ topic, partition, offset: m.offset, groupId, headers: m.headers });
    if (span) spans.set(m.offset, span);
  }
  const batch = spans.size > 1 ? startBatchSpan(topic, groupId, [...spans.values()]) : undefined;
  const failed = new Map<string, string>();
  let error: unknown;
  return {
    spans,
    failed,
    active: batch ?? [...spans.values()][0],
    fail: (err: unknown) => void (error = err),
    end: () => {
      for (const [offset, span] of spans) endSpan(span, error ?? (failed.has(offset) ? new Error(`dead-lettered: ${failed.get(offset)}`) : undefined));
      endSpan(batch, error);
    },
  };
}
