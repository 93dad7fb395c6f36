/**
 * Wrap-up on the real stack: after resolve, a one-slot agent gets no new offer until its
 * after-contact work (WRAP_UP_MS) ends; meanwhile "why waiting" says so.
 */
import { RouterHarness } from './support/router-harness';

const h = new RouterHarness();
const WRAP_UP_MS = 4000;

beforeAll(async () => {
  await h.start('routerwrap', { WRAP_UP_MS: String(WRAP_UP_MS), OFFER_TIMEOUT_MS: '60000', DISCONNECT_GRACE_MS: '60000', QUEUE_SLA_MS_TIER_1: '600000' });
});

afterAll(async () => {
  await h.stop();
});

it('wrap-up delays the next offer to the agent who resolved', async () => {
  await h.createAgent('wr-ana', { capacity: { chat: 1 } });
  const ana = await h.connect('wr-ana');
  const { messageId: m1 } = await h.send('I forgot my password', { thread: 'wr-1', language: 'en' });
  const c1 = await h.openedBy(m1);
  await ana.offer(c1);
  expect(await ana.command({ type: 'accept', conversationId: c1 })).toMatchObject({ type: 'ack' });
  expect(await ana.command({ type: 'resolve', conversationId: c1 })).toMatchObject({ type: 'ack' });
  const { rows } = await h.world.pool.query<{ since: Date; until: Date }>(`SELECT since, until FROM router.agent_wrap_ups WHERE agent_id = 'wr-ana' AND conversation_id = $1`, [c1]);
  expect(rows).toHaveLength(1);
  expect(rows[0]!.until.getTime() - rows[0]!.since.getTime()).toBe(WRAP_UP_MS);

  // the next conversation waits: the only agent is in wrap-up, and "why waiting" says so
  const { messageId: m2 } = await h.send('I forgot my password again', { thread: 'wr-2', language: 'en' });
  const c2 = await h.openedBy(m2);
  await h.event(c2, 'queued');
  const why = await h.admin('GET', `/v1/conversations/${c2}/why-waiting`);
  // unless the wrap-up already ended on a very slow machine, the reason is the wrap-up
  if (Date.now() < rows[0]!.until.getTime() - 500) expect(why.body.blocking.map((b: any) => b.reason)).toEqual(['in wrap-up']);

  // offered once the wrap-up is over — never before
  const offer = await ana.offer(c2);
  expect(new Date(offer.at as string).getTime()).toBeGreaterThanOrEqual(rows[0]!.until.getTime());
  const record = offer.decision as Record<string, any>;
  expect(record.winner).toBe('wr-ana');
  await ana.close();
});
