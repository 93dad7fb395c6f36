/**
 * acceptInbound under concurrency: coalesced callers each get their own answer, a message id
 * published by any caller is published once, and one caller's invalid envelope fails only that caller.
 */
import { Registry } from 'prom-client';
import { deterministicMessageId, type InboundMessage } from '@omni/contracts';
import { migrate } from '@omni/db';
import { createKafka, Publisher } from '@omni/kafka';
import { acceptInbound, createIngestMetrics, INGEST_MIGRATIONS, type IngestDeps } from '../src';
import { createWorld, testLogger, TopicWatcher, type TestWorld } from '../../../test/support/infra';

const envelope = (id: string, thread = 't1'): InboundMessage => ({
  schema: 'omni.inbound.v1',
  messageId: deterministicMessageId('test', id),
  channel: 'chat',
  provider: 'test',
  providerMessageId: id,
  threadKey: `chat:${thread}`,
  from: { channel: 'chat', address: 'v1' },
  sentAt: new Date().toISOString(),
  receivedAt: new Date().toISOString(),
  text: `text ${id}`,
});

describe('acceptInbound (coalesced)', () => {
  let world: TestWorld;
  let publisher: Publisher;
  let deps: IngestDeps;
  let inbound: TopicWatcher;

  beforeAll(async () => {
    world = await createWorld('accept');
    await migrate(world.pool, 'ingest', INGEST_MIGRATIONS);
    publisher = new Publisher(createKafka({ brokers: world.brokers, clientId: 'accept-test', logger: testLogger }));
    await publisher.connect();
    deps = { pool: world.pool, publisher, topics: world.topics, metrics: createIngestMetrics(new Registry()) };
    inbound = await TopicWatcher.start(world, world.topics.inbound);
  });

  afterAll(async () => {
    await publisher?.disconnect();
    await inbound?.stop();
    await world?.close();
  });

  it('answers 200 concurrent callers, publishing each distinct id once', async () => {
    // ids 0..99, each posted twice at the same time (a provider retry racing the original)
    const calls = Array.from({ length: 200 }, (_, i) => acceptInbound(deps, [envelope(`m-${i % 100}`, `t${i % 7}`)]));
    const results = (await Promise.all(calls)).map((r) => r[0]!);
    for (let i = 0; i < 200; i++) expect(results[i]!.messageId).toBe(deterministicMessageId('test', `m-${i % 100}`));
    const accepted = results.filter((r) => r.status === 'accepted').map((r) => r.messageId);
    // every id accepted at least once; a race between two batches in flight may publish a copy,
    // which consumers drop by id — but never zero
    expect(new Set(accepted).size).toBe(100);
    await inbound.waitFor((v) => String(v.providerMessageId).startsWith('m-'), 100);
    const again = await acceptInbound(deps, [envelope('m-5')]);
    expect(again[0]!.status).toBe('duplicate');
  });

  it('fails only the caller whose envelope breaks the contract', async () => {
    const bad = { ...envelope('bad-1'), text: undefined } as unknown as InboundMessage;
    const [good, wrong] = await Promise.allSettled([acceptInbound(deps, [envelope('good-1')]), acceptInbound(deps, [bad])]);
    expect(good.status).toBe('fulfilled');
    expect(wrong.status).toBe('rejected');
    await inbound.waitFor((v) => v.providerMessageId === 'good-1');
  });

  it('keeps several envelopes of one call in order with their own results', async () => {
    const r = await acceptInbound(deps, [envelope('o-1'), envelope('o-2'), envelope('o-1'), envelope('o-3')]);
    expect(r.map((x) => x.status)).toEqual(['accepted', 'accepted', 'duplicate', 'accepted']);
    const seen = await inbound.waitFor((v) => String(v.providerMessageId).startsWith('o-'), 3);
    expect(seen.map((s) => s.value.providerMessageId)).toEqual(['o-1', 'o-2', 'o-3']);
  });

  it('writes the dedupe row of a published message later when PostgreSQL refused it right after the ack', async () => {
    // the database "restarts" between the broker's ack and the dedupe insert: the first insert fails
    let refused = 0;
    const flaky = new Proxy(world.pool, {
      get(target, prop, receiver) {
        if (prop !== 'query') return Reflect.get(target, prop, receiver);
        return (sql: unknown, ...rest: unknown[]) => {
          if (typeof sql === 'string' && sql.startsWith('INSERT INTO ingest.dedupe') && refused++ === 0) return Promise.reject(new Error('the database system is starting up'));
          return (target.query as (...a: unknown[]) => unknown).call(target, sql, ...rest);
        };
      },
    });
    const flakyDeps: IngestDeps = { ...deps, pool: flaky };
    const [r] = await acceptInbound(flakyDeps, [envelope('restart-1', 'restart')]);
    expect(r!.status).toBe('accepted');
    await inbound.waitFor((v) => v.providerMessageId === 'restart-1');
    expect(refused).toBeGreaterThanOrEqual(1);
    // the row (which delivery uses to find the thread's provider) arrives without any new request
    const deadline = Date.now() + 60_000;
    let rows = 0;
    while (Date.now() < deadline && rows === 0) {
      rows = (await world.pool.query('SELECT 1 FROM ingest.dedupe WHERE message_id = $1', [r!.messageId])).rowCount ?? 0;
      if (rows === 0) await new Promise((res) => setTimeout(res, 100));
    }
    expect(rows).toBe(1);
    expect(refused).toBeGreaterThanOrEqual(2);
  });
});
