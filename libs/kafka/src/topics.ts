import type { Kafka } from 'kafkajs';
import { COMPACTED_TOPICS, type TopicKey, type TopicNames } from '@omni/contracts';
import { KAFKA_MAX_MESSAGE_BYTES } from './message-size';

export interface TopicOptions {
  /** create only these topics */
  only?: TopicKey[];
  /** replicas per partition (KAFKA_REPLICATION_FACTOR; 1 on a dev broker, 3 in production) */
  replicationFactor?: number;
  /** min.insync.replicas of each topic (KAFKA_MIN_INSYNC_REPLICAS; 2 in production) */
  minInsyncReplicas?: number;
}

/**
 * Creates the system's topics if missing and waits for their leaders. Idempotent, safe to call from
 * every service at start-up. Replication factor and min.insync.replicas come from configuration
 * (a topic that already exists keeps its own settings).
 */
export async function ensureTopics(kafka: Kafka, names: TopicNames, partitions: number, opts: TopicOptions = {}): Promise<void> {
  const { only, replicationFactor = 1, minInsyncReplicas = 1 } = opts;
  if (minInsyncReplicas > replicationFactor) {
    throw new Error(`min.insync.replicas (${minInsyncReplicas}) cannot exceed the replication factor (${replicationFactor})`);
  }
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const keys = (only ?? (Object.keys(names) as TopicKey[])).filter((k) => !existing.has(names[k]));
    if (keys.length === 0) return;
    await admin.createTopics({
      waitForLeaders: true,
      topics: keys.map((k) => ({
        topic: names[k],
        numPartitions: k === 'dlq' ? 1 : partitions,
        replicationFactor,
        configEntries: [
          { name: 'min.insync.replicas', value: String(minInsyncReplicas) },
          ...(COMPACTED_TOPICS.includes(k) ? [{ name: 'cleanup.policy', value: 'compact' }] : []),
          // the topic carries what the producer may send even on a broker left at its 1 MB default
          { name: 'max.message.bytes', value: String(KAFKA_MAX_MESSAGE_BYTES) },
        ],
      })),
    });
  } catch (err) {
    // Another service created the same topic a moment earlier: fine.
    if (!/already exists/i.test(String((err as Error).message)) && (err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
  } finally {
    await admin.disconnect();
  }
}

/** Resolves when the broker answers a metadata request (used by /readyz). */
export async function pingKafka(kafka: Kafka, timeoutMs = 3000): Promise<void> {
  const admin = kafka.admin({ retry: { retries: 0 } });
  const timer = new Promise<never>((_, rej) => setTimeout(() => rej(new Error('kafka ping timed out')), timeoutMs).unref());
  try {
    await Promise.race([
      (async () => {
        await admin.connect();
        await admin.describeCluster();
      })(),
      timer,
    ]);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
