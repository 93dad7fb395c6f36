import type { Pool } from 'pg';
import type { KpiConversation } from '../domain/kpis';

/** The `reason` the router puts on `conversation.resolved` when the customer answered YES to self-service. */
export const SELF_SERVED = 'self-served';

export interface KpiFilter {
  from: string;
  to: string;
  tier?: number;
  channel?: string;
  recontactDays: number;
}

/**
 * The conversations opened in [from, to) (entry tier and channel filters optional) with the facts
 * the KPIs need. `recontacted` is decided here: another conversation of the same customer — after
 * merges and automatic links, on any channel, opened at any time after this one — opened no later
 * than `recontactDays` after this one was resolved.
 */
export async function loadKpiFacts(pool: Pool, f: KpiFilter): Promise<KpiConversation[]> {
  const { rows } = await pool.query(
    `WITH later AS MATERIALIZED (
       SELECT id, opened_at, history.root_customer(customer_id) AS root FROM history.conversations WHERE opened_at >= $1::timestamptz),
     picked AS (
       SELECT c.*, history.root_customer(c.customer_id) AS root FROM history.conversations c
        WHERE c.opened_at >= $1::timestamptz AND c.opened_at < $2::timestamptz
          AND ($3::int IS NULL OR c.first_tier = $3::int) AND ($4::text IS NULL OR c.channel = $4::text))
     SELECT p.id, p.channel, p.category, p.first_tier, p.resolved_tier, p.tier_path, p.escalations, p.queue_waits, p.opened_at,
            p.first_response_at, p.resolved_at, p.csat_score, p.wait_estimate, p.self_service_offered, p.resolved_reason,
            (p.resolved_at IS NOT NULL AND EXISTS (
               SELECT 1 FROM later l WHERE l.root = p.root AND l.id <> p.id AND l.opened_at > p.opened_at
                  AND l.opened_at <= p.resolved_at + make_interval(days => $5::int))) AS recontacted
       FROM picked p ORDER BY p.opened_at, p.id`,
    [f.from, f.to, f.tier ?? null, f.channel ?? null, f.recontactDays],
  );
  return rows.map((r) => ({
    id: r.id,
    channel: r.channel,
    category: r.category,
    firstTier: r.first_tier,
    resolvedTier: r.resolved_tier,
    tierPath: r.tier_path,
    escalations: r.escalations,
    queueWaits: r.queue_waits,
    openedAt: r.opened_at?.toISOString() ?? null,
    firstResponseAt: r.first_response_at?.toISOString() ?? null,
    resolvedAt: r.resolved_at?.toISOString() ?? null,
    csatScore: r.csat_score,
    recontacted: r.recontacted,
    waitEstimate: r.wait_estimate,
    selfServiceOffered: r.self_service_offered,
    selfServed: r.resolved_at !== null && r.resolved_reason === SELF_SERVED,
  }));
}
