import { Counter, type Registry } from 'prom-client';
import { releaseAgentWork, withdrawOffer } from './agent-actions';
import { CONVERSATION_COLUMNS, runRouting, toConversation, type RouterCtx } from './routing-tx';

const C_COLUMNS = CONVERSATION_COLUMNS.split(',').map((c) => `c.${c.trim()}`).join(', ');

/** Expired offers go back to the queue; an agent who lets too many lapse in a row is set away. */
export async function expireOffers(ctx: RouterCtx): Promise<number> {
  return runRouting(ctx, async (tx) => {
    const { rows } = await tx.query(
      `SELECT ${CONVERSATION_COLUMNS} FROM router.conversations
        WHERE status = 'offered' AND offer_deadline < now() ORDER BY offer_deadline LIMIT 100 FOR UPDATE SKIP LOCKED`,
    );
    for (const r of rows) {
      const conv = toConversation(r);
      const agentId = conv.agentId!;
      await withdrawOffer(tx, conv, 'expired');
      const { rows: a } = await tx.query<{ consecutive_timeouts: number; presence: string }>(
        `UPDATE router.agents SET consecutive_timeouts = consecutive_timeouts + 1 WHERE id = $1::text RETURNING consecutive_timeouts, presence`,
        [agentId],
      );
      if (a[0] && a[0].presence === 'online' && a[0].consecutive_timeouts >= ctx.config.MAX_CONSECUTIVE_OFFER_TIMEOUTS) {
        await tx.query(`UPDATE router.agents SET presence = 'away', updated_at = now() WHERE id = $1::text`, [agentId]);
        tx.agentEvent(agentId, { type: 'presence', presence: 'away', reason: `${a[0].consecutive_timeouts} offers expired in a row` });
      }
    }
    return rows.length;
  });
}

/**
 * Agents whose console has been gone longer than the grace period (closed socket, or a replica that
 * died holding it and stopped refreshing seen_at) go offline; their work returns to the queues.
 */
export async function releaseDisconnected(ctx: RouterCtx): Promise<number> {
  return runRouting(ctx, async (tx) => {
    const { rows } = await tx.query<{ id: string }>(
      `SELECT id FROM router.agents
        WHERE presence <> 'offline'
          AND ((session_id IS NULL AND disconnect_deadline < now())
            OR (session_id IS NOT NULL AND seen_at < now() - make_interval(secs => $1::double precision / 1000)))
        ORDER BY id LIMIT 20 FOR NO KEY UPDATE SKIP LOCKED`,
      [ctx.config.DISCONNECT_GRACE_MS],
    );
    for (const { id } of rows) {
      await tx.query(
        `UPDATE router.agents SET presence = 'offline', session_id = NULL, disconnect_deadline = NULL, updated_at = now() WHERE id = $1::text`,
        [id],
      );
      await releaseAgentWork(tx, id, `agent ${id} disconnected for over ${ctx.config.DISCONNECT_GRACE_MS} ms`);
      tx.agentEvent(id, { type: 'presence', presence: 'offline', reason: 'disconnected' });
    }
    return rows.length;
  });
}

/**
 * Queue SLA breaches: "widen" lets the next tier's agents take the conversation too (its tier is
 * unchanged); "escalate" moves it one tier up. Either way an overflowed event says so, and the
 * next deadline is the next tier's SLA.
 */
export async function overflowQueues(ctx: RouterCtx): Promise<number> {
  return runRouting(ctx, async (tx) => {
    const { rows } = await tx.query(
      `SELECT q.tiers AS q_tiers, q.overflows AS q_overflows, ${C_COLUMNS}
         FROM router.queue_entries q JOIN router.conversations c ON c.id = q.conversation_id
        WHERE q.sla_deadline < now() ORDER BY q.sla_deadline LIMIT 100 FOR UPDATE OF q, c SKIP LOCKED`,
    );
    const sla = [0, ctx.config.QUEUE_SLA_MS_TIER_1, ctx.config.QUEUE_SLA_MS_TIER_2, ctx.config.QUEUE_SLA_MS_TIER_3, ctx.config.QUEUE_SLA_MS_TIER_4, ctx.config.QUEUE_SLA_MS_TIER_5];
    for (const r of rows) {
      const conv = toConversation(r);
      const tiers = r.q_tiers as number[];
      const top = Math.max(...tiers);
      if (top >= 5) {
        // Nowhere higher to go: stop the deadline so the sweep does not fire every interval.
        await tx.query('UPDATE router.queue_entries SET sla_deadline = NULL WHERE conversation_id = $1::text', [conv.id]);
        continue;
      }
      const next = top + 1;
      const deadline = new Date(Date.now() + sla[next]!);
      if (ctx.config.OVERFLOW_MODE === 'escalate') {
        const fromTier = conv.tier;
        conv.tier = next;
        await tx.query('UPDATE router.conversations SET tier = $2::int, declined_agents = $3::text[], updated_at = now() WHERE id = $1::text', [conv.id, next, []]);
        await tx.query(
          'UPDATE router.queue_entries SET tier = $2::int, tiers = ARRAY[$2::int], sla_deadline = $3::timestamptz, overflows = overflows + 1 WHERE conversation_id = $1::text',
          [conv.id, next, deadline],
        );
        tx.conversationEvent(conv, 'conversation.overflowed', { type: 'system' }, `tier ${fromTier} queue SLA exceeded; escalated to tier ${next}`, {
          fromTier,
          data: { mode: 'escalate', tiers: [next] },
        });
      } else {
        const widened = [...tiers, next];
        await tx.query('UPDATE router.queue_entries SET tiers = $2::int[], sla_deadline = $3::timestamptz, overflows = overflows + 1 WHERE conversation_id = $1::text', [
          conv.id,
          widened,
          deadline,
        ]);
        tx.conversationEvent(conv, 'conversation.overflowed', { type: 'system' }, `tier ${top} queue SLA exceeded; tier ${next} agents may take it`, {
          data: { mode: 'widen', tiers: widened },
        });
      }
      tx.needsMatch = true;
    }
    return rows.length;
  });
}

/** Resolved conversations past the reopen window are closed (a later message opens a new one). */
export async function closeResolved(ctx: RouterCtx): Promise<number> {
  return runRouting(ctx, async (tx) => {
    const { rows } = await tx.query(
      `SELECT ${CONVERSATION_COLUMNS} FROM router.conversations
        WHERE status = 'resolved' AND resolved_at < now() - make_interval(secs => $1::double precision / 1000)
        ORDER BY resolved_at LIMIT 100 FOR UPDATE SKIP LOCKED`,
      [ctx.config.REOPEN_WINDOW_MS],
    );
    for (const r of rows) {
      const conv = toConversation(r);
      await tx.query(`UPDATE router.conversations SET status = 'closed', updated_at = now() WHERE id = $1::text`, [conv.id]);
      tx.conversationEvent(conv, 'conversation.closed', { type: 'system' }, 'reopen window over');
    }
    return rows.length;
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
  private counters?: { expired: Counter; breaches: Counter };

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
    };
  }

  async sweep(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        this.counters?.expired.inc(await expireOffers(this.ctx));
        await releaseDisconnected(this.ctx);
        this.counters?.breaches.inc(await overflowQueues(this.ctx));
        await closeResolved(this.ctx);
        this.ctx.kickMatcher();
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
