/**
 * Deadlines kept in Postgres and swept by the router: offer timeouts (re-offer elsewhere, agent set
 * away after repeated lapses), the disconnect grace period (work back to the front of the queue with
 * its original waiting time), capacity freed pulling the next waiting conversation at once, and
 * processed message ids forgotten after their retention.
 * Short timeouts via env; the test waits on frames and events, never on sleeps.
 */
import { DEFAULT_RULES } from '../src/domain/default-rules';
import WebSocket from 'ws';
import { RouterHarness } from './support/router-harness';
import { eventually } from '../../../test/support/infra';

const h = new RouterHarness();

beforeAll(async () => {
  await h.start('routertimers', {
    OFFER_TIMEOUT_MS: '2500',
    DISCONNECT_GRACE_MS: '1500',
    MAX_CONSECUTIVE_OFFER_TIMEOUTS: '2',
    WS_PING_INTERVAL_MS: '1000',
    PROCESSED_EVENTS_RETENTION_DAYS: '7',
    PROCESSED_EVENTS_SWEEP_INTERVAL_MS: '200',
  });
  const isolation = Array.from({ length: 10 }, (_, i) => ({ id: `iso-${i}`, when: { keywords: { any: [`zz${i}`] } }, then: { skills: [`s${i}`] }, continue: true }));
  expect((await h.admin('PUT', '/v1/admin/rules', { rules: [...isolation, ...DEFAULT_RULES] })).status).toBe(201);
});

afterAll(() => h.stop());

it('an unanswered offer expires, goes to the next agent, and two lapses in a row set the agent away', async () => {
  await h.createAgent('sleepy', { skills: ['s1'] });
  const sleepy = await h.connect('sleepy');
  const c1 = await h.openedBy((await h.send('zz1 I forgot my password')).messageId);
  const c2 = await h.openedBy((await h.send('zz1 my account is locked')).messageId);
  await sleepy.offer(c1);
  await sleepy.offer(c2);
  const [exp] = await h.event(c1, 'offer-expired');
  expect(exp).toMatchObject({ agentId: 'sleepy', actor: { type: 'system' } });
  await h.event(c2, 'offer-expired');
  await sleepy.waitFor((f) => f.type === 'offer-closed' && f.reason === 'expired', 2);
  const [away] = await sleepy.waitFor((f) => f.type === 'presence' && f.presence === 'away');
  expect(away!.reason).toMatch(/2 offers expired/);
  const row = await h.world.pool.query(`SELECT presence FROM router.agents WHERE id = 'sleepy'`);
  expect(row.rows[0].presence).toBe('away');

  await h.createAgent('awake', { skills: ['s1'] });
  const awake = await h.connect('awake');
  await awake.offer(c1);
  await awake.offer(c2);
  expect((await awake.command({ type: 'accept', conversationId: c1 })).type).toBe('ack');
  // Coming back online does not bring back what the agent let lapse.
  await sleepy.command({ type: 'presence', status: 'online' });
  const c3 = await h.openedBy((await h.send('zz1 password reset link broken')).messageId);
  await h.event(c3, 'offered');
  expect(sleepy.frames.filter((f) => f.type === 'offer' && (f.conversationId === c1 || f.conversationId === c2))).toHaveLength(2);
});

it('a disconnected agent’s work returns to the front of the queue with its original waiting time', async () => {
  await h.createAgent('leaver', { skills: ['s2'], capacity: { chat: 2 } });
  const leaver = await h.connect('leaver');
  const c1 = await h.openedBy((await h.send('zz2 my order has not arrived')).messageId);
  await leaver.offer(c1);
  expect((await leaver.command({ type: 'accept', conversationId: c1 })).type).toBe('ack');
  const c2 = await h.openedBy((await h.send('zz2 where is my parcel')).messageId);
  await leaver.offer(c2); // offered, not accepted
  const before = await h.world.pool.query('SELECT id, waiting_since FROM router.conversations WHERE id = ANY($1::text[]) ORDER BY id', [[c1, c2]]);
  leaver.terminate();
  const [rq] = await h.event(c1, 'requeued');
  expect(rq).toMatchObject({ actor: { type: 'system' }, data: { previousAgentId: 'leaver' } });
  await h.event(c2, 'requeued');
  const after = await h.world.pool.query(
    'SELECT c.id, c.waiting_since, q.waiting_since AS queued_since FROM router.conversations c JOIN router.queue_entries q ON q.conversation_id = c.id WHERE c.id = ANY($1::text[]) ORDER BY c.id',
    [[c1, c2]],
  );
  expect(after.rows.map((r) => r.queued_since.getTime())).toEqual(before.rows.map((r) => r.waiting_since.getTime()));
  expect((await h.world.pool.query(`SELECT presence FROM router.agents WHERE id = 'leaver'`)).rows[0].presence).toBe('offline');

  // A newer message waits behind them: the requeued ones are offered first.
  const c3 = await h.openedBy((await h.send('zz2 tracking number please')).messageId);
  await h.event(c3, 'queued');
  await h.createAgent('stayer', { skills: ['s2'], capacity: { chat: 1 } });
  const stayer = await h.connect('stayer');
  const first = await stayer.waitFor((f) => f.type === 'offer');
  expect([c1, c2]).toContain(first[0]!.conversationId);
  // Capacity freed pulls the next waiting one immediately (no new message needed).
  await stayer.command({ type: 'accept', conversationId: first[0]!.conversationId });
  await stayer.command({ type: 'resolve', conversationId: first[0]!.conversationId });
  const second = await stayer.waitFor((f) => f.type === 'offer', 2);
  expect([c1, c2]).toContain(second[1]!.conversationId);
  expect(second[1]!.conversationId).not.toBe(first[0]!.conversationId);
});

it('a console that stops answering pings is dropped and goes offline after the grace period', async () => {
  await h.createAgent('mute', { skills: ['s3'] });
  const ws = new WebSocket(`${h.url.replace('http', 'ws')}/v1/agents/ws?token=${h.agentToken('mute')}`, { autoPong: false });
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
  expect(await closed).toBe(1006); // terminated by the server, no close handshake
  await eventually(async () => ((await h.world.pool.query(`SELECT presence FROM router.agents WHERE id = 'mute'`)).rows[0].presence === 'offline' ? true : undefined), 'mute agent offline');
});

it('forgets processed message ids after PROCESSED_EVENTS_RETENTION_DAYS, oldest only', async () => {
  const old = await h.send('zz9 I forgot my password');
  const recent = await h.send('zz9 my order has not arrived', { thread: 'retention-2' });
  await h.openedBy(old.messageId);
  await h.openedBy(recent.messageId);
  const ids = [old.messageId, recent.messageId];
  const present = async () =>
    (await h.world.pool.query<{ event_id: string }>('SELECT event_id FROM router.processed_events WHERE event_id = ANY($1::text[]) ORDER BY event_id', [ids])).rows.map((r) => r.event_id);
  expect(await present()).toEqual([...ids].sort());
  await h.world.pool.query(`UPDATE router.processed_events SET processed_at = now() - interval '8 days' WHERE event_id = $1::text`, [old.messageId]);
  await eventually(async () => ((await present()).includes(old.messageId) ? undefined : true), 'the old id to be pruned', 30000);
  expect(await present()).toEqual([recent.messageId]);
});
