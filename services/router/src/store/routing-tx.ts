import { mintCsatToken } from '@omni/auth';
import type { Pool, PoolClient } from 'pg';
import { ConversationEvent, fitTo, newId, type Actor, type AgentEvent, type ConversationEventType, type OutboundMessage, type TopicNames } from '@omni/contracts';
import { deferToCommit, withTransaction } from '@omni/db';
import type { OutboxRecord } from '@omni/kafka';
import type { Logger } from '@omni/logging';
import type { RouterConfig } from '../config';
import type { Conversation } from '../domain/conversation';
import type { AgentState, Decision, EventExtra, EventSubject, FrameIntent } from '../domain/lifecycle';
import { offerContext, RECENT_SHOWN, type RecentConversation } from '../domain/offer-context';
import { insertAgentEvents, type NumberedAgentEvent } from './agent-events';
import { saveDecided, type AgentChange, type ConversationChange } from './conversation-save';
import { recentByCustomer } from './conversations';
import { insertWrapUps } from './offer-decisions';
import type { WrapUp } from '../domain/wrap-up';
import type { DecisionRecord } from '../domain/decision-record';
import { preparedName } from './prepared';
import { attachSuggestions, saveConversationKnowledge, type OfferSuggestion } from './conversation-knowledge';

export { lastAgentSeqs, type NumberedAgentEvent } from './agent-events';
export { CONVERSATION_COLUMNS, loadConversation, toConversation } from './conversations';
export type { HandoffNote } from '../domain/conversation';
export { preparedName } from './prepared';
/** A router.conversations row as the lifecycle sees it. */
export type ConversationRow = Conversation;
export type { EventExtra } from '../domain/lifecycle';

/** What every routing operation needs; one per router process. */
export interface RouterCtx {
  pool: Pool;
  topics: TopicNames;
  config: RouterConfig;
  logger: Logger;
  /** after commit: relay the outbox now rather than at the next poll */
  kickRelay: () => void;
  /** after commit: push these newly numbered agent events to sockets held by this replica, tell the others */
  wakeAgents: (events: NumberedAgentEvent[]) => void;
  /** after commit: run a match pass (capacity or backlog changed) */
  kickMatcher: () => void;
  /** key of the CSAT tokens put on conversation.resolved (libs/auth csatKey); absent = none issued */
  csatKey?: Uint8Array;
  /**
   * The router's one clock (absent: the system clock). Every routing decision's time comes from it
   * — the `at` of lifecycle inputs, the deadlines the sweeps compare, idle and liveness times, which
   * reach SQL as parameters, never as now() — so the live router's decisions depend only on recorded
   * inputs (issue 19).
   */
  clock?: () => Date;
}

/** The time now on the router's clock (RouterCtx.clock, default the system clock). */
export const clockOf = (ctx: Pick<RouterCtx, 'clock'>): Date => (ctx.clock ? ctx.clock() : new Date());

interface PendingFrame {
  agentId: string;
  frame: Record<string, unknown>;
  /** render the conversation's customer context into the frame at flush */
  context?: Conversation;
}

/**
 * One routing transaction: the loads happen through `client`/`query`, the lifecycle's decisions are
 * recorded with apply(), and flush() saves them — state, outbox events, numbered console frames —
 * in as few statements as it can just before COMMIT. After commit the relay, the sockets and the
 * matcher are nudged.
 */
export class RoutingTx {
  private readonly outbox: OutboxRecord[] = [];
  private readonly frames: PendingFrame[] = [];
  private readonly changes = new Map<string, ConversationChange>();
  private readonly agents = new Map<string, AgentChange>();
  private readonly messages: { message_id: string; conversation_id: string; received_at: string }[] = [];
  private readonly decisions: { conversationId: string; agentId: string; at: Date; record: DecisionRecord }[] = [];
  /** knowledge suggestions fetched (before this transaction) for conversations it opens: saved with them, put on their offers */
  readonly suggestions = new Map<string, OfferSuggestion[]>();
  /** the agent events as numbered by flush() */
  numbered: NumberedAgentEvent[] = [];
  needsMatch = false;

  constructor(
    readonly client: PoolClient,
    readonly ctx: RouterCtx,
  ) {}

