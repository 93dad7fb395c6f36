import { Actor, derivedId, fitTo, truncateCodePoints, type InboundMessage } from '@omni/contracts';
import type { Received } from '@omni/kafka';
import { classify } from '../domain/classify';
import { offerOnArrival, type ArrivalOffer } from '../store/assignment';
import { enqueue, enqueueOpened } from '../store/queue';
import type { RuleCache } from '../store/rule-store';
import { CONVERSATION_COLUMNS, runRouting, toConversation, type ConversationRow, type RouterCtx, type RoutingTx } from '../store/routing-tx';

export interface InboundDeps {
  ctx: RouterCtx;
  rules: RuleCache;
}

/**
 * Handles a fetched batch of one partition: up to `txMax` messages per routing transaction, in
 * order (a thread's messages always share a partition). Set-based statements per transaction, not
 * per message: the idempotency rows, the threads' conversations, classification inputs, inserts,
 * and the arrival offers. A redelivered batch changes nothing (processed_events); a batch that fails
 * is retried message by message by the consumer, so one bad message cannot hold the others back.
 */
export async function handleInboundBatch(deps: InboundDeps, msgs: Received<InboundMessage>[], txMax = 100): Promise<void> {
  for (let i = 0; i < msgs.length; i += txMax) {
    const chunk = msgs.slice(i, i + txMax).map((m) => m.value);
    await runRouting(deps.ctx, (tx) => routeMessages(tx, deps, chunk));
  }
}

const PREVIEW_CHARS = 2000;

/**
 * The customer as the actor of an event, fitted to the contract's actor id (an internal field must
 * never make the router write an event its own contract refuses: that row would stop the outbox).
 */
const customerActor = (m: InboundMessage): Actor => ({ type: 'customer', id: fitTo(Actor.properties.id, m.from.address) });

const messageFrame = (conversationId: string, m: InboundMessage) => ({
  type: 'message',
  conversationId,
  messageId: m.messageId,
  from: m.from,
  text: m.text,
  ...(m.subject ? { subject: m.subject } : {}),
  ...(m.attachments ? { attachments: m.attachments } : {}),
  sentAt: m.sentAt,
});

/** A conversation opened in this transaction, not inserted yet. */
interface Opened {
  conv: ConversationRow;
  ruleId: string | null;
  ruleVersion: number;
}

const isLive = (c: ConversationRow | undefined): boolean => !!c && c.status !== 'resolved' && c.status !== 'closed';

/**
 * Routes messages in one transaction, in order: each joins its thread's live conversation, reopens
 * a resolved one inside the reopen window (its previous agent first), or opens, classifies and
 * queues a new one; then the conversations queued here are offered together (offerOnArrival).
 */
