/**
 * Occupancy and utilisation per agent and per tier (issue 17), pure, with the contact-centre
 * definitions (docs/history.md):
 * - logged in = presence online or away; offline time is not counted at all;
 * - handling  = logged in with at least one conversation held (accepted/assigned until it is
 *   resolved, closed, escalated, transferred, requeued or overflowed) or in wrap-up;
 * - idle      = online and not handling (available, waiting for work);
 * - away      = away and not handling, split by the away reason;
 * - occupancy   = handling ÷ (handling + idle)          — busy share of the time available to handle;
 * - utilisation = (handling + idle) ÷ (handling + idle + away) — online share of logged-in time.
 */

export interface AgentStateEvent {
  agentId: string;
  type: string;
  occurredAt: string;
  seq: number;
  presence: 'online' | 'away' | 'offline' | null;
  reason: string | null;
  conversationId: string | null;
  tiers: number[] | null;
}

/** A conversation event that can start or end an agent's hold on it (from the timeline). */
export interface HoldEvent {
  conversationId: string;
  kind: string;
  occurredAt: string;
  seq: number;
  agentId: string | null;
}

export interface AgentOccupancy {
  agentId: string;
  tiers: number[];
  loggedInMs: number;
  handlingMs: number;
  idleMs: number;
  awayMs: number;
  awayByReason: { reason: string; ms: number; share: number | null }[];
  occupancy: number | null;
  utilisation: number | null;
}

export type TierOccupancy = Omit<AgentOccupancy, 'agentId' | 'tiers'> & { tier: number; agents: number };

const HOLD_STARTS = new Set(['conversation.accepted', 'conversation.assigned']);
const HOLD_ENDS = new Set(['conversation.resolved', 'conversation.closed', 'conversation.escalated', 'conversation.transferred', 'conversation.requeued', 'conversation.overflowed']);
/** The conversation kinds the loader must read for holds. */
export const HOLD_KINDS = [...HOLD_STARTS, ...HOLD_ENDS];
export const NO_REASON = 'unspecified';

interface Acc {
  handling: number;
  idle: number;
  away: Map<string, number>;
}

const ratio = (n: number, d: number): number | null => (d > 0 ? n / d : null);

function summarise(acc: Acc): Omit<AgentOccupancy, 'agentId' | 'tiers'> {
  const awayMs = [...acc.away.values()].reduce((a, b) => a + b, 0);
  const online = acc.handling + acc.idle;
  const logged = online + awayMs;
  return {
    loggedInMs: logged,
    handlingMs: acc.handling,
    idleMs: acc.idle,
    awayMs,
    awayByReason: [...acc.away].map(([reason, ms]) => ({ reason, ms, share: ratio(ms, logged) })).sort((a, b) => b.ms - a.ms || a.reason.localeCompare(b.reason)),
    occupancy: ratio(acc.handling, online),
    utilisation: ratio(online, logged),
  };
}

type Step = { at: number; order: number; seq: number; apply: () => void };

/**
 * Sweeps every agent's state over [from, to). Events before `from` set the state the window starts
 * in (the loader passes the last presence before the window and the holds still open at its start).
 */
export function computeOccupancy(agentEvents: AgentStateEvent[], holds: HoldEvent[], from: string, to: string): { agents: AgentOccupancy[]; byTier: TierOccupancy[] } {
  const start = Date.parse(from);
  const end = Date.parse(to);
  const presence = new Map<string, { p: 'online' | 'away' | 'offline'; reason: string }>();
  const tiers = new Map<string, number[]>();
  const held = new Map<string, Set<string>>(); // agent → conversations held
  const wrapUps = new Map<string, Set<string>>();
  const holder = new Map<string, string>(); // conversation → agent
  const acc = new Map<string, Acc>();
  const accOf = (a: string) => {
    let x = acc.get(a);
    if (!x) acc.set(a, (x = { handling: 0, idle: 0, away: new Map() }));
    return x;
  };

  const steps: Step[] = [];
  for (const e of agentEvents) {
    steps.push({
      at: Date.parse(e.occurredAt),
      order: 0,
      seq: e.seq,
      apply: () => {
        accOf(e.agentId);
        if (e.tiers) tiers.set(e.agentId, [...new Set(e.tiers)].sort((a, b) => a - b));
        if (e.type === 'agent.presence' && e.presence) presence.set(e.agentId, { p: e.presence, reason: e.presence === 'away' ? e.reason || NO_REASON : NO_REASON });
        else if (e.type === 'agent.wrap-up-started') {
          const w = wrapUps.get(e.agentId) ?? new Set<string>();
          w.add(e.conversationId ?? '');
          wrapUps.set(e.agentId, w);
        } else if (e.type === 'agent.wrap-up-ended') {
          const w = wrapUps.get(e.agentId);
          if (w) {
            if (e.conversationId) w.delete(e.conversationId);
            else w.clear();
          }
        }
      },
    });
  }
  const release = (c: string) => {
    const a = holder.get(c);
    if (a === undefined) return;
    holder.delete(c);
    held.get(a)?.delete(c);
  };
  for (const h of holds) {
    steps.push({
      at: Date.parse(h.occurredAt),
      order: 1,
      seq: h.seq,
      apply: () => {
        if (HOLD_STARTS.has(h.kind) && h.agentId) {
          release(h.conversationId);
          holder.set(h.conversationId, h.agentId);
          const m = held.get(h.agentId) ?? new Set<string>();
          m.add(h.conversationId);
          held.set(h.agentId, m);
          accOf(h.agentId);
        } else if (HOLD_ENDS.has(h.kind)) release(h.conversationId);
      },
    });
  }
  steps.sort((a, b) => a.at - b.at || a.order - b.order || a.seq - b.seq);

  const accrue = (fromMs: number, toMs: number) => {
    const a0 = Math.max(fromMs, start);
    const b0 = Math.min(toMs, end);
    if (b0 <= a0) return;
    const ms = b0 - a0;
    for (const agent of acc.keys()) {
      const p = presence.get(agent);
      if (!p || p.p === 'offline') continue;
      const x = accOf(agent);
      const handling = (held.get(agent)?.size ?? 0) + (wrapUps.get(agent)?.size ?? 0) > 0;
      if (handling) x.handling += ms;
      else if (p.p === 'online') x.idle += ms;
      else x.away.set(p.reason, (x.away.get(p.reason) ?? 0) + ms);
    }
  };

  let cursor = -Infinity;
  for (const s of steps) {
    if (s.at >= end) break;
    if (cursor !== -Infinity) accrue(cursor, s.at);
    s.apply();
    cursor = s.at;
  }
  if (cursor !== -Infinity) accrue(cursor, end);

  const agents = [...acc]
    .map(([agentId, x]) => ({ agentId, tiers: tiers.get(agentId) ?? [], ...summarise(x) }))
    .filter((a) => a.loggedInMs > 0)
    .sort((a, b) => a.agentId.localeCompare(b.agentId));
  const tierSet = [...new Set(agents.flatMap((a) => a.tiers))].sort((a, b) => a - b);
  const byTier = tierSet.map((tier) => {
    const members = agents.filter((a) => a.tiers.includes(tier));
    const sum: Acc = { handling: 0, idle: 0, away: new Map() };
    for (const a of members) {
      sum.handling += a.handlingMs;
      sum.idle += a.idleMs;
      for (const r of a.awayByReason) sum.away.set(r.reason, (sum.away.get(r.reason) ?? 0) + r.ms);
    }
    return { tier, agents: members.length, ...summarise(sum) };
  });
  return { agents, byTier };
}
