import { derivedId, type InboundMessage } from '@omni/contracts';
import type { Received } from '@omni/kafka';
import { classify } from '../domain/classify';
import { offerOnArrival } from '../store/assignment';
import { enqueue } from '../store/queue';
import type { RuleCache } from '../store/rule-store';
import { CONVERSATION_COLUMNS, runRouting, toConversation, type ConversationRow, type RouterCtx, type RoutingTx } from '../store/routing-tx';

export interface InboundDeps {
  ctx: RouterCtx;
  rules: RuleCache;
}

/**
 * Handles a fetched batch of one partition: messages of one thread in order, different threads in
 * parallel (up to `parallel` at a time). Each message is still its own idempotent transaction, so a
 * retried batch only redoes what had not committed.
 */
export async function handleInboundBatch(deps: InboundDeps, msgs: Received<InboundMessage>[], parallel: number): Promise<void> {
  const byThread = new Map<string, Received<InboundMessage>[]>();
  for (const m of msgs) {
    const list = byThread.get(m.value.threadKey) ?? [];
    list.push(m);
    byThread.set(m.value.threadKey, list);
  }
  const groups = [...byThread.values()];
  let next = 0;
  const worker = async () => {
    while (next < groups.length) {
      const group = groups[next++]!;
      for (const m of group) await handleInbound(deps, m);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, groups.length) }, worker));
}

const PREVIEW_CHARS = 2000;

async function recordMessage(tx: RoutingTx, conversationId: string, m: InboundMessage): Promise<void> {
  await tx.query('INSERT INTO router.conversation_messages (message_id, conversation_id, received_at) VALUES ($1::text, $2::text, $3::timestamptz)', [
    m.messageId,
    conversationId,
    m.receivedAt,
  ]);
  await tx.query('UPDATE router.conversations SET last_message_id = $2::text, last_text = $3::text, updated_at = now() WHERE id = $1::text', [
    conversationId,
    m.messageId,
    m.text.slice(0, PREVIEW_CHARS),
  ]);
}

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

/**
 * Handles one inbound message in one transaction (with the processed-id row, so a redelivery
 * changes nothing): joins the thread's live conversation, reopens a resolved one inside the reopen
 * window (its previous agent first), or opens, classifies and queues a new one.
 */
export async function handleInbound(deps: InboundDeps, msg: Received<InboundMessage>): Promise<void> {
  const m = msg.value;
  const { ctx } = deps;
  await runRouting(ctx, async (tx) => {
    const fresh = await tx.query('INSERT INTO router.processed_events (event_id) VALUES ($1::text) ON CONFLICT DO NOTHING', [m.messageId]);
    if (fresh.rowCount === 0) return;
    // The thread's live conversation if there is one, else its latest (one locked row either way).
    const found = await tx.query(
      `SELECT ${CONVERSATION_COLUMNS} FROM router.conversations WHERE thread_key = $1::text
        ORDER BY (status IN ('resolved', 'closed')), opened_at DESC LIMIT 1 FOR UPDATE`,
      [m.threadKey],
    );
    const latest = found.rows[0] ? toConversation(found.rows[0]) : undefined;
    if (latest && latest.status !== 'resolved' && latest.status !== 'closed') {
      const conv = latest;
      await recordMessage(tx, conv.id, m);
      // The agent working on it sees the message live (and on replay after a reconnect).
      if (conv.status === 'assigned' && conv.agentId) tx.agentEvent(conv.agentId, messageFrame(conv.id, m));
      // …and so do collaborators (observers and helpers).
      const others = await tx.query<{ agent_id: string }>('SELECT agent_id FROM router.conversation_participants WHERE conversation_id = $1::text', [conv.id]);
      for (const o of others.rows) tx.agentEvent(o.agent_id, messageFrame(conv.id, m));
      return;
    }
    const prev = latest ? { id: latest.id, resolved_at: latest.resolvedAt!, status: latest.status } : undefined;
    if (prev && prev.status === 'resolved') {
      const conv = latest!;
      if (Date.now() - prev.resolved_at.getTime() <= ctx.config.REOPEN_WINDOW_MS) {
        await recordMessage(tx, conv.id, m);
        conv.lastText = m.text.slice(0, PREVIEW_CHARS);
        conv.lastMessageId = m.messageId;
        await tx.query('UPDATE router.conversations SET resolved_at = NULL WHERE id = $1::text', [conv.id]);
        tx.conversationEvent(conv, 'conversation.reopened', { type: 'customer', id: m.from.address }, 'customer wrote within the reopen window', {
          messageId: m.messageId,
          ...(conv.lastAgentId ? { data: { previousAgentId: conv.lastAgentId } } : {}),
        });
        await enqueue(tx, conv, { declined: [], preferredAgentId: conv.lastAgentId });
        tx.conversationEvent(conv, 'conversation.queued', { type: 'system' }, `tier ${conv.tier} queue (previous agent first)`);
        await offerOnArrival(tx, conv, conv.lastAgentId);
        return;
      }
      // Past the window (the sweep had not closed it yet): close it now, then open a new one.
      await tx.query(`UPDATE router.conversations SET status = 'closed', updated_at = now() WHERE id = $1::text`, [conv.id]);
      tx.conversationEvent(conv, 'conversation.closed', { type: 'system' }, 'reopen window over');
    }
    await openConversation(tx, deps, m);
  });
}

