import { Actor, derivedId, fitTo, truncateCodePoints, type ConversationEvent, type ConversationEventType, type InboundMessage } from '@omni/contracts';
import { freeCapacity, type AgentSnapshot } from './match';
import { isLive, type Conversation, type HandoffNote, type Participant } from './conversation';
import type { TierHours } from './business-hours';
import { noticeLanguage } from './out-of-hours';
import { parseSelfServiceReply, SELF_SERVICE_SENDER, selfServiceArticles, selfServiceChoices, selfServiceText, type SelfServiceArticle, type SelfServiceSetting } from './self-service';

/**
 * The conversation lifecycle, pure: (conversation state, input) → decision (new state, events for
 * omni.conversations.v1, frames for agent consoles, offers, agent effects). No SQL, no Kafka, no
 * clock: every input carries its time `at`, so the same inputs give the same decisions live and in
 * replay. The store loads the state (locked), calls decide(), and saves the decision in the same
 * transaction.
 *
 *   (none) ──message──▶ queued ──offer──▶ offered ──accept──▶ assigned ──resolve──▶ resolved ──window over──▶ closed
 *                        ▲  ▲  sla(widen/escalate)  │ reject/expired/released       │ escalate/transfer(tier)/released
 *                        │  └────────────────────────┘                               │ transfer(agent) ──▶ offered
 *                        └───────────────── reopen (message inside the window) ◀─────┘ (from resolved)
 *
 * Self-service (tier 0, self-service.ts): a message that opens a conversation of an enabled category
 * (not a VIP's, with tier-0 articles found) goes to `self-service` instead of `queued`:
 *   (none) ──message──▶ self-service ──reply YES──▶ resolved (reason self-served, no agent)
 *                            │ reply NO / any other reply / self-service-expired
 *                            └──────────▶ queued, waiting and SLA counted from the first message
 * A conversation enters self-service only when it opens, so never twice.
 *
 * New inputs (business hours, wait estimates, wrap-up, per-offer decision records) are new members
 * of `Input` and new cases in decide(); the Decision shape carries their effects.
 */

export interface LifecyclePolicy {
  offerTimeoutMs: number;
  reopenWindowMs: number;
  /** queue SLA per tier (ms) */
  slaMsByTier: Record<number, number>;
  overflowMode: 'widen' | 'escalate';
  maxConsecutiveOfferTimeouts: number;
  /**
   * The business hours in force (docs/queue-intelligence.md): a tier with a calendar counts its queue
   * SLA in business time, so a conversation that arrives at night is not breached (and overflowed)
   * before the team is back. Absent, or a tier without a calendar: wall-clock time.
   */
  hours?: TierHours;
}

/** When a queue SLA of `ms` that starts at `from` runs out for `tier`: in the tier's business time when it has a calendar. */
export function slaDeadline(policy: Pick<LifecyclePolicy, 'hours'>, tier: number, from: Date, ms: number): Date {
  const cal = policy.hours?.calendar(tier);
  return cal?.addBusinessMs(from, ms) ?? new Date(from.getTime() + ms);
}

/** The closed set of refusals an agent console can receive (docs/agent-protocol.md). */
export type AgentErrorCode =
  | 'BAD_FRAME'
  | 'UNKNOWN_TYPE'
  | 'NOT_FOUND'
  | 'NOT_OFFERED'
  | 'NOT_ASSIGNED'
  | 'HANDOFF_NOTE_REQUIRED'
  | 'INVALID_TIER'
  | 'AGENT_UNAVAILABLE'
  | 'NOT_PARTICIPANT'
  | 'INTERNAL';

/** Why an input does not apply: an agent's refusal code, or NOT_DUE / ILLEGAL for system inputs (a race another replica won). */
export type RefusalCode = AgentErrorCode | 'NOT_DUE' | 'ILLEGAL';

export type SystemActor = { type: 'system' };
export type AgentActor = { type: 'agent'; id: string };

/** What a new conversation starts as: built by openConversation from the classification. */
export interface Opening {
  conversation: Conversation;
  ruleVersion: number;
  matchedRules: string[];
  /** the rule set's self-service setting and the tier-0 articles knowledge found for the message (fetched before the transaction) */
  selfService?: { setting: SelfServiceSetting | null; articles: SelfServiceArticle[] };
}

