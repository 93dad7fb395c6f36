import type { Pool, PoolClient } from 'pg';
import type { AgentEvent } from '@omni/contracts';
import { HOLD_KINDS, type AgentStateEvent, type HoldEvent } from '../domain/occupancy';

// wrap-up and holds that began this long before a window still count inside it
const LOOKBACK = '1 day';
const COLS = 'event_id, agent_id, type, occurred_at, seq, presence, reason, conversation_id, tiers';

/** Writes omni.agents.v1 events (one multi-row insert; a redelivered event id is a no-op). Returns how many were new. */
export async function insertAgentEvents(client: PoolClient, events: AgentEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const r = await client.query(
    `INSERT INTO history.agent_events (event_id, agent_id, type, occurred_at, presence, reason, conversation_id, capacity, tiers, payload)
     SELECT x.event_id, x.agent_id, x.type, x.occurred_at, x.presence, x.reason, x.conversation_id, x.capacity,
            CASE WHEN jsonb_typeof(x.tiers) = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(x.tiers))::int[] END, x.payload
       FROM jsonb_to_recordset($1::jsonb) AS x(event_id text, agent_id text, type text, occurred_at timestamptz, presence text, reason text,
            conversation_id text, capacity int, tiers jsonb, payload jsonb)
     ON CONFLICT (event_id) DO NOTHING`,
    [
      JSON.stringify(
        events.map((e) => ({
          event_id: e.eventId,
          agent_id: e.agentId,
          type: e.type,
          occurred_at: e.occurredAt,
          presence: e.presence ?? null,
          reason: e.reason ?? null,
          conversation_id: e.conversationId ?? null,
          capacity: e.capacity ?? null,
          tiers: e.tiers ?? null,
          payload: e,
        })),
      ),
    ],
  );
  return r.rowCount ?? 0;
}

/**
 * What occupancy over [from, to) needs: every agent event from a day before `from` to `to`, the last
 * presence of each agent before that, and the hold events (accept/assign … resolve/transfer) of the
 * conversations active in the window or still open.
 */
export async function loadOccupancyFacts(pool: Pool, from: string, to: string): Promise<{ agentEvents: AgentStateEvent[]; holds: HoldEvent[] }> {
  const a = await pool.query(
    `(SELECT ${COLS} FROM history.agent_events WHERE occurred_at >= $1::timestamptz - $3::interval AND occurred_at < $2::timestamptz)
     UNION
     (SELECT DISTINCT ON (agent_id) ${COLS} FROM history.agent_events WHERE occurred_at < $1::timestamptz - $3::interval AND type = 'agent.presence'
       ORDER BY agent_id, occurred_at DESC, seq DESC)
     UNION
     (SELECT DISTINCT ON (agent_id) ${COLS} FROM history.agent_events WHERE occurred_at < $1::timestamptz - $3::interval AND tiers IS NOT NULL
       ORDER BY agent_id, occurred_at DESC, seq DESC)
     ORDER BY occurred_at, seq`,
    [from, to, LOOKBACK],
  );
  const h = await pool.query(
    `SELECT t.conversation_id, t.kind, t.occurred_at, t.seq, t.agent_id FROM history.timeline t
      WHERE t.kind = ANY($3::text[]) AND t.occurred_at < $2::timestamptz
        AND t.conversation_id IN (SELECT c.id FROM history.conversations c
                                   WHERE c.opened_at < $2::timestamptz AND (c.last_event_at >= $1::timestamptz - $4::interval OR c.status NOT IN ('resolved', 'closed')))
      ORDER BY t.occurred_at, t.seq`,
    [from, to, HOLD_KINDS, LOOKBACK],
  );
  return {
    agentEvents: a.rows.map((r) => ({
      agentId: r.agent_id,
      type: r.type,
      occurredAt: r.occurred_at.toISOString(),
      seq: Number(r.seq),
      presence: r.presence,
      reason: r.reason,
      conversationId: r.conversation_id,
      tiers: r.tiers,
    })),
    holds: h.rows.map((r) => ({ conversationId: r.conversation_id, kind: r.kind, occurredAt: r.occurred_at.toISOString(), seq: Number(r.seq), agentId: r.agent_id })),
  };
}
