/**
 * The wait-estimate consumer of ingest-chat (consumers/conversation-waits.ts) against hostile
 * routing events, on the real database: whatever `data` carries (wrong types, NUL, lone
 * surrogates, huge numbers, deep nesting), the handler never throws; it stores exactly the
 * well-formed estimates of websocket chat sessions, never an older one over a newer one, and a
 * redelivery changes nothing.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import type { ConversationEvent } from '@omni/contracts';
import { migrate } from '@omni/db';
import { createWorld, type TestWorld } from '../../../test/support/infra';
import { hostileString, wrongType } from '../../../test/support/hostile-arbitraries';
import { handleConversationWait } from '../src/consumers/conversation-waits';
import { latestWait } from '../src/wait-store';

let world: TestWorld;
const SESSION = `cs_${'a'.repeat(32)}`;

beforeAll(async () => {
  world = await createWorld('chatwaits');
  await migrate(world.pool, 'ingest', join(__dirname, '../../../libs/ingest/migrations'));
  await world.pool.query(`INSERT INTO ingest.chat_sessions (session_id, adapter_id, visitor_id, expires_at) VALUES ($1, 'w', 'v', now() + interval '1 day')`, [SESSION]);
});

afterAll(async () => {
  await world?.close();
});

let n = 0;
const event = (type: string, data: unknown, occurredAt: Date, threadKey = `chat:${SESSION}`, channel = 'chat') =>
  ({
    topic: 't',
    partition: 0,
    offset: String(n),
    value: {
      schema: 'omni.conversations.v1',
      eventId: `evt_${++n}`,
      type,
      conversationId: 'conv_1',
      occurredAt: occurredAt.toISOString(),
      actor: { type: 'system' },
      channel,
      threadKey,
      customer: { channel, address: 'v' },
      tier: 1,
      data,
    } as unknown as ConversationEvent,
  }) as never;

const good = fc.record({ position: fc.integer({ min: 1, max: 100_000 }), estimateMs: fc.option(fc.integer({ min: 0, max: 10 ** 9 }), { nil: null }), estimator: fc.constantFrom('queue-length-median', 'x') });
const hostileWait = fc.oneof(
  good,
  wrongType,
  fc.record({ position: fc.oneof(wrongType, fc.double(), fc.constant(2 ** 40)), estimateMs: fc.oneof(wrongType, fc.constant(-1), fc.constant(2 ** 60)), estimator: fc.oneof(hostileString, wrongType) }),
  fc.record({ position: fc.integer({ min: 1, max: 10 }), estimateMs: fc.constant(1000), estimator: hostileString }),
  fc.integer({ min: 1, max: 2000 }).map((d) => JSON.parse('{"a":'.repeat(d) + '1' + '}'.repeat(d))),
);

it('property: stores exactly the well-formed, newest estimates of websocket sessions; never throws', async () => {
  let clock = Date.parse('2026-01-01T00:00:00Z');
  await fc.assert(
    fc.asyncProperty(
      hostileWait,
      fc.constantFrom('conversation.wait-updated', 'conversation.queued', 'conversation.offered'),
      fc.integer({ min: -5000, max: 5000 }),
      fc.constantFrom(`chat:${SESSION}`, 'chat:adapter-thread', `chat:cs_${'b'.repeat(32)}`),
      async (wait, type, shift, threadKey) => {
        const before = await latestWait(world.pool, SESSION);
        clock += 1000;
        const at = new Date(clock + shift);
        const msg = event(type, type === 'conversation.queued' ? { estimate: wait } : { wait }, at, threadKey);
        const r = await handleConversationWait({ pool: world.pool }, msg);
        const after = await latestWait(world.pool, SESSION);
        const w = wait as Record<string, unknown>;
        const wellFormed =
          typeof w === 'object' && w !== null && Number.isInteger(w.position) && (w.position as number) >= 1 && (w.position as number) < 2 ** 31 &&
          (w.estimateMs === null || (Number.isInteger(w.estimateMs) && (w.estimateMs as number) >= 0 && (w.estimateMs as number) < 2 ** 53)) &&
          typeof w.estimator === 'string' && w.estimator.length > 0 && w.estimator.length <= 64 && !w.estimator.includes('\u0000');
        const newer = !before || at.getTime() > Date.parse(before.at);
        const expectStored = type !== 'conversation.offered' && threadKey === `chat:${SESSION}` && wellFormed && newer;
        expect(r).toBe(expectStored ? 'stored' : 'skipped');
        if (expectStored) {
          expect(after).toMatchObject({ position: w.position, estimateMs: w.estimateMs, eventId: (msg as any).value.eventId });
          // a redelivery of the same event changes nothing
          expect(await handleConversationWait({ pool: world.pool }, msg)).toBe('skipped');
        } else expect(after).toEqual(before);
      },
    ),
    { numRuns: 150 },
  );
});