export type Input =
  // customer side
  | { kind: 'message'; at: Date; message: InboundMessage; opening?: Opening }
  // agent commands
  | { kind: 'accept'; at: Date; conversationId: string; agentId: string }
  | { kind: 'reject'; at: Date; conversationId: string; agentId: string; reason?: string }
  | { kind: 'resolve'; at: Date; conversationId: string; agentId: string; reason?: string }
  | { kind: 'escalate'; at: Date; conversationId: string; agentId: string; note?: string; toTier?: number }
  | {
      kind: 'transfer';
      at: Date;
      conversationId: string;
      agentId: string;
      toAgentId?: string;
      toTier?: number;
      note?: string;
      /** the target agent, locked, if online with a console attached (null: not available) */
      target?: Pick<AgentSnapshot, 'id' | 'capacity' | 'load'> | null;
    }
  | { kind: 'reply'; at: Date; conversationId: string; agentId: string; text: string; subject?: string; outboundId: string }
  | { kind: 'invite'; at: Date; conversationId: string; agentId: string; targetId: string; role: Participant['role']; targetExists: boolean }
  | { kind: 'leave'; at: Date; conversationId: string; agentId: string }
  // matching: offer a queued conversation to an agent (its load read under the agent's lock)
  | { kind: 'offer'; at: Date; agent: Pick<AgentSnapshot, 'id' | 'capacity' | 'load'>; reason: string; actor?: SystemActor | AgentActor }
  // timers
  | { kind: 'offer-expired'; at: Date }
  | { kind: 'sla-breached'; at: Date }
  | { kind: 'reopen-window-over'; at: Date }
  | { kind: 'self-service-expired'; at: Date }
  // agent change: the agent went offline or its console is gone past the grace period
  | { kind: 'agent-released'; at: Date; agentId: string; reason: string };

export type EventExtra = Partial<Pick<ConversationEvent, 'fromTier' | 'toAgentId' | 'handoffNote' | 'messageId' | 'data' | 'agentId'>>;

/** The fields of a conversation an event carries, as they were when the event happened. */
export type EventSubject = Pick<Conversation, 'id' | 'channel' | 'threadKey' | 'customer' | 'tier' | 'category' | 'priority' | 'language' | 'agentId'>;

export interface EventIntent {
  type: ConversationEventType;
  actor: Actor;
  reason?: string;
  extra: EventExtra;
  subject: EventSubject;
}

export interface FrameIntent {
  agentId: string;
  frame: Record<string, unknown>;
  /** the frame carries the conversation's customer context under `conversation` (rendered by the store, which reads the customer's recent conversations) */
  withContext?: true;
}

export interface AgentEffect {
  agentId: string;
  /** the agent got work or finished some: the longest idle goes first on a tie */
  idleSince?: Date;
  /** an accept ends a streak of lapsed offers */
  resetTimeouts?: true;
  /** an offer lapsed: one more in the streak (the agent may be set away: agentTimedOut) */
  offerLapsed?: true;
}

export interface OutboundIntent {
  outboundId: string;
  agentId: string;
  text: string;
  subject?: string;
  createdAt: Date;
  /** channel hints for the adapter (omni.outbound.v1 raw), e.g. the chat buttons of a self-service answer */
  raw?: Record<string, unknown>;
}

export interface Decision {
  ok: true;
  conversation: Conversation;
  events: EventIntent[];
  frames: FrameIntent[];
  /** offers made by this decision (conversation → agent, with the deadline) */
  offers: { conversationId: string; agentId: string; deadline: Date }[];
  agents: AgentEffect[];
  outbound: OutboundIntent[];
  /** something is waiting or capacity was freed: a match pass should run after commit */
  wantsMatch: boolean;
}

export interface Refusal {
  ok: false;
  code: RefusalCode;
  message: string;
}

export type Outcome = Decision | Refusal;

const PREVIEW_CHARS = 2000;

const refuse = (code: RefusalCode, message: string): Refusal => ({ ok: false, code, message });
const agentActor = (id: string): AgentActor => ({ type: 'agent', id });
const system: SystemActor = { type: 'system' };
/** The customer as an event's actor, fitted to the contract's actor id (an unfitting id would stop the outbox). */
const customerActor = (m: InboundMessage): Actor => ({ type: 'customer', id: fitTo(Actor.properties.id, m.from.address) });

export const messageFrame = (conversationId: string, m: InboundMessage) => ({
  type: 'message',
  conversationId,
  messageId: m.messageId,
  from: m.from,
  text: m.text,
  ...(m.subject ? { subject: m.subject } : {}),
  ...(m.attachments ? { attachments: m.attachments } : {}),
  sentAt: m.sentAt,
});

