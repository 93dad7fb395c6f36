import fc from 'fast-check';
import { DEFAULT_RULES } from '../src/domain/default-rules';
import { RecordedBehaviour, type AgentBehaviour } from '../src/replay/behaviour';
import { DEFAULT_POLICY, parseReplayConfig } from '../src/replay/config';
import { replay } from '../src/replay/engine';
import { derivedId } from '@omni/contracts';
import { generateRecording, message, ScriptedBehaviour, unit } from '../src/replay/generate';
import { compare, faithfulness } from '../src/replay/report';
import type { Recording, RecordedInput, ReplayConfig } from '../src/replay/types';

const START = Date.UTC(2026, 10, 2);
const live: ReplayConfig = { name: 'live', rules: DEFAULT_RULES, ruleVersion: 1, policy: DEFAULT_POLICY };

/** "Live": the scripted people answer; what it decides is the recording replay starts from. */
function recordDay(seed: number, conversations: number, agents: number): { rec: Recording; recorded: ReturnType<typeof replay> } {
  const rec = generateRecording({ seed, start: START, days: 1, conversations, agents });
  const recorded = replay(rec, live, new ScriptedBehaviour(seed));
  return { rec: { ...rec, decisions: recorded.decisions }, recorded };
}

describe('replay of a scripted day', () => {
  const { rec, recorded } = recordDay(7, 1500, 40);

  test('the day exercises mixed channels, presence changes, escalations, overflows, rejections and lapsed offers', () => {
    const types = new Set(recorded.decisions.map((d) => d.type));
    for (const t of ['conversation.escalated', 'conversation.overflowed', 'conversation.rejected', 'conversation.offer-expired', 'conversation.reopened', 'conversation.requeued', 'conversation.resolved'])
      expect(types).toContain(t);
    expect(new Set([...recorded.conversations.values()].map((c) => c.channel)).size).toBeGreaterThanOrEqual(5);
    expect(new Set([...recorded.conversations.values()].map((c) => c.openingTier))).toEqual(new Set([1, 2, 3, 5]));
  });

  test('faithfulness: replayed with the live configuration, 100 % of recorded decisions are reproduced, from recorded agent answers only', () => {
    const base = replay(rec, live, new RecordedBehaviour(rec.decisions));
    const f = faithfulness(rec.decisions, base.decisions);
    expect(f.differences).toEqual([]);
    expect(f.sharePct).toBe(100);
    expect(f.conversations).toBe(recorded.conversations.size);
    expect(base.behaviour.modelled).toBe(0);
    expect(base.decisions).toEqual(rec.decisions);
  });

  test('the faithfulness check finds and explains a difference (an agent whose presence was not recorded)', () => {
    const someone = rec.inputs.find((i) => i.kind === 'presence' && i.presence === 'online')!;
    const lossy = { ...rec, inputs: rec.inputs.filter((i) => !(i.kind === 'presence' && i.agentId === (someone as { agentId: string }).agentId)) };
    const f = faithfulness(rec.decisions, replay(lossy, live, new RecordedBehaviour(rec.decisions)).decisions);
    expect(f.sharePct).toBeLessThan(100);
    expect(f.differences.length).toBeGreaterThan(0);
    for (const d of f.differences) expect(d.explanation).toMatch(/agent|recording|decision|input/);
  });

  test('a window starting mid-day: conversations opened before it are left out of the share and listed, the rest reproduced', () => {
    const mid = START + 12 * 3_600_000;
    const f = faithfulness(
      rec.decisions.filter((d) => d.at >= mid),
      replay(
        { ...rec, from: mid, inputs: rec.inputs.filter((i) => i.at >= mid), decisions: rec.decisions.filter((d) => d.at >= mid) },
        live,
        new RecordedBehaviour(rec.decisions.filter((d) => d.at >= mid)),
      ).decisions,
    );
    expect(f.carriedOver.length).toBeGreaterThan(0);
    // agents' load, presence and idle order at the window start are not recorded: some differences are expected, each explained
    expect(f.conversations).toBeGreaterThan(500);
    for (const d of f.differences) expect(d.explanation.length).toBeGreaterThan(20);
  });

  test('the same mid-day window with a warm-up from the quiet start of the day: 100 % reproduced', () => {
    const mid = START + 12 * 3_600_000;
    const base = replay(rec, live, new RecordedBehaviour(rec.decisions), { reportFrom: mid });
    const report = compare(base, base, live.policy, live.policy, rec.decisions);
    expect(report.faithfulness!.differences).toEqual([]);
    expect(report.faithfulness!.conversations).toBe([...recorded.conversations.values()].filter((c) => c.openedAt >= mid).length);
    expect(report.baseline.conversations).toBe(report.faithfulness!.conversations);
  });

  test('a mid-day window without a warm-up: the start state is rebuilt from the recorded offers (from a busy point), 100 % reproduced; re-deciding from the same point is not', () => {
    // a 30-minute reopen window, so the point rebuilding starts from is busy, not the quiet start of the day
    const short: ReplayConfig = { ...live, policy: { ...live.policy, reopenWindowMs: 1_800_000 } };
    const day = generateRecording({ seed: 11, start: START, days: 1, conversations: 1500, agents: 40 });
    const decisions = replay(day, short, new ScriptedBehaviour(11)).decisions;
    const mid = START + 12 * 3_600_000;
    // what run.ts does: back to the oldest conversation open at `mid`, and the reopen window before it
    const last = new Map<string, { type: string; opened: number }>();
    for (const d of decisions) if (d.at < mid) last.set(d.conversationId, { type: d.type, opened: last.get(d.conversationId)?.opened ?? d.at });
    const openAtMid = [...last.values()].filter((l) => l.type !== 'conversation.resolved' && l.type !== 'conversation.closed');
    expect(openAtMid.length).toBeGreaterThan(5);
    const lookback = Math.min(mid - short.policy.reopenWindowMs, ...openAtMid.map((l) => l.opened));
    // what sources.ts reads for a window starting there: presence as of then (the last change before it), idle order unknown
    const presenceAt = new Map<string, 'online' | 'away' | 'offline'>();
    for (const i of day.inputs) if (i.kind === 'presence' && i.at < lookback) presenceAt.set(i.agentId, i.presence);
    expect([...presenceAt.values()].filter((p) => p === 'online').length).toBeGreaterThan(5);
    const agents = day.agents.map((a) => ({ ...a, presence: presenceAt.get(a.id) ?? a.presence, idleSince: lookback }));
    const window = { ...day, from: lookback, agents, inputs: day.inputs.filter((i) => i.at >= lookback), decisions: decisions.filter((d) => d.at >= lookback) };
    const rebuilt = replay(window, short, new RecordedBehaviour(window.decisions), { reportFrom: mid, recordedStart: true });
    const f = compare(rebuilt, rebuilt, short.policy, short.policy, window.decisions).faithfulness!;
    expect(f.differences).toEqual([]);
    expect(f.conversations).toBeGreaterThan(500);
    // the same point as a plain warm-up (decided again from a busy moment) does not rebuild the start
    const warm = replay(window, short, new RecordedBehaviour(window.decisions), { reportFrom: mid });
    expect(compare(warm, warm, short.policy, short.policy, window.decisions).faithfulness!.sharePct).toBeLessThan(100);
  });

  test('a category moved to tier 2 changes the classification of exactly the conversations of that category', () => {
    const rules = DEFAULT_RULES.map((r) => (r.id === 'orders-shipping' ? { ...r, then: { ...r.then, tier: 2 } } : r));
    const proposed: ReplayConfig = { ...live, name: 'orders to tier 2', rules, ruleVersion: 2 };
    const base = replay(rec, live, new RecordedBehaviour(rec.decisions));
    const prop = replay(rec, proposed, new RecordedBehaviour(rec.decisions));
    const report = compare(base, prop, live.policy, proposed.policy, rec.decisions);
    const expected = [...recorded.conversations.values()].filter((c) => c.category === 'orders-shipping' && c.openingTier === 1).map((c) => c.id).sort();
    expect(expected.length).toBeGreaterThan(50);
    const byRule = report.changed.filter((c) => c.classificationChanged);
    expect(byRule.map((c) => c.conversationId).sort()).toEqual(expected);
    for (const c of byRule) {
      expect([c.baseline.tier, c.proposed.tier]).toEqual([1, 2]);
      expect(c.what).toContain('tier');
      expect(c.proposed.ruleVersion).toBe(2);
      expect(c.proposed.decisions.find((d) => d.type === 'conversation.queued')?.tier).toBe(2);
    }
    // everything else that changed kept its tier and category: only who was free changed
    for (const c of report.changed.filter((x) => !x.classificationChanged)) {
      expect(c.proposed.category).toBe(c.baseline.category);
      expect(c.proposed.tier).toBe(c.baseline.tier);
    }
    const t2 = (s: typeof report.baseline) => s.tiers.find((t) => t.tier === 2)!.volume;
    expect(t2(report.proposed) - t2(report.baseline)).toBe(expected.length);
    expect(report.faithfulness?.sharePct).toBe(100);
  });

  test('rule edits inside the window: conversations opened from the switch on are classified with the new version', () => {
    const noon = START + 12 * 3_600_000;
    const v2 = DEFAULT_RULES.map((r) => (r.id === 'orders-shipping' ? { ...r, then: { ...r.then, category: 'logistics' } } : r));
    const r = replay(rec, { ...live, ruleTimeline: [{ from: noon, version: 2, rules: v2 }] }, new RecordedBehaviour(rec.decisions));
    const orders = [...r.conversations.values()].filter((c) => c.matchedRules.includes('orders-shipping'));
    expect(orders.filter((c) => c.openedAt < noon).every((c) => c.category === 'orders-shipping' && c.ruleVersion === 1)).toBe(true);
    expect(orders.filter((c) => c.openedAt >= noon).every((c) => c.category === 'logistics' && c.ruleVersion === 2)).toBe(true);
    expect(orders.filter((c) => c.openedAt >= noon).length).toBeGreaterThan(20);
    const f = faithfulness(rec.decisions, r.decisions);
    expect(f.differences.length).toBe(orders.filter((c) => c.openedAt >= noon).length); // exactly those, at their classification
    for (const d of f.differences) expect(d.explanation).toMatch(/tier\/category/);
  });

  test('a rule change that matches nothing changes nothing', () => {
    const rules = [...DEFAULT_RULES.slice(0, 3), { id: 'never', when: { keywords: { any: ['zzqxj-never-said'] } }, then: { tier: 4, category: 'never' } }, ...DEFAULT_RULES.slice(3)];
    const base = replay(rec, live, new RecordedBehaviour(rec.decisions));
    const prop = replay(rec, { ...live, name: 'noop', rules, ruleVersion: 2 }, new RecordedBehaviour(rec.decisions));
    expect(compare(base, prop, live.policy, live.policy).changed).toEqual([]);
    // the same decisions; only the classification reason names the new rule version
    const strip = (ds: typeof base.decisions) => ds.map(({ reason: _r, ...d }) => d);
    expect(strip(prop.decisions)).toEqual(strip(base.decisions));
  });

  test('agents sent work the recording never gave them follow the documented model (their category median, else the category median)', () => {
    const rules = DEFAULT_RULES.map((r) => (r.id === 'orders-shipping' ? { ...r, then: { ...r.then, tier: 2 } } : r));
    const prop = replay(rec, { ...live, name: 'p', rules, ruleVersion: 2 }, new RecordedBehaviour(rec.decisions));
    expect(prop.behaviour.modelled).toBeGreaterThan(0);
    const resolved = prop.decisions.filter((d) => d.type === 'conversation.resolved');
    expect(resolved.length).toBeGreaterThan(recorded.decisions.filter((d) => d.type === 'conversation.resolved').length * 0.8);
  });
});

