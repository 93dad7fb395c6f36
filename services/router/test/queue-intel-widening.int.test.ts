/**
 * Widening over waiting time on the real stack (docs/queue-intelligence.md): a rule asks for
 * proficiency ≥ 4 first and ≥ 2 after a step; the only agent online has level 2, so the
 * conversation waits and is offered to that agent once the step is reached — not before — with no
 * other event than time passing (the sweep's match pass), and the decision record names the step.
 * A later step that drops the skills hands work to an agent without them (the SQL prefilter applies
 * the step too).
 */
import { RouterHarness } from './support/router-harness';

const h = new RouterHarness();
const STEP_MS = 3000;

beforeAll(async () => {
  await h.start('routerwiden', { OFFER_TIMEOUT_MS: '60000', DISCONNECT_GRACE_MS: '60000', QUEUE_SLA_MS_TIER_1: '600000', QUEUE_SLA_MS_TIER_2: '600000' });
  const rules = await h.admin('PUT', '/v1/admin/rules', {
    rules: [
      {
        id: 'billing-experts',
        when: { keywords: { any: ['invoice'] } },
        then: { tier: 1, skills: ['billing'], widening: [{ afterMs: 0, minLevel: 4 }, { afterMs: STEP_MS, minLevel: 2 }] },
      },
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