/** How a message meets its thread's latest conversation: join it, reopen it, or open a new one (closing the old first). */
export function arrivalKind(latest: Conversation | undefined | null, at: Date, policy: LifecyclePolicy): 'join' | 'reopen' | 'open' | 'close-then-open' {
  if (!latest || latest.status === 'closed') return 'open';
  if (isLive(latest)) return 'join';
  return latest.resolvedAt && at.getTime() - latest.resolvedAt.getTime() <= policy.reopenWindowMs ? 'reopen' : 'close-then-open';
}

/** Builds the decision as effects are recorded; each event captures the conversation as it is at that moment. */
class Builder {
  readonly d: Decision;
  constructor(conv: Conversation) {
    this.d = {
      ok: true,
      conversation: { ...conv, declinedAgents: [...conv.declinedAgents], handoffNotes: [...conv.handoffNotes], ...(conv.participants ? { participants: [...conv.participants] } : {}) },
      events: [],
      frames: [],
      offers: [],
      agents: [],
      outbound: [],
      wantsMatch: false,
    };
  }
  get c(): Conversation {
    return this.d.conversation;
  }
  event(type: ConversationEventType, actor: Actor, reason: string | undefined, extra: EventExtra = {}): void {
    const c = this.c;
    this.d.events.push({
      type,
      actor,
      ...(reason !== undefined ? { reason } : {}),
      extra,
      subject: { id: c.id, channel: c.channel, threadKey: c.threadKey, customer: c.customer, tier: c.tier, category: c.category, priority: c.priority, language: c.language, agentId: c.agentId },
    });
  }
  frame(agentId: string, frame: Record<string, unknown>, withContext = false): void {
    this.d.frames.push({ agentId, frame, ...(withContext ? { withContext: true as const } : {}) });
  }
  /**
   * Queued in its tier (SLA deadline from `at`), no agent; keepWaitingTime puts it back where it was;
   * slaFromWaiting also counts the SLA from then (after self-service: the wait began with the first message).
   */
  enqueue(at: Date, policy: LifecyclePolicy, opts: { keepWaitingTime?: boolean; slaFromWaiting?: boolean; declined?: string[]; preferredAgentId?: string | null } = {}): void {
    const c = this.c;
    const since = opts.keepWaitingTime && c.waitingSince ? c.waitingSince : at;
    const slaFrom = opts.slaFromWaiting ? since : at;
    c.status = 'queued';
    c.agentId = null;
    c.offerDeadline = null;
    c.waitingSince = since;
    if (opts.declined) c.declinedAgents = opts.declined;
    c.queue = {
      tiers: [c.tier],
      priority: c.priority,
      waitingSince: since,
      slaDeadline: slaDeadline(policy, c.tier, slaFrom, policy.slaMsByTier[c.tier] ?? policy.slaMsByTier[1] ?? 0),
      overflows: 0,
      preferredAgentId: opts.preferredAgentId ?? null,
    };
    this.d.wantsMatch = true;
  }
  /** Every collaborator leaves (the conversation was resolved, moved or requeued). */
  dropParticipants(reason: string): void {
    for (const p of this.c.participants ?? []) this.frame(p.agentId, { type: 'left', conversationId: this.c.id, reason });
    this.c.participants = [];
  }
  offer(agentId: string, at: Date, policy: LifecyclePolicy, reason: string, actor: SystemActor | AgentActor): void {
    const c = this.c;
    const deadline = new Date(at.getTime() + policy.offerTimeoutMs);
    c.status = 'offered';
    c.agentId = agentId;
    c.offerDeadline = deadline;
    c.queue = null;
    this.event('conversation.offered', actor, reason, { agentId });
    this.frame(agentId, { type: 'offer', conversationId: c.id, deadline: deadline.toISOString() }, true);
    this.d.offers.push({ conversationId: c.id, agentId, deadline });
    this.d.agents.push({ agentId, idleSince: at });
  }
}

/** The conversation must be offered to (or assigned to) this agent; someone else's looks exactly like a missing one. */
function own(conv: Conversation | null, input: { conversationId: string; agentId: string }, status: 'offered' | 'assigned'): Refusal | undefined {
  const code = status === 'offered' ? 'NOT_OFFERED' : 'NOT_ASSIGNED';
  if (!conv || conv.agentId !== input.agentId || (conv.status !== 'offered' && conv.status !== 'assigned'))
    return refuse(code, `conversation ${input.conversationId} is not ${status} to you`);
  if (conv.status !== status) return refuse(code, `conversation ${conv.id} is ${conv.status}, not ${status}`);
  return undefined;
}