describe('agent model edges', () => {
  test('a recorded transfer to an agent who is not there in the proposal is refused, listed, and the assignee resolves instead', () => {
    const m = generateRecording({ seed: 3, start: START, days: 1, conversations: 1, agents: 2 });
    const msg = m.inputs.find((i) => i.kind === 'message')!;
    const agents = m.agents.map((a) => ({ ...a, tiers: [1, 2, 3, 5], skills: ['social', 'databases', 'apis', 'integrations', 'infrastructure', 'translation'], languages: ['en', 'es', 'fr'], presence: 'online' as const }));
    const rec = { ...m, agents, inputs: [msg] };
    const first = replay(rec, live, new ScriptedBehaviour(3));
    const conv = first.decisions[0]!.conversationId;
    const holder = first.decisions.find((d) => d.type === 'conversation.assigned')!.agentId!;
    const other = agents.find((a) => a.id !== holder)!.id;
    // the recording: the holder transferred it to `other` 60 s after accepting
    const offered = first.decisions.find((d) => d.type === 'conversation.offered')!;
    const accepted = first.decisions.find((d) => d.type === 'conversation.accepted')!;
    const decisions = [
      ...first.decisions.filter((d) => d.at <= accepted.at),
      { conversationId: conv, type: 'conversation.transferred', at: accepted.at + 60_000, agentId: holder, toAgentId: other, tier: offered.tier },
    ];
    const r = replay({ ...rec, decisions }, { ...live, agents: { remove: [other] } }, new RecordedBehaviour(decisions));
    expect(r.refused).toEqual([expect.objectContaining({ conversationId: conv, kind: 'transfer', code: 'AGENT_UNAVAILABLE' })]);
    expect(r.decisions.filter((d) => d.conversationId === conv).at(-1)).toMatchObject({ type: 'conversation.resolved', agentId: holder, at: accepted.at + 60_000 });
  });
});

