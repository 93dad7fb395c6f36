import type { PoolClient } from 'pg';
import { freeCapacity, isEligible, rankAgents, type AgentSnapshot, type WaitingConversation } from '../domain/match';
import { makeOffer } from './queue';
import { CONVERSATION_COLUMNS, runRouting, toConversation, type RouterCtx } from './routing-tx';

const LOAD_SQL = `COALESCE((SELECT jsonb_object_agg(channel, n) FROM (
    SELECT c.channel, count(*)::int AS n FROM router.conversations c
     WHERE c.agent_id = a.id AND c.status IN ('offered', 'assigned') GROUP BY c.channel) x), '{}'::jsonb)`;

interface AgentRow {
  id: string;
  tiers: number[];
  skills: string[];
  languages: string[];
  capacity: Record<string, number>;
  load: Record<string, number>;
  idle_since: Date;
}

const toSnapshot = (r: AgentRow): AgentSnapshot => ({
  id: r.id,
  tiers: r.tiers,
  skills: r.skills,
  languages: r.languages,
  capacity: r.capacity,
  load: r.load,
  idleSince: r.idle_since,
});

/** Agents that could take work now: online, with a console attached, and room on some channel. */
async function availableAgents(client: PoolClient): Promise<AgentSnapshot[]> {
  const { rows } = await client.query<AgentRow>(
    `SELECT a.id, a.tiers, a.skills, a.languages, a.capacity, a.idle_since, ${LOAD_SQL} AS load
       FROM router.agents a WHERE a.presence = 'online' AND a.session_id IS NOT NULL`,
  );
  return rows.map(toSnapshot).filter((a) => Object.keys(a.capacity).some((ch) => freeCapacity(a, ch) > 0));
}

/**
 * Locks an agent for this transaction (skipping one another replica is matching right now) and
 * re-reads the load under the lock: the snapshot used for ranking may be stale, the locked one is
 * not, because every path that adds load to an agent holds this same row lock.
 */
async function lockAgent(client: PoolClient, id: string): Promise<AgentSnapshot | undefined> {
  const { rows } = await client.query<AgentRow>(
    `SELECT a.id, a.tiers, a.skills, a.languages, a.capacity, a.idle_since FROM router.agents a
      WHERE a.id = $1::text AND a.presence = 'online' AND a.session_id IS NOT NULL FOR UPDATE SKIP LOCKED`,
    [id],
  );
  if (!rows[0]) return undefined;
  const load = await client.query<{ load: Record<string, number> }>(`SELECT ${LOAD_SQL} AS load FROM router.agents a WHERE a.id = $1::text`, [id]);
  return toSnapshot({ ...rows[0], load: load.rows[0]?.load ?? {} });
}

/**
 * One match transaction: locks the head of the queues (FOR UPDATE SKIP LOCKED, so replicas take
 * disjoint entries), ranks eligible agents for each entry, locks the best free one (SKIP LOCKED),
 * checks capacity again under the lock and makes the offer. Returns the number of offers made.
 */
export async function matchOnce(ctx: RouterCtx): Promise<number> {
  return runRouting(ctx, async (tx) => {
    let agents = await availableAgents(tx.client);
    if (agents.length === 0) return 0;
    const tiers = [...new Set(agents.flatMap((a) => a.tiers))];
    const { rows } = await tx.query(
      `SELECT q.priority AS q_priority, q.waiting_since AS q_waiting_since, q.tiers AS q_tiers, q.preferred_agent_id AS q_preferred,
              ${CONVERSATION_COLUMNS.split(',').map((c) => `c.${c.trim()}`).join(', ')}
         FROM router.queue_entries q JOIN router.conversations c ON c.id = q.conversation_id
        WHERE q.tiers && $1::int[]
        ORDER BY q.priority DESC, q.waiting_since, q.conversation_id
        LIMIT $2::int
        FOR UPDATE OF q, c SKIP LOCKED`,
      [tiers, ctx.config.MATCH_BATCH_SIZE],
    );
    let offers = 0;
    const lockedOrGone = new Set<string>();
    for (const r of rows) {
      if (agents.length === 0) break;
      const conv = toConversation(r);
      const waiting: WaitingConversation = {
        conversationId: conv.id,
        priority: r.q_priority as number,
        waitingSince: r.q_waiting_since as Date,
        tiers: r.q_tiers as number[],
        channel: conv.channel,
        language: conv.language,
        requiredSkills: conv.requiredSkills,
        declined: conv.declinedAgents,
        preferredAgentId: r.q_preferred as string | null,
      };
      for (const candidate of rankAgents(agents, waiting)) {
        const locked = await lockAgent(tx.client, candidate.id);
        if (!locked) {
          lockedOrGone.add(candidate.id);
          agents = agents.filter((a) => a.id !== candidate.id);
          continue;
        }
        agents = agents.map((a) => (a.id === locked.id ? locked : a));
        if (!isEligible(locked, waiting)) continue;
        await makeOffer(tx, conv, locked.id, waiting.preferredAgentId === locked.id ? 'previous agent of reopened conversation' : `tier ${conv.tier} queue match`);
        locked.load[conv.channel] = (locked.load[conv.channel] ?? 0) + 1;
        locked.idleSince = new Date();
        offers++;
        break;
      }
      agents = agents.filter((a) => Object.keys(a.capacity).some((ch) => freeCapacity(a, ch) > 0));
    }
    return offers;
  });
}

/**
 * Runs match passes on demand, one at a time per process, until a pass makes no offer. kick() is
 * cheap and coalescing: a kick during a pass schedules exactly one more pass.
 */
export class Matcher {
  private running = false;
  private again = false;
  private stopped = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: () => RouterCtx) {}

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.idle = (async () => {
      try {
        do {
          this.again = false;
          while (!this.stopped && (await matchOnce(this.ctx())) > 0);
        } while (this.again && !this.stopped);
      } catch (err) {
        this.ctx().logger.warn({ err }, 'match pass failed; the next sweep retries');
      } finally {
        this.running = false;
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle;
  }
}
