import type { Pool } from 'pg';
import { compareWaiting, freeCapacity, rankAgents, type AgentSnapshot, type WaitingConversation } from '../domain/match';
import { makeOffers } from './queue';
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
 * Locks these agents for this transaction in id order, skipping any another transaction holds
 * (another replica or worker matching right now), and re-reads their load under the lock — in a
 * separate statement, so it sees every commit made before the lock was granted. The snapshot used
 * for planning may be stale; the locked one is not, because every path that adds load to an agent
 * holds this same row lock.
 */
async function lockAgents(client: Pick<Pool, 'query'>, ids: string[]): Promise<AgentSnapshot[]> {
  const { rows } = await client.query<AgentRow>(
    `SELECT a.id, a.tiers, a.skills, a.languages, a.capacity, a.idle_since FROM router.agents a
      WHERE a.id = ANY($1::text[]) AND a.presence = 'online' AND a.session_id IS NOT NULL ORDER BY a.id FOR NO KEY UPDATE SKIP LOCKED`,
    [ids],
  );
  if (rows.length === 0) return [];
  const loads = await client.query<{ id: string; load: Record<string, number> }>(`SELECT a.id, ${LOAD_SQL} AS load FROM router.agents a WHERE a.id = ANY($1::text[])`, [rows.map((r) => r.id)]);
  const byId = new Map(loads.rows.map((r) => [r.id, r.load]));
  return rows.map((r) => toSnapshot({ ...r, load: byId.get(r.id) ?? {} }));
}

/** A queued conversation, locked by this transaction, and how the matcher sees it. */
interface Waiting {
  conv: ConversationRow;
  w: WaitingConversation;
}

/**
 * Offers locked, queued conversations (in queue order) to the best free agents, in this
 * transaction. The assignment is planned greedily on a snapshot of the agents; the planned agents
 * are then locked together (SKIP LOCKED) with their load re-read, and the plan is made again on
 * what is locked, for up to three rounds; the offers follow the last plan over locked agents only,
 * so no agent can ever be filled past capacity. With `keepTierOrder`, a conversation left without
 * an agent holds back the later ones of its tier (arrivals must not jump a queue); otherwise it is
 * skipped (the matcher: nobody free has its skills, the next may still be served).
 */
async function offerToAgents(tx: RoutingTx, waiting: Waiting[], snapshot: AgentSnapshot[], keepTierOrder: boolean, reasonOf: (x: Waiting) => string): Promise<number> {
  const locked = new Map<string, AgentSnapshot>();
  const unavailable = new Set<string>();
  const plan = (lockedOnly: boolean) => {
    const agents = new Map<string, AgentSnapshot>();
    if (!lockedOnly) for (const a of snapshot) if (!unavailable.has(a.id)) agents.set(a.id, { ...a, load: { ...a.load } });
    for (const a of locked.values()) agents.set(a.id, { ...a, load: { ...a.load } });
    const blocked = new Set<number>();
    const out: { x: Waiting; agent: AgentSnapshot }[] = [];
    for (const x of waiting) {
      if (x.w.tiers.some((t) => blocked.has(t))) continue;
      const best = rankAgents([...agents.values()], x.w)[0];
      if (!best) {
        if (keepTierOrder) for (const t of x.w.tiers) blocked.add(t);
        continue;
      }
      best.load[x.w.channel] = (best.load[x.w.channel] ?? 0) + 1;
      best.idleSince = new Date();
      out.push({ x, agent: best });
    }
    return out;
  };
  for (let round = 0; round < 3; round++) {
    const want = [...new Set(plan(false).map((p) => p.agent.id))].filter((id) => !locked.has(id));
    if (want.length === 0) break;
    const got = await lockAgents(tx.client, want);
    for (const a of got) locked.set(a.id, a);
    for (const id of want) if (!locked.has(id)) unavailable.add(id);
  }
  // planned over locked agents only, with their load read under the lock: each pick is eligible as made
  const offers = plan(true);
  await makeOffers(tx, offers.map(({ x, agent }) => ({ conv: x.conv, agentId: agent.id, reason: x.w.preferredAgentId === agent.id ? 'previous agent of reopened conversation' : reasonOf(x) })));
  return offers.length;
}

/** A conversation queued in the arrival transaction, and its previous agent if it was reopened. */
export interface ArrivalOffer {
  conv: ConversationRow;
  preferredAgentId: string | null;
}