describe('determinism', () => {
  const arbRecording = fc.record({ seed: fc.integer({ min: 1, max: 1_000_000 }), conversations: fc.integer({ min: 1, max: 60 }), agents: fc.integer({ min: 1, max: 8 }), grainMs: fc.constantFrom(1, 60_000, 3_600_000) });
  const build = (p: { seed: number; conversations: number; agents: number; grainMs: number }) => {
    const rec = generateRecording({ seed: p.seed, start: START, days: 1, conversations: p.conversations, agents: p.agents });
    // coarse times make many inputs share an instant: the tie-break, not the array order, must decide
    return { ...rec, inputs: rec.inputs.map((i) => ({ ...i, at: START + Math.floor((i.at - START) / p.grainMs) * p.grainMs })) };
  };

  test('same recording and configuration twice → identical decisions; any permutation of the inputs → identical decisions', () => {
    fc.assert(
      fc.property(arbRecording, fc.integer(), (p, shuffleSeed) => {
        const rec = build(p);
        const a = replay(rec, live, new ScriptedBehaviour(p.seed));
        const b = replay(rec, live, new ScriptedBehaviour(p.seed));
        expect(b.decisions).toEqual(a.decisions);
        const shuffled = shuffle(rec.inputs, shuffleSeed);
        const c = replay({ ...rec, inputs: shuffled }, live, new ScriptedBehaviour(p.seed));
        expect(c.decisions).toEqual(a.decisions);
      }),
      { numRuns: Number(process.env.REPLAY_RUNS ?? 40) },
    );
  });

  test('replaying a recording with its own configuration reproduces it exactly (any generated day)', () => {
    fc.assert(
      fc.property(arbRecording, (p) => {
        const rec = build(p);
        const recorded = replay(rec, live, new ScriptedBehaviour(p.seed)).decisions;
        const again = replay({ ...rec, decisions: recorded }, live, new RecordedBehaviour(recorded));
        expect(faithfulness(recorded, again.decisions).differences).toEqual([]);
        expect(again.behaviour.modelled).toBe(0);
      }),
      { numRuns: Number(process.env.REPLAY_RUNS ?? 40) },
    );
  });

  test("the match pass's shortcuts are exact: the same decisions as planning over every queued conversation, whatever the proposal", () => {
    fc.assert(
      fc.property(arbRecording, fc.constantFrom('widen', 'escalate'), fc.integer({ min: 0, max: 2 }), fc.boolean(), (p, overflowMode, cap, moveOrders) => {
        const rec = build({ ...p, conversations: p.conversations * 3 });
        const cfg: ReplayConfig = {
          ...live,
          rules: moveOrders ? DEFAULT_RULES.map((r) => (r.id === 'orders-shipping' ? { ...r, then: { ...r.then, tier: 2 } } : r)) : DEFAULT_RULES,
          policy: { ...DEFAULT_POLICY, overflowMode, slaMsByTier: { 1: 30_000, 2: 60_000, 3: 60_000, 4: 60_000, 5: 60_000 } },
          agents: { override: Object.fromEntries(rec.agents.filter((_, i) => i % 2 === 0).map((a) => [a.id, { capacity: { chat: cap, email: cap, whatsapp: cap } }])) },
        };
        const fast = replay(rec, cfg, new ScriptedBehaviour(p.seed));
        const reference = replay(rec, cfg, new ScriptedBehaviour(p.seed), { exhaustiveMatch: true });
        expect(fast.decisions).toEqual(reference.decisions);
      }),
      { numRuns: Number(process.env.REPLAY_RUNS ?? 25) },
    );
  });

  test('no agent is ever offered or assigned past its capacity, whatever the proposal', () => {
    fc.assert(
      fc.property(arbRecording, fc.integer({ min: 0, max: 3 }), (p, cap) => {
        const rec = build(p);
        const cfg: ReplayConfig = { ...live, agents: { override: Object.fromEntries(rec.agents.map((a) => [a.id, { capacity: { chat: cap, email: cap, whatsapp: cap, phone: cap, sms: cap } }])) } };
        const r = replay(rec, cfg, new ScriptedBehaviour(p.seed));
        const holding = new Map<string, string>(); // conversation → agent
        for (const d of r.decisions) {
          if (d.type === 'conversation.offered') holding.set(d.conversationId, d.agentId!);
          else if (['conversation.rejected', 'conversation.offer-expired', 'conversation.resolved', 'conversation.escalated', 'conversation.transferred', 'conversation.requeued'].includes(d.type)) holding.delete(d.conversationId);
          const perAgentChannel = new Map<string, number>();
          for (const [cid, a] of holding) {
            const k = `${a}/${r.conversations.get(cid)!.channel}`;
            perAgentChannel.set(k, (perAgentChannel.get(k) ?? 0) + 1);
          }
          for (const n of perAgentChannel.values()) expect(n).toBeLessThanOrEqual(cap);
        }
      }),
      { numRuns: Number(process.env.REPLAY_RUNS ?? 25) },
    );
  });
});

