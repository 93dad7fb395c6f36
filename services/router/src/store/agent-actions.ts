import { newId, type OutboundMessage } from '@omni/contracts';
import { enqueue, makeOffer, offerContext } from './queue';
import { CONVERSATION_COLUMNS, loadConversation, runRouting, toConversation, type ConversationRow, type HandoffNote, type RouterCtx, type RoutingTx } from './routing-tx';
import { freeCapacity } from '../domain/match';

/** The closed set of error codes an agent console can receive (docs/agent-protocol.md). */
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

export class AgentActionError extends Error {
  constructor(
    readonly code: AgentErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const agentActor = (agentId: string) => ({ type: 'agent' as const, id: agentId });

async function ownConversation(tx: RoutingTx, agentId: string, conversationId: string, status: 'offered' | 'assigned'): Promise<ConversationRow> {
  const conv = await loadConversation(tx.client, conversationId);
  // Someone else's conversation looks exactly like a missing one: no probing other agents' work.
  if (!conv || conv.agentId !== agentId || (conv.status !== 'offered' && conv.status !== 'assigned'))
    throw new AgentActionError(status === 'offered' ? 'NOT_OFFERED' : 'NOT_ASSIGNED', `conversation ${conversationId} is not ${status} to you`);
  if (conv.status !== status) throw new AgentActionError(status === 'offered' ? 'NOT_OFFERED' : 'NOT_ASSIGNED', `conversation ${conversationId} is ${conv.status}, not ${status}`);
  return conv;
}

/** Accepts an offer made to this agent: the conversation is assigned to them. */
export async function acceptOffer(ctx: RouterCtx, agentId: string, conversationId: string): Promise<void> {
  await runRouting(ctx, async (tx) => {
    // One statement on the happy path: the update matches only an offer to this agent (re-checked
    // after any lock wait) and returns the row. The agent's timeout streak is reset only when there
    // is one: an UPDATE that matches no row takes no row lock.
    const { rows } = await tx.query(
      `WITH a AS (UPDATE router.agents SET consecutive_timeouts = 0 WHERE id = $2::text AND consecutive_timeouts <> 0)
       UPDATE router.conversations SET status = 'assigned', offer_deadline = NULL, updated_at = now()
        WHERE id = $1::text AND agent_id = $2::text AND status = 'offered'
       RETURNING ${CONVERSATION_COLUMNS}`,
      [conversationId, agentId],
    );
    if (!rows[0]) {
      // not (or no longer) offered to them: the read names why; the transaction rolls back
      await ownConversation(tx, agentId, conversationId, 'offered');
      throw new AgentActionError('NOT_OFFERED', `conversation ${conversationId} is not offered to you`);
    }
    const conv = toConversation(rows[0]);
    tx.conversationEvent(conv, 'conversation.accepted', agentActor(agentId), 'offer accepted');
    tx.conversationEvent(conv, 'conversation.assigned', agentActor(agentId), 'assigned after accept');
    tx.agentEvent(agentId, { type: 'assigned', conversationId: conv.id });
  });
}

/**
 * Puts an offered conversation back in its queue (original waiting time) and bars the agent from
 * it: used for reject and for offer expiry.
 */
export async function withdrawOffer(tx: RoutingTx, conv: ConversationRow, how: 'rejected' | 'expired', reason?: string): Promise<void> {
  const agentId = conv.agentId!;
  const declined = conv.declinedAgents.includes(agentId) ? conv.declinedAgents : [...conv.declinedAgents, agentId];
  if (how === 'rejected') tx.conversationEvent(conv, 'conversation.rejected', agentActor(agentId), reason ?? 'rejected by agent', { agentId });
  else tx.conversationEvent(conv, 'conversation.offer-expired', { type: 'system' }, `no answer within ${tx.ctx.config.OFFER_TIMEOUT_MS} ms`, { agentId });
  tx.agentEvent(agentId, { type: 'offer-closed', conversationId: conv.id, reason: how });
  await enqueue(tx, conv, { keepWaitingTime: true, declined });
  tx.conversationEvent(conv, 'conversation.requeued', { type: 'system' }, how === 'rejected' ? `agent ${agentId} rejected` : `offer to ${agentId} expired`);
}

export async function rejectOffer(ctx: RouterCtx, agentId: string, conversationId: string, reason?: string): Promise<void> {
  await runRouting(ctx, async (tx) => {
    const conv = await ownConversation(tx, agentId, conversationId, 'offered');
    await withdrawOffer(tx, conv, 'rejected', reason);
  });
}

/** Sends an agent reply to the customer (omni.outbound.v1 via the outbox). */
export async function reply(ctx: RouterCtx, agentId: string, conversationId: string, text: string, subject?: string): Promise<string> {
  return runRouting(ctx, async (tx) => {
    const conv = await replyableConversation(tx, agentId, conversationId);
    const outboundId = newId('out');
    const msg: OutboundMessage = {
      schema: 'omni.outbound.v1',
      outboundId,
      conversationId: conv.id,
      channel: conv.channel,
      threadKey: conv.threadKey,
      to: conv.customer,
      agentId,
      text,
      ...(subject ? { subject } : {}),
      ...(conv.lastMessageId ? { inReplyToMessageId: conv.lastMessageId } : {}),
      createdAt: new Date().toISOString(),
    };
    tx.outbound(msg);
    return outboundId;
  });
}

/** The assignee, or a helper invited by them, may reply; an observer may not. */
async function replyableConversation(tx: RoutingTx, agentId: string, conversationId: string): Promise<ConversationRow> {
  const helper = await tx.query(
    `SELECT 1 FROM router.conversation_participants p JOIN router.conversations c ON c.id = p.conversation_id
      WHERE p.conversation_id = $1::text AND p.agent_id = $2::text AND p.role = 'helper' AND c.status = 'assigned'`,
    [conversationId, agentId],
  );
  if (helper.rowCount) return (await loadConversation(tx.client, conversationId))!;
  return ownConversation(tx, agentId, conversationId, 'assigned');
}

/** Everyone collaborating on a conversation leaves it (it was resolved, moved or requeued). */
export async function dropParticipants(tx: RoutingTx, conversationId: string, reason: string): Promise<void> {
  const { rows } = await tx.query<{ agent_id: string }>('DELETE FROM router.conversation_participants WHERE conversation_id = $1::text RETURNING agent_id', [conversationId]);
  for (const r of rows) tx.agentEvent(r.agent_id, { type: 'left', conversationId, reason });
}

/** The assignee invites another agent to the conversation, read-only (observer) or as helper. */
export async function invite(ctx: RouterCtx, agentId: string, conversationId: string, targetId: string, role: 'observer' | 'helper'): Promise<void> {
  await runRouting(ctx, async (tx) => {
    const conv = await ownConversation(tx, agentId, conversationId, 'assigned');
    if (targetId === agentId) throw new AgentActionError('AGENT_UNAVAILABLE', 'you are already on this conversation');
    const target = await tx.query('SELECT 1 FROM router.agents WHERE id = $1::text', [targetId]);
    if (!target.rowCount) throw new AgentActionError('AGENT_UNAVAILABLE', `agent ${targetId} not found`);
    await tx.query(
      `INSERT INTO router.conversation_participants (conversation_id, agent_id, role, invited_by) VALUES ($1::text, $2::text, $3::text, $4::text)
       ON CONFLICT (conversation_id, agent_id) DO UPDATE SET role = EXCLUDED.role`,
      [conv.id, targetId, role, agentId],
    );
    tx.agentEvent(targetId, { type: 'joined', conversationId: conv.id, role, invitedBy: agentId, conversation: await offerContext(tx, conv) });
  });
}

/** A collaborator leaves a conversation. */
export async function leave(ctx: RouterCtx, agentId: string, conversationId: string): Promise<void> {
  await runRouting(ctx, async (tx) => {
    const { rowCount } = await tx.query('DELETE FROM router.conversation_participants WHERE conversation_id = $1::text AND agent_id = $2::text', [conversationId, agentId]);
    if (!rowCount) throw new AgentActionError('NOT_PARTICIPANT', `you are not collaborating on ${conversationId}`);
    tx.agentEvent(agentId, { type: 'left', conversationId, reason: 'left' });
  });
}

function requireNote(note: string | undefined, what: string): string {
  const n = note?.trim();
  if (!n) throw new AgentActionError('HANDOFF_NOTE_REQUIRED', `${what} needs a handoff note saying what was tried`);
  return n;
}

async function moveToTier(tx: RoutingTx, conv: ConversationRow, agentId: string, toTier: number, note: string | undefined, kind: 'escalated' | 'transferred'): Promise<void> {
  const fromTier = conv.tier;
  if (note) {
    const entry: HandoffNote = { fromTier, toTier, agentId, note, at: new Date().toISOString() };
    conv.handoffNotes = [...conv.handoffNotes, entry];
  }
  const escalations = conv.escalations + (toTier > fromTier ? 1 : 0);
  await tx.query(
    `UPDATE router.conversations SET handoff_notes = $2::jsonb, escalations = $3::int, last_agent_id = $4::text WHERE id = $1::text`,
    [conv.id, JSON.stringify(conv.handoffNotes), escalations, agentId],
  );
  conv.escalations = escalations;
  conv.tier = toTier;
  tx.conversationEvent(conv, kind === 'escalated' ? 'conversation.escalated' : 'conversation.transferred', agentActor(agentId), note ? `${kind} to tier ${toTier}` : `${kind} to tier ${toTier}`, {
    fromTier,
    agentId,
    ...(note ? { handoffNote: note } : {}),
  });
  tx.agentEvent(agentId, { type: 'unassigned', conversationId: conv.id, reason: kind });
  await dropParticipants(tx, conv.id, kind);
  // A new tier is a new audience: earlier refusals were by agents of the old tier.
  await enqueue(tx, conv, { declined: [] });
  tx.conversationEvent(conv, 'conversation.queued', { type: 'system' }, `tier ${toTier} queue`);
}

/** Escalates an assigned conversation one tier up (or to toTier); the handoff note is mandatory. */
export async function escalate(ctx: RouterCtx, agentId: string, conversationId: string, note: string | undefined, toTier?: number): Promise<number> {
  return runRouting(ctx, async (tx) => {
    const conv = await ownConversation(tx, agentId, conversationId, 'assigned');
    const n = requireNote(note, 'escalation');
    const target = toTier ?? conv.tier + 1;
    if (target <= conv.tier || target > 5) throw new AgentActionError('INVALID_TIER', `cannot escalate from tier ${conv.tier} to tier ${target}`);
    await moveToTier(tx, conv, agentId, target, n, 'escalated');
    return target;
  });
}

/**
 * Transfers an assigned conversation to a named agent (offered to them; they must be online with
 * room on the channel) or to a tier's queue. Moving to a higher tier is an escalation and needs a note.
 */
export async function transfer(ctx: RouterCtx, agentId: string, conversationId: string, to: { agentId?: string; tier?: number }, note?: string): Promise<void> {
  await runRouting(ctx, async (tx) => {
    const conv = await ownConversation(tx, agentId, conversationId, 'assigned');
    if (to.agentId) {
      if (to.agentId === agentId) throw new AgentActionError('AGENT_UNAVAILABLE', 'cannot transfer to yourself');
      const { rows } = await tx.query<{ capacity: Record<string, number>; n: number }>(
        `SELECT a.capacity, (SELECT count(*)::int FROM router.conversations c WHERE c.agent_id = a.id AND c.status IN ('offered', 'assigned') AND c.channel = $2::text) AS n
           FROM router.agents a WHERE a.id = $1::text AND a.presence = 'online' AND a.session_id IS NOT NULL FOR NO KEY UPDATE`,
        [to.agentId, conv.channel],
      );
      const target = rows[0];
      if (!target || freeCapacity({ capacity: target.capacity, load: { [conv.channel]: target.n } } as never, conv.channel) <= 0)
        throw new AgentActionError('AGENT_UNAVAILABLE', `agent ${to.agentId} is not online with room on ${conv.channel}`);
      const trimmed = note?.trim();
      if (trimmed) {
        conv.handoffNotes = [...conv.handoffNotes, { fromTier: conv.tier, toTier: conv.tier, agentId, note: trimmed, at: new Date().toISOString() }];
        await tx.query('UPDATE router.conversations SET handoff_notes = $2::jsonb WHERE id = $1::text', [conv.id, JSON.stringify(conv.handoffNotes)]);
      }
      await tx.query('UPDATE router.conversations SET last_agent_id = $2::text, declined_agents = $3::text[] WHERE id = $1::text', [conv.id, agentId, []]);
      conv.declinedAgents = [];
      tx.conversationEvent(conv, 'conversation.transferred', agentActor(agentId), `transferred to agent ${to.agentId}`, {
        agentId,
        toAgentId: to.agentId,
        ...(trimmed ? { handoffNote: trimmed } : {}),
      });
      tx.agentEvent(agentId, { type: 'unassigned', conversationId: conv.id, reason: 'transferred' });
      await dropParticipants(tx, conv.id, 'transferred');
      await makeOffer(tx, conv, to.agentId, `transfer from ${agentId}`, agentActor(agentId));
      tx.needsMatch = true; // the sender's capacity is free again
      return;
    }
    const tier = to.tier;
    if (tier === undefined || tier < 1 || tier > 5) throw new AgentActionError('INVALID_TIER', 'transfer needs toAgentId or a toTier between 1 and 5');
    const n = tier > conv.tier ? requireNote(note, 'transfer to a higher tier') : note?.trim() || undefined;
    await moveToTier(tx, conv, agentId, tier, n, tier > conv.tier ? 'escalated' : 'transferred');
  });
}

/** Resolves an assigned conversation; the agent's capacity is free for the next one at once. */
export async function resolve(ctx: RouterCtx, agentId: string, conversationId: string, reason?: string): Promise<void> {
  await runRouting(ctx, async (tx) => {
    const conv = await ownConversation(tx, agentId, conversationId, 'assigned');
    await tx.query(
      `UPDATE router.conversations SET status = 'resolved', resolved_at = now(), last_agent_id = $2::text, agent_id = NULL, updated_at = now() WHERE id = $1::text`,
      [conv.id, agentId],
    );
    await tx.query('UPDATE router.agents SET idle_since = now() WHERE id = $1::text', [agentId]);
    tx.conversationEvent(conv, 'conversation.resolved', agentActor(agentId), reason ?? 'resolved by agent', { agentId });
    tx.agentEvent(agentId, { type: 'unassigned', conversationId: conv.id, reason: 'resolved' });
    await dropParticipants(tx, conv.id, 'resolved');
    tx.needsMatch = true;
  });
}

/**
 * Returns every conversation offered or assigned to an agent to the front of its queue (original
 * waiting time): used when the agent goes offline or the disconnect grace period ends.
 */
export async function releaseAgentWork(tx: RoutingTx, agentId: string, reason: string): Promise<number> {
  const { rows } = await tx.query<{ id: string }>(
    `SELECT id FROM router.conversations WHERE agent_id = $1::text AND status IN ('offered', 'assigned') ORDER BY id FOR UPDATE`,
    [agentId],
  );
  for (const r of rows) {
    const conv = (await loadConversation(tx.client, r.id))!;
    tx.agentEvent(agentId, { type: conv.status === 'offered' ? 'offer-closed' : 'unassigned', conversationId: conv.id, reason: 'requeued' });
    await tx.query('UPDATE router.conversations SET last_agent_id = $2::text WHERE id = $1::text', [conv.id, agentId]);
    await dropParticipants(tx, conv.id, 'requeued');
    await enqueue(tx, conv, { keepWaitingTime: true });
    tx.conversationEvent(conv, 'conversation.requeued', { type: 'system' }, reason, { data: { previousAgentId: agentId } });
  }
  return rows.length;
}

/** Sets presence; going offline releases the agent's work at once, coming online pulls work. */
export async function setPresence(ctx: RouterCtx, agentId: string, presence: 'online' | 'away' | 'offline'): Promise<void> {
  await runRouting(ctx, async (tx) => {
    const { rows } = await tx.query<{ presence: string }>('SELECT presence FROM router.agents WHERE id = $1::text FOR NO KEY UPDATE', [agentId]);
    const before = rows[0]?.presence;
    if (!before) throw new AgentActionError('NOT_FOUND', `agent ${agentId} not found`);
    await tx.query(
      `UPDATE router.agents SET presence = $2::text, consecutive_timeouts = CASE WHEN $2::text = 'online' THEN 0 ELSE consecutive_timeouts END,
              idle_since = CASE WHEN presence <> 'online' AND $2::text = 'online' THEN now() ELSE idle_since END, updated_at = now()
        WHERE id = $1::text`,
      [agentId, presence],
    );
    if (presence === 'offline') await releaseAgentWork(tx, agentId, `agent ${agentId} went offline`);
    if (before !== presence) tx.agentEvent(agentId, { type: 'presence', presence, reason: 'set by agent' });
    if (presence === 'online') tx.needsMatch = true;
  });
}
