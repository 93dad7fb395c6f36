/**
 * ensureTopics creates the system's topics with the configured replication: partitions, replication
 * factor and min.insync.replicas as asked (1/1 on the single test broker; the three-broker case is
 * npm run cluster:fault), compaction where the contract says so, and refuses a min ISR above the
 * replication factor before touching the broker.
 */
import { randomBytes } from 'node:crypto';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { topicNames } from '@omni/contracts';
import { ensureTopics } from '../src/topics';

describe('ensureTopics', () => {
  const kafka = new Kafka({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'topics-test', logLevel: logLevel.NOTHING });
  const names = topicNames(`.t${randomBytes(4).toString('hex')}`);
  const admin = kafka.admin();

  beforeAll(() => admin.connect());
  afterAll(async () => {
    await admin.deleteTopics({ topics: Object.values(names) }).catch(() => undefined);
    await admin.disconnect();
  });

  it('creates every topic with the partitions, replication factor and min.insync.replicas asked for', async () => {
    await ensureTopics(kafka, names, 4, { replicationFactor: 1, minInsyncReplicas: 1 });
    // idempotent: a second call (another service starting) changes nothing and does not fail
    await ensureTopics(kafka, names, 4, { replicationFactor: 1, minInsyncReplicas: 1 });
    const md = await admin.fetchTopicMetadata({ topics: Object.values(names) });
    for (const t of md.topics) {
      expect(t.partitions).toHaveLength(t.name === names.dlq ? 1 : 4);
      for (const p of t.partitions) expect(p.replicas).toHaveLength(1);
    }
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [names.inbound, names.customers].map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['min.insync.replicas', 'cleanup.policy'] })),
    });
    const value = (topic: string, key: string) => configs.resources.find((r) => r.resourceName === topic)?.configEntries.find((e) => e.configName === key)?.configValue;
    expect(value(names.inbound, 'min.insync.replicas')).toBe('1');
    expect(value(names.inbound, 'cleanup.policy')).toBe('delete');
    expect(value(names.customers, 'cleanup.policy')).toBe('compact');
  });

  it('refuses min.insync.replicas above the replication factor', async () => {
    const other = topicNames(`.t${randomBytes(4).toString('hex')}`);
    await expect(ensureTopics(kafka, other, 1, { replicationFactor: 1, minInsyncReplicas: 2 })).rejects.toThrow(/min.insync.replicas \(2\) cannot exceed the replication factor \(1\)/);
    expect((await admin.listTopics()).filter((t) => Object.values(other).includes(t))).toEqual([]);
  });
});
