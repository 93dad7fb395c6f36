import { Counter, type Registry } from 'prom-client';
import { agentPresence, agentTimedOut, decide, type AgentState, type Input } from '../domain/lifecycle';
import { endExpiredWrapUps, recordPresence } from './agent-state';
import { announceWaits } from './wait-updates';
import { wrapUpsDue } from '../store/presence-reasons';
import { lockAgentStates, lockDisconnected, savePresence } from '../store/agents';
import { dueWork } from '../store/due';
import { loadBreachedQueue, loadExpiredOffers, loadResolvedPastWindow } from '../store/conversations';
import { loadExpiredSelfService, selfServiceDue } from '../store/conversation-knowledge';
import type { Conversation } from '../domain/conversation';
import { clockOf, runRouting, type RouterCtx, type RoutingTx } from '../store/routing-tx';
import { releaseAgentWork } from './agent-commands';
import { routingPolicy } from './policy';
import { answerOutsideHours } from './matching';

/** Applies a timer input to each loaded conversation (one whose timer another replica handled first is left alone). */
async function fire(
  tx: RoutingTx,
  convs: Conversation[],
  input: Input,
  onDecided?: (conv: Conversation, agents: { agentId: string; offerLapsed?: true }[], next: Conversation) => void,
): Promise<number> {
  const policy = await routingPolicy(tx);
  let n = 0;
  for (const conv of convs) {
    const out = decide(conv, input, policy);
    if (!out.ok) continue;
    const next = tx.apply(conv, out, input.at);
    onDecided?.(conv, out.agents, next);
    n++;
  }
  return n;
}

/** Expired offers go back to the queue; an agent who lets too many lapse in a row is set away. */
export async function expireOffers(ctx: RouterCtx): Promise<number> {
  return runRouting(ctx, async (tx) => {
    const at = clockOf(ctx);
    const convs = await loadExpiredOffers(tx.client, at);
    if (convs.length === 0) return 0;
    const policy = await routingPolicy(tx);
    const agents = await lockAgentStates(tx.client, [...new Set(convs.map((c) => c.agentId!))]);
    const away: [AgentState, AgentState][] = [];
    const n = await fire(tx, convs, { kind: 'offer-expired', at }, (_conv, effects) => {
      for (const e of effects) {
        const a = e.offerLapsed && agents.get(e.agentId);
        if (!a) continue;
        const r = agentTimedOut(a, policy);
        agents.set(a.id, r.agent);
        tx.agentState(r.agent);
        tx.applyFrames(r.frames, at);
        if (r.agent.presence !== a.presence) away.push([a, r.agent]);
      }
    });
    for (const [before, after] of away) await recordPresence(tx, before, after, { reason: `${after.consecutiveTimeouts} offers expired in a row`, at });
    return n;
  });
}

/**
 * Agents whose console has been gone longer than the grace period (closed socket, or a replica that
 * died holding it and stopped refreshing seen_at) go offline; their work returns to the queues.
 */
export async function releaseDisconnected(ctx: RouterCtx): Promise<number> {
  return runRouting(ctx, async (tx) => {
    const at = clockOf(ctx);
    const gone = await lockDisconnected(tx.client, at, ctx.config.DISCONNECT_GRACE_MS);
    for (const a of gone) {
      const p = agentPresence(a, 'offline', 'disconnected');
      await savePresence(tx.client, p.agent, false, at, { goneOffline: true });
      await recordPresence(tx, a, p.agent, { reason: 'disconnected', at });
      await releaseAgentWork(tx, a.id, `agent ${a.id} disconnected for over ${ctx.config.DISCONNECT_GRACE_MS} ms`, at);
      tx.applyFrames(p.frames, at);
    }
    return gone.length;
  });
}

/** Queue SLA breaches: widened to the next tier or escalated one tier up (OVERFLOW_MODE), per the lifecycle. */
export async function overflowQueues(ctx: RouterCtx): Promise<number> {
  return runRouting(ctx, async (tx) => {
    const at = clockOf(ctx);
    const convs = await loadBreachedQueue(tx.client, at);
    await fire(tx, convs, { kind: 'sla-breached', at });
    return convs.length;
  });
}

/** Resolved conversations past the reopen window are closed (a later message opens a new one). */
export async function closeResolved(ctx: RouterCtx): Promise<number> {
  return runRouting(ctx, async (tx) => {
    const at = clockOf(ctx);
    return await fire(tx, await loadResolvedPastWindow(tx.client, at, ctx.config.REOPEN_WINDOW_MS), { kind: 'reopen-window-over', at });
  });
}

