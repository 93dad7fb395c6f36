/**
 * Business hours through the admin API on the real stack: versioned like the rules (a new active
 * version per edit, roll back by activating an earlier one, audited), validated (unknown zones,
 * overlapping shifts), and hostile bodies answered 400, never 500.
 */
import fc from 'fast-check';
import { RouterHarness } from './support/router-harness';
import { TopicWatcher } from '../../../test/support/infra';

const h = new RouterHarness();
let outbound: TopicWatcher | undefined;
const runs = (n: number) => n * Number(process.env.PROPERTY_RUNS_FACTOR ?? 1);

beforeAll(async () => {
  await h.start('routerhours', { BUSINESS_HOURS_CACHE_MS: '0', OFFER_TIMEOUT_MS: '60000', DISCONNECT_GRACE_MS: '60000', QUEUE_SLA_MS_TIER_1: '600000', QUEUE_SLA_MS_TIER_2: '600000' });
  const rules = (await h.admin('GET', '/v1/admin/rules')).body.rules;
  expect((await h.admin('PUT', '/v1/admin/rules', { rules: [{ id: 'tier-two', when: { keywords: { any: ['zztwo'] } }, then: { tier: 2 } }, ...rules] })).status).toBe(201);
});

afterAll(async () => {
  await outbound?.stop();
  await h.stop();
});

const madrid = {
  timeZone: 'Europe/Madrid',
  weekly: { mon: [{ start: '09:00', end: '14:00' }, { start: '16:00', end: '19:00' }], fri: [{ start: '09:00', end: '15:00' }] },
  exceptions: [{ date: '2026-12-25', hours: [], note: 'Navidad' }],
};

it('edits are versions: replace, read, list, roll back', async () => {
  const none = await h.admin('GET', '/v1/admin/business-hours');
  expect(none.status).toBe(200);
  expect(none.body).toMatchObject({ version: 0, hours: { tiers: {} } });
  expect(none.body.now.every((t: any) => t.open)).toBe(true);

  const v1 = await h.admin('PUT', '/v1/admin/business-hours', { hours: { tiers: { '1': madrid } }, note: 'Madrid office' });
  expect(v1.status).toBe(201);
  expect(v1.body).toMatchObject({ version: 1, active: true, createdBy: 'test-admin', note: 'Madrid office', hours: { tiers: { '1': madrid } } });
  expect(v1.body.now).toHaveLength(5);
  expect(v1.body.now[1]).toEqual({ tier: 2, open: true, nextOpening: expect.any(String) });

  const v2 = await h.admin('PUT', '/v1/admin/business-hours', { hours: { tiers: { '1': madrid, '2': { timeZone: 'UTC', weekly: {} } } } });
  expect(v2.status).toBe(201);
  expect(v2.body.version).toBe(2);
  expect(v2.body.now[1]).toEqual({ tier: 2, open: false, nextOpening: null });

  const list = await h.admin('GET', '/v1/admin/business-hours/versions');
  expect(list.body.versions.map((v: any) => [v.version, v.active])).toEqual([
    [2, true],
    [1, false],
  ]);
  const back = await h.admin('POST', '/v1/admin/business-hours/versions/1/activate');
  expect(back.status).toBe(200);
  expect((await h.admin('GET', '/v1/admin/business-hours')).body.version).toBe(1);
  expect((await h.admin('POST', '/v1/admin/business-hours/versions/99/activate')).status).toBe(404);

  const audit = await h.world.pool.query(`SELECT action FROM router.audit_log WHERE action LIKE 'business-hours.%' ORDER BY seq`);
  expect(audit.rows.map((r) => r.action)).toEqual(['business-hours.replace', 'business-hours.replace', 'business-hours.activate']);
});

it.each([
  ['unknown time zone', { tiers: { '1': { ...madrid, timeZone: 'Mars/Olympus' } } }, 'body.hours.tiers.1.timeZone'],
  ['overlapping shifts', { tiers: { '1': { timeZone: 'UTC', weekly: { mon: [{ start: '09:00', end: '12:00' }, { start: '11:00', end: '13:00' }] } } } }, 'body.hours.tiers.1.weekly.mon.1'],
  ['tier 6', { tiers: { '6': madrid } }, null],
  ['25:00', { tiers: { '1': { timeZone: 'UTC', weekly: { mon: [{ start: '09:00', end: '25:00' }] } } } }, null],
])('rejects %s with 400', async (_n, hours, field) => {
  const res = await h.admin('PUT', '/v1/admin/business-hours', { hours });
  expect(res.status).toBe(400);
  if (field) expect(JSON.stringify(res.body)).toContain(field);
});

