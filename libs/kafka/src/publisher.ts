import type { Kafka, Producer, Message, IHeaders } from 'kafkajs';
import type { TSchema } from '@sinclair/typebox';
import { assertValid } from '@omni/contracts';
import { groupsWithin, KAFKA_FRAMING_BYTES, KAFKA_MAX_MESSAGE_BYTES, RecordTooLargeError } from './message-size';

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
    private readonly opts: { timeoutMs?: number; maxMessageBytes?: number } = {},
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
    // serialised once, here, so a record the broker would refuse as too large fails its caller
    // alone (RecordTooLargeError), before it could share a request with anyone else's records
    const serialized: Serialized[] = [];
    for (const r of records) {
      const value = JSON.stringify(r.value);
      const bytes = Buffer.byteLength(value) + Buffer.byteLength(r.key);
      if (bytes > this.recordLimit) return Promise.reject(new RecordTooLargeError(r.topic, bytes, this.recordLimit));
      serialized.push({ topic: r.topic, message: { key: r.key, value, headers: r.headers }, bytes });
    }
    if (!this.connected) return Promise.reject(new PublishUnavailableError('producer not connected'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records: serialized, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  /** Bytes one record (and one request: its partition batches are cut to fit) may take. */
  private get recordLimit(): number {
    return (this.opts.maxMessageBytes ?? KAFKA_MAX_MESSAGE_BYTES) - KAFKA_FRAMING_BYTES;
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        // The broker limits each partition's record batch to the message size: coalesced records
        // are sent in requests of at most that many bytes, so big envelopes never fail each other.
        const failed = new Map<Pending, Error>();
        let outage: Error | undefined;
        for (const chunk of chunksWithin(batch, this.recordLimit)) {
          if (outage) {
            for (const p of chunk.owners) failed.set(p, outage);
            continue;
          }
          const byTopic = new Map<string, Message[]>();
          for (const r of chunk.records) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r.message]);
          try {
            await withTimeout(
              this.producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) }),
              this.opts.timeoutMs ?? 10000,
            );
          } catch (err) {
            outage = new PublishUnavailableError(`kafka publish failed: ${(err as Error).message}`);
            for (const p of chunk.owners) failed.set(p, outage);
          }
        }
        for (const p of batch) {
          const err = failed.get(p);
          if (err) p.reject(err);
          else p.resolve();
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}

/** Cuts the queued records, in order, into requests of at most `limit` bytes (one record at least). */
function chunksWithin(batch: Pending[], limit: number): { records: Serialized[]; owners: Set<Pending> }[] {
  const owned = batch.flatMap((p) => p.records.map((r) => ({ r, p })));
  return groupsWithin(owned, (o) => o.r.bytes, limit).map((g) => ({ records: g.map((o) => o.r), owners: new Set(g.map((o) => o.p)) }));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`no ack within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