describe('configuration file', () => {
  test('a minimal proposal takes the live defaults', () => {
    const r = parseReplayConfig({ proposed: { name: 'sla', slaMsByTier: { 1: 60000 } } });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.baseline.rules).toBe(DEFAULT_RULES);
    expect(r.proposed.policy.slaMsByTier).toEqual({ ...DEFAULT_POLICY.slaMsByTier, 1: 60000 });
  });

  test('hostile JSON and Unicode: never throws, a valid file or a list of problems', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.record({ proposed: fc.jsonValue() }), fc.record({ proposed: fc.record({ rules: fc.array(fc.jsonValue()), name: fc.string({ unit: 'binary' }) }) })), (v) => {
        const r = parseReplayConfig(v);
        if (!r.ok) expect(r.problems.length).toBeGreaterThan(0);
        else expect(r.proposed.policy.offerTimeoutMs).toBeGreaterThan(0);
      }),
      { numRuns: Number(process.env.REPLAY_RUNS ?? 300) },
    );
  });

  test('a rule with a broken regular expression is a problem, not a crash', () => {
    const r = parseReplayConfig({ proposed: { rules: [{ id: 'x', when: { patterns: { any: ['(['] } }, then: { tier: 2 } }] } });
    expect(r.ok).toBe(false);
  });
});

