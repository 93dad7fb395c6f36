import { Partitioners, type Kafka, type Producer, type Message, type IHeaders } from 'kafkajs';
import type { TSchema } from '@sinclair/typebox';
import { prepareForContract } from '@omni/contracts';
import { endWith, startSendSpan } from '@omni/tracing';
import { groupsWithin, KAFKA_FRAMING_BYTES, KAFKA_MAX_MESSAGE_BYTES, RecordTooLargeError } from './message-size';
import { PublishRejectedError, PublishUnavailableError } from './publish-errors';

export { PublishRejectedError, PublishUnavailableError } from './publish-errors';

export interface OutgoingRecord {
  topic: string;
  key: string;
  value: unknown;
  schema: TSchema;
  headers?: IHeaders;
}

// kafkajs error types that a retry of the same record can never fix
const PERMANENT_TYPES = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE', 'INVALID_REQUIRED_ACKS', 'UNSUPPORTED_FOR_MESSAGE_FORMAT']);
/** True for a broker answer that means "this record will never be accepted". */
export function isPermanentKafkaError(err: unknown): boolean {
  if (err instanceof PublishRejectedError) return true;
  for (let e = err as { type?: string; cause?: unknown; originalError?: unknown } | undefined, i = 0; e && i < 4; i++) {
    if (e.type && PERMANENT_TYPES.has(e.type)) return true;
    if (/too large|MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/i.test(String((e as { message?: string }).message ?? ''))) return true;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return false;
}

interface Serialized {
  topic: string;
  message: Message;
  bytes: number;
}

interface Pending {
  records: Serialized[];
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * The one way services write to Kafka. Every record is cleaned and validated against its contract
 * before it leaves. The producer is idempotent with acks=-1, which in kafkajs means one request in
 * flight per broker; to keep throughput, calls made while a request is in flight are coalesced into
 * the next sendBatch, and each caller's promise settles only when the broker acknowledged its records.
 * One caller's bad record never fails another caller: contract and size problems are refused before
 * queueing, and a batch the broker refuses for good is re-sent caller by caller.
 */
export class Publisher {
  private producer: Producer;
  /** set when the producer was replaced after a failure and is not connected yet */
  private fresh = false;
  private queue: Pending[] = [];
  private flushing = false;
  private connected = false;
  /** the partition the producer's partitioner chose for each message we handed it */
  private readonly chosen = new WeakMap<Message, number>();

  constructor(
    private readonly kafka: Kafka,
    private readonly opts: { timeoutMs?: number; maxMessageBytes?: number } = {},
  ) {
    this.producer = this.newProducer();
  }

  private newProducer(): Producer {
    const chosen = this.chosen;
    return this.kafka.producer({
      // the default partitioner, recording its choice (see the check after sendBatch)
      createPartitioner: () => {
        const inner = Partitioners.DefaultPartitioner();
        return (args) => {
          const partition = inner(args);
          chosen.set(args.message, partition);
          return partition;
        };
      },
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Bounded retries so that an unreachable broker surfaces as an error (HTTP 503) instead of a
      // request that never ends; duplicates this may cause are dropped by message id downstream.
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    });
  }

  /**
   * kafkajs rolls an idempotent producer's sequence numbers back when a produce request fails, also
   * when the broker may have written the batch (a timeout, a lost connection during a leader move),
   * and a request abandoned by our timeout can still roll them back later. The next batch then
   * reuses those numbers, and the broker takes it for a duplicate of the written one: it acknowledges
   * it and drops it — an acknowledged message lost (npm run cluster:fault showed it). So after any
   * failure the producer is retired and a new one (a new producer id, sequences from 0) sends the
   * next batch.
   */
  private retireProducer(): void {
    const old = this.producer;
    this.producer = this.newProducer();
    this.fresh = true;
    void old.disconnect().catch(() => undefined);
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  async disconnect(): Promise<void> {
    this.connected = false;
    await this.producer.disconnect();
  }

  /** Bytes one record (and one request: its partition batches are cut to fit) may take. */
  private get recordLimit(): number {
    return (this.opts.maxMessageBytes ?? KAFKA_MAX_MESSAGE_BYTES) - KAFKA_FRAMING_BYTES;
  }

  /**
   * Cleans and validates the records against their contracts (prepareForContract: the clean step,
   * bounded free-form fields, storable strings, limits), serialises them once and checks their size,
   * all before anything is queued, so a bad or oversized record fails its own caller and never the
   * batch it would have joined. Resolves after acks from all in-sync replicas.
   */
  publish(records: OutgoingRecord[]): Promise<void> {
    // with tracing on: one producer span per call, its W3C context in every record's headers
    const traced = startSendSpan(records.map((r) => r.topic), records.length);
    return endWith(traced?.span, this.enqueue(records, traced?.headers));
  }

  private enqueue(records: OutgoingRecord[], traceHeaders?: Record<string, string>): Promise<void> {
    const serialized: Serialized[] = [];
    const headerBytes = traceHeaders ? Object.entries(traceHeaders).reduce((n, [k, v]) => n + k.length + v.length, 0) : 0;
    try {
      for (const r of records) {
        const value = JSON.stringify(prepareForContract(r.schema, r.value));
        const bytes = Buffer.byteLength(value) + Buffer.byteLength(r.key) + headerBytes;
        if (bytes > this.recordLimit) throw new RecordTooLargeError(r.topic, bytes, this.recordLimit);
        const headers = traceHeaders ? { ...r.headers, ...traceHeaders } : r.headers;
        serialized.push({ topic: r.topic, message: { key: r.key, value, headers }, bytes });
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (!this.connected) return Promise.reject(new PublishUnavailableError('producer not connected'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records: serialized, resolve, reject });
      if (!this.flushing) {
        // start on the next microtask, so records published in the same tick share one sendBatch
        this.flushing = true;
        queueMicrotask(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        // The broker limits each partition's record batch to the message size: the coalesced records
        // are sent in requests of at most that many bytes, so big envelopes never fail each other.
        const items = batch.flatMap((p) => p.records.map((r) => ({ p, r })));
        const failed = new Map<Pending, unknown>();
        let outage: unknown;
        for (const group of groupsWithin(items, (x) => x.r.bytes, this.recordLimit)) {
          const live = group.filter((x) => !failed.has(x.p));
          const owners = [...new Set(live.map((x) => x.p))];
          if (owners.length === 0) continue;
          if (outage !== undefined) {
            for (const p of owners) failed.set(p, outage);
            continue;
          }
          try {
            await this.send(live.map((x) => x.r));
          } catch (err) {
            if (!isPermanentKafkaError(err) || owners.length === 1) {
              if (!isPermanentKafkaError(err)) outage = err;
              for (const p of owners) failed.set(p, err);
              continue;
            }
            // One caller's record was refused for good: the request failed as a unit, so each caller's
            // records are sent alone and only the caller the broker refuses fails.
            for (const p of owners) {
              if (outage !== undefined) {
                failed.set(p, outage);
                continue;
              }
              try {
                await this.send(live.filter((x) => x.p === p).map((x) => x.r));
              } catch (e) {
                failed.set(p, e);
                if (!isPermanentKafkaError(e)) outage = e;
              }
            }
          }
        }
        for (const p of batch) {
          if (failed.has(p)) this.settleFailed([p], failed.get(p));
          else p.resolve();
        }
      }
    } catch (err) {
      // nothing above should throw; if it does, fail what is queued rather than leave callers hanging
      for (const p of this.queue.splice(0)) p.reject(err as Error);
    } finally {
      this.flushing = false;
    }
  }

  /** Sends the records in one request; retires the producer after any failure (see retireProducer). */
  private async send(records: Serialized[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const { topic, message } of records) {
      const list = byTopic.get(topic) ?? [];
      list.push(message);
      byTopic.set(topic, list);
    }
    try {
      if (this.fresh) {
        await withTimeout(this.producer.connect(), this.opts.timeoutMs ?? 10000);
        this.fresh = false;
      }
      // kafkajs 2.2.4 can resolve sendBatch without having sent some partitions: when a request to
      // one broker fails and its partitions move to a broker that already answered for others, the
      // retry skips that broker (sendMessages keeps brokers with a response). Their messages would
      // be lost though "acknowledged" (npm run cluster:fault caught it during a broker stop). So
      // every partition written to must be in the answer; the messages of a missing one are sent
      // again (same producer: kafkajs rolled their sequence numbers back, so if the failed request
      // did reach the log, the broker drops the copy), and after three rounds the batch fails.
      let pending = [...byTopic];
      for (let round = 1; ; round++) {
        const acked = await withTimeout(
          this.producer.sendBatch({ acks: -1, topicMessages: pending.map(([topic, messages]) => ({ topic, messages })) }),
          this.opts.timeoutMs ?? 10000,
        );
        const answered = new Set(acked.map((r) => `${r.topicName}\u0000${r.partition}`));
        const missing = new Map<string, Message[]>();
        for (const [topic, messages] of pending)
          for (const m of messages) {
            const partition = this.chosen.get(m);
            if (partition === undefined || !answered.has(`${topic}\u0000${partition}`)) missing.set(topic, [...(missing.get(topic) ?? []), m]);
          }
        if (missing.size === 0) return;
        if (round >= 3) throw new Error(`no acknowledgement for ${[...missing.keys()].join(', ')} after ${round} rounds (leaders moving)`);
        pending = [...missing];
      }
    } catch (err) {
      if (this.connected) this.retireProducer();
      throw err;
    }
  }

  private settleFailed(batch: Pending[], err: unknown): void {
    const msg = (err as Error).message;
    const e = isPermanentKafkaError(err)
      ? new PublishRejectedError(`kafka refused the record: ${msg}`, /too.?large/i.test(msg) || /TOO_LARGE/.test(String((err as { type?: string }).type)))
      : new PublishUnavailableError(`kafka publish failed: ${msg}`);
    for (const p of batch) p.reject(e);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`no ack within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