/**
 * Self-service answers nobody answered in time: routed as usual, waiting since the first message
 * (docs/knowledge.md). Queued while the tier is closed, the customer is told when the team is back,
 * as on arrival (self-service kept it from the queue then, so this is the first and only notice).
 */
export async function expireSelfService(ctx: RouterCtx): Promise<number> {
  return runRouting(ctx, async (tx) => {
    const at = clockOf(ctx);
    const queued: Conversation[] = [];
    const n = await fire(tx, await loadExpiredSelfService(tx.client, at), { kind: 'self-service-expired', at }, (_c, _a, next) => {
      if (next.status === 'queued') queued.push(next);
    });
    await answerOutsideHours(tx, queued, at);
    return n;
  });
}

/**
 * Every replica runs the same sweep on an interval; row locks with SKIP LOCKED split the work, so
 * deadlines fire even when the replica that set them is gone.
 */
export class Sweeper {
  private timer?: NodeJS.Timeout;
  private heartbeatTimer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private beating = false;
  private waitsAt = 0;
  private counters?: { expired: Counter; breaches: Counter; waitPasses: Counter; waitUpdates: Counter };

  constructor(
    private readonly ctx: RouterCtx,
    /** refreshes the liveness of the consoles this replica holds */
    private readonly heartbeat: () => Promise<void>,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.ctx.config.SWEEP_INTERVAL_MS);
    this.timer.unref();
    // On its own timer, well inside the grace period: a slow sweep must not make live consoles look dead.
    const every = Math.max(10, Math.min(this.ctx.config.SWEEP_INTERVAL_MS, Math.floor(this.ctx.config.DISCONNECT_GRACE_MS / 4)));
    this.heartbeatTimer = setInterval(() => {
      if (this.beating) return;
      this.beating = true;
      this.heartbeat()
        .catch((err) => this.ctx.logger.warn({ err }, 'console heartbeat failed'))
        .finally(() => (this.beating = false));
    }, every);
    this.heartbeatTimer.unref();
  }

  /** Counts what the sweeps find on the service's /metrics (offers expired, queue SLA breaches). */
  observe(registry: Registry): void {
    this.counters = {
      expired: new Counter({ name: 'router_offers_expired_total', help: 'Offers withdrawn because the agent did not answer in time', registers: [registry] }),
      breaches: new Counter({ name: 'router_queue_sla_breaches_total', help: 'Queued conversations whose tier SLA passed (widened or escalated)', registers: [registry] }),
      waitPasses: new Counter({ name: 'router_wait_update_passes_total', help: 'Passes re-estimating the waits of queued conversations', registers: [registry] }),
      waitUpdates: new Counter({ name: 'router_wait_updates_total', help: 'conversation.wait-updated announcements (material changes of position or estimate)', registers: [registry] }),
    };
  }

  async sweep(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        const c = this.ctx.config;
        const due = await dueWork(this.ctx.pool, clockOf(this.ctx), c.DISCONNECT_GRACE_MS, c.REOPEN_WINDOW_MS);
        if (due.offers) this.counters?.expired.inc(await expireOffers(this.ctx));
        if (due.disconnected) await releaseDisconnected(this.ctx);
        if (due.sla) this.counters?.breaches.inc(await overflowQueues(this.ctx));
        if (due.closes) await closeResolved(this.ctx);
        // waits re-estimated and material changes announced, at most every WAIT_UPDATE_INTERVAL_MS per replica
        if (due.waiting && c.WAIT_UPDATE_INTERVAL_MS > 0 && Date.now() - this.waitsAt >= c.WAIT_UPDATE_INTERVAL_MS) {
          this.waitsAt = Date.now();
          this.counters?.waitUpdates.inc(await announceWaits(this.ctx));
          this.counters?.waitPasses.inc();
        }
        // wrap-ups at their maximum end (agent.wrap-up-ended); only when wrap-up is configured
        if (c.WRAP_UP_MS > 0 && (await wrapUpsDue(this.ctx.pool, clockOf(this.ctx)))) await endExpiredWrapUps(this.ctx);
        // self-service runs only with knowledge configured (KNOWLEDGE_URL)
        if (c.KNOWLEDGE_URL && (await selfServiceDue(this.ctx.pool, clockOf(this.ctx)))) await expireSelfService(this.ctx);
        // a queue nobody waits in needs no match pass (anything that queues work kicks the matcher itself)
        if (due.waiting || due.offers || due.disconnected || due.sla) this.ctx.kickMatcher();
      } catch (err) {
        this.ctx.logger.warn({ err }, 'sweep failed; retrying next interval');
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await this.running;
  }
}
