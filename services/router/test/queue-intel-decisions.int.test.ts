/**
 * Issue 17 on the real stack: every offer carries its decision record (in the offer frame and in
 * the conversation API), naming the winner and each other agent's first reason; a conversation
 * nobody can take answers "why waiting" with the missing skill.
 */
import { DEFAULT_RULES } from '../src/domain/default-rules';
import { RouterHarness } from './support/router-harness';

const h = new RouterHarness();

beforeAll(async () => {
  await h.start('routerqi', { OFFER_TIMEOUT_MS: '60000', DISCONNECT_GRACE_MS: '60000', QUEUE_SLA_MS_TIER_1: '600000' });
  const rules = [
    { id: 'billing-skill', when: { keywords: { any: ['zzbill'] } }, then: { skills: ['billing'] }, continue: true },
    { id: 'rare-skill', when: { keywords: { any: ['zzrare'] } }, then: { skills: ['rare'] }, continue: true },
  ];
  expect((await h.admin('PUT', '/v1/admin/rules', { rules: [...rules, ...DEFAULT_RULES], note: 'queue intelligence test' })).status).toBe(201);
});

afterAll(async () => {
  await h.stop();
});

it('the decision record names the winner and each loser with its first reason, in the offer frame and the conversation API', async () => {
  await h.createAgent('qi-ana', { skills: ['billing'], capacity: { chat: 3 } });
  await h.createAgent('qi-bob', { skills: ['billing'], capacity: { chat: 3 } }); // never connects: offline
  await h.createAgent('qi-cy', { skills: [], capacity: { chat: 3 } }); // online, lacks the skill
  await h.createAgent('qi-dee', { skills: ['billing'], tiers: [3], capacity: { chat: 3 } }); // other tier
  const ana = await h.connect('qi-ana');
  const cy = await h.connect('qi-cy');
  const dee = await h.connect('qi-dee');

  const { messageId } = await h.send('I forgot my password zzbill', { thread: 'qi-1', language: 'en' });
  const conv = await h.openedBy(messageId);
  const offer = await ana.offer(conv);
  const record = offer.decision as Record<string, any>;
  expect(record).toMatchObject({ conversationId: conv, winner: 'qi-ana', step: { index: -1 } });
  expect(record.eligible.map((e: any) => e.agentId)).toEqual(['qi-ana']);
  expect(record.eligible[0]).toMatchObject({ rank: 1, level: 3, load: 0 });
  const reasons = Object.fromEntries(record.blocked.map((b: any) => [b.agentId, b.reason]));
  expect(reasons).toMatchObject({ 'qi-bob': 'offline', 'qi-cy': 'lacks skill billing', 'qi-dee': 'serves tier 3' });
  expect(record.ruleVersion).toBeGreaterThanOrEqual(2);

  const api = await h.admin('GET', `/v1/conversations/${conv}`);
  expect(api.status).toBe(200);
  expect(api.body.decisions).toHaveLength(1);
  expect(api.body.decisions[0]).toEqual(record);
  await ana.close();
  await cy.close();
  await dee.close();
});

it('"why waiting" names the missing skill', async () => {
  const { messageId } = await h.send('I forgot my password zzrare', { thread: 'qi-2', language: 'en' });
  const conv = await h.openedBy(messageId);
  await h.event(conv, 'queued');
  const ana = await h.connect('qi-ana'); // online, but without the skill
  // the console attaches asynchronously: ask until the router sees it (generous deadline, no fixed sleep)
  let res = await h.admin('GET', `/v1/conversations/${conv}/why-waiting`);
  for (const deadline = Date.now() + 30_000; Date.now() < deadline && !res.body.blocking?.some((b: any) => b.reason === 'lacks skill rare'); ) {
    await new Promise((r) => setTimeout(r, 100));
    res = await h.admin('GET', `/v1/conversations/${conv}/why-waiting`);
  }
  expect(res.status).toBe(200);
  expect(res.body.summary).toMatch(/skill rare/);
  expect(res.body.eligible).toEqual([]);
  expect(res.body.blocking.map((b: any) => b.reason)).toContain('lacks skill rare');
  expect(res.body.blocking.find((b: any) => b.reason === 'lacks skill rare').agents).toContain('qi-ana');
  expect((await h.admin('GET', '/v1/conversations/nope/why-waiting')).status).toBe(404);
  await ana.close();
});