describe('queue intelligence in replay: widening over waiting time and priority ageing', () => {
  // every rule that needs skills relaxes them as the wait grows (domain/preference.ts steps), and priority ages
  const widenedRules = DEFAULT_RULES.map((r) =>
    r.then.skills?.length ? { ...r, then: { ...r.then, widening: [{ afterMs: 0 }, { afterMs: 120_000, dropSkills: true }, { afterMs: 600_000, dropSkills: true, extraTiers: 1 }] } } : r,
  );
  const widened: ReplayConfig = { ...live, name: 'widened', rules: widenedRules, ageing: { pointsPerMinute: 2, maxPriority: 100 } };

  test('a scripted day with widening and ageing configured replays 100 % from its recorded answers, and they changed decisions', () => {
    const rec0 = generateRecording({ seed: 11, start: START, days: 1, conversations: 1200, agents: 30 });
    const recorded = replay(rec0, widened, new ScriptedBehaviour(11));
    expectReproduced({ ...rec0, decisions: recorded.decisions }, widened);
    // the features did something: the same day without them is decided differently
    const plain = replay(rec0, live, new ScriptedBehaviour(11));
    expect(plain.decisions).not.toEqual(recorded.decisions);
  });

  const rules: ReplayConfig['rules'] = [
    { id: 'billing', when: { keywords: { en: ['invoice'] } }, then: { tier: 1, category: 'billing', skills: ['billing'], widening: [{ afterMs: 0 }, { afterMs: 60_000, dropSkills: true }] } },
  ];
  const agent = (id: string, presence: 'online' | 'offline' = 'online') => ({ id, tiers: [1], skills: [] as string[], languages: ['en'], capacity: { email: 1 }, presence, idleSince: START });
  const msg = (id: string, at: number, text: string, address = id): RecordedInput => ({ kind: 'message', at, message: message(id, `email:${id}`, 'email', address, text, at, 'en'), customer: { attributes: {}, displayName: null } });
  const offers = (r: ReturnType<typeof replay>) => r.decisions.filter((d) => d.type === 'conversation.offered');

  test('widening: a conversation needing a skill nobody has is offered exactly when the step dropping skills is reached', () => {
    const rec: Recording = { from: START, to: START + 3_600_000, agents: [agent('a1')], inputs: [msg('m1', START + 1000, 'where is my invoice')], decisions: [] };
    const withSteps = replay(rec, { ...live, rules, ruleVersion: 2 }, new RecordedBehaviour([]));
    expect(offers(withSteps).map((d) => [d.agentId, d.at])).toEqual([['a1', START + 1000 + 60_000]]);
    const withoutSteps = replay(rec, { ...live, rules: [{ ...rules[0]!, then: { ...rules[0]!.then, widening: undefined } }], ruleVersion: 2 }, new RecordedBehaviour([]));
    expect(offers(withoutSteps)).toEqual([]);
  });

  test("widening's minimum level uses the agents' recorded proficiency (the base step wants 4, the next after 60 s accepts 2)", () => {
    const levelled: ReplayConfig['rules'] = [{ ...rules[0]!, then: { ...rules[0]!.then, widening: [{ afterMs: 0, minLevel: 4 }, { afterMs: 60_000, minLevel: 2 }] } }];
    const at = (level: number | undefined) => {
      const a1 = { ...agent('a1'), skills: ['billing'], ...(level ? { proficiency: { skills: { billing: level } } } : {}) };
      const rec: Recording = { from: START, to: START + 3_600_000, agents: [a1], inputs: [msg('m1', START, 'where is my invoice')], decisions: [] };
      return offers(replay(rec, { ...live, rules: levelled, ruleVersion: 2 }, new RecordedBehaviour([]))).map((d) => d.at - START);
    };
    expect([at(5), at(2), at(undefined), at(1)]).toEqual([[0], [60_000], [60_000], []]);
  });

  test('ageing: an older low-priority conversation overtakes a newer higher-priority one once aged past it', () => {
    const vip = (id: string, at: number): RecordedInput => ({ ...(msg(id, at, 'hello there') as Extract<RecordedInput, { kind: 'message' }>), customer: { attributes: { vip: true }, displayName: null } });
    const rec: Recording = {
      from: START,
      to: START + 3_600_000,
      agents: [agent('a1', 'offline')],
      inputs: [msg('old', START, 'hello there'), vip('new', START + 9 * 60_000), { kind: 'presence', at: START + 10 * 60_000, agentId: 'a1', presence: 'online' }],
      decisions: [],
    };
    const first = (cfg: ReplayConfig) => offers(replay(rec, cfg, new RecordedBehaviour([])))[0];
    const id = (m: string) => derivedId('conv', m);
    expect(first(live)).toMatchObject({ conversationId: id('new'), agentId: 'a1', at: START + 10 * 60_000 });
    // 10 minutes at 5 points a minute: 50 + 50 = 100 against 80 + 5
    expect(first({ ...live, ageing: { pointsPerMinute: 5, maxPriority: 100 } })).toMatchObject({ conversationId: id('old'), agentId: 'a1', at: START + 10 * 60_000 });
  });

  test('with widening, ageing and wrap-up, any permutation of equal-time inputs gives identical decisions, and the shortcuts stay exact', () => {
    permutationProperty({ ...widened, wrapUpMs: 120_000 }, (rec) => rec);
  });

  test('the configuration file: priorityAgeing applies over the recorded ageing; absent, the recorded one is kept', () => {
    const rec = { rules: DEFAULT_RULES, ruleVersion: 1, policy: DEFAULT_POLICY, ageing: { pointsPerMinute: 1, maxPriority: 90 } };
    const kept = parseReplayConfig({ proposed: {} }, rec);
    expect(kept.ok && [kept.baseline.ageing, kept.proposed.ageing]).toEqual([rec.ageing, rec.ageing]);
    const off = parseReplayConfig({ proposed: { priorityAgeing: null } }, rec);
    expect(off.ok && [off.baseline.ageing, off.proposed.ageing]).toEqual([rec.ageing, undefined]);
    expect(parseReplayConfig({ proposed: { priorityAgeing: { pointsPerMinute: -1, maxPriority: 5 } } }, rec).ok).toBe(false);
  });
});

