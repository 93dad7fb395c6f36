/**
 * Widening over waiting time on the real stack (docs/queue-intelligence.md): a rule asks for
 * proficiency ≥ 4 first and ≥ 2 after a step; the only agent online has level 2, so the
 * conversation waits and is offered to that agent once the step is reached — not before — with no
 * other event than time passing (the sweep's match pass), and the decision record names the step.
 * A later step that drops the skills hands work to an agent without them (the SQL prefilter applies
 * the step too). Priority ageing puts old low-priority work before fresh high-priority work.
 */
import { RouterHarness } from './support/router-harness';
import { eventually } from '../../../test/support/infra';

const h = new RouterHarness();
const STEP_MS = 3000;

beforeAll(async () => {
  // ageing fast enough to see in a test: 1000 priority points a second (any wait of 90 ms lifts 10 to the cap)
  await h.start('routerwiden', { OFFER_TIMEOUT_MS: '60000', DISCONNECT_GRACE_MS: '60000', QUEUE_SLA_MS_TIER_1: '600000', QUEUE_SLA_MS_TIER_2: '600000', PRIORITY_AGEING_POINTS_PER_MINUTE: '60000', PRIORITY_AGEING_MAX: '100' });
  const rules = await h.admin('PUT', '/v1/admin/rules', {
    rules: [
      {
        id: 'billing-experts',
        when: { keywords: { any: ['invoice'] } },
        then: { tier: 1, skills: ['billing'], widening: [{ afterMs: 0, minLevel: 4 }, { afterMs: STEP_MS, minLevel: 2 }] },
      },
      { id: 'low-priority', when: { keywords: { any: ['refund'] } }, then: { tier: 3, priority: 10 } },
      { id: 'high-priority', when: { keywords: { any: ['outage'] } }, then: { tier: 3, priority: 90 } },
      {
        id: 'legal-then-anyone',
        when: { keywords: { any: ['lawsuit'] } },
        then: { tier: 2, skills: ['legal'], widening: [{ afterMs: 0 }, { afterMs: STEP_MS, dropSkills: true }] },
      },
    ],
  });
  expect(rules.status).toBe(201);
});

afterAll(async () => {
  await h.stop();
});

async function agent(id: string, tiers: number[], skills: string[], proficiency?: Record<string, number>): Promise<void> {
  const res = await h.admin('PUT', `/v1/admin/agents/${id}`, {
    name: id,
    tiers,
    skills,
    languages: ['en', 'es'],
    capacity: { chat: 2 },
    ...(proficiency ? { proficiency: { skills: proficiency } } : {}),
  });
  expect([200, 201]).toContain(res.status);
}

it('refuses widening steps that tighten instead of relaxing', async () => {
  const bad = await h.admin('PUT', '/v1/admin/rules', {
    rules: [{ id: 'x', when: { keywords: { any: ['x'] } }, then: { widening: [{ afterMs: 0, minLevel: 2 }, { afterMs: 1000, minLevel: 4 }] } }],
  });
  expect(bad.status).toBe(400);
  expect(JSON.stringify(bad.body)).toContain('body.rules.0.then.widening.1.minLevel');
});

it('widening hands a waiting conversation to a lower-proficiency agent after the configured step, not before', async () => {
  await agent('wd-low', [1], ['billing'], { billing: 2 });
  const low = await h.connect('wd-low');
  const { messageId } = await h.send('my invoice is wrong', { thread: 'wd-1', language: 'en' });
  const conv = await h.openedBy(messageId);
  const [queued] = await h.event(conv, 'queued');
  const since = new Date(queued!.occurredAt as string).getTime();

  // at step 0 the only agent (level 2 < 4) is blocked, and "why waiting" says so
  const why = await h.admin('GET', `/v1/conversations/${conv}/why-waiting`);
  if (Date.now() < since + STEP_MS - 500) expect(why.body.blocking.map((b: any) => b.code)).toContain('skill-level');

  const offer = await low.offer(conv);
  expect(new Date(offer.at as string).getTime()).toBeGreaterThanOrEqual(since + STEP_MS);
  const record = offer.decision as Record<string, any>;
  expect(record.winner).toBe('wd-low');
  expect(record.step).toMatchObject({ index: 1, afterMs: STEP_MS, minLevel: 2 });
  expect(record.eligible[0]).toMatchObject({ agentId: 'wd-low', level: 2 });
  await low.close();
});

it('a step that drops the skills lets an agent without them take it (the match pass prefilter applies the step)', async () => {
  await agent('wd-any', [2], []);
  const any = await h.connect('wd-any');
  const { messageId } = await h.send('there is a lawsuit about my account', { thread: 'wd-2', language: 'en' });
  const conv = await h.openedBy(messageId);
  const [queued] = await h.event(conv, 'queued');
  const since = new Date(queued!.occurredAt as string).getTime();
  const offer = await any.offer(conv);
  expect(new Date(offer.at as string).getTime()).toBeGreaterThanOrEqual(since + STEP_MS);
  expect((offer.decision as Record<string, any>).step).toMatchObject({ index: 1, dropSkills: true });
  await any.close();
});

it('priority ageing: a low-priority conversation that has waited is offered before a fresher high-priority one', async () => {
  expect((await h.admin('PUT', '/v1/admin/agents/ag-one', { name: 'ag-one', tiers: [3], skills: [], languages: ['en', 'es'], capacity: { chat: 1 } })).status).toBe(201);
  const one = await h.connect('ag-one');
  const c0 = await h.openedBy((await h.send('refund please, first', { thread: 'ag-0', language: 'en' })).messageId);
  await one.offer(c0);
  expect(await one.command({ type: 'accept', conversationId: c0 })).toMatchObject({ type: 'ack' });
  const low = await h.openedBy((await h.send('I want a refund', { thread: 'ag-1', language: 'en' })).messageId);
  const [qLow] = await h.event(low, 'queued');
  const high = await h.openedBy((await h.send('there is an outage', { thread: 'ag-2', language: 'en' })).messageId);
  const [qHigh] = await h.event(high, 'queued');
  expect([qLow!.priority, qHigh!.priority]).toEqual([10, 90]);
  // without ageing the priority-90 conversation would go first; aged, both reach 100 and the older leads.
  // The scenario needs the low one to have waited 90 ms (10 + 1 point/ms) and the high one 10 ms by the
  // router's clock (waiting since = the queued event's time); a warm run gets here sooner than that.
  const waited = (q: Record<string, unknown>, ms: number) => Date.now() >= new Date(q.occurredAt as string).getTime() + ms;
  await eventually(async () => (waited(qLow!, 150) && waited(qHigh!, 50) ? true : undefined), 'both conversations aged to the cap');
  // the positions customers and supervisors are told follow the same aged order (not the base priorities)
  const position = async (id: string) => (await h.admin('GET', `/v1/conversations/${id}`)).body.wait?.position;
  expect([await position(low), await position(high)]).toEqual([1, 2]);
  expect(await one.command({ type: 'resolve', conversationId: c0 })).toMatchObject({ type: 'ack' });
  const offers = await one.waitFor((f) => f.type === 'offer', 2);
  expect(offers.map((f) => f.conversationId)).toEqual([c0, low]);
  await one.close();
});
