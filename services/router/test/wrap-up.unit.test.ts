import fc from 'fast-check';
import { isEligible } from '../src/domain/match';
import { endWrapUp, expireWrapUp, nextWrapUpEnd, occupancy, presenceReasonProblem, startWrapUp, withWrapUp, wrapUpLoad, DEFAULT_PRESENCE_REASONS, type WrapUp } from '../src/domain/wrap-up';

/** PROPERTY_RUNS_FACTOR=20 for a one-off stress run */
const runs = (n: number) => n * Number(process.env.PROPERTY_RUNS_FACTOR ?? 1);
const t0 = new Date('2026-01-01T10:00:00Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const policy = { maxMsByChannel: { phone: 60_000, chat: 30_000 } };

describe('wrap-up: table', () => {
  it('a one-slot phone agent gets no call until wrap-up ends; early end frees the slot', () => {
    const agent = { id: 'a', tiers: [1], skills: [], languages: ['es'], capacity: { phone: 1, chat: 2 }, load: {}, idleSince: t0 };
    const call = { conversationId: 'c2', priority: 50, waitingSince: t0, tiers: [1], channel: 'phone', language: 'es', requiredSkills: [], declined: [] };
    let list = startWrapUp([], 'c1', 'phone', at(0), policy);
    expect(list).toEqual([{ conversationId: 'c1', channel: 'phone', since: at(0), until: at(60) }]);
    expect(isEligible(withWrapUp(agent, list, at(30)), call)).toBe(false);
    expect(isEligible(withWrapUp(agent, list, at(30)), { ...call, channel: 'chat' })).toBe(true);
    expect(isEligible(withWrapUp(agent, list, at(60)), call)).toBe(true); // over at `until`
    expect(nextWrapUpEnd(list)).toEqual(at(60));
    const ended = endWrapUp(list, 'c1');
    expect(ended.ended).toHaveLength(1);
    list = ended.list;
    expect(isEligible(withWrapUp(agent, list, at(10)), call)).toBe(true);
  });

  it('no wrap-up on a channel without one; a second resolve of the same conversation replaces it', () => {
    expect(startWrapUp([], 'c1', 'email', at(0), policy)).toEqual([]);
    const twice = startWrapUp(startWrapUp([], 'c1', 'chat', at(0), policy), 'c1', 'chat', at(10), policy);
    expect(twice).toEqual([{ conversationId: 'c1', channel: 'chat', since: at(10), until: at(40) }]);
  });

  it('the sweep expires what is due and keeps the rest', () => {
    const list = [...startWrapUp([], 'c1', 'chat', at(0), policy), ...startWrapUp([], 'c2', 'phone', at(0), policy)];
    const r = expireWrapUp(list, at(30));
    expect(r.ended.map((w) => w.conversationId)).toEqual(['c1']);
    expect(r.list.map((w) => w.conversationId)).toEqual(['c2']);
    expect(wrapUpLoad(list, at(29))).toEqual({ chat: 1, phone: 1 });
  });

  it.each([
    ['away: configured reason', 'away', 'break', null],
    ['away: unknown reason', 'away', 'nap', 'unknown away reason nap'],
    ['away: no reason', 'away', undefined, null],
    ['online with a reason', 'online', 'break', 'online takes no reason'],
  ] as const)('presence reasons: %s', (_n, presence, reason, problem) => {
    expect(presenceReasonProblem(presence, reason, DEFAULT_PRESENCE_REASONS)).toBe(problem);
  });

  it('occupancy and utilisation', () => {
    expect(occupancy({ handlingMs: 30, idleMs: 10, productiveAwayMs: 20, awayMs: 40 })).toEqual({ occupancy: 0.75, utilisation: 0.5 });
    expect(occupancy({ handlingMs: 0, idleMs: 0, productiveAwayMs: 0, awayMs: 0 })).toEqual({ occupancy: null, utilisation: null });
  });
});

describe('wrap-up: properties', () => {
  it('wrap-up only ever adds load, for at most the channel maximum, and never on another channel', () => {
    const op = fc.record({ kind: fc.constantFrom('start', 'end', 'expire'), conv: fc.constantFrom('c1', 'c2', 'c3'), channel: fc.constantFrom('chat', 'phone', 'email'), dt: fc.integer({ min: 0, max: 90_000 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        let list: WrapUp[] = [];
        let t = t0.getTime();
        for (const o of ops) {
          t += o.dt;
          const now = new Date(t);
          if (o.kind === 'start') list = startWrapUp(list, o.conv, o.channel, now, policy);
          else if (o.kind === 'end') list = endWrapUp(list, o.conv).list;
          else list = expireWrapUp(list, now).list;
          expect(new Set(list.map((w) => w.conversationId)).size).toBe(list.length);
          for (const w of list) expect(w.until.getTime() - w.since.getTime()).toBe(policy.maxMsByChannel[w.channel as 'chat' | 'phone']);
          const base = { load: { chat: 1 } as Record<string, number> };
          const seen = withWrapUp(base, list, now).load;
          expect(seen.chat ?? 0).toBeGreaterThanOrEqual(1);
          expect(seen.email ?? 0).toBe(0);
          expect(base.load).toEqual({ chat: 1 }); // pure
        }
      }),
      { numRuns: runs(300) },
    );
  });
});