describe('wrap-up in replay', () => {
  const agent = { id: 'a1', tiers: [1], skills: [] as string[], languages: ['en'], capacity: { email: 1 }, presence: 'online' as const, idleSince: START };
  const msg = (id: string, at: number): RecordedInput => ({ kind: 'message', at, message: message(id, `email:${id}`, 'email', id, 'hello there', at, 'en'), customer: { attributes: {}, displayName: null } });
  /** accepts after 1 s, resolves after 60 s */
  const fixed: AgentBehaviour = { stats: { recorded: 0, modelled: 0 }, onOffer: () => ({ kind: 'accept', delayMs: 1000 }), onAssigned: () => ({ kind: 'resolve', durationMs: 60_000 }) };
  const secondOffer = (r: ReturnType<typeof replay>) => r.decisions.find((d) => d.type === 'conversation.offered' && d.conversationId === derivedId('conv', 'm2'))?.at;
  const rec: Recording = { from: START, to: START + 3_600_000, agents: [agent], inputs: [msg('m1', START), msg('m2', START + 10_000)], decisions: [] };

  test('the resolving agent keeps the slot until wrap-up ends, or until it ends it early as recorded', () => {
    // m1 offered at 0, accepted at 1 s, resolved at 61 s: the slot is free then, or after wrap-up
    expect(secondOffer(replay(rec, live, fixed))).toBe(START + 61_000);
    expect(secondOffer(replay(rec, { ...live, wrapUpMs: 300_000 }, fixed))).toBe(START + 361_000);
    const early: Recording = { ...rec, inputs: [...rec.inputs, { kind: 'wrap-up-ended', at: START + 120_000, agentId: 'a1', conversationId: derivedId('conv', 'm1') }] };
    expect(secondOffer(replay(early, { ...live, wrapUpMs: 300_000 }, fixed))).toBe(START + 120_000);
    // an early end with nothing to end (no wrap-up configured) changes nothing
    expect(secondOffer(replay(early, live, fixed))).toBe(START + 61_000);
  });

  test('a scripted day with wrap-up and early ends replays 100 % from its recorded answers, and wrap-up changed decisions', () => {
    const cfg: ReplayConfig = { ...live, name: 'wrap-up', wrapUpMs: 180_000 };
    const rec0 = generateRecording({ seed: 5, start: START, days: 1, conversations: 1200, agents: 30 });
    // agents end about a third of their wrap-ups early, 40 s after the resolve
    const first = replay(rec0, cfg, new ScriptedBehaviour(5));
    const ends: RecordedInput[] = first.decisions
      .filter((d) => d.type === 'conversation.resolved' && d.agentId && d.conversationId.charCodeAt(d.conversationId.length - 1) % 3 === 0)
      .map((d) => ({ kind: 'wrap-up-ended', at: d.at + 40_000, agentId: d.agentId!, conversationId: d.conversationId }));
    expect(ends.length).toBeGreaterThan(50);
    const withEnds = { ...rec0, inputs: [...rec0.inputs, ...ends] };
    const recorded = replay(withEnds, cfg, new ScriptedBehaviour(5));
    expectReproduced({ ...withEnds, decisions: recorded.decisions }, cfg);
    expect(replay(withEnds, live, new ScriptedBehaviour(5)).decisions).not.toEqual(recorded.decisions);
    expect(first.decisions).not.toEqual(recorded.decisions);
  });
});

