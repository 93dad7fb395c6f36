import type { InboundMessage } from '@omni/contracts';
import type { BusinessHours } from '../domain/business-hours';
import type { LifecyclePolicy } from '../domain/lifecycle';
import type { PriorityAgeing, Proficiency } from '../domain/preference';
import type { Rule } from '../domain/rules';
import type { SelfServiceSetting } from '../domain/self-service';

/**
 * What replay reads (a window of recorded traffic) and what it is run with (a configuration).
 * Times are epoch milliseconds: the virtual clock is a number, never `Date.now()`.
 */

/** An agent as it was at the start of the window. */
export interface AgentProfile {
  id: string;
  tiers: number[];
  skills: string[];
  languages: string[];
  /** concurrent conversations per channel */
  capacity: Record<string, number>;
  presence: 'online' | 'away' | 'offline';
  /** when the agent last got work (the matcher's tie-break); the window start when unknown */
  idleSince?: number;
  /** levels 1–5 per skill and language (domain/preference.ts; absent: listed skills 3, languages 5): ranking and widening's minLevel */
  proficiency?: Proficiency;
  /** a console attached (live availability is online and attached); absent: not recorded, taken as attached */
  attached?: boolean;
}

/** A recorded input: what came from outside the router (customers, agents' presence, staffing). */
export type RecordedInput =
  | {
      kind: 'message';
      at: number;
      message: InboundMessage;
      /** tie-break among messages of the same instant (Kafka partition:offset, zero-padded); the message id when absent */
      order?: string;
      /** the customer's profile and recent escalations as the router read them when classifying (absent: none) */
      customer?: { attributes: Record<string, unknown>; displayName: string | null; recentEscalations?: number };
      /** the tier-0 article ids knowledge answered when this message opened a self-service conversation (router.conversation_knowledge); replay never asks knowledge */
      selfServiceArticles?: string[];
    }
  | { kind: 'presence'; at: number; agentId: string; presence: 'online' | 'away' | 'offline' }
  | { kind: 'capacity'; at: number; agentId: string; capacity: Record<string, number> }
  /** a new version of the agent's profile took effect (router.agent_profile_versions) */
  | { kind: 'profile'; at: number; agentId: string; tiers: number[]; skills: string[]; languages: string[]; capacity: Record<string, number>; proficiency?: Proficiency }
  /** the agent's console attached or left (router.agent_console_sessions) */
  | { kind: 'console'; at: number; agentId: string; attached: boolean }
  /** the agent ended after-contact work early (console end-wrap-up: agent.wrap-up-ended by the agent on omni.agents.v1) */
  | { kind: 'wrap-up-ended'; at: number; agentId: string; conversationId?: string };

/**
 * A routing decision as omni.conversations.v1 records it (the live router's event, or replay's).
 * The faithfulness check compares these, conversation by conversation.
 */
export interface DecisionEvent {
  conversationId: string;
  type: string;
  at: number;
  agentId?: string;
  toAgentId?: string;
  tier: number;
  fromTier?: number;
  category?: string;
  reason?: string;
  handoffNote?: string;
}

export interface Recording {
  from: number;
  to: number;
  inputs: RecordedInput[];
  agents: AgentProfile[];
  /** the decisions the live router recorded in the window (for agent behaviour and the faithfulness check) */
  decisions: DecisionEvent[];
}

/** Agent behaviour defaults where nothing was recorded (docs/replay.md "agent model"). */
export interface BehaviourDefaults {
  /** answer time for an offer nobody recorded an answer to */
  acceptDelayMs: number;
  /** handling time where neither the agent nor the category has recorded one */
  handlingMs: number;
}

export interface ReplayConfig {
  name: string;
  rules: Rule[];
  ruleVersion: number;
  /**
   * Rule versions activated inside the window (live edits), in time order: a conversation opened at
   * or after `from` is classified with that version. Before the first, `rules`/`ruleVersion` apply.
   */
  ruleTimeline?: { from: number; version: number; rules: Rule[]; selfService?: SelfServiceSetting | null }[];
  /** the self-service setting versioned with `rules` (rule_sets.self_service; absent or null: off) */
  selfService?: SelfServiceSetting | null;
  policy: LifecyclePolicy;
  /** lifecycle settings versions that took effect inside the window, in time order (before the first: `policy`) */
  policyTimeline?: { from: number; policy: LifecyclePolicy; ageing?: PriorityAgeing; wrapUpMs?: number }[];
  /** after-contact work per resolve (WRAP_UP_MS) before the first timeline entry (absent: none); recorded with the lifecycle settings */
  wrapUpMs?: number;
  /** priority ageing in the match order before the first timeline entry (absent: off); recorded with the lifecycle settings */
  ageing?: PriorityAgeing;
  /** business hours per tier (absent or null: always open), and versions activated inside the window */
  hours?: BusinessHours | null;
  hoursTimeline?: { from: number; hours: BusinessHours | null }[];
  /** staffing changes: per agent id, fields replacing the recorded profile; `add` agents that were not there */
  agents?: { override?: Record<string, Partial<Omit<AgentProfile, 'id'>>>; add?: AgentProfile[]; remove?: string[] };
  behaviour?: Partial<BehaviourDefaults>;
  /** days of a customer's past conversations whose escalations the "repeat-escalations" rule counts (live: 30) */
  recentEscalationDays?: number;
}
