import { freeCapacity, type AgentSnapshot, type WaitingConversation } from './match';
import { compareCandidates, languageLevel, rankAt, skillLevel, skillsAt, tiersAt, type Candidate, type ProficientAgent, type WideningStep } from './preference';

/**
 * Why this agent, pure: the record of one offer decision — the rule and widening step in force,
 * the eligible agents with the values that ordered them, and for every other agent the first
 * reason it could not take the conversation — and the answer to "why is nobody getting this?".
 * Reasons are checked in a fixed order (presence, console, tier, skill, level, language, room on
 * the channel — wrap-up when that is what holds the last slot —, declined before), so each agent has exactly one first reason and the same
 * state always gives the same record.
 */

/** An agent as the decision sees it: the matcher's snapshot plus what keeps it from the matcher's pool. */
export type AgentView = ProficientAgent & {
  presence: 'online' | 'away' | 'offline';
  awayReason?: string | null;
  consoleAttached: boolean;
  /** end of after-contact work holding a slot on the conversation's channel with no slot left (null: none) */
  wrapUpUntil?: Date | null;
};

/** Online with a console attached: the agents the matcher may plan with (firstBlock's first three reasons, the same rule). */
const isAvailable = (a: AgentView): boolean => a.presence === 'online' && a.consoleAttached;

/** The matcher's pool from every agent's view: available and with room on some channel. */
export function availableOf(agents: AgentView[]): AgentSnapshot[] {
  const out: AgentSnapshot[] = [];
  for (const a of agents) {
    if (!isAvailable(a) || !Object.keys(a.capacity).some((ch) => freeCapacity(a, ch) > 0)) continue;
    out.push({ id: a.id, tiers: a.tiers, skills: a.skills, languages: a.languages, capacity: a.capacity, load: a.load, idleSince: a.idleSince, ...(a.proficiency ? { proficiency: a.proficiency } : {}) });
  }
  return out;
}

export type BlockReason =
  | { code: 'offline' }
  | { code: 'away'; reason: string | null }
  | { code: 'no-console' }
  | { code: 'wrap-up'; until: string }
  | { code: 'other-tier'; tiers: number[] }
  | { code: 'lacks-skill'; skill: string }
  | { code: 'skill-level'; skill: string; level: number; min: number }
  | { code: 'language'; language: string }
  | { code: 'language-level'; language: string; level: number; min: number }
  | { code: 'busy'; channel: string; load: number; capacity: number }
  | { code: 'declined' };

/** The first reason this agent cannot take the conversation at this step, or null if it can. */
export function firstBlock(a: AgentView, c: WaitingConversation, step: WideningStep): BlockReason | null {
  if (a.presence === 'offline') return { code: 'offline' };
  if (a.presence === 'away') return { code: 'away', reason: a.awayReason ?? null };
  if (!a.consoleAttached) return { code: 'no-console' };
  const tiers = tiersAt(c, step);
  if (!a.tiers.some((t) => tiers.includes(t))) return { code: 'other-tier', tiers: [...a.tiers].sort((x, y) => x - y) };
  const min = Math.max(1, step.minLevel ?? 1);
  for (const s of skillsAt(c, step)) {
    const level = skillLevel(a, s);
    if (level === 0) return { code: 'lacks-skill', skill: s };
    if (level < min) return { code: 'skill-level', skill: s, level, min };
  }
  const l = languageLevel(a, c.language);
  if (l === 0) return { code: 'language', language: c.language! };
  if (l !== null && l < min) return { code: 'language-level', language: c.language!, level: l, min };
  if (freeCapacity(a, c.channel) <= 0) {
    if (a.wrapUpUntil) return { code: 'wrap-up', until: a.wrapUpUntil.toISOString() };
    return { code: 'busy', channel: c.channel, load: a.load[c.channel] ?? 0, capacity: a.capacity[c.channel] ?? 0 };
  }
  if (c.declined.includes(a.id)) return { code: 'declined' };
  return null;
}

/** The reason in words, for the console and the API (English; codes are the contract). */
export function describeBlock(r: BlockReason): string {
  switch (r.code) {
    case 'offline':
      return 'offline';
    case 'away':
      return r.reason ? `away: ${r.reason}` : 'away';
    case 'no-console':
      return 'online without a console';
    case 'wrap-up':
      return `in wrap-up until ${r.until}`;
    case 'other-tier':
      return `serves tier ${r.tiers.join(', ')}`;
    case 'lacks-skill':
      return `lacks skill ${r.skill}`;
    case 'skill-level':
      return `skill ${r.skill} at level ${r.level} < ${r.min}`;
    case 'language':
      return `does not speak ${r.language}`;
    case 'language-level':
      return `${r.language} at level ${r.level} < ${r.min}`;
    case 'busy':
      return `busy on ${r.channel} (${r.load}/${r.capacity})`;
    case 'declined':
      return 'declined it before';
  }
}

export interface RecordedCandidate {
  agentId: string;
  rank: number;
  preferred: boolean;
  level: number;
  load: number;
  idleSince: string;
}

export interface DecisionRecord {
  conversationId: string;
  at: string;
  ruleVersion: number | null;
  matchedRules: string[];
  step: { index: number } & WideningStep;
  winner: string | null;
  /** eligible agents, best first, with the values that ordered them (first MAX_LISTED) */
  eligible: RecordedCandidate[];
  /** eligible but not chosen: the first value in which they lost to the winner */
  outranked: { agentId: string; reason: string }[];
  /** not eligible: the first reason (first MAX_LISTED) */
  blocked: { agentId: string; code: BlockReason['code']; reason: string }[];
  /** agents beyond the listed ones (a record stays small whatever the team size) */
  omitted: number;
}