describe('self-service (tier 0) in replay', () => {
  const setting = { categories: ['general'], waitMs: 120_000 };
  const cfg: ReplayConfig = { ...live, name: 'self-service', rules: [], selfService: setting };
  const agent = (presence: 'online' | 'offline') => ({ id: 'a1', tiers: [1], skills: [] as string[], languages: ['en'], capacity: { email: 1 }, presence, idleSince: START });
  const msg = (id: string, thread: string, at: number, text: string, articles?: string[]): RecordedInput => ({
    kind: 'message',
    at,
    message: message(id, `email:${thread}`, 'email', thread, text, at, 'en'),
    customer: { attributes: {}, displayName: null },
    ...(articles ? { selfServiceArticles: articles } : {}),
  });
  const conv = derivedId('conv', 'm1');
  const of = (r: ReturnType<typeof replay>, id = conv) => r.decisions.filter((d) => d.conversationId === id).map((d) => [d.type, d.at - START, d.agentId ?? null]);
  const day = (inputs: RecordedInput[], presence: 'online' | 'offline' = 'online'): Recording => ({ from: START, to: START + 3_600_000, agents: [agent(presence)], inputs, decisions: [] });
  const accepting: AgentBehaviour = { stats: { recorded: 0, modelled: 0 }, onOffer: () => ({ kind: 'none' }), onAssigned: () => ({ kind: 'none' }) };

  test('YES with the recorded answer: self-served, no agent; the same day without self-service goes to the agent at once', () => {
    const rec = day([msg('m1', 't1', START, 'hello there', ['kb-1']), msg('m1y', 't1', START + 30_000, 'Yes')]);
    expect(of(replay(rec, cfg, accepting))).toEqual([
      ['conversation.opened', 0, null],
      ['conversation.classified', 0, null],
      ['conversation.self-service-offered', 0, null],
      ['conversation.message', 30_000, null],
      ['conversation.resolved', 30_000, null],
    ]);
    expect(of(replay(rec, { ...cfg, selfService: null }, accepting)).filter((d) => d[0] === 'conversation.offered')).toEqual([['conversation.offered', 0, 'a1']]);
  });

  test("NO: queued at the reply, with the first message's waiting time (ahead of a conversation opened after it)", () => {
    const rec = day([msg('m1', 't1', START, 'hello there', ['kb-1']), msg('m2', 't2', START + 10_000, 'hello there'), msg('m1n', 't1', START + 30_000, 'no'), { kind: 'presence', at: START + 60_000, agentId: 'a1', presence: 'online' }], 'offline');
    const r = replay(rec, cfg, accepting);
    expect(of(r).filter((d) => d[0] === 'conversation.queued' || d[0] === 'conversation.offered')).toEqual([
      ['conversation.queued', 30_000, null],
      ['conversation.offered', 60_000, 'a1'],
    ]);
    // the later conversation is not offered first (its offer comes only once m1's lapses, unanswered here)
    expect(of(r, derivedId('conv', 'm2'))).not.toContainEqual(['conversation.offered', 60_000, 'a1']);
  });

  test('no answer: routed at the deadline; nothing recorded from knowledge: routed at once', () => {
    const silent = replay(day([msg('m1', 't1', START, 'hello there', ['kb-1'])]), cfg, accepting);
    expect(of(silent).filter((d) => d[0] === 'conversation.queued' || d[0] === 'conversation.offered')).toEqual([
      ['conversation.queued', 120_000, null],
      ['conversation.offered', 120_000, 'a1'],
    ]);
    const unanswered = replay(day([msg('m1', 't1', START, 'hello there', [])]), cfg, accepting);
    expect(of(unanswered).map((d) => d[0])).not.toContain('conversation.self-service-offered');
  });

  /** a generated day where knowledge answered half the new conversations; their customers say YES, NO or nothing */
  const withTier0 = (rec: Recording): Recording => {
    const extra: RecordedInput[] = [];
    const inputs = rec.inputs.map((i) => {
      if (i.kind !== 'message' || !i.message.messageId.endsWith('-0')) return i;
      const h = unit(3, 'tier0', i.message.messageId);
      if (h >= 0.5) return i;
      const m = i.message;
      if (h < 0.2) extra.push({ kind: 'message', at: i.at + 30_000, message: message(`${m.messageId}-yes`, m.threadKey, m.channel, m.from.address, 'Sí', i.at + 30_000) });
      else if (h < 0.35) extra.push({ kind: 'message', at: i.at + 45_000, message: message(`${m.messageId}-no`, m.threadKey, m.channel, m.from.address, 'No, still broken', i.at + 45_000) });
      return { ...i, selfServiceArticles: ['kb-1', 'kb-2'] };
    });
    return { ...rec, inputs: [...inputs, ...extra] };
  };
  const dayCfg: ReplayConfig = { ...live, name: 'self-service', selfService: { categories: ['general', 'access-passwords', 'orders-shipping', 'returns-refunds'], waitMs: 300_000 } };

  test('a scripted day with self-service replays 100 % from its recorded answers', () => {
    const rec0 = withTier0(generateRecording({ seed: 9, start: START, days: 1, conversations: 1200, agents: 30 }));
    const recorded = replay(rec0, dayCfg, new ScriptedBehaviour(9));
    const types = recorded.decisions.filter((d) => d.type === 'conversation.self-service-offered' || d.reason === 'self-served');
    expect(types.filter((d) => d.reason === 'self-served').length).toBeGreaterThan(50);
    expectReproduced({ ...rec0, decisions: recorded.decisions }, dayCfg);
  });

  test('with self-service, any permutation of equal-time inputs gives identical decisions, and the shortcuts stay exact', () => {
    permutationProperty(dayCfg, withTier0);
  });
});

