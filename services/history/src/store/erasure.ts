import type { Pool, PoolClient } from 'pg';
import { ERASURE_IDS_MAX, ERASURE_PART_MAX, newId, type ErasureEvent } from '@omni/contracts';
import { deleteInBatches, withTransaction } from '@omni/db';
import { enqueueOutbox } from '@omni/kafka';
import { subtreeOf } from './customers';

/** The steps of an erasure, in order; each is idempotent, so a resumed erasure repeats at most one. */
export const ERASURE_STEPS = ['timeline', 'conversations', 'identities', 'customers', 'tombstones', 'done'] as const;
export type ErasureStep = (typeof ERASURE_STEPS)[number];

export interface ErasureDeps {
  pool: Pool;
  customersTopic: string;
  /** omni.erasures.v1 (with the topic suffix): where the event telling the other services goes */
  erasuresTopic: string;
  /** after the erasure is recorded: relay its event now rather than at the next poll */
  kickRelay?: () => void;
  /** publishes a tombstone (null value) for each key on the compacted customers topic */
  tombstone: (topic: string, keys: string[]) => Promise<void>;
}

export interface Erasure {
  id: string;
  customerId: string;
  members: string[];
  step: ErasureStep;
  done: boolean;
}

/**
 * Records an erasure of the person behind a customer: the whole merge tree of its top-level customer
 * (one person, several identities). In the same transaction, the omni.erasures.v1 event that tells
 * the router and the ingest services whom to forget goes to history's outbox, with every identity,
 * conversation and thread key of the person read now, before the steps below delete them: a crash
 * after the commit loses neither the erasure nor its event. Returns undefined for an unknown customer.
 */
export async function requestErasure(pool: Pool, customerId: string, requestedBy: string, erasuresTopic: string): Promise<Erasure | undefined> {
  return withTransaction(pool, async (c) => {
    const root = (await c.query<{ root: string }>('SELECT history.root_customer(id) AS root FROM history.customers WHERE id = $1::text FOR UPDATE', [customerId])).rows[0]?.root;
    if (!root) return undefined;
    const members = await subtreeOf(c, root);
    const id = newId('era');
    const requestedAt = new Date().toISOString();
    await c.query('INSERT INTO history.erasures (id, customer_id, members, requested_by) VALUES ($1::text, $2::text, $3::text[], $4::text)', [id, root, members, requestedBy]);
    const events = await erasureEvents(c, id, members, requestedAt);
    await enqueueOutbox(c, 'history', events.map((value) => ({ topic: erasuresTopic, key: id, schemaId: 'omni.erasures.v1' as const, value })));
    return { id, customerId: root, members, step: 'timeline', done: false };
  });
}

/** The omni.erasures.v1 records of one erasure: everything the other services need to find the person. */
async function erasureEvents(c: PoolClient, erasureId: string, members: string[], requestedAt: string): Promise<ErasureEvent[]> {
  const identities = (
    await c.query<{ channel: ErasureEvent['identities'][number]['channel']; address: string }>(
      'SELECT channel, address FROM history.identities WHERE customer_id = ANY($1::text[]) ORDER BY channel, address',
      [members],
    )
  ).rows.map((r) => ({ channel: r.channel, address: r.address }));
  const conversationIds = (
    await c.query<{ id: string }>(
      `SELECT id FROM history.conversations WHERE customer_id = ANY($1::text[])
       UNION SELECT conversation_id FROM history.timeline WHERE customer_id = ANY($1::text[]) AND conversation_id IS NOT NULL ORDER BY 1`,
      [members],
    )
  ).rows.map((r) => r.id);
  const threadKeys = (
    await c.query<{ k: string }>(
      `SELECT thread_key AS k FROM history.conversations WHERE customer_id = ANY($1::text[]) AND thread_key IS NOT NULL
       UNION SELECT thread_key FROM history.timeline WHERE customer_id = ANY($1::text[]) AND thread_key IS NOT NULL ORDER BY 1`,
      [members],
    )
  ).rows.map((r) => r.k);
  return erasureParts({ erasureId, customerIds: members, identities, requestedAt }, conversationIds, threadKeys);
}

/**
 * Splits an erasure into omni.erasures.v1 records that each fit the contract: at most `max`
 * conversation ids and thread keys and `idsMax` customer ids and identities per record. Each record
 * is acted on alone, so the lists are simply split (a record may carry an empty list).
 */