function requireNote(note: string | undefined, what: string): string | Refusal {
  const n = note?.trim();
  if (!n) return refuse('HANDOFF_NOTE_REQUIRED', `${what} needs a handoff note saying what was tried`);
  return n;
}

/** The assignee leaves and the conversation joins another tier's queue (escalation or transfer to a tier). */
function moveToTier(b: Builder, at: Date, policy: LifecyclePolicy, agentId: string, toTier: number, note: string | undefined, kind: 'escalated' | 'transferred'): void {
  const c = b.c;
  const fromTier = c.tier;
  if (note) c.handoffNotes = [...c.handoffNotes, { fromTier, toTier, agentId, note, at: at.toISOString() } satisfies HandoffNote];
  c.escalations += toTier > fromTier ? 1 : 0;
  c.lastAgentId = agentId;
  c.tier = toTier;
  b.event(kind === 'escalated' ? 'conversation.escalated' : 'conversation.transferred', agentActor(agentId), `${kind} to tier ${toTier}`, {
    fromTier,
    agentId,
    ...(note ? { handoffNote: note } : {}),
  });
  b.frame(agentId, { type: 'unassigned', conversationId: c.id, reason: kind });
  b.dropParticipants(kind);
  // A new tier is a new audience: earlier refusals were by agents of the old tier.
  b.enqueue(at, policy, { declined: [] });
  b.event('conversation.queued', system, `tier ${toTier} queue`);
}

/**
 * Decides what an input does to a conversation (null: none yet, for a message that opens one).
 * Never mutates its arguments.
 */
