import type { Pool } from 'pg';
import { DeadLetter, SCHEMAS_BY_ID, type SchemaId } from '@omni/contracts';
import type { Publisher, Received } from '@omni/kafka';

/** Stores one omni.dlq.v1 record in router.dead_letters (idempotent on its source position). */
export async function storeDeadLetter(pool: Pool, msg: Received<DeadLetter>): Promise<void> {
  const d = msg.value;
  await pool.query(
    `INSERT INTO router.dead_letters (source_topic, source_partition, source_offset, group_id, reason, key, value, failed_at)
     VALUES ($1::text, $2::int, $3::text, $4::text, $5::text, $6::text, $7::text, $8::timestamptz)
     ON CONFLICT (group_id, source_topic, source_partition, source_offset) DO NOTHING`,
    [d.source.topic, d.source.partition, d.source.offset, d.source.groupId, d.reason, d.key, d.value, d.failedAt],
  );
}

export interface DeadLetterRow {
  id: string;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  groupId: string;
  reason: string;
  key: string | null;
  value: string | null;
  failedAt: string;
  receivedAt: string;
  replayedAt: string | null;
  replays: number;
}

const COLUMNS = 'id, source_topic, source_partition, source_offset, group_id, reason, key, value, failed_at, received_at, replayed_at, replays';
const toRow = (r: Record<string, any>): DeadLetterRow => ({
  id: String(r.id),
  sourceTopic: r.source_topic,
  sourcePartition: r.source_partition,
  sourceOffset: r.source_offset,
  groupId: r.group_id,
  reason: r.reason,
  key: r.key,
  value: r.value,
  failedAt: r.failed_at.toISOString(),
  receivedAt: r.received_at.toISOString(),
  replayedAt: r.replayed_at?.toISOString() ?? null,
  replays: r.replays,
});

/** Newest first; `before` is the id to page from; `pending` leaves out replayed ones. */
export async function listDeadLetters(pool: Pool, opts: { limit: number; before?: string; topic?: string; pending?: boolean }): Promise<DeadLetterRow[]> {
  const { rows } = await pool.query(
    `SELECT ${COLUMNS} FROM router.dead_letters
      WHERE ($1::bigint IS NULL OR id < $1::bigint) AND ($2::text IS NULL OR source_topic = $2::text) AND (NOT $3::boolean OR replayed_at IS NULL)
      ORDER BY id DESC LIMIT $4::int`,
    [opts.before ?? null, opts.topic ?? null, opts.pending ?? false, opts.limit],
  );
  return rows.map(toRow);
}

export async function getDeadLetter(pool: Pool, id: string): Promise<DeadLetterRow | undefined> {
  const { rows } = await pool.query(`SELECT ${COLUMNS} FROM router.dead_letters WHERE id = $1::bigint`, [id]);
  return rows[0] ? toRow(rows[0]) : undefined;
}

/**
 * Re-publishes a dead letter to the topic it came from, with its key, through the contract's clean
 * step and validation (so a message dead-lettered before a fix goes through as the fixed code would
 * take it, and one that is still invalid is refused with the reason). Consumers are idempotent on the
 * message's id, so replaying twice does no harm. Marks the row replayed.
 */
export async function replayDeadLetter(pool: Pool, publisher: Publisher, id: string): Promise<{ topic: string; key: string | null; schema: SchemaId }> {
  const row = await getDeadLetter(pool, id);
  if (!row) throw new Error(`dead letter ${id} not found`);
  if (row.value === null) throw new Error(`dead letter ${id} has no value to replay`);
  let value: unknown;
  try {
    value = JSON.parse(row.value);
  } catch {
    throw new Error(`dead letter ${id}: its value is not JSON (or was cut to fit the DLQ record), it cannot be replayed`);
  }
  const schemaId = (value as { schema?: string })?.schema as SchemaId | undefined;
  const schema = schemaId ? SCHEMAS_BY_ID[schemaId] : undefined;
  if (!schema || schemaId === 'omni.dlq.v1') throw new Error(`dead letter ${id}: value has no known envelope schema (${String(schemaId)})`);
  await publisher.publish([{ topic: row.sourceTopic, key: row.key ?? '', value, schema }]);
  await pool.query('UPDATE router.dead_letters SET replayed_at = now(), replays = replays + 1 WHERE id = $1::bigint', [id]);
  return { topic: row.sourceTopic, key: row.key, schema: schemaId! };
}
