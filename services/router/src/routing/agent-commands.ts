import { newId, type Actor } from '@omni/contracts';
import type { Conversation } from '../domain/conversation';
import { agentConnected, agentPresence, decide, type AgentErrorCode, type Input, type Outcome } from '../domain/lifecycle';
import { agentExists, lockAgentStates, lockForSession, lockTransferTarget, savePresence, saveSession } from '../store/agents';
import { loadAgentWork, loadConversation, openWorkOf } from '../store/conversations';
import { clockOf, runRouting, type RouterCtx, type RoutingTx } from '../store/routing-tx';
import { routingPolicy } from './policy';
import { setReasonedPresence, startWrapUp } from '../domain/wrap-up';
import { presenceContext } from '../store/presence-reasons';
import { recordPresence, wrapUpStarted } from './agent-state';

/**
 * Agent console commands, each one routing transaction: load (locked) → decide (domain/lifecycle)
 * → save (RoutingTx.flush). No SQL here and no lifecycle rule: a refusal is the lifecycle's.
 */

export type { AgentErrorCode } from '../domain/lifecycle';

export class AgentActionError extends Error {
  constructor(
    readonly code: AgentErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function decided(out: Outcome): Extract<Outcome, { ok: true }> {
  if (!out.ok) throw new AgentActionError(out.code === 'NOT_DUE' || out.code === 'ILLEGAL' ? 'INTERNAL' : out.code, out.message);
  return out;
}

/** Loads the conversation (locked; with its collaborators when the command may involve them), decides, records. */
async function command(
  ctx: RouterCtx,
  input: Input & { conversationId: string },
  opts: { participants?: boolean; prepare?: (tx: RoutingTx, conv: Conversation | null) => Promise<Input>; after?: (tx: RoutingTx, conv: Conversation) => void } = {},
) {
  return runRouting(ctx, async (tx) => {
    const conv = (await loadConversation(tx.client, input.conversationId, { participants: opts.participants === true })) ?? null;
    const full = opts.prepare ? await opts.prepare(tx, conv) : input;
    const out = decided(decide(conv, full, await routingPolicy(tx)));
    const saved = tx.apply(conv, out, input.at);
    opts.after?.(tx, saved);
    return saved;
  });
}

/** Accepts an offer made to this agent: the conversation is assigned to them. */
export async function acceptOffer(ctx: RouterCtx, agentId: string, conversationId: string): Promise<void> {
  await command(ctx, { kind: 'accept', at: clockOf(ctx), conversationId, agentId });
}

/** Declines an offer: back to its queue at its original place, never offered to this agent again. */
export async function rejectOffer(ctx: RouterCtx, agentId: string, conversationId: string, reason?: string): Promise<void> {
  await command(ctx, { kind: 'reject', at: clockOf(ctx), conversationId, agentId, ...(reason !== undefined ? { reason } : {}) });
}

/** Sends an agent reply to the customer (omni.outbound.v1 via the outbox); returns its id. */
export async function reply(ctx: RouterCtx, agentId: string, conversationId: string, text: string, subject?: string): Promise<string> {
  const outboundId = newId('out');
  await command(ctx, { kind: 'reply', at: clockOf(ctx), conversationId, agentId, text, outboundId, ...(subject ? { subject } : {}) }, { participants: true });
  return outboundId;
}

/** The assignee invites another agent to the conversation, read-only (observer) or as helper. */
export async function invite(ctx: RouterCtx, agentId: string, conversationId: string, targetId: string, role: 'observer' | 'helper'): Promise<void> {
  const input = { kind: 'invite' as const, at: clockOf(ctx), conversationId, agentId, targetId, role, targetExists: false };
  await command(ctx, input, { participants: true, prepare: async (tx) => ({ ...input, targetExists: await agentExists(tx.client, targetId) }) });
}

/** A collaborator leaves a conversation. */
export async function leave(ctx: RouterCtx, agentId: string, conversationId: string): Promise<void> {
  await command(ctx, { kind: 'leave', at: clockOf(ctx), conversationId, agentId }, { participants: true });
}

/** Escalates an assigned conversation one tier up (or to toTier); the handoff note is mandatory. Returns the new tier. */
export async function escalate(ctx: RouterCtx, agentId: string, conversationId: string, note: string | undefined, toTier?: number): Promise<number> {
  const c = await command(
    ctx,
    { kind: 'escalate', at: clockOf(ctx), conversationId, agentId, ...(note !== undefined ? { note } : {}), ...(toTier !== undefined ? { toTier } : {}) },
    { participants: true },
  );
  return c.tier;
}

/**
 * Transfers an assigned conversation to a named agent (offered to them; the target's row is locked
 * and its load read under the lock) or to a tier's queue.
 */
export async function transfer(ctx: RouterCtx, agentId: string, conversationId: string, to: { agentId?: string; tier?: number }, note?: string): Promise<void> {
  const input = {
    kind: 'transfer' as const,
    at: clockOf(ctx),
    conversationId,
    agentId,
    ...(to.agentId ? { toAgentId: to.agentId } : {}),
    ...(to.tier !== undefined ? { toTier: to.tier } : {}),
    ...(note !== undefined ? { note } : {}),
  };
  await command(ctx, input, {
    participants: true,
    // the target's row is locked only for a transfer that names someone else on an existing conversation
    prepare: async (tx, conv) => (conv && to.agentId && to.agentId !== agentId ? { ...input, target: (await lockTransferTarget(tx.client, to.agentId, conv.channel)) ?? null } : input),
  });
}

/** Resolves an assigned conversation; the agent's capacity is free for the next one at once. */
export async function resolve(ctx: RouterCtx, agentId: string, conversationId: string, reason?: string): Promise<void> {
  const at = clockOf(ctx);
  await command(ctx, { kind: 'resolve', at, conversationId, agentId, ...(reason !== undefined ? { reason } : {}) }, {
    participants: true,
    // after-contact work: the agent keeps this conversation's slot for WRAP_UP_MS (domain/wrap-up.ts)
    after: (tx, conv) => {
      const started = startWrapUp([], conv.id, conv.channel, at, { maxMsByChannel: { [conv.channel]: ctx.config.WRAP_UP_MS } });
      for (const w of started) tx.recordWrapUp(agentId, w);
      wrapUpStarted(tx, agentId, started, { type: 'agent', id: agentId });
    },
  });
}

/** Every conversation offered or assigned to the agent goes back to the front of its queue (agent-released). */
export async function releaseAgentWork(tx: RoutingTx, agentId: string, reason: string, at: Date): Promise<number> {
  const policy = await routingPolicy(tx);
  const work = await loadAgentWork(tx.client, agentId);
  for (const conv of work) {
    const out = decide(conv, { kind: 'agent-released', at, agentId, reason }, policy);
    if (out.ok) tx.apply(conv, out, at);
  }
  return work.length;
}

/**
 * Sets presence; going offline releases the agent's work at once, coming online pulls work. An away
 * reason must be one of the admins' list (BAD_FRAME otherwise); it is stored and published with
 * agent.presence (routing/agent-state.ts).
 */
export async function setPresence(
  ctx: RouterCtx,
  agentId: string,
  presence: 'online' | 'away' | 'offline',
  opts: { awayReason?: string; actor?: Actor; note?: string } = {},
): Promise<void> {
  await runRouting(ctx, async (tx) => {
    const at = clockOf(ctx);
    const before = (await lockAgentStates(tx.client, [agentId])).get(agentId);
    const read = before && (await presenceContext(tx.client, agentId));
    if (!before || !read) throw new AgentActionError('NOT_FOUND', `agent ${agentId} not found`);
    const r = setReasonedPresence({ presence: before.presence, awayReason: read.awayReason }, presence, opts.awayReason, read.reasons);
    if (!r.ok) throw new AgentActionError('BAD_FRAME', r.message);
    const p = agentPresence(before, presence, r.state.awayReason ? `away: ${r.state.awayReason}` : (opts.note ?? 'set by agent'));
    await savePresence(tx.client, p.agent, p.cameOnline, at);
    await recordPresence(tx, before, p.agent, { awayReason: r.state.awayReason, reason: opts.note ?? 'set by agent', actor: opts.actor ?? { type: 'agent', id: agentId }, at, read });
    if (p.releaseWork) await releaseAgentWork(tx, agentId, `agent ${agentId} went offline`, at);
    tx.applyFrames(p.frames, at);
    if (p.wantsMatch) tx.needsMatch = true;
  });
}

/**
 * A console attaches: the session is recorded with the presence it asked for, and the resume point
 * (the agent's last event number, read under its numbering lock) and its open work are returned.
 */
export async function connectConsole(
  ctx: RouterCtx,
  agentId: string,
  sessionId: string,
  presence: 'online' | 'away',
): Promise<{ fromSeq: number; conversations: { id: string; status: string; offer_deadline: Date | null }[] }> {
  return runRouting(ctx, async (tx) => {
    const at = clockOf(ctx);
    const locked = await lockForSession(tx.client, agentId);
    if (!locked) throw new AgentActionError('NOT_FOUND', `agent ${agentId} not found`);
    const c = agentConnected(locked.before, presence);
    await saveSession(tx.client, c.agent, sessionId, c.restartIdle, at);
    await recordPresence(tx, locked.before, c.agent, { reason: 'console connected', actor: { type: 'agent', id: agentId }, at });
    tx.applyFrames(c.frames, at);
    if (c.wantsMatch) tx.needsMatch = true;
    return { fromSeq: locked.fromSeq, conversations: await openWorkOf(tx.client, agentId) };
  });
}
