import { Partitioners, type Kafka, type Producer, type Message, type IHeaders } from 'kafkajs';
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
  private producer: Producer;
  /** set when the producer was replaced after a failure and is not connected yet */
  private fresh = false;
  private queue: Pending[] = [];
  private flushing = false;
  private connected = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly opts: { timeoutMs?: number } = {},
  ) {
    this.producer = this.newProducer();
  }

  /** the partition the producer's partitioner chose for each message we handed it */
  private readonly chosen = new WeakMap<Message, number>();

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
            if (missing.size === 0) break;
            if (round >= 3) throw new Error(`no acknowledgement for ${[...missing.keys()].join(', ')} after ${round} rounds (leaders moving)`);
            pending = [...missing];
          }
          for (const p of batch) p.resolve();
        } catch (err) {
          const e = new PublishUnavailableError(`kafka publish failed: ${(err as Error).message}`);
          if (this.connected) this.retireProducer();
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