export function decide(conv: Conversation | null, input: Input, policy: LifecyclePolicy): Outcome {
  const at = input.at;
  switch (input.kind) {
    case 'message': {
      const m = input.message;
      const kind = arrivalKind(conv, at, policy);
      if (kind === 'join' && conv!.status === 'self-service') return answerSelfService(conv!, m, at, policy);
      if (kind === 'join') {
        const b = new Builder(conv!);
        b.c.lastMessageId = m.messageId;
        b.c.lastText = truncateCodePoints(m.text, PREVIEW_CHARS);
        // History learns which conversation a follow-up joined only from this event; the customer is on it already.
        b.event('conversation.message', { type: 'customer' }, undefined, { messageId: m.messageId });
        if (b.c.status === 'assigned' && b.c.agentId) b.frame(b.c.agentId, messageFrame(b.c.id, m));
        for (const p of b.c.participants ?? []) b.frame(p.agentId, messageFrame(b.c.id, m));
        return b.d;
      }
      if (kind === 'reopen') {
        const b = new Builder(conv!);
        b.c.lastMessageId = m.messageId;
        b.c.lastText = truncateCodePoints(m.text, PREVIEW_CHARS);
        b.c.resolvedAt = null;
        b.event('conversation.reopened', customerActor(m), 'customer wrote within the reopen window', {
          messageId: m.messageId,
          ...(b.c.lastAgentId ? { data: { previousAgentId: b.c.lastAgentId } } : {}),
        });
        b.enqueue(at, policy, { declined: [], preferredAgentId: b.c.lastAgentId });
        b.event('conversation.queued', system, `tier ${b.c.tier} queue (previous agent first)`);
        return b.d;
      }
      if (kind === 'close-then-open') return refuse('ILLEGAL', `conversation ${conv!.id} must be closed (reopen window over) before its thread opens a new one`);
      if (!input.opening) return refuse('ILLEGAL', 'a message that opens a conversation needs its classification');
      const o = input.opening;
      const b = new Builder(o.conversation);
      const articles = o.selfService ? selfServiceArticles(o.selfService.setting, b.c, o.selfService.articles) : [];
      if (articles.length === 0) b.enqueue(at, policy, { declined: [] });
      const base = { messageId: m.messageId };
      b.event('conversation.opened', customerActor(m), 'first message on thread', base);
      b.event('conversation.classified', system, `rules v${o.ruleVersion}: ${o.matchedRules.join(', ') || 'default'}`, {
        ...base,
        data: { ruleVersion: o.ruleVersion, matchedRules: o.matchedRules, requiredSkills: b.c.requiredSkills },
      });
      if (articles.length > 0) offerSelfService(b, articles, o.selfService!.setting!.waitMs, at);
      else b.event('conversation.queued', system, `tier ${b.c.tier} queue`);
      return b.d;
    }
    case 'accept': {
      const r = own(conv, input, 'offered');
      if (r) return r;
      const b = new Builder(conv!);
      b.c.status = 'assigned';
      b.c.offerDeadline = null;
      b.event('conversation.accepted', agentActor(input.agentId), 'offer accepted');
      b.event('conversation.assigned', agentActor(input.agentId), 'assigned after accept');
      b.frame(input.agentId, { type: 'assigned', conversationId: b.c.id });
      b.d.agents.push({ agentId: input.agentId, resetTimeouts: true });
      return b.d;
    }
    case 'reject':
    case 'offer-expired': {
      if (input.kind === 'reject') {
        const r = own(conv, input, 'offered');
        if (r) return r;
      } else if (!conv || conv.status !== 'offered' || !conv.agentId || !conv.offerDeadline || conv.offerDeadline.getTime() >= at.getTime())
        return refuse('NOT_DUE', `conversation ${conv?.id} has no expired offer`);
      const b = new Builder(conv!);
      const agentId = b.c.agentId!;
      const declined = b.c.declinedAgents.includes(agentId) ? b.c.declinedAgents : [...b.c.declinedAgents, agentId];
      if (input.kind === 'reject') b.event('conversation.rejected', agentActor(agentId), input.reason ?? 'rejected by agent', { agentId });
      else b.event('conversation.offer-expired', system, `no answer within ${policy.offerTimeoutMs} ms`, { agentId });
      b.frame(agentId, { type: 'offer-closed', conversationId: b.c.id, reason: input.kind === 'reject' ? 'rejected' : 'expired' });
      b.enqueue(at, policy, { keepWaitingTime: true, declined });
      b.event('conversation.requeued', system, input.kind === 'reject' ? `agent ${agentId} rejected` : `offer to ${agentId} expired`);
      if (input.kind === 'offer-expired') b.d.agents.push({ agentId, offerLapsed: true });
      return b.d;
    }
    case 'resolve': {
      const r = own(conv, input, 'assigned');
      if (r) return r;
      const b = new Builder(conv!);
      b.event('conversation.resolved', agentActor(input.agentId), input.reason ?? 'resolved by agent', { agentId: input.agentId });
      b.c.status = 'resolved';
      b.c.resolvedAt = at;
      b.c.lastAgentId = input.agentId;
      b.c.agentId = null;
      b.frame(input.agentId, { type: 'unassigned', conversationId: b.c.id, reason: 'resolved' });
      b.dropParticipants('resolved');
      b.d.agents.push({ agentId: input.agentId, idleSince: at });
      b.d.wantsMatch = true;
      return b.d;
    }
    case 'escalate': {
      const r = own(conv, input, 'assigned');
      if (r) return r;
      const note = requireNote(input.note, 'escalation');
      if (typeof note !== 'string') return note;
      const target = input.toTier ?? conv!.tier + 1;
      if (target <= conv!.tier || target > 5) return refuse('INVALID_TIER', `cannot escalate from tier ${conv!.tier} to tier ${target}`);
      const b = new Builder(conv!);
      moveToTier(b, at, policy, input.agentId, target, note, 'escalated');
      return b.d;
    }
    case 'transfer': {
      const r = own(conv, input, 'assigned');
      if (r) return r;
      const c0 = conv!;
      if (input.toAgentId) {
        if (input.toAgentId === input.agentId) return refuse('AGENT_UNAVAILABLE', 'cannot transfer to yourself');
        const t = input.target;
        if (!t || t.id !== input.toAgentId || freeCapacity(t, c0.channel) <= 0)
          return refuse('AGENT_UNAVAILABLE', `agent ${input.toAgentId} is not online with room on ${c0.channel}`);
        const b = new Builder(c0);
        const trimmed = input.note?.trim();
        if (trimmed) b.c.handoffNotes = [...b.c.handoffNotes, { fromTier: b.c.tier, toTier: b.c.tier, agentId: input.agentId, note: trimmed, at: at.toISOString() }];
        b.c.lastAgentId = input.agentId;
        b.c.declinedAgents = [];
        b.event('conversation.transferred', agentActor(input.agentId), `transferred to agent ${input.toAgentId}`, {
          agentId: input.agentId,
          toAgentId: input.toAgentId,
          ...(trimmed ? { handoffNote: trimmed } : {}),
        });
        b.frame(input.agentId, { type: 'unassigned', conversationId: b.c.id, reason: 'transferred' });
        b.dropParticipants('transferred');
        b.offer(input.toAgentId, at, policy, `transfer from ${input.agentId}`, agentActor(input.agentId));
        b.d.wantsMatch = true; // the sender's capacity is free again
        return b.d;
      }
      const tier = input.toTier;
      if (tier === undefined || tier < 1 || tier > 5) return refuse('INVALID_TIER', 'transfer needs toAgentId or a toTier between 1 and 5');
      let note: string | undefined;
      if (tier > c0.tier) {
        const n = requireNote(input.note, 'transfer to a higher tier');
        if (typeof n !== 'string') return n;
        note = n;
      } else note = input.note?.trim() || undefined;
      const b = new Builder(c0);
      moveToTier(b, at, policy, input.agentId, tier, note, tier > c0.tier ? 'escalated' : 'transferred');
      return b.d;
    }
    case 'reply': {
      // the assignee, or a helper it invited, may reply while the conversation is assigned; an observer may not
      const helper = conv?.status === 'assigned' && (conv.participants ?? []).some((p) => p.agentId === input.agentId && p.role === 'helper');
      if (!helper) {
        const r = own(conv, input, 'assigned');
        if (r) return r;
      }
      const b = new Builder(conv!);
      b.d.outbound.push({ outboundId: input.outboundId, agentId: input.agentId, text: input.text, ...(input.subject ? { subject: input.subject } : {}), createdAt: at });
      return b.d;
    }
    case 'invite': {
      const r = own(conv, input, 'assigned');
      if (r) return r;
      if (input.targetId === input.agentId) return refuse('AGENT_UNAVAILABLE', 'you are already on this conversation');
      if (!input.targetExists) return refuse('AGENT_UNAVAILABLE', `agent ${input.targetId} not found`);
      const b = new Builder(conv!);
      const others = (b.c.participants ?? []).filter((p) => p.agentId !== input.targetId);
      const existing = (b.c.participants ?? []).find((p) => p.agentId === input.targetId);
      b.c.participants = [...others, { agentId: input.targetId, role: input.role, invitedBy: existing?.invitedBy ?? input.agentId }];
      b.frame(input.targetId, { type: 'joined', conversationId: b.c.id, role: input.role, invitedBy: input.agentId }, true);
      return b.d;
    }
    case 'leave': {
      if (!conv || !(conv.participants ?? []).some((p) => p.agentId === input.agentId))
        return refuse('NOT_PARTICIPANT', `you are not collaborating on ${input.conversationId}`);
      const b = new Builder(conv);
      b.c.participants = (b.c.participants ?? []).filter((p) => p.agentId !== input.agentId);
      b.frame(input.agentId, { type: 'left', conversationId: b.c.id, reason: 'left' });
      return b.d;
    }
    case 'offer': {
      if (!conv || conv.status !== 'queued') return refuse('ILLEGAL', `conversation ${conv?.id} is not queued`);
      if (conv.declinedAgents.includes(input.agent.id)) return refuse('ILLEGAL', `agent ${input.agent.id} declined conversation ${conv.id}`);
      if (freeCapacity(input.agent, conv.channel) <= 0) return refuse('ILLEGAL', `agent ${input.agent.id} has no room on ${conv.channel}`);
      const b = new Builder(conv);
      b.offer(input.agent.id, at, policy, input.reason, input.actor ?? system);
      return b.d;
    }
    case 'sla-breached': {
      const q = conv?.queue;
      if (!conv || conv.status !== 'queued' || !q || !q.slaDeadline || q.slaDeadline.getTime() >= at.getTime()) return refuse('NOT_DUE', `conversation ${conv?.id} has no breached SLA`);
      const b = new Builder(conv);
      const top = Math.max(...q.tiers);
      if (top >= 5) {
        // Nowhere higher to go: stop the deadline so the sweep does not fire every interval.
        b.c.queue = { ...q, slaDeadline: null };
        return b.d;
      }
      const next = top + 1;
      const deadline = slaDeadline(policy, next, at, policy.slaMsByTier[next] ?? 0);
      if (policy.overflowMode === 'escalate') {
        const fromTier = b.c.tier;
        b.c.tier = next;
        b.c.declinedAgents = [];
        b.c.queue = { ...q, tiers: [next], slaDeadline: deadline, overflows: q.overflows + 1 };
        b.event('conversation.overflowed', system, `tier ${fromTier} queue SLA exceeded; escalated to tier ${next}`, { fromTier, data: { mode: 'escalate', tiers: [next] } });
      } else {
        const widened = [...q.tiers, next];
        b.c.queue = { ...q, tiers: widened, slaDeadline: deadline, overflows: q.overflows + 1 };
        b.event('conversation.overflowed', system, `tier ${top} queue SLA exceeded; tier ${next} agents may take it`, { data: { mode: 'widen', tiers: widened } });
      }
      b.d.wantsMatch = true;
      return b.d;
    }
    case 'reopen-window-over': {
      if (!conv || conv.status !== 'resolved' || !conv.resolvedAt || at.getTime() - conv.resolvedAt.getTime() <= policy.reopenWindowMs)
        return refuse('NOT_DUE', `conversation ${conv?.id} is not resolved past the reopen window`);
      const b = new Builder(conv);
      b.c.status = 'closed';
      b.event('conversation.closed', system, 'reopen window over');
      return b.d;
    }
    case 'self-service-expired': {
      const ss = conv?.selfService;
      if (!conv || conv.status !== 'self-service' || !ss || ss.state !== 'offered' || ss.deadline.getTime() > at.getTime())
        return refuse('NOT_DUE', `conversation ${conv?.id} has no self-service answer past its deadline`);
      const b = new Builder(conv);
      routeAfterSelfService(b, at, policy, 'expired', `no answer to the self-service answer within ${ss.deadline.getTime() - ss.offeredAt.getTime()} ms`);
      return b.d;
    }
    case 'agent-released': {
      if (!conv || conv.agentId !== input.agentId || (conv.status !== 'offered' && conv.status !== 'assigned'))
        return refuse('NOT_DUE', `conversation ${conv?.id} is not with agent ${input.agentId}`);
      const b = new Builder(conv);
      b.frame(input.agentId, { type: conv.status === 'offered' ? 'offer-closed' : 'unassigned', conversationId: conv.id, reason: 'requeued' });
      b.c.lastAgentId = input.agentId;
      b.dropParticipants('requeued');
      b.enqueue(at, policy, { keepWaitingTime: true });
      b.event('conversation.requeued', system, input.reason, { data: { previousAgentId: input.agentId } });
      return b.d;
    }
  }
}

