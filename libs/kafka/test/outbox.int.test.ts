import { ConversationEvent } from '@omni/contracts';
import { withTransaction } from '@omni/db';
import { enqueueOutbox, OutboxRelay, OUTBOX_DDL, Publisher } from '@omni/kafka';
import { createWorld, eventually, testLogger, TopicWatcher, type TestWorld } from '../../../test/support/infra';

const event = (i: number): ConversationEvent => ({
  schema: 'omni.conversations.v1',
  eventId: `evt_${i}`,
  type: 'conversation.queued',
  conversationId: 'conv_1',
  occurredAt: new Date(Date.UTC(2026, 10, 23, 10, 0, i)).toISOString(),
  actor: { type: 'system' },
  channel: 'chat',
  threadKey: 'chat:s1',
  customer: { channel: 'chat', address: 'v1' },
  tier: 1,
});

describe('outbox relay', () => {
  let world: TestWorld;
  let publisher: Publisher;
  let watcher: TopicWatcher;
  let relay: OutboxRelay;

  beforeAll(async () => {
    world = await createWorld('outbox');
    await world.pool.query('CREATE SCHEMA box');
    await world.pool.query(`SET search_path TO box; ${OUTBOX_DDL}`);
    publisher = new Publisher(world.kafka);
    await publisher.connect();
    watcher = await TopicWatcher.start(world, world.topics.conversations);
    relay = new OutboxRelay(world.pool, 'box', publisher, testLogger, { dlqTopic: world.topics.dlq, pollMs: 100 });
    relay.start();
  });
  afterAll(async () => {
    await relay.stop();
    await watcher.stop();
    await publisher.disconnect();
    await world.close();
  });

  it('relays committed rows in order, drops rolled-back ones, and empties the table', async () => {
    await withTransaction(world.pool, (c) =>
      enqueueOutbox(c, 'box', [1, 2, 3].map((i) => ({ topic: world.topics.conversations, key: 'conv_1', schemaId: 'omni.conversations.v1' as const, value: event(i) }))),
    );
    await expect(
      withTransaction(world.pool, async (c) => {
        await enqueueOutbox(c, 'box', [{ topic: world.topics.conversations, key: 'conv_1', schemaId: 'omni.conversations.v1', value: event(99) }]);
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    await withTransaction(world.pool, (c) =>
      enqueueOutbox(c, 'box', [{ topic: world.topics.conversations, key: 'conv_1', schemaId: 'omni.conversations.v1', value: event(4) }]),
    );
    relay.kick();
    const got = await watcher.waitFor(() => true, 4);
    expect(got.map((g) => g.value.eventId)).toEqual(['evt_1', 'evt_2', 'evt_3', 'evt_4']);
    await eventually(async () => ((await world.pool.query('SELECT count(*)::int AS n FROM box.outbox')).rows[0].n === 0 ? true : undefined), 'outbox drained');
    expect(watcher.seen.some((s) => s.value.eventId === 'evt_99')).toBe(false);
  });
});