async function openConversation(tx: RoutingTx, deps: InboundDeps, m: InboundMessage): Promise<void> {
  const customerKey = `${m.from.channel}:${m.from.address}`;
  const inputs = await tx.query<{ attributes: Record<string, unknown> | null; display_name: string | null; n: number }>(
    `SELECT p.attributes, p.display_name,
            (SELECT COALESCE(sum(escalations), 0)::int FROM router.conversations WHERE customer_key = $1::text AND opened_at > now() - interval '30 days') AS n
       FROM (SELECT 1) one LEFT JOIN router.customer_profiles p ON p.identity = $1::text`,
    [customerKey],
  );
  const attributes = inputs.rows[0]?.attributes ?? {};
  const displayName = inputs.rows[0]?.display_name ?? null;
  const recentEscalations = inputs.rows[0]?.n ?? 0;
  const rules = await deps.rules.active(tx.client);
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
  await tx.query(
    `WITH c AS (INSERT INTO router.conversations (id, thread_key, channel, customer, customer_key, status, tier, category, priority, language, opened_at,
                                       required_skills, customer_attributes, rule_id, rule_version, waiting_since, last_message_id, last_text)
     VALUES ($1::text, $2::text, $3::text, $4::jsonb, $5::text, 'queued', $6::int, $7::text, $8::int, $9::text, $10::timestamptz,
             $11::text[], $12::jsonb, $13::text, $14::int, $10::timestamptz, $15::text, $16::text) RETURNING id)
     INSERT INTO router.conversation_messages (message_id, conversation_id, received_at) SELECT $15::text, c.id, $17::timestamptz FROM c`,
    [conversationId, m.threadKey, m.channel, JSON.stringify(customer), customerKey, c.tier, c.category, c.priority, c.language ?? null, now, c.skills, JSON.stringify(attributes), c.matched.at(-1) ?? null, rules.version, m.messageId, m.text.slice(0, PREVIEW_CHARS), m.receivedAt],
  );
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
    lastText: m.text.slice(0, PREVIEW_CHARS),
    openedAt: now,
    resolvedAt: null,
  };
  const base = { messageId: m.messageId };
  tx.conversationEvent(conv, 'conversation.opened', { type: 'customer', id: m.from.address }, 'first message on thread', base);
  tx.conversationEvent(conv, 'conversation.classified', { type: 'system' }, `rules v${rules.version}: ${c.matched.join(', ') || 'default'}`, {
    ...base,
    data: { ruleVersion: rules.version, matchedRules: c.matched, requiredSkills: c.skills },
  });
  await enqueue(tx, conv, { fresh: true });
  tx.conversationEvent(conv, 'conversation.queued', { type: 'system' }, `tier ${c.tier} queue`);
  await offerOnArrival(tx, conv);
}
