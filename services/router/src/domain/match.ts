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
}

/** Queue order: higher priority first, then who has waited longest, then id for a stable order. */
export function compareWaiting(a: WaitingConversation, b: WaitingConversation): number {
  return b.priority - a.priority || a.waitingSince.getTime() - b.waitingSince.getTime() || a.conversationId.localeCompare(b.conversationId);
}

export function totalLoad(a: AgentSnapshot): number {
  return Object.values(a.load).reduce((s, n) => s + n, 0);
}

export function freeCapacity(a: AgentSnapshot, channel: string): number {
  return (a.capacity[channel] ?? 0) - (a.load[channel] ?? 0);
}

// Languages we cannot name ("other") or did not detect do not restrict who may answer.
function speaks(a: AgentSnapshot, language: string | null | undefined): boolean {
  if (!language || language === 'other') return true;
  return a.languages.includes(language);
}

/**
 * Eligible = serves one of the conversation's tiers, has every skill, speaks the language, has room
 * on the channel, did not decline it. matchOnce (store/assignment.ts) mirrors this in SQL to pick
 * the queue entries somebody can take: change both together.
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
 * The eligible agents for a conversation, best first: the preferred (previous) agent, then the
 * least loaded (fewest open conversations across channels), then the longest idle, then id.
 */
export function rankAgents(agents: AgentSnapshot[], c: WaitingConversation): AgentSnapshot[] {
  return agents
    .filter((a) => isEligible(a, c))
    .sort(
      (x, y) =>
        Number(y.id === c.preferredAgentId) - Number(x.id === c.preferredAgentId) ||
        totalLoad(x) - totalLoad(y) ||
        x.idleSince.getTime() - y.idleSince.getTime() ||
        x.id.localeCompare(y.id),
    );
}
