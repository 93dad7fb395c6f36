import type { Pool } from 'pg';
import { freeCapacity, isEligible, rankAgents, type AgentSnapshot, type WaitingConversation } from '../domain/match';
import { makeOffer } from './queue';
import { CONVERSATION_COLUMNS, runRouting, toConversation, type ConversationRow, type RouterCtx, type RoutingTx } from './routing-tx';

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
async function availableAgents(client: Pick<Pool, 'query'>): Promise<AgentSnapshot[]> {
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
async function lockAgent(client: Pick<Pool, 'query'>, id: string): Promise<AgentSnapshot | undefined> {
  const { rows } = await client.query<AgentRow>(
    `SELECT a.id, a.tiers, a.skills, a.languages, a.capacity, a.idle_since FROM router.agents a
      WHERE a.id = $1::text AND a.presence = 'online' AND a.session_id IS NOT NULL FOR UPDATE SKIP LOCKED`,
    [id],
  );
  if (!rows[0]) return undefined;
  const load = await client.query<{ load: Record<string, number> }>(`SELECT ${LOAD_SQL} AS load FROM router.agents a WHERE a.id = $1::text`, [id]);
  return toSnapshot({ ...rows[0], load: load.rows[0]?.load ?? {} });
}

interface Candidate {
  waiting: WaitingConversation;
}

/** The head of the queues for the tiers that have agents available (a plain read: locks come per offer). */
async function queueHead(ctx: RouterCtx, tiers: number[]): Promise<Candidate[]> {
  const { rows } = await ctx.pool.query(
    `SELECT q.conversation_id, q.priority, q.waiting_since, q.tiers, q.preferred_agent_id, c.channel, c.language, c.required_skills, c.declined_agents
       FROM router.queue_entries q JOIN router.conversations c ON c.id = q.conversation_id
      WHERE q.tiers && $1::int[]
      ORDER BY q.priority DESC, q.waiting_since, q.conversation_id
      LIMIT $2::int`,
    [tiers, ctx.config.MATCH_BATCH_SIZE],
  );
  return rows.map((r) => ({
    waiting: {
      conversationId: r.conversation_id,
      priority: r.priority,
      waitingSince: r.waiting_since,
      tiers: r.tiers,
      channel: r.channel,
      language: r.language,
      requiredSkills: r.required_skills,
      declined: r.declined_agents,
      preferredAgentId: r.preferred_agent_id,
    },
  }));
}

/**
 * One offer, one transaction: locks the queue entry and its conversation (FOR UPDATE SKIP LOCKED:
 * another replica matching it right now is skipped, not waited for), then the best-ranked agent
 * (SKIP LOCKED too), re-reads that agent's load under the lock, checks eligibility again and writes
 * the offer. Short transactions keep agent rows locked for a few statements only.
 */
async function offerOne(ctx: RouterCtx, cand: Candidate, agents: AgentSnapshot[]): Promise<AgentSnapshot | undefined | 'gone'> {
  return runRouting(ctx, async (tx) => {
    const { rows } = await tx.query(
      `SELECT q.tiers AS q_tiers, q.preferred_agent_id AS q_preferred, ${CONVERSATION_COLUMNS.split(',').map((c) => `c.${c.trim()}`).join(', ')}
         FROM router.queue_entries q JOIN router.conversations c ON c.id = q.conversation_id
        WHERE q.conversation_id = $1::text AND c.status = 'queued'
        FOR UPDATE OF q, c SKIP LOCKED`,
      [cand.waiting.conversationId],
    );
    if (!rows[0]) return 'gone' as const;
    const conv = toConversation(rows[0]);
    // Fresh values under the lock (the candidate list was read without one).
    const waiting: WaitingConversation = { ...cand.waiting, tiers: rows[0].q_tiers as number[], declined: conv.declinedAgents, requiredSkills: conv.requiredSkills };
    for (const candidate of rankAgents(agents, waiting)) {
      const locked = await lockAgent(tx.client, candidate.id);
      if (!locked || !isEligible(locked, waiting)) continue;
      await makeOffer(tx, conv, locked.id, waiting.preferredAgentId === locked.id ? 'previous agent of reopened conversation' : `tier ${conv.tier} queue match`);
      locked.load[conv.channel] = (locked.load[conv.channel] ?? 0) + 1;
      locked.idleSince = new Date();
      return locked;
    }
    return undefined;
  });
}

/**
 * Arrival fast path, inside the transaction that just queued the conversation: when nothing else
 * is waiting for its tier (so queue order cannot be jumped), offer it right away to the best free
 * agent, locked with SKIP LOCKED like any match. Saves a separate match transaction on the hot path;
 * with a backlog the matcher decides, in queue order.
 */
export async function offerOnArrival(tx: RoutingTx, conv: ConversationRow, preferredAgentId: string | null = null): Promise<boolean> {
  const other = await tx.query('SELECT 1 FROM router.queue_entries WHERE tiers && ARRAY[$1::int] AND conversation_id <> $2::text LIMIT 1', [conv.tier, conv.id]);
  if (other.rowCount) return false;
  const agents = await availableAgents(tx.client);
  const waiting: WaitingConversation = {
    conversationId: conv.id,
    priority: conv.priority,
    waitingSince: conv.waitingSince ?? new Date(),
    tiers: [conv.tier],
    channel: conv.channel,
    language: conv.language,
    requiredSkills: conv.requiredSkills,
    declined: conv.declinedAgents,
    preferredAgentId,
  };
  for (const candidate of rankAgents(agents, waiting)) {
    const locked = await lockAgent(tx.client, candidate.id);
    if (!locked || !isEligible(locked, waiting)) continue;
    await makeOffer(tx, conv, locked.id, preferredAgentId === locked.id ? 'previous agent of reopened conversation' : `tier ${conv.tier} immediate match`);
    tx.needsMatch = false;
    return true;
  }
  return false;
}

/**
 * One match pass: reads the available agents and the head of the queues, then makes offers in queue
 * order, each in its own transaction. Returns the number of offers made.
 */
export async function matchOnce(ctx: RouterCtx): Promise<number> {
  let agents = await availableAgents(ctx.pool);
  if (agents.length === 0) return 0;
  const head = await queueHead(ctx, [...new Set(agents.flatMap((a) => a.tiers))]);
  let offers = 0;
  for (const cand of head) {
    if (agents.length === 0) break;
    if (rankAgents(agents, cand.waiting).length === 0) continue;
    const got = await offerOne(ctx, cand, agents);
    if (got && got !== 'gone') {
      offers++;
      agents = agents.map((a) => (a.id === got.id ? got : a)).filter((a) => Object.keys(a.capacity).some((ch) => freeCapacity(a, ch) > 0));
    }
  }
  return offers;
}

/**
 * Runs match passes on demand with up to `workers` passes in flight per process (like extra
 * replicas: they lock disjoint entries and agents with SKIP LOCKED). kick() is cheap and
 * coalescing: a kick while all workers are busy schedules one more round.
 */
export class Matcher {
  private active = 0;
  private again = false;
  private stopped = false;
  private readonly runs = new Set<Promise<void>>();

  constructor(
    private readonly ctx: () => RouterCtx,
    private readonly workers = 1,
  ) {}

  kick(): void {
    if (this.stopped) return;
    if (this.active >= this.workers) {
      this.again = true;
      return;
    }
    this.active++;
    let run: Promise<void> | undefined = undefined;
    run = (async () => {
      try {
        do {
          this.again = false;
          while (!this.stopped && (await matchOnce(this.ctx())) > 0);
        } while (this.again && !this.stopped);
      } catch (err) {
        this.ctx().logger.warn({ err }, 'match pass failed; the next sweep retries');
      } finally {
        this.active--;
        if (run) this.runs.delete(run);
      }
    })();
    if (this.active > 0) this.runs.add(run);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.runs]);
  }
}
