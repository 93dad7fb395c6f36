import fc from 'fast-check';
import { isEligible, rankAgents, type WaitingConversation } from '../src/domain/match';
import {
  BASE_STEP,
  agedPriority,
  compareAged,
  compareCandidates,
  isEligibleAt,
  matchLevel,
  rankAt,
  stepAt,
  tiersAt,
  wideningProblems,
  type Candidate,
  type ProficientAgent,
  type WideningStep,
} from '../src/domain/preference';

/** PROPERTY_RUNS_FACTOR=20 for a one-off stress run */
const runs = (n: number) => n * Number(process.env.PROPERTY_RUNS_FACTOR ?? 1);
const t0 = new Date('2026-01-01T10:00:00Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const agent = (id: string, extra: Partial<ProficientAgent> = {}): ProficientAgent => ({
  id,
  tiers: [1],
  skills: ['billing'],
  languages: ['es', 'en'],
  capacity: { chat: 3 },
  load: {},
  idleSince: t0,
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
const STEPS: WideningStep[] = [
  { afterMs: 0, minLevel: 4 },
  { afterMs: 60_000, minLevel: 2 },
  { afterMs: 120_000, minLevel: 1, dropSkills: true },
  { afterMs: 300_000, minLevel: 1, dropSkills: true, extraTiers: 1 },
];

describe('preference: table', () => {
  it('best level first, then least loaded, then longest idle, then id', () => {
    const agents = [
      agent('a-l3', { proficiency: { skills: { billing: 3 } } }),
      agent('b-l5-busy', { proficiency: { skills: { billing: 5 } }, load: { chat: 2 } }),
      agent('c-l5-idle-long', { proficiency: { skills: { billing: 5 } }, load: { chat: 2 }, idleSince: at(-600) }),
      agent('d-l5-free', { proficiency: { skills: { billing: 5 } } }),
      agent('e-l5-lang2', { proficiency: { skills: { billing: 5 }, languages: { es: 2 } } }),
    ];
    expect(rankAt(agents, conv(), BASE_STEP).map((c) => c.agentId)).toEqual(['d-l5-free', 'c-l5-idle-long', 'b-l5-busy', 'a-l3', 'e-l5-lang2']);
  });

  it('the weakest needed level counts: language and every skill', () => {
    const a = agent('x', { skills: ['billing', 'api'], proficiency: { skills: { billing: 5, api: 2 }, languages: { es: 4 } } });
    expect(matchLevel(a, conv({ requiredSkills: ['billing'] }), BASE_STEP)).toBe(4);
    expect(matchLevel(a, conv({ requiredSkills: ['billing', 'api'] }), BASE_STEP)).toBe(2);
    expect(matchLevel(a, conv({ requiredSkills: [], language: null }), BASE_STEP)).toBe(5);
    expect(matchLevel(a, conv({ requiredSkills: ['billing'], language: 'fr' }), BASE_STEP)).toBe(0);
  });

  it.each([
    [0, 0, 4],
    [59_999, 0, 4],
    [60_000, 1, 2],
    [299_999, 2, 1],
    [10_000_000, 3, 1],
  ])('waited %d ms → step %d (min level %d)', (waited, index, minLevel) => {
    const s = stepAt(STEPS, waited);
    expect(s.index).toBe(index);
    expect(s.step.minLevel).toBe(minLevel);
  });

  it('widening hands a conversation to a lower level, then to any agent of the tier, then to the next tier', () => {
    const l2 = agent('l2', { proficiency: { skills: { billing: 2 } } });
    const noSkill = agent('none', { skills: [] });
    const tier2 = agent('t2', { tiers: [2], skills: [] });
    const c = conv();
    const eligible = (ms: number) => [l2, noSkill, tier2].filter((a) => isEligibleAt(a, c, stepAt(STEPS, ms).step)).map((a) => a.id);
    expect(eligible(0)).toEqual([]);
    expect(eligible(60_000)).toEqual(['l2']);
    expect(eligible(120_000)).toEqual(['l2', 'none']);
    expect(eligible(300_000)).toEqual(['l2', 'none', 't2']);
    expect(tiersAt({ tiers: [5] }, { afterMs: 0, extraTiers: 2 })).toEqual([5]);
  });

  it.each([
    ['first step not at 0', [{ afterMs: 10 }], 'body.widening.0.afterMs'],
    ['not later', [{ afterMs: 0 }, { afterMs: 0 }], 'body.widening.1.afterMs'],
    ['stricter level', [{ afterMs: 0, minLevel: 2 }, { afterMs: 5, minLevel: 4 }], 'body.widening.1.minLevel'],
    ['skills back', [{ afterMs: 0, dropSkills: true }, { afterMs: 5 }], 'body.widening.1.dropSkills'],
    ['tiers removed', [{ afterMs: 0, extraTiers: 1 }, { afterMs: 5 }], 'body.widening.1.extraTiers'],
  ])('wideningProblems: %s', (_n, steps, field) => {
    expect(wideningProblems(steps as WideningStep[]).map((p) => p.field)).toContain(field);
  });

  it('priority ageing: a point a minute up to the cap', () => {
    const ageing = { pointsPerMinute: 1, maxPriority: 90 };
    expect(agedPriority(20, 0, ageing)).toBe(20);
    expect(agedPriority(20, 59_999, ageing)).toBe(20);
    expect(agedPriority(20, 30 * 60_000, ageing)).toBe(50);
    expect(agedPriority(20, 600 * 60_000, ageing)).toBe(90);
    expect(agedPriority(95, 600 * 60_000, ageing)).toBe(95);
    // an old low-priority conversation overtakes a fresh high-priority one
    const old = conv({ conversationId: 'old-low', priority: 20, waitingSince: at(0) });
    const fresh = conv({ conversationId: 'fresh-high', priority: 60, waitingSince: at(41 * 60) });
    expect([fresh, old].sort((a, b) => compareAged(a, b, at(41 * 60), ageing)).map((c) => c.conversationId)).toEqual(['old-low', 'fresh-high']);
    expect([fresh, old].sort((a, b) => compareAged(a, b, at(41 * 60), undefined)).map((c) => c.conversationId)).toEqual(['fresh-high', 'old-low']);
  });
});

describe('preference: properties', () => {
  const SKILLS = ['billing', 'api', 'db'];
  const LANGS = ['es', 'en', 'fr'];
  const levels = (keys: string[]) => fc.dictionary(fc.constantFrom(...keys), fc.integer({ min: 1, max: 5 }), { maxKeys: keys.length });
  const agentArb = fc.record({
    id: fc.string({ minLength: 1, maxLength: 4 }),
    tiers: fc.uniqueArray(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }),
    skills: fc.uniqueArray(fc.constantFrom(...SKILLS)),
    languages: fc.uniqueArray(fc.constantFrom(...LANGS)),
    capacity: fc.record({ chat: fc.integer({ min: 0, max: 3 }), email: fc.integer({ min: 0, max: 3 }) }),
    load: fc.record({ chat: fc.integer({ min: 0, max: 3 }), email: fc.integer({ min: 0, max: 3 }) }),
    idleSince: fc.integer({ min: 0, max: 1000 }).map((s) => at(s)),
    proficiency: fc.option(fc.record({ skills: levels(SKILLS), languages: levels(LANGS) }, { requiredKeys: [] }), { nil: undefined }),
  });
  const convArb = fc.record({
    conversationId: fc.constant('c'),
    priority: fc.integer({ min: 0, max: 100 }),
    waitingSince: fc.constant(t0),
    tiers: fc.uniqueArray(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 2 }),
    channel: fc.constantFrom('chat', 'email'),
    language: fc.option(fc.constantFrom(...LANGS, 'other'), { nil: null }),
    requiredSkills: fc.uniqueArray(fc.constantFrom(...SKILLS), { maxLength: 2 }),
    declined: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 3 }),
    preferredAgentId: fc.option(fc.string({ minLength: 1, maxLength: 4 }), { nil: null }),
  });
  // monotone step lists: each step relaxes the one before
  const stepsArb = fc
    .array(fc.record({ gap: fc.integer({ min: 1, max: 100_000 }), down: fc.integer({ min: 0, max: 2 }), drop: fc.boolean(), more: fc.integer({ min: 0, max: 1 }) }), { maxLength: 5 })
    .chain((xs) =>
      fc.integer({ min: 1, max: 5 }).map((start) => {
        const out: WideningStep[] = [];
        let t = 0;
        let level = start;
        let drop = false;
        let extra = 0;
        xs.forEach((x, i) => {
          if (i > 0) {
            t += x.gap;
            level = Math.max(1, level - x.down);
            drop = drop || x.drop;
            extra = Math.min(4, extra + x.more);
          }
          out.push({ afterMs: t, minLevel: level, dropSkills: drop, extraTiers: extra });
        });
        return out;
      }),
    );

  it('without proficiency data and widening, eligibility and order are exactly those of match.ts', () => {
    fc.assert(
      fc.property(fc.uniqueArray(agentArb, { selector: (a) => a.id, maxLength: 8 }), convArb, (agents, c) => {
        const plain = agents.map((a) => ({ ...a, proficiency: undefined }));
        for (const a of plain) expect(isEligibleAt(a, c, BASE_STEP)).toBe(isEligible(a, c));
        expect(rankAt(plain, c, BASE_STEP).map((x) => x.agentId)).toEqual(rankAgents(plain, c).map((a) => a.id));
      }),
      { numRuns: runs(300) },
    );
  });

  it('generated step lists are valid, and widening is monotone: whoever is eligible stays eligible as the wait grows', () => {
    fc.assert(
      fc.property(fc.array(agentArb, { maxLength: 8 }), convArb, stepsArb, fc.integer({ min: 0, max: 500_000 }), fc.integer({ min: 0, max: 500_000 }), (agents, c, steps, w1, dw) => {
        expect(wideningProblems(steps)).toEqual([]);
        const early = stepAt(steps, w1).step;
        const late = stepAt(steps, w1 + dw).step;
        for (const a of agents) if (isEligibleAt(a, c, early)) expect(isEligibleAt(a, c, late)).toBe(true);
      }),
      { numRuns: runs(300) },
    );
  });

  const candArb = fc.record({
    agentId: fc.string({ maxLength: 3 }),
    preferred: fc.boolean(),
    level: fc.integer({ min: 0, max: 5 }),
    load: fc.integer({ min: 0, max: 4 }),
    idleSince: fc.integer({ min: 0, max: 3 }).map((s) => at(s)),
  });
  it('the candidate order is a total order: antisymmetric, transitive, and only equal on the same id', () => {
    fc.assert(
      fc.property(candArb, candArb, candArb, (a: Candidate, b: Candidate, c: Candidate) => {
        const sign = (n: number) => Math.sign(n);
        expect(sign(compareCandidates(a, b)) + 0).toBe(-sign(compareCandidates(b, a)) + 0);
        if (compareCandidates(a, b) === 0) expect(a.agentId).toBe(b.agentId);
        if (compareCandidates(a, b) <= 0 && compareCandidates(b, c) <= 0) expect(compareCandidates(a, c)).toBeLessThanOrEqual(0);
      }),
      { numRuns: runs(1000) },
    );
  });

  it('ageing is monotone in the wait, never lowers a priority, and never passes the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 86_400_000 }), fc.integer({ min: 0, max: 86_400_000 }), fc.double({ min: 0, max: 10, noNaN: true }), fc.integer({ min: 0, max: 100 }), (p, w, dw, rate, cap) => {
        const ageing = { pointsPerMinute: rate, maxPriority: cap };
        const a = agedPriority(p, w, ageing);
        expect(a).toBeGreaterThanOrEqual(p);
        expect(agedPriority(p, w + dw, ageing)).toBeGreaterThanOrEqual(a);
        expect(a).toBeLessThanOrEqual(Math.max(p, cap));
      }),
      { numRuns: runs(500) },
    );
  });
});