/**
 * Generated days (coarse times: many inputs share an instant) replayed with `cfg`: any permutation of
 * the inputs gives the same decisions, and so does planning over every queued conversation.
 */
function permutationProperty(cfg: ReplayConfig, prepare: (rec: Recording) => Recording): void {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 8 }), fc.constantFrom(1, 60_000), fc.integer(), (seed, conversations, agents, grainMs, shuffleSeed) => {
      const rec0 = prepare(generateRecording({ seed, start: START, days: 1, conversations, agents }));
      const rec = { ...rec0, inputs: rec0.inputs.map((i) => ({ ...i, at: START + Math.floor((i.at - START) / grainMs) * grainMs })) };
      const a = replay(rec, cfg, new ScriptedBehaviour(seed));
      const shuffled = shuffle(rec.inputs, shuffleSeed);
      expect(replay({ ...rec, inputs: shuffled }, cfg, new ScriptedBehaviour(seed)).decisions).toEqual(a.decisions);
      expect(replay(rec, cfg, new ScriptedBehaviour(seed), { exhaustiveMatch: true }).decisions).toEqual(a.decisions);
    }),
    { numRuns: Number(process.env.REPLAY_RUNS ?? 25) },
  );
}

/** A permutation of the inputs from a seed (Fisher–Yates over an LCG). */
function shuffle<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Replayed with `cfg` and the recording's own answers, every recorded decision is reproduced, none modelled. */
function expectReproduced(rec: Recording, cfg: ReplayConfig): void {
  const again = replay(rec, cfg, new RecordedBehaviour(rec.decisions));
  const f = faithfulness(rec.decisions, again.decisions);
  expect(f.differences).toEqual([]);
  expect(f.sharePct).toBe(100);
  expect(again.behaviour.modelled).toBe(0);
}