it('hostile bodies: 201 or 400, never a 500', async () => {
  const hhmm = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('00:00', '09:30', '24:00', '23:59'));
  const interval = fc.record({ start: hhmm, end: hhmm });
  const body = fc.oneof(
    fc.jsonValue(),
    fc.record({
      hours: fc.record({
        tiers: fc.dictionary(fc.oneof(fc.constantFrom('1', '2', '5'), fc.string({ maxLength: 3 })), fc.record({ timeZone: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('UTC', 'Europe/Madrid')), weekly: fc.dictionary(fc.constantFrom('mon', 'sun', 'xyz'), fc.array(interval, { maxLength: 3 })) }), { maxKeys: 3 }),
      }),
    }),
  );
  await fc.assert(
    fc.asyncProperty(body, async (b) => {
      const res = await h.admin('PUT', '/v1/admin/business-hours', b);
      expect([201, 400]).toContain(res.status);
    }),
    { numRuns: runs(60) },
  );
});

it("a closed tier's conversation waits while an open tier is served, and is routed at opening", async () => {
  const allWeek = Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ start: '00:00', end: '24:00' }]]));
  expect((await h.admin('PUT', '/v1/admin/business-hours', { hours: { tiers: { '1': { timeZone: 'UTC', weekly: {} } } }, note: 'tier 1 closed' })).status).toBe(201);
  await h.createAgent('hours-ana', { tiers: [1, 2], capacity: { chat: 5 } });
  const ana = await h.connect('hours-ana');
  const closed = await h.openedBy((await h.send('I forgot my password', { thread: 'hours-1', language: 'en' })).messageId);
  await h.event(closed, 'queued');
  // a tier-2 conversation after it is offered: the matcher ran with the tier-1 one in the queue and left it
  const open = await h.openedBy((await h.send('zztwo the api returns errors', { thread: 'hours-2', language: 'en' })).messageId);
  await ana.offer(open);
  expect(ana.frames.filter((f) => f.type === 'offer' && f.conversationId === closed)).toHaveLength(0);
  expect(h.eventTypes(closed)).not.toContain('offered');

  // opening: the waiting conversation is routed (the sweep's match pass), never before
  const openedAt = Date.now();
  expect((await h.admin('PUT', '/v1/admin/business-hours', { hours: { tiers: { '1': { timeZone: 'UTC', weekly: allWeek } } }, note: 'open' })).status).toBe(201);
  const offer = await ana.offer(closed);
  expect(new Date(offer.at as string).getTime()).toBeGreaterThanOrEqual(openedAt);
  await ana.close();
});

it('a message outside hours gets the auto-answer in the customer language through the outbound topic, once per conversation', async () => {
  outbound = await TopicWatcher.start(h.world, h.world.topics.outbound);
  // tier 1 closed until a special opening on Monday 7 June 2027, 09:00–17:00 in Madrid
  const hours = { tiers: { '1': { timeZone: 'Europe/Madrid', weekly: {}, exceptions: [{ date: '2027-06-07', hours: [{ start: '09:00', end: '17:00' }] }] } } };
  expect((await h.admin('PUT', '/v1/admin/business-hours', { hours })).status).toBe(201);
  const es = await h.openedBy((await h.send('Hola, olvidé mi contraseña y no puedo entrar', { thread: 'hours-es', language: 'es' })).messageId);
  const en = await h.openedBy((await h.send('Hello, I forgot my password', { thread: 'hours-en', language: 'en' })).messageId);
  const [esMsg] = await outbound.waitFor((v) => v.conversationId === es);
  const [enMsg] = await outbound.waitFor((v) => v.conversationId === en);
  expect(esMsg!.value).toMatchObject({ agentId: 'system:business-hours', channel: 'chat', threadKey: 'chat:hours-es' });
  expect(esMsg!.value.text).toMatch(/^Hemos recibido tu mensaje\. .*lunes.*7 de junio.*09:00 \(Europe\/Madrid\)/);
  expect(enMsg!.value.text).toMatch(/^We have received your message\. .*Monday.*7 June.*09:00 \(Europe\/Madrid\)/);
  // its queue SLA counts business time: due ten business minutes after the opening (09:00 CEST = 07:00 UTC),
  // so the sweep does not breach and overflow it overnight while the team is away
  const due = await h.world.pool.query<{ sla_deadline: Date }>('SELECT sla_deadline FROM router.queue_entries WHERE conversation_id = $1::text', [es]);
  expect(due.rows[0]!.sla_deadline.toISOString()).toBe('2027-06-07T07:10:00.000Z');
  // a second message of the same waiting conversation joins it: no second auto-answer
  const { messageId } = await h.send('¿Hay alguien?', { thread: 'hours-es', language: 'es' });
  await h.conversations.waitFor((v) => v.type === 'conversation.message' && v.messageId === messageId);
  // a later conversation's answer arriving: the join's transaction committed before it (a second answer would be in the outbox by then)
  const en2 = await h.openedBy((await h.send('Hello again, password reset please', { thread: 'hours-en2', language: 'en' })).messageId);
  await outbound.waitFor((v) => v.conversationId === en2);
  expect(outbound.seen.filter((s) => s.value.conversationId === es)).toHaveLength(1);
});
