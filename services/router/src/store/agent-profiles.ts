import type { Pool } from 'pg';

/** An agent as the admin API shows it: profile, presence, console attached, load per channel. */
const SELECT_AGENTS = `SELECT a.id, a.name, a.tiers, a.skills, a.languages, a.capacity, a.proficiency, a.presence, a.away_reason AS "awayReason", a.session_id IS NOT NULL AS connected,
  COALESCE((SELECT jsonb_object_agg(channel, n) FROM (SELECT c.channel, count(*)::int AS n FROM router.conversations c
    WHERE c.agent_id = a.id AND c.status IN ('offered', 'assigned') GROUP BY c.channel) x), '{}'::jsonb) AS load
  FROM router.agents a`;

export type AgentView = Record<string, unknown> & { presence: string };

export async function getAgent(pool: Pick<Pool, 'query'>, id: string): Promise<AgentView | undefined> {
  return (await pool.query<AgentView>(`${SELECT_AGENTS} WHERE a.id = $1::text`, [id])).rows[0];
}

export async function listAgents(pool: Pick<Pool, 'query'>): Promise<AgentView[]> {
  return (await pool.query<AgentView>(`${SELECT_AGENTS} ORDER BY a.id`)).rows;
}

/** Creates or replaces an agent's profile; true when it was created. */
export async function upsertAgentProfile(
  pool: Pick<Pool, 'query'>,
  id: string,
  p: { name: string; tiers: number[]; skills: string[]; languages: string[]; capacity: Record<string, number | undefined>; proficiency?: Record<string, unknown> },
): Promise<boolean> {
  const { rows } = await pool.query<{ inserted: boolean }>(
    `INSERT INTO router.agents (id, name, tiers, skills, languages, capacity, proficiency)
     VALUES ($1::text, $2::text, $3::int[], $4::text[], $5::text[], $6::jsonb, $7::jsonb)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, tiers = EXCLUDED.tiers, skills = EXCLUDED.skills,
       languages = EXCLUDED.languages, capacity = EXCLUDED.capacity, proficiency = EXCLUDED.proficiency, updated_at = now()
     RETURNING (xmax = 0) AS inserted`,
    [id, p.name, p.tiers, p.skills, p.languages, JSON.stringify(p.capacity), JSON.stringify(p.proficiency ?? {})],
  );
  return rows[0]!.inserted;
}

/** A conversation as the read API shows it. */
export async function getConversationView(pool: Pick<Pool, 'query'>, id: string) {
  const { rows } = await pool.query<{ id: string; thread_key: string; channel: string; status: string; tier: number; category: string; priority: number; agent_id: string | null; opened_at: Date }>(
    `SELECT id, thread_key, channel, status, tier, category, priority, agent_id, opened_at FROM router.conversations WHERE id = $1::text`,
    [id],
  );
  return rows[0];
}

/**
 * Per tier: waiting conversations, the oldest wait, how many are past their queue SLA (overflowed
 * already, or due and not yet swept), how many are in the last fifth of their SLA window (at risk),
 * and how many are offered to an agent and not yet answered.
 */
export async function queueDepths(
  pool: Pick<Pool, 'query'>,
): Promise<{ tier: number; waiting: number; oldest: Date | null; slaBreached: number; slaAtRisk: number; offersPending: number }[]> {
  const { rows } = await pool.query<{ tier: number; waiting: string; oldest: Date | null; breached: string; at_risk: string; offered: string }>(
    `SELECT t.tier,
            (SELECT count(*) FROM router.queue_entries q WHERE q.tier = t.tier) AS waiting,
            (SELECT min(q.waiting_since) FROM router.queue_entries q WHERE q.tier = t.tier) AS oldest,
            (SELECT count(*) FROM router.queue_entries q
              WHERE q.tier = t.tier AND (q.overflows > 0 OR q.sla_deadline <= now())) AS breached,
            (SELECT count(*) FROM router.queue_entries q
              WHERE q.tier = t.tier AND q.overflows = 0 AND q.sla_deadline > now()
                AND now() >= q.waiting_since + (q.sla_deadline - q.waiting_since) * 0.8) AS at_risk,
            (SELECT count(*) FROM router.conversations c WHERE c.tier = t.tier AND c.status = 'offered') AS offered
       FROM generate_series(1, 5) AS t(tier) ORDER BY t.tier`,
  );
  return rows.map((r) => ({
    tier: r.tier,
    waiting: Number(r.waiting),
    oldest: r.oldest,
    slaBreached: Number(r.breached),
    slaAtRisk: Number(r.at_risk),
    offersPending: Number(r.offered),
  }));
}

/** Every conversation offered to or assigned to an agent now, per agent (the wallboard's "current work"). */
export async function openWorkByAgent(
  pool: Pick<Pool, 'query'>,
): Promise<{ agentId: string; conversationId: string; status: string; channel: string; tier: number; category: string; openedAt: Date }[]> {
  const { rows } = await pool.query<{ agent_id: string; id: string; status: string; channel: string; tier: number; category: string; opened_at: Date }>(
    `SELECT agent_id, id, status, channel, tier, category, opened_at FROM router.conversations
      WHERE status IN ('offered', 'assigned') AND agent_id IS NOT NULL ORDER BY agent_id, opened_at, id`,
  );
  return rows.map((r) => ({ agentId: r.agent_id, conversationId: r.id, status: r.status, channel: r.channel, tier: r.tier, category: r.category, openedAt: r.opened_at }));
}
