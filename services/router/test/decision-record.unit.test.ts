import fc from 'fast-check';
import { freeCapacity, isEligible, type WaitingConversation } from '../src/domain/match';
import { availableOf, decisionRecord, describeBlock, firstBlock, whyWaiting, type AgentView } from '../src/domain/decision-record';
import { BASE_STEP, stepAt, type WideningStep } from '../src/domain/preference';

/** PROPERTY_RUNS_FACTOR=20 for a one-off stress run */
const runs = (n: number) => n * Number(process.env.PROPERTY_RUNS_FACTOR ?? 1);
const t0 = new Date('2026-01-01T10:00:00Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const agent = (id: string, extra: Partial<AgentView> = {}): AgentView => ({
  id,
  tiers: [1],
  skills: ['billing'],
  languages: ['es', 'en'],
  capacity: { chat: 2 },
  load: {},
  idleSince: t0,
  presence: 'online',
  consoleAttached: true,
  ...extra,
});
const conv = (extra: Partial<WaitingConversation> = {}): WaitingConversation => ({
  conversationId: 'c1',
  priority: 50,
  waitingSince: t0,
  tiers: [1],
  channel: 'chat',
  language: 'es',
  requiredSkills: ['billing'],
  declined: [],
  ...extra,
});

describe('decision record: table', () => {
  it.each([
    ['offline', agent('a', { presence: 'offline' }), 'offline'],
    ['away with a reason', agent('a', { presence: 'away', awayReason: 'break' }), 'away: break'],
    ['no console', agent('a', { consoleAttached: false }), 'online without a console'],
    ['other tier', agent('a', { tiers: [3, 2] }), 'serves tier 2, 3'],
    ['lacks skill', agent('a', { skills: [] }), 'lacks skill billing'],
    ['language', agent('a', { languages: ['en'] }), 'does not speak es'],
    ['busy', agent('a', { load: { chat: 2 } }), 'busy on chat (2/2)'],
    ['wrap-up holds the last slot', agent('a', { load: { chat: 2 }, wrapUpUntil: at(60) }), `in wrap-up until ${at(60).toISOString()}`],
    ['declined before', agent('declined-one'), 'declined it before'],
    // the first reason wins: away and lacking the skill → away
    ['first reason only', agent('a', { presence: 'away', awayReason: 'meeting', skills: [] }), 'away: meeting'],
  ])('%s', (_n, a, text) => {
    const r = firstBlock(a, conv({ declined: ['declined-one'] }), BASE_STEP);
    expect(r && describeBlock(r)).toBe(text);
  });

  it('level below the step minimum', () => {
    const a = agent('a', { proficiency: { skills: { billing: 2 }, languages: { es: 5 } } });
    expect(describeBlock(firstBlock(a, conv(), { afterMs: 0, minLevel: 4 })!)).toBe('skill billing at level 2 < 4');
    const b = agent('b', { proficiency: { skills: { billing: 5 }, languages: { es: 1 } } });
    expect(describeBlock(firstBlock(b, conv(), { afterMs: 0, minLevel: 2 })!)).toBe('es at level 1 < 2');
  });

  it('names the winner, each loser and why, with the values that ordered them', () => {
    const agents = [
      agent('ana', { proficiency: { skills: { billing: 5 } }, load: { chat: 1 } }),
      agent('bob', { proficiency: { skills: { billing: 4 } } }),
      agent('cy', { presence: 'away', awayReason: 'break' }),
      agent('dee', { skills: [] }),
      agent('eve', { proficiency: { skills: { billing: 5 } }, load: { chat: 2 } }),
    ];
    const steps: WideningStep[] = [{ afterMs: 0, minLevel: 4 }, { afterMs: 60_000, minLevel: 1 }];
    const r = decisionRecord(agents, conv(), { at: at(10), step: stepAt(steps, 10_000), ruleVersion: 3, matchedRules: ['billing'] });
    expect(r.winner).toBe('ana');
    expect(r.step).toEqual({ index: 0, afterMs: 0, minLevel: 4 });
    expect(r.eligible).toEqual([
      { agentId: 'ana', rank: 1, preferred: false, level: 5, load: 1, idleSince: t0.toISOString() },
      { agentId: 'bob', rank: 2, preferred: false, level: 4, load: 0, idleSince: t0.toISOString() },
    ]);
    expect(r.outranked).toEqual([{ agentId: 'bob', reason: 'level 4 < 5' }]);
    expect(r.blocked).toEqual([
      { agentId: 'cy', code: 'away', reason: 'away: break' },
      { agentId: 'dee', code: 'lacks-skill', reason: 'lacks skill billing' },
      { agentId: 'eve', code: 'busy', reason: 'busy on chat (2/2)' },
    ]);
    expect(r.ruleVersion).toBe(3);
    // the caller offered bob (ana was locked by another replica): recorded as it happened
    const r2 = decisionRecord(agents, conv(), { at: at(10), step: stepAt(steps, 10_000), winnerId: 'bob' });
    expect(r2.winner).toBe('bob');
    expect(r2.outranked).toEqual([{ agentId: 'ana', reason: 'taken by another conversation first' }]);
  });

  it('a large team is listed up to the cap and the rest counted', () => {
    const agents = Array.from({ length: 130 }, (_, i) => agent(`a${String(i).padStart(3, '0')}`, { skills: i % 2 ? [] : ['billing'] }));
    const r = decisionRecord(agents, conv(), { at: t0, step: { index: -1, step: BASE_STEP } });
    expect(r.eligible).toHaveLength(50);
    expect(r.blocked).toHaveLength(50);
    expect(r.omitted).toBe(15 + 15);
  });

  it('why waiting names the missing skill', () => {
    const agents = [agent('ana', { skills: ['api'] }), agent('bob', { skills: [] }), agent('cy', { presence: 'away', awayReason: 'lunch' }), agent('dee', { tiers: [2] })];
    const w = whyWaiting(agents, conv({ requiredSkills: ['billing'] }), BASE_STEP);
    expect(w.eligible).toEqual([]);
    expect(w.summary).toBe('no online agent of the tier has skill billing');
    expect(w.blocking[0]).toEqual({ code: 'lacks-skill', reason: 'lacks skill billing', count: 2, agents: ['ana', 'bob'] });
    expect(w.blocking.map((b) => b.reason)).toEqual(['lacks skill billing', 'away: lunch', 'serves other tiers than 1']);
  });

  it('why waiting: everyone busy, nobody online, somebody free', () => {
    const busy = [agent('a', { load: { chat: 2 } }), agent('b', { load: { chat: 2 } })];
    expect(whyWaiting(busy, conv(), BASE_STEP).summary).toBe('every online agent of the tier is blocked: 2 busy on chat');
    expect(whyWaiting([agent('a', { presence: 'offline' })], conv(), BASE_STEP).summary).toBe('no agent of tier 1 is online with a console');
    expect(whyWaiting([agent('a')], conv(), BASE_STEP).eligible).toEqual(['a']);
    expect(whyWaiting([], conv(), BASE_STEP).summary).toBe('no agents are configured');
    // nobody of the tier has the skill at all, whoever is online
    expect(whyWaiting([agent('a', { presence: 'offline' }), agent('b', { skills: [] })], conv({ requiredSkills: ['rare'] }), BASE_STEP).summary).toBe('no agent of tier 1 has skill rare');
  });
});

