import type { Kafka, Producer, Message, IHeaders } from 'kafkajs';
import type { TSchema } from '@sinclair/typebox';
import { assertValid } from '@omni/contracts';

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

interface Pending {
  records: OutgoingRecord[];
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

  /** Validates and sends the records; resolves after acks from all in-sync replicas. */
  publish(records: OutgoingRecord[]): Promise<void> {
    for (const r of records) assertValid(r.schema, r.value);
    if (!this.connected) return Promise.reject(new PublishUnavailableError('producer not connected'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        const byTopic = new Map<string, Message[]>();
        for (const p of batch)
          for (const r of p.records) {
            const list = byTopic.get(r.topic) ?? [];
            list.push({ key: r.key, value: JSON.stringify(r.value), headers: r.headers });
            byTopic.set(r.topic, list);
          }
        try {
          await withTimeout(
            this.producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) }),
            this.opts.timeoutMs ?? 10000,
          );
          for (const p of batch) p.resolve();
        } catch (err) {
          const e = new PublishUnavailableError(`kafka publish failed: ${(err as Error).message}`);
          for (const p of batch) p.reject(e);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`no ack within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
