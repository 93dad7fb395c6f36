/**
 * Big records on the real broker: topics created by ensureTopics carry records up to
 * KAFKA_MAX_MESSAGE_BYTES even on a broker left at its 1 MB default, coalesced big records are cut
 * into requests that fit, a consumer reads them back, and a record that can never fit fails its
 * own caller only (RecordTooLargeError), never its neighbours.
 */
import { Type } from '@sinclair/typebox';
import type { Consumer } from 'kafkajs';
import { KAFKA_MAX_MESSAGE_BYTES, Publisher, RecordTooLargeError, startConsumer, type Received } from '@omni/kafka';
import { createWorld, testLogger, type TestWorld } from '../../../test/support/infra';

const Blob = Type.Object({ n: Type.Integer(), body: Type.String() }, { $id: 'test.blob', additionalProperties: false });
type Blob = { n: number; body: string };

describe('message size limits aligned on broker, topic, producer and consumer', () => {
  let world: TestWorld;
  let publisher: Publisher;
  let consumer: Consumer | undefined;

  beforeAll(async () => {
    world = await createWorld('msgsize', { partitions: 1 });
    publisher = new Publisher(world.kafka);
    await publisher.connect();
  });
  afterAll(async () => {
    await consumer?.disconnect();
    await publisher.disconnect();
    await world.close();
  });

  it('publishes six concurrent 3 MiB records to one partition (18 MiB coalesced) and reads each back once; a 9 MiB record fails alone', async () => {
    const topic = world.topics.inbound;
    const big = (n: number, bytes: number) => ({ topic, key: 'same-partition', value: { n, body: String(n % 10).repeat(bytes) }, schema: Blob });
    const results = await Promise.allSettled([
      ...[1, 2, 3].map((n) => publisher.publish([big(n, 3 * 1024 * 1024)])),
      publisher.publish([big(99, KAFKA_MAX_MESSAGE_BYTES + 1024 * 1024)]),
      publisher.publish([big(4, 3 * 1024 * 1024), big(5, 3 * 1024 * 1024), big(6, 3 * 1024 * 1024)]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[3] as PromiseRejectedResult).reason).toBeInstanceOf(RecordTooLargeError);

    const seen = new Map<number, number>();
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    consumer = await startConsumer<Blob>({
      kafka: world.kafka,
      groupId: world.groupId('big'),
      topics: { [topic]: Blob },
      logger: testLogger,
      publisher,
      dlqTopic: world.topics.dlq,
      handle: async (m: Received<Blob>) => {
        expect(m.value.body.length).toBe(3 * 1024 * 1024);
        seen.set(m.value.n, (seen.get(m.value.n) ?? 0) + 1);
        if (seen.size === 6) done();
      },
    });
    await all;
    expect([...seen.entries()].sort((a, b) => a[0] - b[0])).toEqual([1, 2, 3, 4, 5, 6].map((n) => [n, 1]));
  });
});