describe('decision record: properties', () => {
  const agentArb = fc.record({
    id: fc.string({ minLength: 1, maxLength: 4 }),
    tiers: fc.uniqueArray(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }),
    skills: fc.uniqueArray(fc.constantFrom('billing', 'api', 'db')),
    languages: fc.uniqueArray(fc.constantFrom('es', 'en', 'fr')),
    capacity: fc.record({ chat: fc.integer({ min: 0, max: 3 }), email: fc.integer({ min: 0, max: 3 }) }),
    load: fc.record({ chat: fc.integer({ min: 0, max: 3 }), email: fc.integer({ min: 0, max: 3 }) }),
    idleSince: fc.integer({ min: 0, max: 100 }).map((s) => at(s)),
    presence: fc.constantFrom('online' as const, 'away' as const, 'offline' as const),
    awayReason: fc.option(fc.string({ maxLength: 20 }), { nil: null }),
    consoleAttached: fc.boolean(),
  });
  const convArb = fc.record({
    conversationId: fc.constant('c'),
    priority: fc.integer({ min: 0, max: 100 }),
    waitingSince: fc.constant(t0),
    tiers: fc.uniqueArray(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 2 }),
    channel: fc.constantFrom('chat', 'email'),
    language: fc.option(fc.constantFrom('es', 'en', 'fr', 'other'), { nil: null }),
    requiredSkills: fc.uniqueArray(fc.constantFrom('billing', 'api', 'db'), { maxLength: 2 }),
    declined: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 3 }),
  });

  it('every agent is either eligible (the matcher agrees) or has exactly one first reason; the winner is the best eligible', () => {
    fc.assert(
      fc.property(fc.uniqueArray(agentArb, { selector: (a) => a.id, maxLength: 12 }), convArb, (agents, c) => {
        const r = decisionRecord(agents, c, { at: t0, step: { index: -1, step: BASE_STEP } });
        const listed = [...r.eligible.map((e) => e.agentId), ...r.blocked.map((b) => b.agentId)].sort();
        expect(listed).toEqual(agents.map((a) => a.id).sort());
        for (const e of r.eligible) {
          const a = agents.find((x) => x.id === e.agentId)!;
          expect(a.presence === 'online' && a.consoleAttached && isEligible(a, c)).toBe(true);
        }
        for (const b of r.blocked) {
          const a = agents.find((x) => x.id === b.agentId)!;
          expect(a.presence === 'online' && a.consoleAttached && isEligible(a, c)).toBe(false);
        }
        expect(r.winner).toBe(r.eligible[0]?.agentId ?? null);
        expect(r.outranked.map((o) => o.agentId)).toEqual(r.eligible.slice(1).map((e) => e.agentId));
        const w = whyWaiting(agents, c, BASE_STEP);
        expect(w.eligible.sort()).toEqual(r.eligible.map((e) => e.agentId).sort());
        expect(w.blocking.reduce((s, b) => s + b.count, 0)).toBe(r.blocked.length);
        // the record is JSON (stored as jsonb, sent in the offer frame) and survives a round trip
        expect(JSON.parse(JSON.stringify(r))).toEqual(r);
      }),
      { numRuns: runs(400) },
    );
  });

  it('the matcher pool (availableOf) is exactly the agents some conversation on some channel could be offered to, as the records judge them', () => {
    fc.assert(
      fc.property(fc.uniqueArray(agentArb, { selector: (a) => a.id, maxLength: 12 }), (agents) => {
        const pool = availableOf(agents);
        // no agent the decision record would block for presence or console is in the pool, and every pool agent has room somewhere
        const blockedUp = new Set(agents.filter((a) => ['offline', 'away', 'no-console'].includes(firstBlock(a, { conversationId: 'c', priority: 0, waitingSince: t0, tiers: a.tiers, channel: 'chat', language: null, requiredSkills: [], declined: [] }, BASE_STEP)?.code ?? '')).map((a) => a.id));
        expect(pool.filter((a) => blockedUp.has(a.id))).toEqual([]);
        for (const a of pool) expect(Object.keys(a.capacity).some((ch) => freeCapacity(a, ch) > 0)).toBe(true);
        const expected = agents.filter((a) => !blockedUp.has(a.id) && Object.keys(a.capacity).some((ch) => freeCapacity(a, ch) > 0)).map((a) => a.id);
        expect(pool.map((a) => a.id)).toEqual(expected);
        // the pool carries the matcher's fields unchanged
        for (const a of pool) {
          const v = agents.find((x) => x.id === a.id)!;
          expect(a).toEqual({ id: v.id, tiers: v.tiers, skills: v.skills, languages: v.languages, capacity: v.capacity, load: v.load, idleSince: v.idleSince });
        }
      }),
      { numRuns: runs(300) },
    );
  });
});
