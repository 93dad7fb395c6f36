import type { PoolClient } from 'pg';
import type { WideningStep } from '../domain/preference';
import { preparedQuery } from './prepared';

type Querier = Pick<PoolClient, 'query'>;

/**
 * Widening steps per conversation (docs/queue-intelligence.md): copied from the classifying rule
 * when a conversation is first queued into router.queue_widening, read by the match pass (the step
 * in force decides eligibility and goes into the decision record) and by its SQL prefilter
 * (store/conversations.ts loadMatchable: dropped skills, extra tiers).
 */

// Rule versions are immutable: each replica reads a version's steps once.
const byVersion = new Map<number, Map<string, WideningStep[]>>();

/** The widening steps of each rule of a rule-set version that has some (read once per version and replica). */
export async function wideningOfVersion(client: Querier, version: number): Promise<Map<string, WideningStep[]>> {
  const cached = byVersion.get(version);
  if (cached) return cached;
  const { rows } = await client.query<{ id: string; steps: WideningStep[] }>(
    preparedQuery(
      `SELECT r->>'id' AS id, r->'then'->'widening' AS steps FROM router.rule_sets rs, jsonb_array_elements(rs.rules) r
        WHERE rs.version = $1::int AND jsonb_typeof(r->'then'->'widening') = 'array'`,
      [version],
    ),
  );
  const out = new Map(rows.map((r) => [r.id, r.steps]));
  if (byVersion.size > 100) byVersion.clear();
  byVersion.set(version, out);
  return out;
}

/** Records the steps of conversations queued in this transaction (a conversation keeps the first ones it got). */
export async function saveWidening(client: Querier, rows: { conversationId: string; steps: WideningStep[] }[]): Promise<void> {
  if (!rows.length) return;
  await client.query(
    preparedQuery(
      `INSERT INTO router.queue_widening (conversation_id, steps) SELECT * FROM unnest($1::text[], $2::jsonb[]) ON CONFLICT (conversation_id) DO NOTHING`,
      [rows.map((r) => r.conversationId), rows.map((r) => JSON.stringify(r.steps))],
    ),
  );
}

/** The widening steps of these conversations (those without any are absent). */
export async function wideningOf(client: Querier, conversationIds: string[]): Promise<Map<string, WideningStep[]>> {
  if (!conversationIds.length) return new Map();
  const { rows } = await client.query<{ conversation_id: string; steps: WideningStep[] }>(
    preparedQuery('SELECT conversation_id, steps FROM router.queue_widening WHERE conversation_id = ANY($1::text[])', [conversationIds]),
  );
  return new Map(rows.map((r) => [r.conversation_id, r.steps]));
}
