import { OutboundMessage } from '@omni/contracts';
import { PublishRejectedError, Publisher } from '@omni/kafka';
import { createWorld, eventually, TopicWatcher, type TestWorld } from '../../../test/support/infra';

const reply = (i: number, text = `reply ${i}`): OutboundMessage => ({
  schema: 'omni.outbound.v1',
  outboundId: `out_${i}`,
  conversationId: 'conv_1',
  channel: 'chat',
  threadKey: 'chat:s1',
  to: { channel: 'chat', address: 'v1' },
  agentId: 'agent-1',
  text,
  createdAt: new Date().toISOString(),
});

/** Concurrent publishes share one produce request; one record the broker refuses must fail alone. */
describe('publisher batching isolates failures', () => {
  let world: TestWorld;
  let publisher: Publisher;
  let topic: string;
  let watcher: TopicWatcher;

  beforeAll(async () => {
    world = await createWorld('pubiso');
    topic = `small${world.suffix}`;
    const admin = world.kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: false, topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '20000' }] }] });
    await eventually(async () => {
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      return md.topics[0]?.partitions[0]?.leader !== undefined && md.topics[0].partitions[0].leader >= 0 ? true : undefined;
    }, 'leader of the small topic');
    await admin.disconnect();
    publisher = new Publisher(world.kafka);
    await publisher.connect();
    watcher = await TopicWatcher.start(world, topic);
  });
  afterAll(async () => {
    await watcher?.stop();
    await publisher?.disconnect();
    const admin = world.kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    await world?.close();
  });

  it('a record too large for the topic is refused (tooLarge) and the records beside it are acked', async () => {
    const calls = Array.from({ length: 20 }, (_, i) => publisher.publish([{ topic, key: 'conv_1', value: reply(i), schema: OutboundMessage }]));
    const big = publisher.publish([{ topic, key: 'conv_1', value: reply(99, 'x'.repeat(50_000)), schema: OutboundMessage }]);
    const more = Array.from({ length: 5 }, (_, i) => publisher.publish([{ topic, key: 'conv_1', value: reply(100 + i), schema: OutboundMessage }]));
    const results = await Promise.allSettled([...calls, big, ...more]);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    const refused = results[20] as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(PublishRejectedError);
    expect((refused.reason as PublishRejectedError).tooLarge).toBe(true);
    const got = await watcher.waitFor(() => true, 25);
    expect(new Set(got.map((g) => g.value.outboundId)).size).toBe(25);
    expect(got.some((g) => g.value.outboundId === 'out_99')).toBe(false);
  });

  it('a record its contract refuses fails its caller synchronously and never joins a batch', async () => {
    const bad = publisher.publish([{ topic, key: 'k', value: { ...reply(200), threadKey: 'chat:\u0000' }, schema: OutboundMessage }]);
    const good = publisher.publish([{ topic, key: 'k', value: reply(201), schema: OutboundMessage }]);
    await expect(bad).rejects.toThrow(/threadKey/);
    await expect(good).resolves.toBeUndefined();
  });
});
