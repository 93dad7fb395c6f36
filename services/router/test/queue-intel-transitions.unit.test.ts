/**
 * The new transitions of the second queue-intelligence part (docs/queue-intelligence.md): ending
 * wrap-up early, presence with an admin-configured reason, the away-reason list, a rule's widening
 * steps, and the matcher at a widening step (planOffers with `step`). Table-driven plus properties.
 */
import fc from 'fast-check';
import { planOffers, type AgentSnapshot, type WaitingConversation } from '../src/domain/match';
import { agedPriority, compareAged, stepAt, type WideningStep } from '../src/domain/preference';
import { ruleProblems, type Rule } from '../src/domain/rules';
import { endWrapUpEarly, presenceReasonsProblems, setReasonedPresence, startWrapUp, DEFAULT_PRESENCE_REASONS, type ReasonedPresence, type WrapUp } from '../src/domain/wrap-up';

const runs = (n: number) => n * Number(process.env.PROPERTY_RUNS_FACTOR ?? 1);
const t0 = new Date('2026-01-01T10:00:00Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);

describe('end wrap-up early', () => {
  const list = [...startWrapUp([], 'c1', 'chat', at(0), { maxMsByChannel: { chat: 60_000 } }), ...startWrapUp([], 'c2', 'phone', at(10), { maxMsByChannel: { phone: 60_000 } })];

  it('ends one conversation’s wrap-up, or all that is running', () => {
    const one = endWrapUpEarly(list, at(20), 'c2');
    expect(one).toMatchObject({ ok: true, ended: [{ conversationId: 'c2' }], list: [{ conversationId: 'c1' }] });
    const all = endWrapUpEarly(list, at(20));
    expect(all).toMatchObject({ ok: true, list: [] });
    if (all.ok) expect(all.ended.map((w) => w.conversationId)).toEqual(['c1', 'c2']);
  });

  it('refuses when nothing is running: none at all, another conversation, or already past its maximum (the sweep ends those)', () => {
    expect(endWrapUpEarly([], at(0))).toEqual({ ok: false, message: 'no wrap-up in progress' });
    expect(endWrapUpEarly(list, at(20), 'c9')).toMatchObject({ ok: false });
    expect(endWrapUpEarly(list, at(60), 'c1')).toMatchObject({ ok: false }); // until = 60 s: over at until
    expect(endWrapUpEarly(list, at(65))).toMatchObject({ ok: true, ended: [{ conversationId: 'c2' }] });
  });

  it('property: ended ∪ kept = the list, ended entries were running, and a second call ends nothing more', () => {
    const entry = fc.record({ conversationId: fc.constantFrom('a', 'b', 'c', 'd'), channel: fc.constantFrom('chat', 'phone'), since: fc.integer({ min: 0, max: 100 }), len: fc.integer({ min: 1, max: 100 }) });
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: (e) => e.conversationId, maxLength: 4 }), fc.integer({ min: 0, max: 250 }), fc.option(fc.constantFrom('a', 'b', 'z'), { nil: undefined }), (es, now, conv) => {
        const l: WrapUp[] = es.map((e) => ({ conversationId: e.conversationId, channel: e.channel, since: at(e.since), until: at(e.since + e.len) }));
        const r = endWrapUpEarly(l, at(now), conv);
        const running = l.filter((w) => w.until > at(now) && (conv === undefined || w.conversationId === conv));
        expect(r.ok).toBe(running.length > 0);
        if (!r.ok) return;
        expect([...r.ended, ...r.list].sort((x, y) => x.conversationId.localeCompare(y.conversationId))).toEqual([...l].sort((x, y) => x.conversationId.localeCompare(y.conversationId)));
        expect(r.ended).toEqual(running);
        expect(endWrapUpEarly(r.list, at(now), conv).ok).toBe(false);
      }),
      { numRuns: runs(300) },
    );
  });
});

describe('presence with a reason', () => {
  const online: ReasonedPresence = { presence: 'online', awayReason: null };
  it.each([
    ['away with a configured reason', online, 'away', 'break', { ok: true, state: { presence: 'away', awayReason: 'break' }, changed: true }],
    ['away without a reason', online, 'away', undefined, { ok: true, state: { presence: 'away', awayReason: null }, changed: true }],
    ['another reason while away', { presence: 'away', awayReason: 'break' }, 'away', 'meeting', { ok: true, state: { presence: 'away', awayReason: 'meeting' }, changed: true }],
    ['the same reason again', { presence: 'away', awayReason: 'break' }, 'away', 'break', { ok: true, state: { presence: 'away', awayReason: 'break' }, changed: false }],
    ['online clears the reason', { presence: 'away', awayReason: 'break' }, 'online', undefined, { ok: true, state: online, changed: true }],
    ['unknown reason', online, 'away', 'nap', { ok: false, message: 'unknown away reason nap' }],
    ['a reason with online', online, 'online', 'break', { ok: false, message: 'online takes no reason' }],
    ['a reason with offline', online, 'offline', 'break', { ok: false, message: 'offline takes no reason' }],
  ] as const)('%s', (_label, before, presence, reason, expected) => {
    expect(setReasonedPresence(before, presence, reason, DEFAULT_PRESENCE_REASONS)).toEqual(expected);
  });

  it('a repeated id in the admins’ list is named', () => {
    expect(presenceReasonsProblems([...DEFAULT_PRESENCE_REASONS, { id: 'break', label: 'Again', productive: true }])).toEqual([{ field: `body.reasons.${DEFAULT_PRESENCE_REASONS.length}.id`, reason: 'duplicate reason id break' }]);
    expect(presenceReasonsProblems(DEFAULT_PRESENCE_REASONS)).toEqual([]);
  });
});

