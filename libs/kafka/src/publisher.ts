import type { Kafka, Producer, Message, IHeaders } from 'kafkajs';
import type { TSchema } from '@sinclair/typebox';
import { prepareForContract } from '@omni/contracts';

export interface OutgoingRecord {
  topic: string;
  key: string;
  value: unknown;
  schema: TSchema;
  headers?: IHeaders;
}

export class PublishUnavailableError extends Error {
  readonly code = 'KAFKA_UNAVAILABLE';
}

/**
 * The broker refused these records for good (too large, invalid record): retrying cannot help.
 * `tooLarge` lets an HTTP route answer 413 instead of 503, so the provider does not retry forever.
 */
export class PublishRejectedError extends Error {
  readonly code = 'KAFKA_REJECTED';
  constructor(
    message: string,
    readonly tooLarge: boolean,
  ) {
    super(message);
  }
}

// kafkajs error types that a retry of the same record can never fix
const PERMANENT_TYPES = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE', 'INVALID_REQUIRED_ACKS', 'UNSUPPORTED_FOR_MESSAGE_FORMAT']);
/** True for a broker answer that means "this record will never be accepted". */
export function isPermanentKafkaError(err: unknown): boolean {
  for (let e = err as { type?: string; cause?: unknown; originalError?: unknown } | undefined, i = 0; e && i < 4; i++) {
    if (e.type && PERMANENT_TYPES.has(e.type)) return true;
    if (/too large|MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/i.test(String((e as { message?: string }).message ?? ''))) return true;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return false;
}

interface Pending {
  messages: { topic: string; message: Message }[];
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * The one way services write to Kafka. Every record is validated against its contract before it
 * leaves. The producer is idempotent with acks=-1, which in kafkajs means one request in flight per
 * broker; to keep throughput, calls made while a request is in flight are coalesced into the next
 * sendBatch, and each caller's promise settles only when the broker acknowledged its records.
 */
export class Publisher {
  private readonly producer: Producer;
  private queue: Pending[] = [];
  private flushing = false;
  private connected = false;

  constructor(
    kafka: Kafka,
    private readonly opts: { timeoutMs?: number } = {},
  ) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Bounded retries so that an unreachable broker surfaces as an error (HTTP 503) instead of a
      // request that never ends; duplicates this may cause are dropped by message id downstream.
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  async disconnect(): Promise<void> {
    this.connected = false;
    await this.producer.disconnect();
  }

  /**
   * Cleans and validates the records against their contracts (prepareForContract: the clean step,
   * bounded free-form fields, storable strings, limits) and serialises them, all before anything is
   * queued, so a bad record fails its own caller synchronously and never the batch it would have
   * joined. Resolves after acks from all in-sync replicas.
   */
  publish(records: OutgoingRecord[]): Promise<void> {
    let messages: Pending['messages'];
    try {
      messages = records.map((r) => ({ topic: r.topic, message: { key: r.key, value: JSON.stringify(prepareForContract(r.schema, r.value)), headers: r.headers } }));
    } catch (err) {
      return Promise.reject(err);
    }
    if (!this.connected) return Promise.reject(new PublishUnavailableError('producer not connected'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ messages, resolve, reject });
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
        try {
          await this.send(batch);
          for (const p of batch) p.resolve();
        } catch (err) {
          if (!isPermanentKafkaError(err) || batch.length === 1) {
            this.settleFailed(batch, err);
            continue;
          }
          // One caller's record was refused for good (e.g. too large): the coalesced batch failed as a
          // unit, so each caller is sent alone and only the one the broker refuses fails.
          for (const p of batch) {
            try {
              await this.send([p]);
              p.resolve();
            } catch (e) {
              this.settleFailed([p], e);
            }
          }
        }
      }
    } catch (err) {
      // nothing above should throw; if it does, fail what is queued rather than leave callers hanging
      for (const p of this.queue.splice(0)) p.reject(err as Error);
    } finally {
      this.flushing = false;
    }
  }

  private send(batch: Pending[]): Promise<unknown> {
    const byTopic = new Map<string, Message[]>();
    for (const p of batch)
      for (const { topic, message } of p.messages) {
        const list = byTopic.get(topic) ?? [];
        list.push(message);
        byTopic.set(topic, list);
      }
    return withTimeout(
      this.producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) }),
      this.opts.timeoutMs ?? 10000,
    );
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
