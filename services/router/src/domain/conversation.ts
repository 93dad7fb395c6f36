import type { ConversationEvent, Party } from '@omni/contracts';

/** 'self-service': the customer got the automatic tier-0 answer and the router waits for YES/NO (docs/knowledge.md) */
export type ConversationStatus = 'self-service' | 'queued' | 'offered' | 'assigned' | 'resolved' | 'closed';

export interface HandoffNote {
  fromTier: number;
  toTier: number;
  agentId: string;
  note: string;
  at: string;
}

/** A conversation's place in its tier queue (router.queue_entries), present while it is queued. */
export interface QueueEntry {
  /** tiers whose agents may take it: {tier}, widened to {tier, tier+1, …} by SLA overflow */
  tiers: number[];
  priority: number;
  waitingSince: Date;
  /** null: no further overflow (already at the top tier) */
  slaDeadline: Date | null;
  overflows: number;
  /** a reopened conversation's previous agent, offered it first when eligible */
  preferredAgentId: string | null;
}

/** The self-service (tier 0) attempt of a conversation (router.conversation_knowledge): at most one per conversation. */
export interface SelfServiceAttempt {
  state: 'offered' | 'self-served' | 'declined' | 'expired';
  articleIds: string[];
  offeredAt: Date;
  /** no answer by then: routed as usual */
  deadline: Date;
}

/** An agent collaborating on a conversation besides its assignee (router.conversation_participants). */
export interface Participant {
  agentId: string;
  role: 'observer' | 'helper';
  invitedBy: string;
}

/** The state the lifecycle decides over: a router.conversations row with its queue entry and collaborators. */
export interface Conversation {
  id: string;
  threadKey: string;
  channel: ConversationEvent['channel'];
  customer: Party;
  customerKey: string | null;
  status: ConversationStatus;
  tier: number;
  category: string;
  priority: number;
  language: string | null;
  agentId: string | null;
  requiredSkills: string[];
  customerAttributes: Record<string, unknown>;
  waitingSince: Date | null;
  offerDeadline: Date | null;
  declinedAgents: string[];
  handoffNotes: HandoffNote[];
  escalations: number;
  lastAgentId: string | null;
  lastMessageId: string | null;
  lastText: string | null;
  openedAt: Date;
  resolvedAt: Date | null;
  /** the queue entry: null when there is none, undefined when the caller did not load it */
  queue?: QueueEntry | null;
  /** collaborators: undefined when the caller did not load them */
  participants?: Participant[];
  /** its self-service attempt: null when none, undefined when the caller did not load it (loaded for 'self-service' conversations) */
  selfService?: SelfServiceAttempt | null;
}

export const isLive = (c: Pick<Conversation, 'status'> | undefined | null): boolean => !!c && c.status !== 'resolved' && c.status !== 'closed';