describe('widening in rules and in the matcher', () => {
  const rule = (widening: WideningStep[]): Rule => ({ id: 'r', when: {}, then: { skills: ['billing'], widening } });

  it('a rule’s steps must only relax', () => {
    expect(ruleProblems([rule([{ afterMs: 0, minLevel: 4 }, { afterMs: 60_000, minLevel: 2 }, { afterMs: 120_000, dropSkills: true, extraTiers: 1 }])])).toEqual([]);
    expect(ruleProblems([rule([{ afterMs: 0, minLevel: 2 }, { afterMs: 60_000, minLevel: 4 }])])).toEqual([{ field: 'body.rules.0.then.widening.1.minLevel', reason: 'a later step may not ask for a higher level' }]);
    expect(ruleProblems([rule([{ afterMs: 5, minLevel: 2 }])])).toEqual([{ field: 'body.rules.0.then.widening.0.afterMs', reason: 'the first step must start at 0' }]);
  });

  const agent = (id: string, level: number, o: Partial<AgentSnapshot> = {}): AgentSnapshot => ({
    id,
    tiers: [1],
    skills: ['billing'],
    languages: ['en'],
    capacity: { chat: 1 },
    load: {},
    idleSince: t0,
    proficiency: { skills: { billing: level } },
    ...o,
  });
  const conv: WaitingConversation = { conversationId: 'c', priority: 50, waitingSince: t0, tiers: [1], channel: 'chat', language: 'en', requiredSkills: ['billing'], declined: [] };
  const steps: WideningStep[] = [{ afterMs: 0, minLevel: 4 }, { afterMs: 60_000, minLevel: 2 }, { afterMs: 120_000, dropSkills: true }, { afterMs: 300_000, dropSkills: true, extraTiers: 1 }];
  const planAt = (waitedS: number, agents: AgentSnapshot[]) => planOffers([{ ...conv, step: stepAt(steps, waitedS * 1000).step }], agents, false, at(waitedS)).map((p) => p.agent.id);

  it.each([
    [0, []],
    [59, []],
    [60, ['low']],
    [120, ['low']],
  ] as const)('after %s s a level-2 agent gets it: %j', (s, expected) => {
    expect(planAt(s, [agent('low', 2)])).toEqual(expected);
  });

  it('the best level still goes first when several are eligible; dropped skills and extra tiers widen the pool step by step', () => {
    expect(planAt(60, [agent('low', 2), agent('high', 5)])).toEqual(['high']);
    const noSkill = agent('generalist', 1, { skills: [], proficiency: {} });
    expect(planAt(119, [noSkill])).toEqual([]);
    expect(planAt(120, [noSkill])).toEqual(['generalist']);
    const tier2 = agent('tier2', 1, { tiers: [2], skills: [] });
    expect(planAt(299, [tier2])).toEqual([]);
    expect(planAt(300, [tier2])).toEqual(['tier2']);
  });

  it('without a step the matcher is unchanged (base step)', () => {
    expect(planOffers([conv], [agent('low', 2)], false, t0).map((p) => p.agent.id)).toEqual(['low']);
  });
});

describe('priority ageing in queue order', () => {
  const w = (id: string, priority: number, since: number): WaitingConversation => ({ conversationId: id, priority, waitingSince: at(since), tiers: [1], channel: 'chat', requiredSkills: [], declined: [] });
  it('old low-priority work overtakes fresh high-priority work after (high − low) / pointsPerMinute minutes', () => {
    const ageing = { pointsPerMinute: 2, maxPriority: 90 };
    const old = w('old', 30, 0);
    const fresh = w('fresh', 80, 1500); // 25 min later
    expect([fresh, old].sort((a, b) => compareAged(a, b, at(1500), ageing)).map((x) => x.conversationId)).toEqual(['old', 'fresh']); // 30 + 50 = 80 = tie → longest wait
    expect([fresh, old].sort((a, b) => compareAged(a, b, at(1499), undefined)).map((x) => x.conversationId)).toEqual(['fresh', 'old']);
    expect(agedPriority(95, 3_600_000, ageing)).toBe(95); // above the cap: never lowered
    expect(agedPriority(10, 3_600_000, ageing)).toBe(90);
  });
});
