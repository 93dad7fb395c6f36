import type { Pool, PoolClient } from 'pg';
import { Counter, type Registry } from 'prom-client';
import { DeadLetter, prepareForContract, SCHEMAS_BY_ID, truncateCodePoints, type SchemaId } from '@omni/contracts';
import type { Logger } from '@omni/logging';
import { activeTraceHeaders, contextFrom, endWith, startInternalSpan, withSpan } from '@omni/tracing';
import { PublishRejectedError, type Publisher } from './publisher';
import { begin } from '@omni/db';

export interface RelayOptions {
  /** where rows that can never be published go (omni.dlq.v1 with the service's topic suffix) */
  dlqTopic: string;
  /** registers outbox_dead_lettered_total here */
  registry?: Registry;
  pollMs?: number;
  lingerMs?: number;
  batchSize?: number;
}

// what of a dead-lettered row is kept in the DLQ record (a row refused as too large must fit there)
const DLQ_VALUE_CHARS = 64 * 1024;

/** SQL for a service's outbox table; include it in the service's first migration. */
export const OUTBOX_DDL = `CREATE TABLE IF NOT EXISTS outbox (
  id bigserial PRIMARY KEY,
  topic text NOT NULL,
  key text NOT NULL,
  schema_id text NOT NULL,
  value jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);`;

export interface OutboxRecord {
  topic: string;
  key: string;
  schemaId: SchemaId;
  value: unknown;
}

/**
 * The INSERT that writes records to `<schema>.outbox`, its parameters numbered from `$first` so a
 * caller can embed it in a larger statement (as a WITH clause) and save a round trip.
 */
export function outboxInsert(schema: string, records: OutboxRecord[], first = 1): { sql: string; params: unknown[] } {
  const [a, b, c, d] = [first, first + 1, first + 2, first + 3];
  const trace = activeTraceHeaders();
  return {
    sql: `INSERT INTO ${schema}.outbox (topic, key, schema_id, value) SELECT * FROM unnest($${a}::text[], $${b}::text[], $${c}::text[], $${d}::jsonb[])`,
    params: [records.map((r) => r.topic), records.map((r) => r.key), records.map((r) => r.schemaId), records.map((r) => JSON.stringify(withTrace(r.value, trace)))],
  };
}

/**
 * Where an outbox row keeps the W3C context of the operation that wrote it (tracing on only), so the
 * relay's record continues that trace: a reserved key beside the envelope's fields (no contract has
 * a `$` field), removed by the relay before the envelope is validated and published. Kept in the
 * value rather than a column so the services' outbox tables need no migration.
 */
export const OUTBOX_TRACE_KEY = '$trace';

function withTrace(value: unknown, trace: Record<string, string> | undefined): unknown {
  if (!trace || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return { ...(value as Record<string, unknown>), [OUTBOX_TRACE_KEY]: trace };
}

/** Splits a row's value into the envelope and the trace context it carries (if any). */
export function splitOutboxTrace(value: unknown): { value: unknown; trace?: Record<string, string> } {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !(OUTBOX_TRACE_KEY in value)) return { value };
  const { [OUTBOX_TRACE_KEY]: trace, ...rest } = value as Record<string, unknown>;
  return { value: rest, trace: trace && typeof trace === 'object' ? (trace as Record<string, string>) : undefined };
}

/** Writes records to `<schema>.outbox` inside the caller's transaction (so they commit with its state). */
export async function enqueueOutbox(client: PoolClient, schema: string, records: OutboxRecord[]): Promise<void> {
  if (records.length === 0) return;
  const { sql, params } = outboxInsert(schema, records);
  await client.query(sql, params);
}

