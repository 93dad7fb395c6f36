import type { ErasureEvent } from '@omni/contracts';
import { deleteInBatches } from '@omni/db';
import { runRouting, type RouterCtx } from './routing-tx';

/**
 * What the router holds of a person, and what an erasure does with it (docs/access-control.md):
 *   conversations   anonymised: the customer party, its key and attributes, the thread key, the
 *                   latest text and the handoff notes go; id, channel, tier, category, priority,
 *                   language, agents, escalation count and times stay (queue and KPI counts);
 *                   live ones are closed (queue entry and collaborators gone, the agent told)
 *   agent_events    console frames of those conversations that carry content (offers, messages,
 *                   joins, delivery failures) become `{type: "erased"}` with the same seq, so a
 *                   console's replay numbering is untouched
 *   outbox          rows of those conversations not yet relayed are dropped
 *   customer_profiles  deleted (by customer id and by identity)
 *   dead_letters    records naming the person (an id, address or thread key in key or value) lose
 *                   key, value and reason
 * Kept: processed_events and conversation_messages (opaque message ids), queue-free routing state,
 * the audit trail (ids only, append-only).
 *
 * Every step is idempotent and works from the event alone, so a redelivered event (a crash before
 * the offset was committed) simply runs again; the conversations are anonymised last, because the
 * earlier steps find their rows through the conversations' customer keys and thread keys.
 */
export const ROUTER_ERASURE_STEPS = ['live', 'agent-events', 'outbox', 'dead-letters', 'profiles', 'conversations'] as const;
export type RouterErasureStep = (typeof ROUTER_ERASURE_STEPS)[number];

/** Console frames that carry nothing but ids and a reason: left as they are. */
const ID_ONLY_FRAMES = ['assigned', 'unassigned', 'offer-closed', 'left', 'presence', 'erased'];

/** Substrings shorter than this are not searched for in dead letters (they would match unrelated records). */
const MIN_NEEDLE_CHARS = 6;

export interface RouterErasureResult {
  conversations: number;
  closed: number;
  frames: number;
  outbox: number;
  deadLetters: number;
  profiles: number;
  /** the step after which `stopAfter` stopped it (tests), else undefined */
  stoppedAfter?: RouterErasureStep;
}

/** The `channel:address` keys the router files conversations and profiles under. */
export const identityKeys = (e: Pick<ErasureEvent, 'identities'>): string[] => e.identities.map((i) => `${i.channel}:${i.address}`);

/**
 * Erases one omni.erasures.v1 record's person from the router's tables, step by step (each its own
 * transaction or batches). `stopAfter` stops it after a step, as a crash would (tests).
 */
export async function eraseFromRouter(ctx: RouterCtx, e: ErasureEvent, opts: { stopAfter?: RouterErasureStep; batchSize?: number } = {}): Promise<RouterErasureResult> {
  const { pool } = ctx;
  const batch = opts.batchSize ?? 500;
  const keys = identityKeys(e);
  const ids = (
    await pool.query<{ id: string }>(
      'SELECT id FROM router.conversations WHERE id = ANY($1::text[]) OR customer_key = ANY($2::text[]) OR thread_key = ANY($3::text[]) ORDER BY id',
      [e.conversationIds, keys, e.threadKeys],
    )
  ).rows.map((r) => r.id);
  const out: RouterErasureResult = { conversations: ids.length, closed: 0, frames: 0, outbox: 0, deadLetters: 0, profiles: 0 };
  for (const step of ROUTER_ERASURE_STEPS) {
    switch (step) {
      case 'live':
        for (let i = 0; i < ids.length; i += batch) out.closed += await closeLive(ctx, ids.slice(i, i + batch));
        break;
      case 'agent-events':
        for (let i = 0; i < ids.length; i += batch) {
          const r = await pool.query(
            `UPDATE router.agent_events SET frame = jsonb_build_object('type', 'erased', 'seq', seq, 'conversationId', frame->>'conversationId', 'at', frame->'at')
              WHERE frame->>'conversationId' = ANY($1::text[]) AND NOT (frame->>'type' = ANY($2::text[]))`,
            [ids.slice(i, i + batch), ID_ONLY_FRAMES],
          );
          out.frames += r.rowCount ?? 0;
        }
        break;
      case 'outbox':
        for (let i = 0; i < ids.length; i += batch) {
          out.outbox += (await pool.query('DELETE FROM router.outbox WHERE key = ANY($1::text[])', [ids.slice(i, i + batch)])).rowCount ?? 0;
        }
        break;
      case 'dead-letters':
        out.deadLetters = await scrubDeadLetters(pool, deadLetterNeedles(e, ids));
        break;
      case 'profiles':
        out.profiles =
          (await pool.query('DELETE FROM router.customer_profiles WHERE customer_id = ANY($1::text[]) OR identity = ANY($2::text[])', [e.customerIds, keys])).rowCount ?? 0;
        break;
      case 'conversations':
        for (let i = 0; i < ids.length; i += batch) {
          await pool.query(
            `UPDATE router.conversations
                SET customer = jsonb_build_object('channel', channel, 'address', 'erased'), customer_key = NULL, customer_attributes = '{}'::jsonb,
                    thread_key = 'erased:' || id, last_text = NULL, handoff_notes = '[]'::jsonb
              WHERE id = ANY($1::text[])`,
            [ids.slice(i, i + batch)],
          );
        }
        break;
    }
    if (opts.stopAfter === step) return { ...out, stoppedAfter: step };
  }
  return out;
}

