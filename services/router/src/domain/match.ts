import { BASE_STEP, isEligibleAt, matchLevel, type Proficiency, type WideningStep } from './preference';
import type { Conversation } from './conversation';

/** An agent as the matcher sees it: what they serve and how busy they are right now. */
export interface AgentSnapshot {
  id: string;
  tiers: number[];
  skills: string[];
  languages: string[];
  /** concurrent conversations allowed per channel; a missing channel means none */
  capacity: Record<string, number>;
  /** conversations offered or assigned to the agent, per channel */
  load: Record<string, number>;
  /** when the agent last got work (or came online): the longest idle goes first on a tie */
  idleSince: Date;
  /** levels 1–5 per skill and language (domain/preference.ts); absent: listed skills 3, languages 5 */
  proficiency?: Proficiency;
}

/** A waiting conversation as the matcher sees it. */
export interface WaitingConversation {
  conversationId: string;
  priority: number;
  waitingSince: Date;
  /** tiers whose agents may take it ({tier}, widened by SLA overflow) */
  tiers: number[];
  channel: string;
  language?: string | null;
  requiredSkills: string[];
  /** agents who declined or let an offer expire: never offered again */
  declined: string[];
  /** a reopened conversation's previous agent, preferred when eligible */
  preferredAgentId?: string | null;
  /** the widening step in force (domain/preference.ts stepAt); absent: the base step (the rule as classified) */
  step?: WideningStep;
}

/** Queue order: higher priority first, then who has waited longest, then id for a stable order. */
export function compareWaiting(a: WaitingConversation, b: WaitingConversation): number {
  return b.priority - a.priority || a.waitingSince.getTime() - b.waitingSince.getTime() || a.conversationId.localeCompare(b.conversationId);
}

export function totalLoad(a: AgentSnapshot): number {
  return Object.values(a.load).reduce((s, n) => s + n, 0);
}

export function freeCapacity(a: Pick<AgentSnapshot, 'capacity' | 'load'>, channel: string): number {
  return (a.capacity[channel] ?? 0) - (a.load[channel] ?? 0);
}

// Languages we cannot name ("other") or did not detect do not restrict who may answer.
function speaks(a: AgentSnapshot, language: string | null | undefined): boolean {
  if (!language || language === 'other') return true;
  return a.languages.includes(language);
}

/**
 * Eligible = serves one of the conversation's tiers, has every skill, speaks the language, has room
 * on the channel, did not decline it. The one owner of the rule: the match pass's SQL prefilter
 * (store/conversations.ts loadMatchable) must agree with it, which a property test checks on
 * random states in PostgreSQL (services/router/test/eligibility-sql.int.test.ts).
 */
export function isEligible(a: AgentSnapshot, c: WaitingConversation): boolean {
  return (
    a.tiers.some((t) => c.tiers.includes(t)) &&
    c.requiredSkills.every((s) => a.skills.includes(s)) &&
    speaks(a, c.language) &&
    freeCapacity(a, c.channel) > 0 &&
    !c.declined.includes(a.id)
  );
}

/**
 * The eligible agents for a conversation, best first: the preferred (previous) agent, then the best
 * proficiency for what it needs (domain/preference.ts: the weakest needed level; equal for all
 * when no levels are set), then the least loaded (fewest open conversations across channels), then
 * the longest idle, then id.
 */
export function rankAgents(agents: AgentSnapshot[], c: WaitingConversation): AgentSnapshot[] {
  // at a widening step the step decides eligibility and levels (the same as isEligible at the base step)
  const step = c.step ?? BASE_STEP;
  return agents
    .filter((a) => (c.step ? isEligibleAt(a, c, step) : isEligible(a, c)))
    .sort(
      (x, y) =>
        Number(y.id === c.preferredAgentId) - Number(x.id === c.preferredAgentId) ||
        matchLevel(y, c, step) - matchLevel(x, c, step) ||
        totalLoad(x) - totalLoad(y) ||
        x.idleSince.getTime() - y.idleSince.getTime() ||
        x.id.localeCompare(y.id),
    );
}

/** One planned offer: the conversation and the agent as it was when picked (its load before this offer). */
export interface PlannedOffer {
  conversationId: string;
  agent: AgentSnapshot;
  preferred: boolean;
}

/**
 * Plans offers greedily in the given (queue) order over these agents: each conversation goes to its
 * best eligible agent (rankAgents), whose load then counts it. With `keepTierOrder`, a conversation
 * left without an agent holds back the later ones of its tiers (arrivals must not jump a queue);
 * otherwise it is passed over (nobody free has its skills; the next may still be served). Pure: the
 * agents passed in are not changed; `at` is the idle time a picked agent gets.
 */
export function planOffers(waiting: WaitingConversation[], agents: AgentSnapshot[], keepTierOrder: boolean, at: Date): PlannedOffer[] {
  const pool = agents.map((a) => ({ ...a, load: { ...a.load } }));
  const blocked = new Set<number>();
  const out: PlannedOffer[] = [];
  for (const w of waiting) {
    if (w.tiers.some((t) => blocked.has(t))) continue;
    const best = rankAgents(pool, w)[0];
    if (!best) {
      if (keepTierOrder) for (const t of w.tiers) blocked.add(t);
      continue;
    }
    out.push({ conversationId: w.conversationId, agent: { ...best, load: { ...best.load } }, preferred: w.preferredAgentId === best.id });
    best.load[w.channel] = (best.load[w.channel] ?? 0) + 1;
    best.idleSince = at;
  }
  return out;
}

/** A queued conversation (its queue entry set) as the matcher sees it: live and in replay. */
export function waitingOf(c: Conversation): WaitingConversation {
  const q = c.queue!;
  return {
    conversationId: c.id,
    priority: q.priority,
    waitingSince: q.waitingSince,
    tiers: q.tiers,
    channel: c.channel,
    language: c.language,
    requiredSkills: c.requiredSkills,
    declined: c.declinedAgents,
    preferredAgentId: q.preferredAgentId,
  };
}
