import type { Admin, Kafka } from 'kafkajs';
import { Gauge, type Registry } from 'prom-client';
import type { TopicNames } from '@omni/contracts';

export interface KafkaMetricsOptions {
  /** the consumer groups this service runs (lag is reported for these only) */
  groups: string[];
  /** a snapshot is reused for this long, so frequent scrapes cost no extra broker requests */
  cacheMs?: number;
  /** a scrape never waits longer than this for the broker (old values are kept meanwhile) */
  timeoutMs?: number;
}

/**
 * Prometheus gauges read from the broker at scrape time:
 * - kafka_consumer_group_lag{group,topic,partition}: end offset − committed offset of each of the
 *   service's groups on the system's topics (a partition with no commit yet counts from its start);
 * - kafka_topic_high_watermark{topic}: sum of the end offsets of each system topic; the DLQ rate is
 *   its rate on omni.dlq.v1 (a monotonic value, so rate()/increase() apply).
 */
export function registerKafkaMetrics(registry: Registry, kafka: Kafka, topics: TopicNames, opts: KafkaMetricsOptions): { close: () => Promise<void> } {
  const cacheMs = opts.cacheMs ?? 10000;
  const timeoutMs = opts.timeoutMs ?? 3000;
  const topicList = Object.values(topics);
  let admin: Admin | undefined;
  let connected: Promise<void> | undefined;
  let snapshot: { at: number; lag: [string, string, number, number][]; highs: Map<string, number> } | undefined;
  let refreshing: Promise<void> | undefined;

  const refresh = async () => {
    admin ??= kafka.admin({ retry: { retries: 0 } });
    connected ??= admin.connect().catch((err: Error) => {
      connected = undefined;
      throw err;
    });
    await connected;
    const ends = new Map<string, Map<number, { high: number; low: number }>>();
    for (const topic of topicList) {
      const offsets = await admin.fetchTopicOffsets(topic);
      ends.set(topic, new Map(offsets.map((o) => [o.partition, { high: Number(o.high), low: Number(o.low) }])));
    }
    const lag: [string, string, number, number][] = [];
    for (const groupId of opts.groups) {
      const committed = await admin.fetchOffsets({ groupId, topics: topicList });
      for (const t of committed) {
        for (const p of t.partitions) {
          const end = ends.get(t.topic)?.get(p.partition);
          if (!end) continue;
          const at = Number(p.offset);
          // -1: nothing committed yet; the group starts from the log start (or would, on first join)
          lag.push([groupId, t.topic, p.partition, Math.max(0, end.high - (at >= 0 ? at : end.low))]);
        }
      }
    }
    const highs = new Map([...ends].map(([topic, parts]) => [topic, [...parts.values()].reduce((n, o) => n + o.high, 0)]));
    snapshot = { at: Date.now(), lag, highs };
  };

  const current = async () => {
    if (!snapshot || Date.now() - snapshot.at > cacheMs) {
      refreshing ??= refresh().finally(() => (refreshing = undefined));
      const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
      // the broker's trouble must not break /metrics: the last values stay until a refresh succeeds
      await Promise.race([refreshing.catch(() => undefined), timer]);
    }
    return snapshot;
  };

  new Gauge({
    name: 'kafka_consumer_group_lag',
    help: 'Messages not yet consumed by a consumer group, per topic partition',
    labelNames: ['group', 'topic', 'partition'],
    registers: [registry],
    async collect() {
      const s = await current();
      this.reset();
      for (const [group, topic, partition, lag] of s?.lag ?? []) this.set({ group, topic, partition: String(partition) }, lag);
    },
  });
  new Gauge({
    name: 'kafka_topic_high_watermark',
    help: 'Sum of the end offsets of a topic (records ever written to it)',
    labelNames: ['topic'],
    registers: [registry],
    async collect() {
      const s = await current();
      this.reset();
      for (const [topic, high] of s?.highs ?? []) this.set({ topic }, high);
    },
  });
  return {
    close: async () => {
      await refreshing?.catch(() => undefined);
      if (connected) await admin?.disconnect().catch(() => undefined);
    },
  };
}
