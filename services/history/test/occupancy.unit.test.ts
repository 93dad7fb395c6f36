import fc from 'fast-check';
import { computeOccupancy, type AgentStateEvent, type HoldEvent } from '../src/domain/occupancy';

const T0 = Date.parse('2026-03-02T08:00:00.000Z');
const at = (min: number) => new Date(T0 + min * 60_000).toISOString();
const M = 60_000;
let seq = 0;
const presence = (agentId: string, min: number, p: 'online' | 'away' | 'offline', reason: string | null = null, tiers: number[] | null = null): AgentStateEvent => ({
  agentId,
  type: 'agent.presence',
  occurredAt: at(min),
  seq: ++seq,
  presence: p,
  reason,
  conversationId: null,
  tiers,
});
const wrap = (agentId: string, min: number, type: 'agent.wrap-up-started' | 'agent.wrap-up-ended', conversationId: string | null): AgentStateEvent => ({
  agentId,
  type,
  occurredAt: at(min),
  seq: ++seq,
  presence: null,
  reason: null,
  conversationId,
  tiers: null,
});
const hold = (conversationId: string, min: number, kind: string, agentId: string | null = null): HoldEvent => ({ conversationId, kind, occurredAt: at(min), seq: ++seq, agentId });

describe('occupancy and utilisation', () => {
  it('splits logged-in time into handling (conversations and wrap-up), idle and away by reason', () => {
    const r = computeOccupancy(
      [presence('a', -30, 'online', null, [1]), wrap('a', 40, 'agent.wrap-up-started', 'c2'), wrap('a', 45, 'agent.wrap-up-ended', null), presence('a', 50, 'away', 'lunch'), presence('a', 80, 'away', 'training'), presence('a', 90, 'online'), presence('a', 100, 'offline')],
      [
        hold('c1', 10, 'conversation.accepted', 'a'),
        // two conversations at once count once
        hold('c2', 15, 'conversation.assigned', 'a'),
        hold('c1', 20, 'conversation.transferred', 'a'),
        hold('c2', 40, 'conversation.resolved', 'a'),
      ],
      at(0),
      at(120),
    );
    const a = r.agents[0]!;
    // handling 10→45, idle 0→10 and 90→100, away lunch 50→80 and training 80→90, idle 45→50
    expect(a).toEqual({
      agentId: 'a',
      tiers: [1],
      loggedInMs: 100 * M,
      handlingMs: 35 * M,
      idleMs: 25 * M,
      awayMs: 40 * M,
      awayByReason: [
        { reason: 'lunch', ms: 30 * M, share: 0.3 },
        { reason: 'training', ms: 10 * M, share: 0.1 },
      ],
      occupancy: 35 / 60,
      utilisation: 0.6,
    });
    expect(r.byTier).toEqual([{ tier: 1, agents: 1, loggedInMs: 100 * M, handlingMs: 35 * M, idleMs: 25 * M, awayMs: 40 * M, awayByReason: a.awayByReason, occupancy: 35 / 60, utilisation: 0.6 }]);
  });

  it('counts a conversation taken while away as handling, never counts offline time, and leaves out agents never logged in during the window', () => {
    const r = computeOccupancy(
      [presence('a', 0, 'away', null), presence('b', 0, 'offline'), presence('c', 200, 'online')],
      [hold('c1', 10, 'conversation.assigned', 'a'), hold('c1', 20, 'conversation.requeued'), hold('c9', 5, 'conversation.assigned', 'b')],
      at(0),
      at(60),
    );
    expect(r.agents.map((x) => x.agentId)).toEqual(['a']);
    expect(r.agents[0]).toMatchObject({ handlingMs: 10 * M, awayMs: 50 * M, idleMs: 0, occupancy: 1, utilisation: 10 / 60, awayByReason: [{ reason: 'unspecified', ms: 50 * M }] });
  });

  it('for any events: handling + idle + away = logged in ≤ the window per agent, ratios in [0, 1], independent of input order', () => {
    const agents = ['a', 'b', 'c'];
    const event = fc.oneof(
      fc.record({ k: fc.constant('presence'), agent: fc.constantFrom(...agents), min: fc.integer({ min: -60, max: 200 }), p: fc.constantFrom('online', 'away', 'offline'), reason: fc.constantFrom(null, 'break', 'lunch') }),
      fc.record({ k: fc.constantFrom('agent.wrap-up-started', 'agent.wrap-up-ended'), agent: fc.constantFrom(...agents), min: fc.integer({ min: -60, max: 200 }), conv: fc.constantFrom('c1', 'c2', null) }),
      fc.record({ k: fc.constant('hold'), agent: fc.constantFrom(...agents, null), min: fc.integer({ min: -60, max: 200 }), conv: fc.constantFrom('c1', 'c2', 'c3'), kind: fc.constantFrom('conversation.accepted', 'conversation.assigned', 'conversation.resolved', 'conversation.transferred', 'conversation.escalated', 'conversation.requeued') }),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 150 }), (evs, fromMin, lenMin) => {
        seq = 0;
        const agentEvents: AgentStateEvent[] = [];
        const holds: HoldEvent[] = [];
        for (const e of evs) {
          if (e.k === 'presence') agentEvents.push(presence(e.agent, e.min, e.p as 'online', e.reason, [1]));
          else if (e.k === 'hold') holds.push(hold(e.conv, e.min, e.kind, e.agent));
          else agentEvents.push(wrap(e.agent, e.min, e.k as 'agent.wrap-up-started', e.conv));
        }
        const r = computeOccupancy(agentEvents, holds, at(fromMin), at(fromMin + lenMin));
        for (const a of r.agents) {
          expect(a.handlingMs + a.idleMs + a.awayMs).toBe(a.loggedInMs);
          expect(a.loggedInMs).toBeLessThanOrEqual(lenMin * M);
          expect(a.awayByReason.reduce((s, x) => s + x.ms, 0)).toBe(a.awayMs);
          for (const v of [a.occupancy, a.utilisation]) if (v !== null) expect(v >= 0 && v <= 1).toBe(true);
        }
        expect(computeOccupancy([...agentEvents].reverse(), [...holds].reverse(), at(fromMin), at(fromMin + lenMin))).toEqual(r);
      }),
      { numRuns: 300 },
    );
  });
});