/** The automatic tier-0 answer: the conversation waits for YES/NO (or its deadline) with no queue entry, its waiting time running. */
function offerSelfService(b: Builder, articles: SelfServiceArticle[], waitMs: number, at: Date): void {
  const c = b.c;
  const articleIds = articles.map((a) => a.id);
  const deadline = new Date(at.getTime() + waitMs);
  c.status = 'self-service';
  c.queue = null;
  c.selfService = { state: 'offered', articleIds, offeredAt: at, deadline };
  b.event('conversation.self-service-offered', system, `tier-0 answer with ${articleIds.length} article(s); waiting for YES/NO until ${deadline.toISOString()}`, {
    data: { articleIds, deadline: deadline.toISOString() },
  });
  b.d.outbound.push({
    // derived from the conversation: a replayed or retried decision sends the same answer once
    outboundId: derivedId('out', c.id, 'self-service'),
    agentId: SELF_SERVICE_SENDER,
    text: selfServiceText(c.language, articles),
    createdAt: at,
    // `choices`: buttons where the channel has them (the chat widget); the text asks for a YES/NO reply everywhere
    raw: { choices: selfServiceChoices(noticeLanguage(c.language)), selfService: { articleIds } },
  });
}

/** NO, another reply or no answer: queued as usual, its waiting time and SLA counted from the first message (no place lost). */
function routeAfterSelfService(b: Builder, at: Date, policy: LifecyclePolicy, outcome: 'declined' | 'other' | 'expired', reason: string): void {
  const ss = b.c.selfService!;
  b.c.selfService = { ...ss, state: outcome === 'expired' ? 'expired' : 'declined' };
  b.enqueue(at, policy, { keepWaitingTime: true, slaFromWaiting: true, declined: [] });
  b.event('conversation.queued', system, `${reason}: tier ${b.c.tier} queue`, { data: { selfService: outcome, articleIds: ss.articleIds } });
}