/**
 * Closes the live (self-service, queued, offered, assigned) conversations among `ids`: no routing event is
 * published for them (history has just forgotten the person; an event would bring them back), the
 * queue entry and collaborators go, and the agents holding them get an id-only frame.
 */
async function closeLive(ctx: RouterCtx, ids: string[]): Promise<number> {
  return runRouting(ctx, async (tx) => {
    const { rows } = await tx.client.query<{ id: string; status: string; agent_id: string | null }>(
      `SELECT id, status, agent_id FROM router.conversations WHERE id = ANY($1::text[]) AND status IN ('self-service', 'queued', 'offered', 'assigned') ORDER BY id FOR UPDATE`,
      [ids],
    );
    if (rows.length === 0) return 0;
    const live = rows.map((r) => r.id);
    await tx.client.query('DELETE FROM router.queue_entries WHERE conversation_id = ANY($1::text[])', [live]);
    const gone = await tx.client.query<{ conversation_id: string; agent_id: string }>(
      'DELETE FROM router.conversation_participants WHERE conversation_id = ANY($1::text[]) RETURNING conversation_id, agent_id',
      [live],
    );
    await tx.client.query(
      `UPDATE router.conversations SET status = 'closed', agent_id = NULL, offer_deadline = NULL, last_agent_id = COALESCE(agent_id, last_agent_id), updated_at = now()
        WHERE id = ANY($1::text[])`,
      [live],
    );
    for (const r of rows) {
      if (r.agent_id) tx.agentEvent(r.agent_id, { type: r.status === 'offered' ? 'offer-closed' : 'unassigned', conversationId: r.id, reason: 'erased' });
    }
    for (const p of gone.rows) tx.agentEvent(p.agent_id, { type: 'left', conversationId: p.conversation_id, reason: 'erased' });
    tx.needsMatch = true; // agents' capacity was freed
    return rows.length;
  });
}

/** What identifies the person in a dead letter's key or value: ids, thread keys, addresses, also as they appear inside JSON strings. */
export function deadLetterNeedles(e: ErasureEvent, conversationIds: string[]): string[] {
  const raw = [...e.customerIds, ...conversationIds, ...e.threadKeys, ...e.identities.map((i) => i.address)].filter((n) => n.length >= MIN_NEEDLE_CHARS);
  const escaped = raw.map((n) => JSON.stringify(n).slice(1, -1));
  return [...new Set([...raw, ...escaped])];
}

/** Removes key, value and reason of every dead letter that contains one of the needles, in batches. */
async function scrubDeadLetters(pool: RouterCtx['pool'], needles: string[], batchSize = 500): Promise<number> {
  if (needles.length === 0) return 0;
  return deleteInBatches(
    pool,
    `UPDATE router.dead_letters d SET key = NULL, value = NULL, reason = 'removed: it named an erased person'
      WHERE d.id IN (
        SELECT x.id FROM router.dead_letters x
         WHERE (x.value IS NOT NULL OR x.key IS NOT NULL)
           AND EXISTS (SELECT 1 FROM unnest($1::text[]) AS n(s) WHERE strpos(COALESCE(x.value, ''), n.s) > 0 OR strpos(COALESCE(x.key, ''), n.s) > 0)
         ORDER BY x.id LIMIT $2::int FOR UPDATE SKIP LOCKED)`,
    [needles],
    batchSize,
  );
}
