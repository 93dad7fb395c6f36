import type { Pool } from 'pg';

/** An agent as the admin API shows it: profile, presence, console attached, load per channel. */
const SELECT_AGENTS = `SELECT a.id, a.name, a.tiers, a.skills, a.languages, a.capacity, a.presence, a.session_id IS NOT NULL AS connected,
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
  p: { name: string; tiers: number[]; skills: string[]; languages: string[]; capacity: Record<string, number | undefined> },
): Promise<boolean> {
  const { rows } = await pool.query<{ inserted: boolean }>(
    `INSERT INTO router.agents (id, name, tiers, skills, languages, capacity)
     VALUES ($1::text, $2::text, $3::int[], $4::text[], $5::text[], $6::jsonb)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, tiers = EXCLUDED.tiers, skills = EXCLUDED.skills,
       languages = EXCLUDED.languages, capacity = EXCLUDED.capacity, updated_at = now()
     RETURNING (xmax = 0) AS inserted`,
    [id, p.name, p.tiers, p.skills, p.languages, JSON.stringify(p.capacity)],
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

/** Waiting conversations per tier and the oldest waiting time. */
export async function queueDepths(pool: Pick<Pool, 'query'>): Promise<{ tier: number; waiting: number; oldest: Date | null }[]> {
  const { rows } = await pool.query<{ tier: number; waiting: string; oldest: Date | null }>(
    `SELECT t.tier, count(q.conversation_id) AS waiting, min(q.waiting_since) AS oldest
       FROM generate_series(1, 5) AS t(tier) LEFT JOIN router.queue_entries q ON q.tier = t.tier
      GROUP BY t.tier ORDER BY t.tier`,
  );
  return rows.map((r) => ({ tier: r.tier, waiting: Number(r.waiting), oldest: r.oldest }));
}