it('proficiency orders the offer: the level-5 agent gets it before a longer-idle level-2 one, and the record says why', async () => {
  const put = (id: string, level: number) =>
    h.admin('PUT', `/v1/admin/agents/${id}`, { name: id, tiers: [1], skills: ['billing'], languages: ['es', 'en'], capacity: { chat: 3 }, proficiency: { skills: { billing: level } } });
  expect((await put('qi-lo', 2)).status).toBe(201);
  expect((await put('qi-hi', 5)).status).toBe(201);
  expect((await h.admin('GET', '/v1/admin/agents/qi-hi')).body.proficiency).toEqual({ skills: { billing: 5 } });
  expect((await h.admin('PUT', '/v1/admin/agents/qi-bad', { name: 'x', tiers: [1], capacity: { chat: 1 }, proficiency: { skills: { billing: 6 } } })).status).toBe(400);
  const lo = await h.connect('qi-lo'); // online first: idle longest
  const hi = await h.connect('qi-hi');
  // both consoles attached before the conversation arrives
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    const agents = (await h.admin('GET', '/v1/admin/agents')).body.agents;
    const on = (id: string) => agents.find((a: any) => a.id === id)?.connected;
    if (on('qi-lo') && on('qi-hi')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const { messageId } = await h.send('I forgot my password zzbill again', { thread: 'qi-3', language: 'en' });
  const conv = await h.openedBy(messageId);
  const offer = await hi.offer(conv);
  const record = offer.decision as Record<string, any>;
  expect(record.winner).toBe('qi-hi');
  expect(record.eligible.map((e: any) => [e.agentId, e.level])).toEqual([
    ['qi-hi', 5],
    ['qi-lo', 2],
  ]);
  expect(record.outranked).toEqual([{ agentId: 'qi-lo', reason: 'level 2 < 5' }]);
  expect(lo.frames.filter((f) => f.type === 'offer' && f.conversationId === conv)).toHaveLength(0);
  await lo.close();
  await hi.close();
});

it('the conversation API gives a queued conversation its position and estimated wait, growing with the position', async () => {
  // one agent with one chat slot, busy: the next two wait
  await h.admin('PUT', '/v1/admin/agents/qi-solo', { name: 'solo', tiers: [1], skills: ['solo'], languages: ['es', 'en'], capacity: { chat: 1 } });
  const rules = (await h.admin('GET', '/v1/admin/rules')).body.rules;
  expect((await h.admin('PUT', '/v1/admin/rules', { rules: [{ id: 'solo-skill', when: { keywords: { any: ['zzsolo'] } }, then: { skills: ['solo'] }, continue: true }, ...rules] })).status).toBe(201);
  const solo = await h.connect('qi-solo');
  const first = await h.openedBy((await h.send('I forgot my password zzsolo', { thread: 'qi-w1', language: 'en' })).messageId);
  await solo.offer(first);
  const waiting: string[] = [];
  for (const t of ['qi-w2', 'qi-w3']) {
    const c = await h.openedBy((await h.send('I forgot my password zzsolo', { thread: t, language: 'en' })).messageId);
    await h.event(c, 'queued');
    waiting.push(c);
  }
  const [a, b] = await Promise.all(waiting.map((c) => h.admin('GET', `/v1/conversations/${c}`)));
  // the position counts every entry ahead in the tier (the 'zzrare' one of the test above too)
  expect(a!.body.wait).toMatchObject({ slots: 1, busy: 1 });
  expect(b!.body.wait).toMatchObject({ position: a!.body.wait.position + 1, slots: 1, busy: 1 });
  expect(a!.body.wait.estimateMs).toBeGreaterThan(0);
  expect(b!.body.wait.estimateMs).toBeGreaterThan(a!.body.wait.estimateMs);
  // assigned: no wait
  expect((await h.admin('GET', `/v1/conversations/${first}`)).body.wait).toBeNull();
  await solo.close();
});
