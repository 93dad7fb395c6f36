import type { Consumer } from 'kafkajs';
import { Type } from '@sinclair/typebox';
import { Publisher, startConsumer, PermanentError, type Received } from '@omni/kafka';
import { createWorld, testLogger, TopicWatcher, type TestWorld } from '../../../test/support/infra';

const Ping = Type.Object({ n: Type.Integer(), note: Type.Optional(Type.String()) }, { $id: 'test.ping', additionalProperties: false });
type Ping = { n: number; note?: string };

describe('startConsumer on the real broker', () => {
  let world: TestWorld;
  let publisher: Publisher;
  let dlq: TopicWatcher;
  const consumers: Consumer[] = [];

  beforeAll(async () => {
    world = await createWorld('consumer');
    publisher = new Publisher(world.kafka);
    await publisher.connect();
    dlq = await TopicWatcher.start(world, world.topics.dlq);
  });
  afterAll(async () => {
    for (const c of consumers) await c.disconnect();
    await dlq.stop();
    await publisher.disconnect();
    await world.close();
  });

  const rawProducer = async (topic: string, values: string[]) => {
    const p = world.kafka.producer();
    await p.connect();
    await p.send({ topic, acks: -1, messages: values.map((value) => ({ key: 'k', value })) });
    await p.disconnect();
  };

  async function committed(groupId: string, topic: string): Promise<number> {
    const admin = world.kafka.admin();
    await admin.connect();
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    await admin.disconnect();
    return t!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  }

  it('dead-letters invalid JSON and contract violations with their source, processes the rest, and commits past all', async () => {
    const topic = world.topics.inbound; // any topic of the world will do
    const seen: number[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const groupId = world.groupId('c1');
    consumers.push(
      await startConsumer<Ping>({
        kafka: world.kafka,
        groupId,
        topics: { [topic]: Ping },
        logger: testLogger,
        publisher,
        dlqTopic: world.topics.dlq,
        handle: async (m: Received<Ping>) => {
          seen.push(m.value.n);
          if (m.value.n === 3) done();
        },
      }),
    );
    await rawProducer(topic, [JSON.stringify({ n: 1 }), '{not json', JSON.stringify({ n: 'two' }), JSON.stringify({ n: 3 })]);
    await finished;
    expect(seen).toEqual([1, 3]);
    const letters = await dlq.waitFor((v) => (v.source as { topic: string }).topic === topic, 2);
    const reasons = letters.map((l) => String(l.value.reason));
    expect(reasons.some((r) => r.startsWith('invalid JSON'))).toBe(true);
    expect(reasons.some((r) => r.includes('contract violation') && r.includes('/n'))).toBe(true);
    expect(letters.map((l) => l.value.value)).toEqual(expect.arrayContaining(['{not json']));
    // all four offsets committed (the commit happens after the batch, so wait for it)
    const deadline = Date.now() + 30000;
    while ((await committed(groupId, topic)) < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await committed(groupId, topic)).toBe(4);
  });

  it('gives tombstones (null values) to handleTombstone by key, in order, and never dead-letters them', async () => {
    const topic = world.topics.customers; // the compacted topic that carries erasure tombstones
    const order: string[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const groupId = world.groupId('tomb');
    consumers.push(
      await startConsumer<Ping>({
        kafka: world.kafka,
        groupId,
        topics: { [topic]: Ping },
        logger: testLogger,
        publisher,
        dlqTopic: world.topics.dlq,
        handle: async (m: Received<Ping>) => {
          order.push(`value:${m.value.n}`);
          if (m.value.n === 2) done();
        },
        handleTombstone: async (key) => {
          order.push(`tombstone:${key}`);
        },
      }),
    );
    const p = world.kafka.producer();
    await p.connect();
    await p.send({ topic, acks: -1, messages: [{ key: 't1', value: JSON.stringify({ n: 1 }) }, { key: 't1', value: null }, { key: 't1', value: JSON.stringify({ n: 2 }) }] });
    await p.disconnect();
    await finished;
    expect(order).toEqual(['value:1', 'tombstone:t1', 'value:2']);
    const deadline = Date.now() + 30000;
    while ((await committed(groupId, topic)) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await committed(groupId, topic)).toBe(3);
    expect(dlq.seen.filter((v) => (v.value.source as { topic: string }).topic === topic)).toHaveLength(0);
  });

  it('retries a failing handler, dead-letters after the attempts, and keeps going', async () => {
    const topic = world.topics.outbound;
    const attempts = new Map<number, number>();
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    consumers.push(
      await startConsumer<Ping>({
        kafka: world.kafka,
        groupId: world.groupId('c2'),
        topics: { [topic]: Ping },
        logger: testLogger,
        publisher,
        dlqTopic: world.topics.dlq,
        attempts: 3,
        handle: async (m) => {
          attempts.set(m.value.n, (attempts.get(m.value.n) ?? 0) + 1);
          if (m.value.n === 1) throw new Error('handler bug');
          if (m.value.n === 2) throw new PermanentError('never valid');
          if (m.value.n === 3) done();
        },
      }),
    );
    await rawProducer(topic, [1, 2, 3].map((n) => JSON.stringify({ n })));
    await finished;
    expect(Object.fromEntries(attempts)).toEqual({ 1: 3, 2: 1, 3: 1 });
    const letters = await dlq.waitFor((v) => (v.source as { topic: string }).topic === topic, 2);
    expect(letters.map((l) => l.value.reason).sort()).toEqual(['handler bug', 'never valid']);
  });

  it('does not commit past an infrastructure failure: the message is redelivered and processed', async () => {
    const topic = world.topics.delivery;
    const calls: number[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    consumers.push(
      await startConsumer<Ping>({
        kafka: world.kafka,
        groupId: world.groupId('c3'),
        topics: { [topic]: Ping },
        logger: testLogger,
        publisher,
        dlqTopic: world.topics.dlq,
        handle: async (m) => {
          calls.push(m.value.n);
          // the database "goes away" once, the way pg reports it
          if (calls.length === 1) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
          done();
        },
      }),
    );
    await rawProducer(topic, [JSON.stringify({ n: 7 })]);
    await finished;
    expect(calls).toEqual([7, 7]);
    expect(dlq.seen.filter((s) => (s.value.source as { topic: string }).topic === topic)).toHaveLength(0);
  });
});