/**
 * Relays outbox rows to Kafka in id order. One relay at a time across all replicas holds a
 * transaction-scoped advisory lock, which keeps per-key order; rows are deleted in the same
 * transaction after the broker acked them. A crash between ack and commit re-sends rows, which
 * consumers drop by event id. `kick()` after a commit gives low latency; a poll (one `EXISTS` read,
 * every `pollMs`, 1 s by default) covers the rest: before, an idle service ran a four-statement pass
 * four times a second — with five services, most of the idle stack's statements.
 *
 * A pass costs five database round trips and a produce request whatever it carries, so kicks are
 * coalesced: a kick starts a pass `lingerMs` later and the commits in between ride along, and a
 * pass that found less than a full batch is not followed by an empty one. In bench:router at 100
 * messages/s the router relay went from 0.79 passes per message (12 rows a pass, a third of the
 * passes empty) to 0.23 (29 rows a pass). The cost is up to `lingerMs` more before an event is on
 * Kafka; agent console frames do not wait for the relay.
 */
const LOCK_BUSY = -1;

export class OutboxRelay {
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  private stopped = false;
  private idle?: Promise<void>;
  private readonly pollMs: number;
  private readonly lingerMs: number;
  private readonly batchSize: number;
  private readonly dlqTopic: string;
  private deadLettered?: Counter<'outbox' | 'reason'>;
  /** rows dead-lettered by this relay since it started */
  deadLetteredRows = 0;

  constructor(
    private readonly pool: Pool,
    private readonly schema: string,
    private readonly publisher: Publisher,
    private readonly logger: Logger,
    opts: RelayOptions,
  ) {
    this.pollMs = opts.pollMs ?? 1000;
    this.lingerMs = opts.lingerMs ?? 20;
    this.batchSize = opts.batchSize ?? 500;
    this.dlqTopic = opts.dlqTopic;
    if (opts.registry) this.bindMetrics(opts.registry);
  }