/** The customer answered the self-service question (any message while in self-service). */
function answerSelfService(conv: Conversation, m: InboundMessage, at: Date, policy: LifecyclePolicy): Outcome {
  if (conv.selfService?.state !== 'offered') return refuse('ILLEGAL', `conversation ${conv.id} is in self-service without its attempt loaded`);
  const b = new Builder(conv);
  const answer = parseSelfServiceReply(m.text);
  b.c.lastMessageId = m.messageId;
  // a bare NO tells the agent nothing: the offer keeps showing the customer's question
  if (answer === 'other') b.c.lastText = truncateCodePoints(m.text, PREVIEW_CHARS);
  b.event('conversation.message', { type: 'customer' }, undefined, { messageId: m.messageId });
  const ss = b.c.selfService!;
  if (answer === 'yes') {
    b.c.selfService = { ...ss, state: 'self-served' };
    b.c.status = 'resolved';
    b.c.resolvedAt = at;
    b.c.agentId = null;
    b.c.queue = null;
    b.event('conversation.resolved', customerActor(m), 'self-served', { messageId: m.messageId, data: { articleIds: ss.articleIds } });
    return b.d;
  }
  routeAfterSelfService(b, at, policy, answer === 'no' ? 'declined' : 'other', answer === 'no' ? 'the customer answered NO to the self-service answer' : 'the customer wrote instead of answering YES/NO');
  return b.d;
}

