import { mintCsatToken } from '@omni/auth';
import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { ConversationEvent, fitTo, newId, type Actor, type ConversationEventType, type OutboundMessage, type Party, type TopicNames } from '@omni/contracts';
import { withTransaction } from '@omni/db';
import { enqueueOutbox, outboxInsert, type OutboxRecord } from '@omni/kafka';
import type { Logger } from '@omni/logging';
import type { RouterConfig } from '../config';

/** A console frame as stored in router.agent_events (the frame carries its seq too). */
export interface NumberedAgentEvent {
  agentId: string;
  seq: number;
  frame: Record<string, unknown>;
}

/** Prefix of the advisory lock that serialises the numbering of one agent's console events. */
export const AGENT_SEQ_LOCK = 'router.agent_seq:';

/** The last sequence number given to each of these agents' console events (0 = none yet). */
export async function lastAgentSeqs(client: Pick<Pool, 'query'>, agentIds: string[]): Promise<Map<string, number>> {
  const { rows } = await client.query<{ agent_id: string; seq: string }>(
    'SELECT i.id AS agent_id, (SELECT COALESCE(max(e.seq), 0) FROM router.agent_events e WHERE e.agent_id = i.id) AS seq FROM unnest($1::text[]) AS i(id)',
    [agentIds],
  );
  return new Map(rows.map((r) => [r.agent_id, Number(r.seq)]));
}

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
}

export interface HandoffNote {
  fromTier: number;
  toTier: number;
  agentId: string;
  note: string;
  at: string;
}

const prepared = new Map<string, string>();

/**
 * A stable name per SQL text. Unnamed statements are parsed and planned by Postgres on every
 * execution, which was most of the database's CPU per routed message; node-postgres prepares a
 * named one once per connection and then only binds it. The routing statements are a fixed set
 * (their text never carries values), so the names stay few.
 */