  /** Runs a statement as a named prepared statement (see preparedName): parsed and planned once per connection. */
  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: unknown[] = []) {
    return this.client.query<R>({ name: preparedName(sql), text: sql, values: params });
  }

  /**
   * Records a decision of the lifecycle over `before` (null: a conversation it opened), to be saved
   * at flush: the conversation's new state, its events, console frames and agent effects.
   */
  apply(before: Conversation | null, d: Decision, at: Date, opts: { rule?: { id: string | null; version: number } } = {}): Conversation {
    const c = d.conversation;
    const seen = this.changes.get(c.id);
    this.changes.set(c.id, { before: seen ? seen.before : before, after: c, ...((seen?.rule ?? opts.rule) ? { rule: seen?.rule ?? opts.rule } : {}) });
    for (const e of d.events) this.event(e.subject, e.type, e.actor, e.reason, e.extra, at);
    for (const f of d.frames) this.frames.push({ agentId: f.agentId, frame: { ...f.frame, at: at.toISOString() }, ...(f.withContext ? { context: c } : {}) });
    for (const a of d.agents) {
      const cur = this.agents.get(a.agentId) ?? {};
      if (a.idleSince) cur.idleSince = a.idleSince;
      if (a.resetTimeouts) cur.resetTimeouts = true;
      this.agents.set(a.agentId, cur);
    }
    for (const o of d.outbound)
      this.outbound({
        schema: 'omni.outbound.v1',
        outboundId: o.outboundId,
        conversationId: c.id,
        channel: c.channel,
        threadKey: c.threadKey,
        to: c.customer,
        agentId: o.agentId,
        text: o.text,
        ...(o.subject ? { subject: o.subject } : {}),
        ...(c.lastMessageId ? { inReplyToMessageId: c.lastMessageId } : {}),
        createdAt: o.createdAt.toISOString(),
        ...(o.raw ? { raw: o.raw } : {}),
      });
    if (d.wantsMatch) this.needsMatch = true;
    return c;
  }

  /** Console frames decided by the agent lifecycle. */
  applyFrames(frames: FrameIntent[], at: Date): void {
    for (const f of frames) this.frames.push({ agentId: f.agentId, frame: { ...f.frame, at: at.toISOString() } });
  }

  /** The agent lifecycle's new state for an agent (saved at flush with the conversations). */
  agentState(a: AgentState): void {
    this.agents.set(a.id, { ...(this.agents.get(a.id) ?? {}), state: a });
  }

  private readonly recent = new Map<string, RecentConversation[]>();

  /** A customer's latest conversations, read earlier in this transaction: the offer context at flush reuses them. */
  knowRecent(customerKey: string, list: RecentConversation[]): void {
    this.recent.set(customerKey, list);
  }

  /** The rule that classified a conversation this transaction opened (not in the database yet). */
  ruleOf(conversationId: string): { id: string | null; version: number } | undefined {
    return this.changes.get(conversationId)?.rule;
  }

  private readonly wrapUps: (WrapUp & { agentId: string })[] = [];

  /** After-contact work an agent starts on resolve (stored at flush). */
  recordWrapUp(agentId: string, w: WrapUp): void {
    this.wrapUps.push({ ...w, agentId });
  }

  /** The decision record of an offer this transaction makes (stored at flush). */
  recordDecision(conversationId: string, agentId: string, at: Date, record: DecisionRecord): void {
    this.decisions.push({ conversationId, agentId, at, record });
  }

  /** A customer message stored with the conversation it joined or opened. */
  recordMessage(messageId: string, conversationId: string, receivedAt: string): void {
    this.messages.push({ message_id: messageId, conversation_id: conversationId, received_at: receivedAt });
  }

  private event(subject: EventSubject, type: ConversationEventType, actor: Actor, reason: string | undefined, extra: EventExtra, at: Date): ConversationEvent {
    const event: ConversationEvent = {
      schema: 'omni.conversations.v1',
      eventId: newId('evt'),
      type,
      conversationId: subject.id,
      occurredAt: at.toISOString(),
      actor,
      ...(reason ? { reason: fitTo(ConversationEvent.properties.reason, reason) } : {}),
      channel: subject.channel,
      threadKey: subject.threadKey,
      customer: subject.customer,
      tier: subject.tier,
      category: subject.category,
      priority: subject.priority,
      ...(subject.language ? { language: subject.language } : {}),
      ...(subject.agentId ? { agentId: subject.agentId } : {}),
      ...extra,
    };
    // The customer's CSAT credential, derived from this event (no clock read, no randomness of its own).
    if (type === 'conversation.resolved' && this.ctx.csatKey)
      event.csatToken = mintCsatToken(this.ctx.csatKey, subject.id, event.eventId, new Date(event.occurredAt), this.ctx.config.CSAT_TOKEN_TTL_S);
    this.outbox.push({ topic: this.ctx.topics.conversations, key: subject.id, schemaId: 'omni.conversations.v1', value: event });
    return event;
  }

  /** Records a routing event for omni.conversations.v1 outside a lifecycle decision (keyed by conversation). */
  conversationEvent(conv: EventSubject, type: ConversationEventType, actor: Actor, reason?: string, extra: EventExtra = {}): ConversationEvent {
    return this.event(conv, type, actor, reason, extra, clockOf(this.ctx));
  }

  /**
   * Adds to the data of a routing event this transaction recorded (the first of that type for the
   * conversation): what is known only after the decision, such as the wait estimate on conversation.queued.
   */
  annotateEvent(conversationId: string, type: ConversationEventType, data: Record<string, unknown>): void {
    const r = this.outbox.find((o) => o.schemaId === 'omni.conversations.v1' && (o.value as ConversationEvent).conversationId === conversationId && (o.value as ConversationEvent).type === type);
    if (!r) return;
    const v = r.value as ConversationEvent;
    v.data = { ...(v.data ?? {}), ...data };
  }

  /** Records an agent state event for omni.agents.v1 (presence with its reason, wrap-up), keyed by agent. */
  agentStateEvent(e: AgentEvent): void {
    this.outbox.push({ topic: this.ctx.topics.agents, key: e.agentId, schemaId: 'omni.agents.v1', value: e });
  }

  /** Records an agent reply for omni.outbound.v1. */
  outbound(msg: OutboundMessage): void {
    this.outbox.push({ topic: this.ctx.topics.outbound, key: msg.conversationId, schemaId: 'omni.outbound.v1', value: msg });
  }

  /** Queues a frame for an agent console outside a lifecycle decision; it gets the agent's next sequence number at commit. */
  agentEvent(agentId: string, frame: Record<string, unknown>): void {
    this.frames.push({ agentId, frame: { ...frame, at: clockOf(this.ctx).toISOString() } });
  }

  /**
   * Writes the collected effects inside the transaction (called once, just before COMMIT): the
   * customer context of offer frames (one read), the decided state with the outbox rows (one
   * statement), then the console frames, numbered by each agent's counter (one).
   */
  async flush(): Promise<void> {
    const withContext = this.frames.filter((f) => f.context);
    if (withContext.length) {
      const keys = [...new Set(withContext.map((f) => f.context!.customerKey).filter((k): k is string => !!k))];
      const unread = keys.filter((k) => !this.recent.has(k));
      const recent = new Map([...this.recent, ...(unread.length ? await recentByCustomer(this.client, unread, RECENT_SHOWN) : [])]);
      for (const f of withContext) f.frame.conversation = offerContext(f.context!, f.context!.customerKey ? (recent.get(f.context!.customerKey) ?? []) : []);
    }
    // Agent rows are written before the numbering locks (counter rows) are taken: a transaction that
    // waits for an agent's row while holding its numbering lock would deadlock with an offer holding that row.
    // the writes go out back to back with COMMIT behind them (libs/db deferToCommit: one round trip
    // on a pipelined client); the server runs them in this order
    await deferToCommit(this.client, () => saveDecided(this.client, { conversations: [...this.changes.values()], agents: this.agents, messages: this.messages, outbox: this.outbox, decisions: this.decisions }));
    await deferToCommit(this.client, () => insertWrapUps(this.client, this.wrapUps));
    // suggestions and self-service attempts (docs/knowledge.md): after the conversations they belong to
    await deferToCommit(this.client, () => saveConversationKnowledge(this.client, [...this.changes.values()], this.suggestions));
    if (this.ctx.config.KNOWLEDGE_URL) await attachSuggestions(this.client, this.frames.map((f) => f.frame), this.suggestions);
    if (this.frames.length === 0) return;
    const byAgent = new Map<string, Record<string, unknown>[]>();
    for (const f of this.frames) byAgent.set(f.agentId, [...(byAgent.get(f.agentId) ?? []), f.frame]);
    // numbered under the agents' counter rows, held to commit: COMMIT right behind shortens that hold
    await deferToCommit(this.client, async () => {
      this.numbered = await insertAgentEvents(this.client, byAgent);
    });
  }

  get wroteOutbox(): boolean {
    return this.outbox.length > 0;
  }
}

/** Runs fn in one transaction with a RoutingTx, flushes its effects, commits, then nudges relay/sockets/matcher. */
export async function runRouting<T>(ctx: RouterCtx, fn: (tx: RoutingTx) => Promise<T>): Promise<T> {
  let last: RoutingTx | undefined;
  const result = await withTransaction(ctx.pool, async (client) => {
    const tx = new RoutingTx(client, ctx);
    last = tx;
    const r = await fn(tx);
    await tx.flush();
    return r;
  });
  if (last) {
    if (last.wroteOutbox) ctx.kickRelay();
    if (last.numbered.length) ctx.wakeAgents(last.numbered);
    if (last.needsMatch) ctx.kickMatcher();
  }
  return result;
}