async function routeMessages(tx: RoutingTx, deps: InboundDeps, batch: InboundMessage[]): Promise<void> {
  const { ctx } = deps;
  const fresh = await tx.query<{ event_id: string }>(
    'INSERT INTO router.processed_events (event_id) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING event_id',
    [batch.map((m) => m.messageId)],
  );
  const pending = new Set(fresh.rows.map((r) => r.event_id));
  // first occurrence of each id not seen before (a redelivery or a repeat in the batch is a no-op)
  const todo = batch.filter((m) => pending.delete(m.messageId));
  if (todo.length === 0) return;

  // Each thread's live conversation if there is one, else its latest; locked, in thread-key order.
  const threadKeys = [...new Set(todo.map((m) => m.threadKey))].sort();
  const found = await tx.query(
    `SELECT c.* FROM unnest($1::text[]) AS k(thread_key)
       CROSS JOIN LATERAL (SELECT ${CONVERSATION_COLUMNS} FROM router.conversations x WHERE x.thread_key = k.thread_key
                            ORDER BY (x.status IN ('resolved', 'closed')), x.opened_at DESC LIMIT 1 FOR UPDATE) c`,
    [threadKeys],
  );
  const current = new Map<string, ConversationRow>();
  for (const r of found.rows) {
    const c = toConversation(r);
    current.set(c.threadKey, c);
  }
  const liveIds = [...current.values()].filter(isLive).map((c) => c.id);
  const collaborators = new Map<string, string[]>();
  if (liveIds.length) {
    const { rows } = await tx.query<{ conversation_id: string; agent_id: string }>(
      'SELECT conversation_id, agent_id FROM router.conversation_participants WHERE conversation_id = ANY($1::text[])',
      [liveIds],
    );
    for (const r of rows) collaborators.set(r.conversation_id, [...(collaborators.get(r.conversation_id) ?? []), r.agent_id]);
  }
  // Classification inputs for every customer that may open a conversation here, in one read.
  const openers = [...new Set(todo.filter((m) => !isLive(current.get(m.threadKey))).map((m) => `${m.from.channel}:${m.from.address}`))];
  const inputs = new Map<string, { attributes: Record<string, unknown> | null; display_name: string | null; n: number }>();
  if (openers.length) {
    const { rows } = await tx.query<{ key: string; attributes: Record<string, unknown> | null; display_name: string | null; n: number }>(
      `SELECT k.key, p.attributes, p.display_name,
              (SELECT COALESCE(sum(escalations), 0)::int FROM router.conversations WHERE customer_key = k.key AND opened_at > now() - interval '30 days') AS n
         FROM unnest($1::text[]) AS k(key) LEFT JOIN router.customer_profiles p ON p.identity = k.key`,
      [openers],
    );
    for (const r of rows) inputs.set(r.key, r);
  }

  const messages: { message_id: string; conversation_id: string; received_at: string }[] = [];
  const touched = new Map<string, ConversationRow>(); // existing conversations with a new last message
  const opened: Opened[] = [];
  const toOffer: ArrivalOffer[] = [];
  const record = (conv: ConversationRow, m: InboundMessage, isNew: boolean) => {
    messages.push({ message_id: m.messageId, conversation_id: conv.id, received_at: m.receivedAt });
    conv.lastMessageId = m.messageId;
    conv.lastText = truncateCodePoints(m.text, PREVIEW_CHARS);
    if (!isNew) touched.set(conv.id, conv);
  };
  const openedIds = new Set<string>();
  // the active rules, read once per transaction (an edit applies from the next transaction on)
  let rules: ActiveRules | undefined;
  const activeRules = async () => (rules ??= await deps.rules.active(tx.client));
  for (const m of todo) {
    const latest = current.get(m.threadKey);
    if (latest && isLive(latest)) {
      record(latest, m, openedIds.has(latest.id));
      // History learns which conversation a follow-up joined only from this event (the inbound
      // envelope does not carry it). The customer is on the event already: no address as actor id.
      tx.conversationEvent(latest, 'conversation.message', { type: 'customer' }, undefined, { messageId: m.messageId });
      // The agent working on it sees the message live (and on replay after a reconnect)…
      if (latest.status === 'assigned' && latest.agentId) tx.agentEvent(latest.agentId, messageFrame(latest.id, m));
      // …and so do collaborators (observers and helpers).
      for (const a of collaborators.get(latest.id) ?? []) tx.agentEvent(a, messageFrame(latest.id, m));
      continue;
    }
    if (latest && latest.status === 'resolved') {
      const conv = latest;
      if (Date.now() - conv.resolvedAt!.getTime() <= ctx.config.REOPEN_WINDOW_MS) {
        record(conv, m, false);
        await tx.query('UPDATE router.conversations SET resolved_at = NULL WHERE id = $1::text', [conv.id]);
        conv.resolvedAt = null;
        tx.conversationEvent(conv, 'conversation.reopened', customerActor(m), 'customer wrote within the reopen window', {
          messageId: m.messageId,
          ...(conv.lastAgentId ? { data: { previousAgentId: conv.lastAgentId } } : {}),
        });
        await enqueue(tx, conv, { declined: [], preferredAgentId: conv.lastAgentId });
        tx.conversationEvent(conv, 'conversation.queued', { type: 'system' }, `tier ${conv.tier} queue (previous agent first)`);
        toOffer.push({ conv, preferredAgentId: conv.lastAgentId });
        continue;
      }
      // Past the window (the sweep had not closed it yet): close it now, then open a new one.
      await tx.query(`UPDATE router.conversations SET status = 'closed', updated_at = now() WHERE id = $1::text`, [conv.id]);
      conv.status = 'closed';
      tx.conversationEvent(conv, 'conversation.closed', { type: 'system' }, 'reopen window over');
    }
    const o = openConversation(tx, await activeRules(), m, inputs.get(`${m.from.channel}:${m.from.address}`));
    const conv = o.conv;
    current.set(m.threadKey, conv);
    openedIds.add(conv.id);
    opened.push(o);
    messages.push({ message_id: m.messageId, conversation_id: conv.id, received_at: m.receivedAt });
    toOffer.push({ conv, preferredAgentId: null });
  }

  if (opened.length) {
    await tx.query(
      `INSERT INTO router.conversations (id, thread_key, channel, customer, customer_key, status, tier, category, priority, language, opened_at,
                                         required_skills, customer_attributes, rule_id, rule_version, waiting_since, last_message_id, last_text)
       SELECT r.id, r.thread_key, r.channel, r.customer, r.customer_key, 'queued', r.tier, r.category, r.priority, r.language, r.opened_at,
              r.required_skills, r.customer_attributes, r.rule_id, r.rule_version, r.opened_at, r.last_message_id, r.last_text
         FROM jsonb_to_recordset($1::jsonb) AS r(id text, thread_key text, channel text, customer jsonb, customer_key text, tier int, category text,
              priority int, language text, opened_at timestamptz, required_skills text[], customer_attributes jsonb, rule_id text, rule_version int,
              last_message_id text, last_text text)`,
      [
        JSON.stringify(
          opened.map(({ conv: c, ...o }) => ({
            id: c.id,
            thread_key: c.threadKey,
            channel: c.channel,
            customer: c.customer,
            customer_key: c.customerKey,
            tier: c.tier,
            category: c.category,
            priority: c.priority,
            language: c.language,
            opened_at: c.openedAt.toISOString(),
            required_skills: c.requiredSkills,
            customer_attributes: c.customerAttributes,
            rule_id: o.ruleId,
            rule_version: o.ruleVersion,
            last_message_id: c.lastMessageId,
            last_text: c.lastText,
          })),
        ),
      ],
    );
    await enqueueOpened(tx, opened.map((o) => o.conv));
  }
  if (messages.length)
    await tx.query(
      `INSERT INTO router.conversation_messages (message_id, conversation_id, received_at)
       SELECT r.message_id, r.conversation_id, r.received_at FROM jsonb_to_recordset($1::jsonb) AS r(message_id text, conversation_id text, received_at timestamptz)`,
      [JSON.stringify(messages)],
    );
  if (touched.size)
    await tx.query(
      `UPDATE router.conversations c SET last_message_id = r.last_message_id, last_text = r.last_text, updated_at = now()
         FROM jsonb_to_recordset($1::jsonb) AS r(id text, last_message_id text, last_text text) WHERE c.id = r.id`,
      [JSON.stringify([...touched.values()].map((c) => ({ id: c.id, last_message_id: c.lastMessageId, last_text: c.lastText })))],
    );
  await offerOnArrival(tx, toOffer);
}