export function preparedName(sql: string): string {
  let name = prepared.get(sql);
  if (!name) {
    name = `r_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
    prepared.set(sql, name);
  }
  return name;
}

/** A router.conversations row, camel-cased. */
export interface ConversationRow {
  id: string;
  threadKey: string;
  channel: ConversationEvent['channel'];
  customer: Party;
  customerKey: string | null;
  status: 'queued' | 'offered' | 'assigned' | 'resolved' | 'closed';
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
}

export const CONVERSATION_COLUMNS = `id, thread_key, channel, customer, customer_key, status, tier, category, priority, language, agent_id,
  required_skills, customer_attributes, waiting_since, offer_deadline, declined_agents, handoff_notes, escalations,
  last_agent_id, last_message_id, last_text, opened_at, resolved_at`;

/** Maps a row selected with CONVERSATION_COLUMNS. */
export function toConversation(r: Record<string, unknown>): ConversationRow {
  return {
    id: r.id as string,
    threadKey: r.thread_key as string,
    channel: r.channel as ConversationRow['channel'],
    customer: r.customer as Party,
    customerKey: r.customer_key as string | null,
    status: r.status as ConversationRow['status'],
    tier: r.tier as number,
    category: r.category as string,
    priority: r.priority as number,
    language: r.language as string | null,
    agentId: r.agent_id as string | null,
    requiredSkills: r.required_skills as string[],
    customerAttributes: r.customer_attributes as Record<string, unknown>,
    waitingSince: r.waiting_since as Date | null,
    offerDeadline: r.offer_deadline as Date | null,
    declinedAgents: r.declined_agents as string[],
    handoffNotes: r.handoff_notes as HandoffNote[],
    escalations: r.escalations as number,
    lastAgentId: r.last_agent_id as string | null,
    lastMessageId: r.last_message_id as string | null,
    lastText: r.last_text as string | null,
    openedAt: r.opened_at as Date,
    resolvedAt: r.resolved_at as Date | null,
  };
}

/** Loads one conversation, locking it (FOR UPDATE) unless told otherwise. */
export async function loadConversation(client: PoolClient, id: string, lock = true): Promise<ConversationRow | undefined> {
  const { rows } = await client.query(`SELECT ${CONVERSATION_COLUMNS} FROM router.conversations WHERE id = $1::text ${lock ? 'FOR UPDATE' : ''}`, [id]);
  return rows[0] ? toConversation(rows[0]) : undefined;
}

export type EventExtra = Partial<Pick<ConversationEvent, 'fromTier' | 'toAgentId' | 'handoffNote' | 'messageId' | 'data' | 'agentId'>>;

/**
 * One routing transaction: the state changes, plus the effects that must commit with them (events
 * for omni.conversations.v1 and omni.outbound.v1 through the outbox, numbered events for agent
 * consoles). After commit the relay, the sockets and the matcher are nudged.
 */
export class RoutingTx {
  private readonly outbox: OutboxRecord[] = [];
  private readonly agentFrames = new Map<string, Record<string, unknown>[]>();
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

  /** Records a routing event for omni.conversations.v1 (keyed by conversation). */
  conversationEvent(conv: ConversationRow, type: ConversationEventType, actor: Actor, reason?: string, extra: EventExtra = {}): ConversationEvent {
    const event: ConversationEvent = {
      schema: 'omni.conversations.v1',
      eventId: newId('evt'),
      type,
      conversationId: conv.id,
      occurredAt: new Date().toISOString(),
      actor,
      ...(reason ? { reason: fitTo(ConversationEvent.properties.reason, reason) } : {}),
      channel: conv.channel,
      threadKey: conv.threadKey,
      customer: conv.customer,
      tier: conv.tier,
      category: conv.category,
      priority: conv.priority,
      ...(conv.language ? { language: conv.language } : {}),
      ...(conv.agentId ? { agentId: conv.agentId } : {}),
      ...extra,
    };
    // The customer's CSAT credential, derived from this event (no clock read, no randomness of its own).
    if (type === 'conversation.resolved' && this.ctx.csatKey)
      event.csatToken = mintCsatToken(this.ctx.csatKey, conv.id, event.eventId, new Date(event.occurredAt), this.ctx.config.CSAT_TOKEN_TTL_S);
    this.outbox.push({ topic: this.ctx.topics.conversations, key: conv.id, schemaId: 'omni.conversations.v1', value: event });
    return event;
  }

  /** Records an agent reply for omni.outbound.v1. */
  outbound(msg: OutboundMessage): void {
    this.outbox.push({ topic: this.ctx.topics.outbound, key: msg.conversationId, schemaId: 'omni.outbound.v1', value: msg });
  }

  /** Queues a frame for an agent console; it gets the agent's next sequence number at commit. */
  agentEvent(agentId: string, frame: Record<string, unknown>): void {
    const list = this.agentFrames.get(agentId) ?? [];
    list.push({ ...frame, at: new Date().toISOString() });
    this.agentFrames.set(agentId, list);
  }

  /** Writes the collected effects inside the transaction (called once, just before COMMIT). */
  async flush(): Promise<void> {
    const agentIds = [...this.agentFrames.keys()].sort();
    if (agentIds.length === 0) {
      await enqueueOutbox(this.client, 'router', this.outbox);
      return;
    }
    // Each agent's numbering is serialised by a transaction-level advisory lock taken here, at the
    // end (in id order, so two transactions numbering the same agents cannot deadlock), not by the
    // agent's row: an offer holds that row from its capacity check to commit, and numbering under it
    // made every accept wait for whole offer transactions. Other replicas are told after commit
    // (AgentHub.announce), not by a NOTIFY in here: Postgres serialises the commits of notifying
    // transactions behind one lock held across the WAL flush.
    await this.client.query('SELECT pg_advisory_xact_lock(hashtext($2::text || id)) FROM unnest($1::text[]) WITH ORDINALITY AS t(id, o) ORDER BY o', [
      agentIds,
      AGENT_SEQ_LOCK,
    ]);
    // A new statement, so it sees every event committed before the locks were granted; the outbox
    // rows go in the same round trip.
    const outbox = outboxInsert('router', this.outbox, 2);
    const { rows } = await this.client.query<{ agent_id: string; seq: string; frame: Record<string, unknown> }>(
      `WITH o AS (${outbox.sql})
       INSERT INTO router.agent_events (agent_id, seq, frame)
       SELECT i.agent_id, b.base + t.ord, t.f || jsonb_build_object('seq', b.base + t.ord)
         FROM jsonb_to_recordset($1::jsonb) AS i(agent_id text, frames jsonb)
         JOIN router.agents a ON a.id = i.agent_id
         CROSS JOIN LATERAL (SELECT COALESCE(max(e.seq), 0) AS base FROM router.agent_events e WHERE e.agent_id = i.agent_id) b
         CROSS JOIN LATERAL jsonb_array_elements(i.frames) WITH ORDINALITY AS t(f, ord)
       RETURNING agent_id, seq, frame`,
      [JSON.stringify(agentIds.map((id) => ({ agent_id: id, frames: this.agentFrames.get(id) }))), ...outbox.params],
    );
    this.numbered = rows.map((r) => ({ agentId: r.agent_id, seq: Number(r.seq), frame: r.frame }));
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