export const MAX_LISTED = 50;

/** Why the loser came after the winner: the first ordering value that differs. */
export function lostOn(winner: Candidate, loser: Candidate): string {
  if (winner.preferred !== loser.preferred) return 'the previous agent of a reopened conversation goes first';
  if (winner.level !== loser.level) return `level ${loser.level} < ${winner.level}`;
  if (winner.load !== loser.load) return `more loaded (${loser.load} > ${winner.load})`;
  if (winner.idleSince.getTime() !== loser.idleSince.getTime()) return `idle for less time (since ${loser.idleSince.toISOString()})`;
  return 'tie broken by agent id';
}

/**
 * The record of offering `c` at `at`: the winner is the best eligible agent (or `winnerId` when the
 * caller picked under locks and must record what it did).
 */
export function decisionRecord(
  agents: AgentView[],
  c: WaitingConversation,
  meta: { at: Date; step: { index: number; step: WideningStep }; ruleVersion?: number | null; matchedRules?: string[]; winnerId?: string | null },
): DecisionRecord {
  const step = meta.step.step;
  const eligibleAgents = agents.filter((a) => firstBlock(a, c, step) === null);
  const ranked = rankAt(eligibleAgents, c, step);
  const winner = meta.winnerId !== undefined ? (ranked.find((x) => x.agentId === meta.winnerId) ?? null) : (ranked[0] ?? null);
  const blockedAll = agents
    .map((a) => ({ a, r: firstBlock(a, c, step) }))
    .filter((x): x is { a: AgentView; r: BlockReason } => x.r !== null)
    .sort((x, y) => (x.a.id < y.a.id ? -1 : x.a.id > y.a.id ? 1 : 0));
  const omitted = Math.max(0, ranked.length - MAX_LISTED) + Math.max(0, blockedAll.length - MAX_LISTED);
  return {
    conversationId: c.conversationId,
    at: meta.at.toISOString(),
    ruleVersion: meta.ruleVersion ?? null,
    matchedRules: meta.matchedRules ?? [],
    step: { index: meta.step.index, ...step },
    winner: winner?.agentId ?? null,
    eligible: ranked.slice(0, MAX_LISTED).map((x, i) => ({ agentId: x.agentId, rank: i + 1, preferred: x.preferred, level: x.level, load: x.load, idleSince: x.idleSince.toISOString() })),
    outranked: winner
      ? ranked
          .filter((x) => x.agentId !== winner.agentId)
          .slice(0, MAX_LISTED)
          .map((x) => ({ agentId: x.agentId, reason: compareCandidates(winner, x) < 0 ? lostOn(winner, x) : 'taken by another conversation first' }))
      : [],
    blocked: blockedAll.slice(0, MAX_LISTED).map(({ a, r }) => ({ agentId: a.id, code: r.code, reason: describeBlock(r) })),
    omitted,
  };
}

export interface WhyWaiting {
  conversationId: string;
  /** agents who could take it right now (a match pass will offer it) */
  eligible: string[];
  /** blocking reasons across all agents, most common first: the reason, how many agents, a few of them */
  blocking: { code: BlockReason['code']; reason: string; count: number; agents: string[] }[];
  /** one sentence for people */
  summary: string;
}

/** "Why is nobody getting this?": the blocking reasons across all agents, grouped. */
export function whyWaiting(agents: AgentView[], c: WaitingConversation, step: WideningStep): WhyWaiting {
  const eligible: string[] = [];
  const groups = new Map<string, { code: BlockReason['code']; reason: string; count: number; agents: string[] }>();
  for (const a of [...agents].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))) {
    const r = firstBlock(a, c, step);
    if (!r) {
      eligible.push(a.id);
      continue;
    }
    // group by what blocks, not by the agent-specific detail (load figures, tiers served, until)
    const reason = r.code === 'busy' ? `busy on ${r.channel}` : r.code === 'wrap-up' ? 'in wrap-up' : r.code === 'other-tier' ? `serves other tiers than ${tiersAt(c, step).join(', ')}` : describeBlock(r);
    const g = groups.get(reason) ?? { code: r.code, reason, count: 0, agents: [] };
    g.count++;
    if (g.agents.length < 10) g.agents.push(a.id);
    groups.set(reason, g);
  }
  const blocking = [...groups.values()].sort((x, y) => y.count - x.count || (x.reason < y.reason ? -1 : 1));
  let summary: string;
  if (eligible.length) summary = `${eligible.length} agent(s) can take it now; it is waiting for the next match pass`;
  else if (!agents.length) summary = 'no agents are configured';
  else {
    // the decisive reason first: a skill nobody of the tier has at all (whoever comes online, it waits)
    const tiers = tiersAt(c, step);
    const ofTier = agents.filter((a) => a.tiers.some((t) => tiers.includes(t)));
    const missingEverywhere = skillsAt(c, step).filter((s) => ofTier.every((a) => skillLevel(a, s) === 0));
    const inTier = ofTier.filter((a) => a.presence === 'online' && a.consoleAttached);
    const missingOnline = skillsAt(c, step).filter((s) => inTier.every((a) => skillLevel(a, s) === 0));
    if (missingEverywhere.length) summary = `no agent of tier ${tiers.join(', ')} has skill ${missingEverywhere.join(', ')}`;
    else if (!inTier.length) summary = `no agent of tier ${tiers.join(', ')} is online with a console`;
    else if (missingOnline.length) summary = `no online agent of the tier has skill ${missingOnline.join(', ')}`;
    else summary = `every online agent of the tier is blocked: ${blocking.map((b) => `${b.count} ${b.reason}`).join('; ')}`;
  }
  return { conversationId: c.conversationId, eligible, blocking, summary };
}
