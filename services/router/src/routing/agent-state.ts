import { fitTo, newId, AgentEvent, type Actor, type AgentEventType } from '@omni/contracts';
import { endWrapUpEarly, type WrapUp } from '../domain/wrap-up';
import type { AgentState } from '../domain/lifecycle';
import { deleteWrapUps, lockWrapUps, presenceContext, saveAwayReason, takeExpiredWrapUps, type PresenceContext } from '../store/presence-reasons';
import { clockOf, runRouting, type RouterCtx, type RoutingTx } from '../store/routing-tx';
import { AgentActionError } from './agent-commands';

/**
 * omni.agents.v1 from the router (docs/queue-intelligence.md): every presence change with its
 * reason, capacity and tiers, and each wrap-up's start and end, written to the outbox in the
 * transaction that makes the change (so an event exists exactly when the change committed). The
 * history service turns them into occupancy and utilisation.
 */

const SYSTEM: Actor = { type: 'system' };

function agentEvent(type: AgentEventType, agentId: string, at: Date, actor: Actor, extra: Partial<AgentEvent> = {}): AgentEvent {
  return {
    schema: 'omni.agents.v1',
    eventId: newId('aev'),
    type,
    agentId,
    occurredAt: at.toISOString(),
    actor,
    ...extra,
    ...(extra.reason !== undefined ? { reason: fitTo(AgentEvent.properties.reason, extra.reason) } : {}),
  };
}

/**
 * Records the agent's new presence and away reason and publishes agent.presence when either moved
 * (`awayReason` undefined: keep the current one if the agent stays away).
 * `reason` is the event's reason: the away reason, or why the system changed it (disconnected,
 * offers expired…). Reads the agent's reason, capacity and tiers in one statement.
 */
export async function recordPresence(
  tx: RoutingTx,
  before: AgentState,
  after: AgentState,
  opts: { awayReason?: string | null; reason?: string; actor?: Actor; at: Date; read?: PresenceContext },
): Promise<void> {
  const ctx = opts.read ?? (await presenceContext(tx.client, after.id));
  if (!ctx) return;
  // away → away without a new reason (a console reconnecting away) keeps the one given
  const awayReason = after.presence !== 'away' ? null : opts.awayReason !== undefined ? opts.awayReason : before.presence === 'away' ? ctx.awayReason : null;
  if (awayReason !== ctx.awayReason) await saveAwayReason(tx.client, after.id, awayReason);
  if (before.presence === after.presence && awayReason === ctx.awayReason) return;
  const reason = awayReason ?? opts.reason;
  tx.agentStateEvent(
    agentEvent('agent.presence', after.id, opts.at, opts.actor ?? SYSTEM, {
      presence: after.presence,
      ...(reason ? { reason } : {}),
      capacity: ctx.capacity,
      tiers: ctx.tiers,
      ...(awayReason ? { data: { awayReason } } : {}),
    }),
  );
}

/** agent.wrap-up-started for each wrap-up a resolve started. */
export function wrapUpStarted(tx: RoutingTx, agentId: string, list: WrapUp[], actor: Actor): void {
  for (const w of list) tx.agentStateEvent(agentEvent('agent.wrap-up-started', agentId, w.since, actor, { conversationId: w.conversationId, data: { channel: w.channel, until: w.until.toISOString() } }));
}

function wrapUpEnded(tx: RoutingTx, agentId: string, w: WrapUp, at: Date, actor: Actor, reason: string): void {
  tx.agentStateEvent(
    agentEvent('agent.wrap-up-ended', agentId, at, actor, { conversationId: w.conversationId, reason, data: { channel: w.channel, since: w.since.toISOString(), until: w.until.toISOString() } }),
  );
}

/**
 * The agent ends its after-contact work early (console `end-wrap-up`; one conversation's or all):
 * the slots are free at once (a match pass runs after commit). Returns the conversations ended.
 */
export async function endWrapUpByAgent(ctx: RouterCtx, agentId: string, conversationId?: string): Promise<string[]> {
  return runRouting(ctx, async (tx) => {
    const at = clockOf(ctx);
    const out = endWrapUpEarly(await lockWrapUps(tx.client, agentId), at, conversationId);
    if (!out.ok) throw new AgentActionError('NOT_FOUND', out.message);
    await deleteWrapUps(tx.client, agentId, out.ended.map((w) => w.conversationId));
    for (const w of out.ended) wrapUpEnded(tx, agentId, w, at, { type: 'agent', id: agentId }, 'ended by agent');
    tx.needsMatch = true;
    return out.ended.map((w) => w.conversationId);
  });
}

/** The sweep: wrap-ups whose maximum passed end (agent.wrap-up-ended at their `until`); their slots were free from then on. */
export async function endExpiredWrapUps(ctx: RouterCtx): Promise<number> {
  return runRouting(ctx, async (tx) => {
    const ended = await takeExpiredWrapUps(tx.client, clockOf(ctx));
    for (const w of ended) wrapUpEnded(tx, w.agentId, w, w.until, SYSTEM, 'maximum reached');
    if (ended.length) tx.needsMatch = true;
    return ended.length;
  });
}
