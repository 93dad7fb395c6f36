import type { Consumer, Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import { Type } from '@sinclair/typebox';
import { ErasureEvent, erasureEventProblems, KIND_CHANNELS, type ChannelKind, type TopicNames } from '@omni/contracts';
import { deleteInBatches } from '@omni/db';
import { PermanentError, startConsumer, type Publisher, type Received } from '@omni/kafka';
import type { Logger } from '@omni/logging';

/** Env of erasure and message content retention (part of IngestEnv). */
export const IngestErasureEnv = {
  ERASURE_GROUP_ID: Type.String({ default: '', description: 'consumer group reading omni.erasures.v1; empty = ingest-<kind>-erasures (plus the topic suffix)' }),
  INGEST_CONTENT_RETENTION_DAYS: Type.Integer({
    default: 0,
    minimum: 0,
    description: 'days reply text is kept in ingest tables (chat session replies, bodies of finished deliveries); 0 = forever',
  }),
  INGEST_CONTENT_SWEEP_INTERVAL_MS: Type.Integer({ default: 3_600_000, minimum: 100 }),
};

export interface IngestErasureSettings {
  ERASURE_GROUP_ID: string;
  INGEST_CONTENT_RETENTION_DAYS: number;
  INGEST_CONTENT_SWEEP_INTERVAL_MS: number;
}

/**
 * The steps of an erasure in the shared `ingest` schema. Each ingest service erases the rows of its
 * own channels and its own tables (the four share the schema: ingest-chat does chat sessions,
 * ingest-email the e-mail thread index, ingest-phone the call log). Every step is idempotent and
 * works from the event alone, so a redelivered event runs them all again.
 */
export const INGEST_ERASURE_STEPS = ['deliveries', 'outbox', 'dedupe', 'kind'] as const;
export type IngestErasureStep = (typeof INGEST_ERASURE_STEPS)[number];

export interface IngestErasureResult {
  deleted: Record<string, number>;
  stoppedAfter?: IngestErasureStep;
}

const BATCH = 1000;

/** Removes one omni.erasures.v1 record's person from the ingest tables of `kind`. `stopAfter` stops it as a crash would (tests). */
export async function eraseFromIngest(pool: Pool, kind: ChannelKind, e: ErasureEvent, opts: { stopAfter?: IngestErasureStep } = {}): Promise<IngestErasureResult> {
  const channels = [...KIND_CHANNELS[kind]];
  const addresses = e.identities.filter((i) => channels.includes(i.channel)).map((i) => i.address);
  const allAddresses = e.identities.map((i) => i.address);
  const convs = e.conversationIds;
  const threads = e.threadKeys;
  const deleted: Record<string, number> = {};
  const del = async (table: string, sql: string, params: unknown[]) => {
    // no SKIP LOCKED: a row locked by a delivery claim must be waited for, not left behind
    deleted[table] = (deleted[table] ?? 0) + (await deleteInBatches(pool, sql, params, BATCH));
  };
  for (const step of INGEST_ERASURE_STEPS) {
    switch (step) {
      case 'deliveries':
        await del(
          'deliveries',
          `DELETE FROM ingest.deliveries WHERE seq IN (
             SELECT seq FROM ingest.deliveries
              WHERE channel = ANY($1::text[]) AND (conversation_id = ANY($2::text[]) OR thread_key = ANY($3::text[]) OR outbound->'to'->>'address' = ANY($4::text[]))
              LIMIT $5::int FOR UPDATE)`,
          [channels, convs, threads, addresses],
        );
        break;
      case 'outbox':
        // delivery statuses (and chat receipts) of the person's conversations not yet relayed: they name the address
        await del('outbox', 'DELETE FROM ingest.outbox WHERE id IN (SELECT id FROM ingest.outbox WHERE key = ANY($1::text[]) LIMIT $2::int FOR UPDATE)', [convs]);
        break;
      case 'dedupe':
        await del(
          'dedupe',
          'DELETE FROM ingest.dedupe WHERE message_id IN (SELECT message_id FROM ingest.dedupe WHERE channel = ANY($1::text[]) AND thread_key = ANY($2::text[]) LIMIT $3::int FOR UPDATE)',
          [channels, threads],
        );
        break;
      case 'kind':
        if (kind === 'chat') {
          // the chat sessions of the person: by visitor id, by session thread, or by the e-mail the visitor typed
          const sessions = `SELECT session_id FROM ingest.chat_sessions
             WHERE visitor_id = ANY($1::text[]) OR ('chat:' || session_id) = ANY($2::text[]) OR email = ANY($3::text[])`;
          await del(
            'chat_session_events',
            `DELETE FROM ingest.chat_session_events WHERE (session_id, seq) IN (
               SELECT session_id, seq FROM ingest.chat_session_events WHERE session_id IN (${sessions}) OR conversation_id = ANY($4::text[]) LIMIT $5::int FOR UPDATE)`,
            [addresses, threads, allAddresses, convs],
          );
          await del(
            'chat_sessions',
            `DELETE FROM ingest.chat_sessions WHERE session_id IN (SELECT session_id FROM (${sessions}) s
               WHERE NOT EXISTS (SELECT 1 FROM ingest.chat_session_events x WHERE x.session_id = s.session_id) LIMIT $4::int)`,
            [addresses, threads, allAddresses],
          );
        } else if (kind === 'email') {
          await del(
            'mailgun_tokens',
            'DELETE FROM ingest.mailgun_tokens WHERE token IN (SELECT t.token FROM ingest.mailgun_tokens t JOIN ingest.email_message_ids m ON m.message_id = t.message_id WHERE m.thread_key = ANY($1::text[]) LIMIT $2::int)',
            [threads],
          );
          await del('email_message_ids', 'DELETE FROM ingest.email_message_ids WHERE message_id IN (SELECT message_id FROM ingest.email_message_ids WHERE thread_key = ANY($1::text[]) LIMIT $2::int)', [threads]);
          await del('email_thread_tokens', 'DELETE FROM ingest.email_thread_tokens WHERE token IN (SELECT token FROM ingest.email_thread_tokens WHERE thread_key = ANY($1::text[]) LIMIT $2::int)', [threads]);
        } else if (kind === 'phone') {
          const calls = 'SELECT call_sid FROM ingest.phone_calls WHERE from_number = ANY($1::text[]) OR to_number = ANY($1::text[])';
          await del('phone_voicemails', `DELETE FROM ingest.phone_voicemails WHERE recording_sid IN (SELECT recording_sid FROM ingest.phone_voicemails WHERE call_sid IN (${calls}) LIMIT $2::int)`, [addresses]);
          await del('phone_calls', `DELETE FROM ingest.phone_calls WHERE call_sid IN (${calls} LIMIT $2::int)`, [addresses]);
        }
        break;
    }
    if (opts.stopAfter === step) return { deleted, stoppedAfter: step };
  }
  return { deleted };
}

/**
 * Removes reply text older than `days` from the ingest tables, in batches: the text of replies
 * stored for chat sessions, and the body and text of deliveries that are finished (delivered,
 * failed, callback-task; a pending one still needs its exact body). Returns the rows changed.
 */
export async function sweepIngestContent(pool: Pick<Pool, 'query'>, days: number, batchSize = 1000): Promise<number> {
  if (days <= 0) return 0;
  const chat = await deleteInBatches(
    pool,
    `UPDATE ingest.chat_session_events SET text = '' WHERE (session_id, seq) IN (
       SELECT session_id, seq FROM ingest.chat_session_events WHERE text <> '' AND created_at < now() - make_interval(days => $1::int) LIMIT $2::int FOR UPDATE SKIP LOCKED)`,
    [days],
    batchSize,
  );
  const deliveries = await deleteInBatches(
    pool,
    `UPDATE ingest.deliveries SET body = '', outbound = (outbound - ARRAY['text', 'subject', 'raw']) || '{"contentRemoved": true}'::jsonb
      WHERE seq IN (SELECT seq FROM ingest.deliveries
                     WHERE status <> 'pending' AND created_at < now() - make_interval(days => $1::int) AND NOT (outbound ? 'contentRemoved')
                     LIMIT $2::int FOR UPDATE SKIP LOCKED)`,
    [days],
    batchSize,
  );
  return chat + deliveries;
}

/** Starts the erasure consumer of an ingest service; the offset is committed only after eraseFromIngest resolved. */
export function startIngestErasureConsumer(deps: {
  kind: ChannelKind;
  kafka: Kafka;
  pool: Pool;
  publisher: Publisher;
  topics: TopicNames;
  logger: Logger;
  registry: Registry;
  groupId: string;
}): Promise<Consumer> {
  return startConsumer<ErasureEvent>({
    kafka: deps.kafka,
    groupId: deps.groupId,
    topics: { [deps.topics.erasures]: ErasureEvent },
    logger: deps.logger,
    publisher: deps.publisher,
    dlqTopic: deps.topics.dlq,
    registry: deps.registry,
    handle: (msg) => handleIngestErasure(deps, msg),
  });
}

/** The consumer handler: erase, then log ids and counts only. */
export async function handleIngestErasure(deps: { kind: ChannelKind; pool: Pool; logger: Logger }, msg: Received<ErasureEvent>): Promise<void> {
  const e = msg.value;
  const problems = erasureEventProblems(e);
  if (problems.length > 0) throw new PermanentError(`contract violation: ${problems.join('; ')}`);
  const r = await eraseFromIngest(deps.pool, deps.kind, e);
  deps.logger.info({ erasureId: e.erasureId, part: e.part, parts: e.parts, deleted: r.deleted }, 'erased a person from ingest');
}