/** A new conversation from a thread's first message and its classification (inserted queued by the store). */
export function openConversation(
  id: string,
  m: InboundMessage,
  c: { tier: number; category: string; priority: number; language?: string | undefined; skills: string[] },
  profile: { attributes: Record<string, unknown>; displayName: string | null },
  at: Date,
): Conversation {
  const customer = profile.displayName && !m.from.name ? { ...m.from, name: profile.displayName } : m.from;
  return {
    id,
    threadKey: m.threadKey,
    channel: m.channel,
    customer,
    customerKey: `${m.from.channel}:${m.from.address}`,
    status: 'queued',
    tier: c.tier,
    category: c.category,
    priority: c.priority,
    language: c.language ?? null,
    agentId: null,
    requiredSkills: c.skills,
    customerAttributes: profile.attributes,
    waitingSince: at,
    offerDeadline: null,
    declinedAgents: [],
    handoffNotes: [],
    escalations: 0,
    lastAgentId: null,
    lastMessageId: m.messageId,
    lastText: truncateCodePoints(m.text, PREVIEW_CHARS),
    openedAt: at,
    resolvedAt: null,
    queue: null,
    participants: [],
  };
}

/** An agent's presence and streak of lapsed offers, as the agent lifecycle sees it. */
export interface AgentState {
  id: string;
  presence: 'online' | 'away' | 'offline';
  consecutiveTimeouts: number;
}

/** After an offer lapsed: one more in the streak; too many in a row and an online agent is set away. */
export function agentTimedOut(a: AgentState, policy: LifecyclePolicy): { agent: AgentState; frames: FrameIntent[] } {
  const n = a.consecutiveTimeouts + 1;
  if (a.presence === 'online' && n >= policy.maxConsecutiveOfferTimeouts)
    return { agent: { ...a, consecutiveTimeouts: n, presence: 'away' }, frames: [{ agentId: a.id, frame: { type: 'presence', presence: 'away', reason: `${n} offers expired in a row` } }] };
  return { agent: { ...a, consecutiveTimeouts: n }, frames: [] };
}

/**
 * An agent's presence change (set on the console, on connect, or offline after the disconnect grace):
 * going offline releases the agent's work (agent-released on each of its conversations), coming online pulls work.
 */
export function agentPresence(
  a: AgentState,
  presence: AgentState['presence'],
  reason: string,
): { agent: AgentState; frames: FrameIntent[]; releaseWork: boolean; wantsMatch: boolean; cameOnline: boolean } {
  const changed = a.presence !== presence;
  return {
    agent: { ...a, presence, consecutiveTimeouts: presence === 'online' ? 0 : a.consecutiveTimeouts },
    frames: changed ? [{ agentId: a.id, frame: { type: 'presence', presence, reason } }] : [],
    releaseWork: presence === 'offline',
    wantsMatch: presence === 'online',
    cameOnline: a.presence !== 'online' && presence === 'online',
  };
}

/**
 * A console attached: the agent takes the presence it asked for (online by default). An agent who
 * was offline starts its idle time now; coming online clears a streak of lapsed offers and pulls work.
 */
export function agentConnected(a: AgentState, presence: 'online' | 'away'): { agent: AgentState; frames: FrameIntent[]; restartIdle: boolean; wantsMatch: boolean } {
  return {
    agent: { ...a, presence, consecutiveTimeouts: presence === 'online' ? 0 : a.consecutiveTimeouts },
    frames: a.presence !== presence ? [{ agentId: a.id, frame: { type: 'presence', presence, reason: 'console connected' } }] : [],
    restartIdle: a.presence === 'offline',
    wantsMatch: presence === 'online',
  };
}