type ActiveRules = Awaited<ReturnType<RuleCache['active']>>;

/** Classifies a new conversation and records its opened/classified/queued events (inserted by the caller). */
function openConversation(
  tx: RoutingTx,
  rules: ActiveRules,
  m: InboundMessage,
  input: { attributes: Record<string, unknown> | null; display_name: string | null; n: number } | undefined,
): Opened {
  const customerKey = `${m.from.channel}:${m.from.address}`;
  const attributes = input?.attributes ?? {};
  const displayName = input?.display_name ?? null;
  const recentEscalations = input?.n ?? 0;
  const c = classify(rules.compiled, {
    channel: m.channel,
    text: m.text,
    ...(m.subject ? { subject: m.subject } : {}),
    ...(m.language ? { language: m.language } : {}),
    vip: attributes.vip === true || attributes.tier === 'vip',
    recentEscalations: recentEscalations + (typeof attributes.recentEscalations === 'number' ? attributes.recentEscalations : 0),
  });
  const conversationId = derivedId('conv', m.messageId);
  const now = new Date();
  const customer = displayName && !m.from.name ? { ...m.from, name: displayName } : m.from;
  const conv: ConversationRow = {
    id: conversationId,
    threadKey: m.threadKey,
    channel: m.channel,
    customer,
    customerKey,
    status: 'queued',
    tier: c.tier,
    category: c.category,
    priority: c.priority,
    language: c.language ?? null,
    agentId: null,
    requiredSkills: c.skills,
    customerAttributes: attributes,
    waitingSince: now,
    offerDeadline: null,
    declinedAgents: [],
    handoffNotes: [],
    escalations: 0,
    lastAgentId: null,
    lastMessageId: m.messageId,
    lastText: truncateCodePoints(m.text, PREVIEW_CHARS),
    openedAt: now,
    resolvedAt: null,
  };
  const base = { messageId: m.messageId };
  tx.conversationEvent(conv, 'conversation.opened', customerActor(m), 'first message on thread', base);
  tx.conversationEvent(conv, 'conversation.classified', { type: 'system' }, `rules v${rules.version}: ${c.matched.join(', ') || 'default'}`, {
    ...base,
    data: { ruleVersion: rules.version, matchedRules: c.matched, requiredSkills: c.skills },
  });
  tx.conversationEvent(conv, 'conversation.queued', { type: 'system' }, `tier ${c.tier} queue`);
  return { conv, ruleId: c.matched.at(-1) ?? null, ruleVersion: rules.version };
}