export function erasureParts(
  base: Pick<ErasureEvent, 'erasureId' | 'customerIds' | 'identities' | 'requestedAt'>,
  conversationIds: string[],
  threadKeys: string[],
  max = ERASURE_PART_MAX,
  idsMax = ERASURE_IDS_MAX,
): ErasureEvent[] {
  const parts = Math.max(1, Math.ceil(conversationIds.length / max), Math.ceil(threadKeys.length / max), Math.ceil(base.customerIds.length / idsMax), Math.ceil(base.identities.length / idsMax));
  const chunk = <T>(list: T[], n: number, part: number) => list.slice(part * n, (part + 1) * n);
  return Array.from({ length: parts }, (_, part) => ({
    schema: 'omni.erasures.v1' as const,
    erasureId: base.erasureId,
    part,
    parts,
    // customerIds must not be empty: a part past the end of the list names the first ones again
    customerIds: chunk(base.customerIds, idsMax, part).length > 0 ? chunk(base.customerIds, idsMax, part) : base.customerIds.slice(0, idsMax),
    identities: chunk(base.identities, idsMax, part),
    conversationIds: chunk(conversationIds, max, part),
    threadKeys: chunk(threadKeys, max, part),
    requestedAt: base.requestedAt,
  }));
}

async function advance(pool: Pool, id: string, to: ErasureStep): Promise<void> {
  await pool.query(`UPDATE history.erasures SET step = $2::text, done_at = CASE WHEN $2::text = 'done' THEN now() END WHERE id = $1::text`, [id, to]);
}

/**
 * Runs (or resumes) an erasure from its recorded step: the customer's timeline rows, conversation
 * projections, identities and evidence, merges, pending customers.v1 outbox records and customer
 * rows are deleted in batches, then tombstones go to the compacted customers topic. `stopAfter`
 * lets a test stop it as a crash would.
 */
export async function runErasure(deps: ErasureDeps, id: string, opts: { stopAfter?: ErasureStep } = {}): Promise<Erasure> {
  const row = (await deps.pool.query<{ customer_id: string; members: string[]; step: ErasureStep }>('SELECT customer_id, members, step FROM history.erasures WHERE id = $1::text', [id])).rows[0];
  if (!row) throw new Error(`erasure ${id} not found`);
  const m = row.members;
  const { pool } = deps;
  for (let i = ERASURE_STEPS.indexOf(row.step); i < ERASURE_STEPS.length - 1; i++) {
    const step = ERASURE_STEPS[i]!;
    switch (step) {
      case 'timeline':
        await deleteInBatches(pool, 'DELETE FROM history.timeline WHERE event_id IN (SELECT event_id FROM history.timeline WHERE customer_id = ANY($1::text[]) LIMIT $2::int)', [m]);
        break;
      case 'conversations':
        await withTransaction(pool, async (c) => {
          await c.query('DELETE FROM history.message_conversations WHERE conversation_id IN (SELECT id FROM history.conversations WHERE customer_id = ANY($1::text[]))', [m]);
          await c.query('DELETE FROM history.conversations WHERE customer_id = ANY($1::text[])', [m]);
        });
        break;
      case 'identities':
        await withTransaction(pool, async (c) => {
          await c.query(
            'DELETE FROM history.identity_evidence e USING history.identities i WHERE i.channel = e.channel AND i.address = e.address AND i.customer_id = ANY($1::text[])',
            [m],
          );
          await c.query('DELETE FROM history.identities WHERE customer_id = ANY($1::text[])', [m]);
        });
        break;
      case 'customers':
        await withTransaction(pool, async (c) => {
          await c.query('DELETE FROM history.merges WHERE source_id = ANY($1::text[]) OR target_id = ANY($1::text[])', [m]);
          await c.query('DELETE FROM history.outbox WHERE topic = $1::text AND key = ANY($2::text[])', [deps.customersTopic, m]);
          await c.query('UPDATE history.customers SET merged_into = NULL WHERE id = ANY($1::text[])', [m]);
          await c.query('DELETE FROM history.customers WHERE id = ANY($1::text[])', [m]);
        });
        break;
      case 'tombstones':
        // after the rows are gone (so no new customers.v1 record for them can follow); repeated on resume
        await deps.tombstone(deps.customersTopic, m);
        break;
    }
    await advance(pool, id, ERASURE_STEPS[i + 1]!);
    if (opts.stopAfter === step) return { id, customerId: row.customer_id, members: m, step: ERASURE_STEPS[i + 1]!, done: false };
  }
  return { id, customerId: row.customer_id, members: m, step: 'done', done: true };
}

/** Erasures a crash left unfinished (resumed at start-up). */
export async function pendingErasures(pool: Pool): Promise<string[]> {
  return (await pool.query<{ id: string }>('SELECT id FROM history.erasures WHERE done_at IS NULL ORDER BY requested_at')).rows.map((r) => r.id);
}