const waitingOf = (conv: ConversationRow, tiers: number[], preferredAgentId: string | null): WaitingConversation => ({
  conversationId: conv.id,
  priority: conv.priority,
  waitingSince: conv.waitingSince ?? new Date(),
  tiers,
  channel: conv.channel,
  language: conv.language,
  requiredSkills: conv.requiredSkills,
  declined: conv.declinedAgents,
  preferredAgentId,
});

/**
 * Arrival fast path, inside the transaction that just queued these conversations: for each tier
 * nobody else is waiting in (so queue order cannot be jumped), offer them right away, in queue
 * order, to the best free agents (offerToAgents). Whatever is left stays queued for the matcher,
 * which is kicked after commit. Saves a match transaction per conversation on the hot path.
 */
export async function offerOnArrival(tx: RoutingTx, items: ArrivalOffer[]): Promise<void> {
  if (items.length === 0) return;
  const { rows: busy } = await tx.query<{ tier: number }>(
    `SELECT t AS tier FROM unnest($1::int[]) AS t
      WHERE EXISTS (SELECT 1 FROM router.queue_entries q WHERE q.tiers && ARRAY[t] AND q.conversation_id <> ALL($2::text[]))`,
    [[...new Set(items.map((i) => i.conv.tier))], items.map((i) => i.conv.id)],
  );
  const backlog = new Set(busy.map((r) => r.tier));
  const waiting = items
    .filter((i) => !backlog.has(i.conv.tier))
    .map((i) => ({ conv: i.conv, w: waitingOf(i.conv, [i.conv.tier], i.preferredAgentId) }))
    .sort((a, b) => compareWaiting(a.w, b.w));
  const offered = waiting.length ? await offerToAgents(tx, waiting, await availableAgents(tx.client), true, (x) => `tier ${x.conv.tier} immediate match`) : 0;
  tx.needsMatch = offered < items.length;
}

/**
 * One match pass, one transaction: the available agents, then, in queue order, the first
 * MATCH_BATCH_SIZE entries that one of them could take (the eligibility of domain/match.ts:
 * tier, skills, language, room on the channel, not declined by them) locked with their
 * conversations — FOR UPDATE SKIP LOCKED, so entries another replica or worker is matching right
 * now are skipped, not waited for — then offers in queue order (offerToAgents). Entries nobody
 * online can take are passed over in SQL: a head of them longer than a batch would otherwise
 * starve every conversation behind it. Returns the number of offers made.
 */
export async function matchOnce(ctx: RouterCtx): Promise<number> {
  const agents = await availableAgents(ctx.pool);
  if (agents.length === 0) return 0;
  const candidates = agents.map((a) => ({
    id: a.id,
    tiers: a.tiers,
    skills: a.skills,
    languages: a.languages,
    channels: Object.keys(a.capacity).filter((ch) => freeCapacity(a, ch) > 0),
  }));
  return runRouting(ctx, async (tx) => {
    const { rows } = await tx.query(
      `SELECT q.tiers AS q_tiers, q.preferred_agent_id AS q_preferred, q.priority AS q_priority, q.waiting_since AS q_since, ${CONVERSATION_COLUMNS.split(',').map((c) => `c.${c.trim()}`).join(', ')}
         FROM router.queue_entries q JOIN router.conversations c ON c.id = q.conversation_id
        WHERE q.tiers && $1::int[] AND c.status = 'queued'
          AND EXISTS (SELECT 1 FROM jsonb_to_recordset($3::jsonb) AS a(id text, tiers int[], skills text[], languages text[], channels text[])
                       WHERE a.tiers && q.tiers AND c.required_skills <@ a.skills
                         AND (c.language IS NULL OR c.language = 'other' OR c.language = ANY(a.languages))
                         AND c.channel = ANY(a.channels) AND a.id <> ALL(c.declined_agents))
        ORDER BY q.priority DESC, q.waiting_since, q.conversation_id
        LIMIT $2::int
        FOR UPDATE OF q, c SKIP LOCKED`,
      [[...new Set(agents.flatMap((a) => a.tiers))], ctx.config.MATCH_BATCH_SIZE, JSON.stringify(candidates)],
    );
    if (rows.length === 0) return 0;
    const waiting = rows.map((r) => {
      const conv = toConversation(r);
      const w = waitingOf(conv, r.q_tiers as number[], (r.q_preferred as string | null) ?? null);
      return { conv, w: { ...w, priority: r.q_priority as number, waitingSince: r.q_since as Date } };
    });
    // the locked rows come in queue order; the matcher skips entries nobody free can take
    return offerToAgents(tx, waiting, agents, false, (x) => `tier ${x.conv.tier} queue match`);
  });
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