  /** Counts dead-lettered rows in `outbox_dead_lettered_total` of this registry (the service's /metrics). */
  bindMetrics(registry: Registry): void {
    this.deadLettered =
      (registry.getSingleMetric('outbox_dead_lettered_total') as Counter<'outbox' | 'reason'> | undefined) ??
      new Counter({
        name: 'outbox_dead_lettered_total',
        help: 'Outbox rows that could never be published (contract or broker refused them), sent to omni.dlq.v1',
        labelNames: ['outbox', 'reason'],
        registers: [registry],
      });
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Stops polling and waits for an in-progress relay to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.retry) clearTimeout(this.retry);
    await this.idle;
  }

  /**
   * The safety poll, for rows no kick announced (a replica that died between its commit and its
   * relay pass; a pass that failed): one cheap read of whether the table has any row, and a pass
   * only when it has. An idle service sends one statement per poll instead of a pass's four.
   */
  private async poll(): Promise<void> {
    if (this.running || this.stopped) return;
    try {
      const { rows } = await this.pool.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${this.schema}.outbox) AS any`);
      if (rows[0]?.any) this.kick();
    } catch (err) {
      this.logger.warn({ err }, 'outbox poll failed; will retry');
    }
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    const linger = new Promise<void>((r) => setTimeout(r, this.lingerMs));
    this.idle = linger
      .then(() => this.drain())
      .catch((err) => {
        this.logger.warn({ err }, 'outbox relay failed; will retry');
        this.retryLater(this.pollMs);
      })
      .finally(() => {
        this.running = false;
        if (this.again && !this.stopped) {
          this.again = false;
          this.kick();
        }
      });
  }

  private retry?: NodeJS.Timeout;
  /** A kick after `ms` (a failed pass; a pass another replica's relay was holding the lock for). */
  private retryLater(ms: number): void {
    if (this.retry || this.stopped) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.kick();
    }, ms);
    this.retry.unref();
  }

  private async drain(): Promise<void> {
    // A short pass saw every row committed before it began; rows committed since then kicked
    // (and set `again`); another replica's rows are relayed by its own kick, retried while this
    // relay holds the lock, and the poll finds what no kick announced.
    for (;;) {
      const moved = await this.relayOnce(this.batchSize);
      if (moved === LOCK_BUSY) {
        // another replica's relay is in a pass that may have begun before our rows committed: try
        // again shortly rather than leave them to the poll
        this.retryLater(Math.max(this.lingerMs, 10) * 5);
        return;
      }
      if (moved < this.batchSize || this.stopped) return;
    }
  }

  private async readBatch(client: PoolClient, limit: number) {
    const { rows } = await client.query<{ id: string; topic: string; key: string; schema_id: SchemaId; value: unknown; created_at: Date }>(
      `SELECT id, topic, key, schema_id, value, created_at FROM ${this.schema}.outbox ORDER BY id LIMIT $1::int`,
      [limit],
    );
    return rows.map((r) => ({ ...r, ...splitOutboxTrace(r.value) }));
  }

  /** Relays up to one batch; returns how many rows were sent (-1: another relay holds the lock). */
  async relayOnce(limit = this.batchSize): Promise<number> {
    const client = await this.pool.connect();
    try {
      const begun = await begin(client);
      // BEGIN, the lock and the read go out together (one round trip on a pipelined client); the
      // read's rows are used only if the lock was granted. Answers come in order: a failed lock's
      // error is the one Promise.all rejects with.
      const [lock, rows] = await Promise.all([
        client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1::text)) AS ok', [`outbox:${this.schema}`]),
        this.readBatch(client, limit),
      ]);
      await begun();
      if (!lock.rows[0]?.ok) {
        await client.query('COMMIT');
        return LOCK_BUSY;
      }
      if (rows.length > 0) {
        await this.publishRows(rows);
        await client.query(`DELETE FROM ${this.schema}.outbox WHERE id = ANY($1::bigint[])`, [rows.map((r) => r.id)]);
      }
      await client.query('COMMIT');
      return rows.length;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * Publishes the rows, each as its own record so that one the contract or the broker refuses for
   * good is dead-lettered alone (with the reason, counted, logged at error) and the others go on:
   * one row can never stop the relay. The publisher still sends them in one request. A broker that
   * is unavailable throws, and the pass is retried.
   */
  private async publishRows(rows: { id: string; topic: string; key: string; schema_id: SchemaId; value: unknown; created_at: Date; trace?: Record<string, string> }[]): Promise<void> {
    const results = await Promise.allSettled(
      rows.map((r) => {
        const schema = SCHEMAS_BY_ID[r.schema_id];
        if (!schema) return Promise.reject(new Error(`unknown schema id ${String(r.schema_id)}`));
        // a row written inside a traced operation: a span from the writing transaction (created_at)
        // to the broker's ack, i.e. the time it waited in the outbox, with the send span under it
        const span = r.trace ? startInternalSpan(`outbox ${r.topic}`, contextFrom(r.trace), r.created_at, { 'omni.outbox': this.schema, 'omni.outbox.row_id': r.id }) : undefined;
        return endWith(span, withSpan(span, () => this.publisher.publish([{ topic: r.topic, key: r.key, value: r.value, schema }])));
      }),
    );
    const refused: { row: (typeof rows)[number]; reason: string; kind: string }[] = [];
    for (const [i, res] of results.entries()) {
      if (res.status === 'fulfilled') continue;
      const err = res.reason as Error & { code?: string };
      if (err.code === 'KAFKA_UNAVAILABLE') throw err;
      refused.push({ row: rows[i]!, reason: err.message, kind: err instanceof PublishRejectedError ? 'kafka-refused' : 'contract' });
    }
    for (const { row, reason, kind } of refused) {
      const value: DeadLetter = {
        schema: 'omni.dlq.v1',
        source: { topic: row.topic, partition: -1, offset: row.id, groupId: `outbox:${this.schema}` },
        reason: truncateCodePoints(`outbox row refused (${kind}): ${reason}`, 4000),
        key: truncateCodePoints(row.key, 4096),
        value: truncateCodePoints(JSON.stringify(row.value) ?? 'null', DLQ_VALUE_CHARS),
        failedAt: new Date().toISOString(),
      };
      await this.publisher.publish([{ topic: this.dlqTopic, key: `outbox:${this.schema}:${row.id}`, value, schema: DeadLetter }]);
      this.deadLetteredRows++;
      this.deadLettered?.inc({ outbox: this.schema, reason: kind });
      this.logger.error({ outbox: this.schema, rowId: row.id, topic: row.topic, key: row.key, reason }, 'outbox row dead-lettered: it can never be published');
    }
  }
}
