import type { Pool, PoolClient } from 'pg';
import type { Channel, OutboundMessage, TopicNames } from '@omni/contracts';
import { withTransaction } from '@omni/db';
import { enqueueOutbox, type OutboxRecord, type Received } from '@omni/kafka';
import type { DeliveryTarget } from './delivery-config';
import { buildCallbackBody, emailOf, UndeliverableError } from './callback-body';
import { deadLetterRecord, statusRecord, type OutboundSource } from './delivery-events';
import { conversationsAwaitingProvider, insertDelivery, knownOutboundIds, providersOfThreads } from './delivery-store';
import { emailHeadersForReply } from './email-thread-store';

export interface AcceptOutboundDeps {
  pool: Pool;
  topics: TopicNames;
  groupId: string;
  /** the channels this ingest service delivers (KIND_CHANNELS of its kind) */
  channels: readonly Channel[];
  targets: Map<string, DeliveryTarget>;
  emailDomain: string;
  replyToBase: string;
}

/** Threads of this provider are answered over the chat visitor's websocket, not through a target. */
export const WEBSOCKET_PROVIDER = 'webchat';

/**
 * The provider of a delivery row whose thread had no known provider when the reply was accepted
 * (never a real provider: omni.inbound.v1 requires a non-empty one). The delivery loop resolves it.
 */
export const UNRESOLVED_PROVIDER = '';

export const noKnownProvider = (threadKey: string) => `no delivery target yet: thread ${threadKey.slice(0, 200)} has no known provider (its inbound message is not recorded)`;

export type PrepareDeps = Pick<AcceptOutboundDeps, 'targets' | 'emailDomain' | 'replyToBase'>;

/** What a reply on a thread of `provider` comes to: the callback body, or why it can never be sent. */
export type Preparation = { kind: 'websocket' } | { kind: 'ready'; body: string } | { kind: 'undeliverable'; reason: string };

/**
 * Builds the callback body of a reply for the thread's provider, in the caller's transaction (an email
 * reply records its Message-ID). Runs once per reply: at acceptance, or on the attempt that resolves
 * a provider unknown at acceptance.
 */
export async function prepareDelivery(client: PoolClient, deps: PrepareDeps, out: OutboundMessage, provider: string): Promise<Preparation> {
  if (provider === WEBSOCKET_PROVIDER) return { kind: 'websocket' };
  if (!deps.targets.get(provider)) return { kind: 'undeliverable', reason: `no delivery target for provider ${provider}` };
  try {
    // check the recipient before a Message-ID is recorded for a reply that can never be sent
    if (out.channel === 'email') emailOf(out.to);
    const email = out.channel === 'email' ? await emailHeadersForReply(client, { outboundId: out.outboundId, threadKey: out.threadKey, domain: deps.emailDomain, replyToBase: deps.replyToBase }) : undefined;
    return { kind: 'ready', body: JSON.stringify(buildCallbackBody(out, provider, email)) };
  } catch (err) {
    if (!(err instanceof UndeliverableError)) throw err;
    return { kind: 'undeliverable', reason: err.message };
  }
}

/** What the attempt that resolves a row's provider found. */
export type Resolution =
  | { kind: 'lost' } // the claim no longer holds the row
  | { kind: 'unknown' } // still no inbound message recorded for the thread
  | { kind: 'websocket' } // a chat websocket session: ingest-chat delivers it; the row is removed
  | { kind: 'undeliverable'; provider: string; reason: string }
  | { kind: 'ready'; provider: string; body: string };

/**
 * Looks up the provider of a claimed row accepted without one (UNRESOLVED_PROVIDER) and, when it is
 * now known, fixes the row's provider and body (fenced by the claim token, like recordAttempt).
 */
export async function resolveProvider(pool: Pool, deps: PrepareDeps, row: { seq: string; outbound: OutboundMessage }, token: string): Promise<Resolution> {
  return withTransaction(pool, async (client) => {
    const held = await client.query(`SELECT 1 FROM ingest.deliveries WHERE seq = $1::bigint AND claim_token = $2::text AND status = 'pending' FOR UPDATE`, [row.seq, token]);
    if (!held.rowCount) return { kind: 'lost' };
    const provider = (await providersOfThreads(client, [row.outbound.threadKey])).get(row.outbound.threadKey);
    if (!provider) return { kind: 'unknown' };
    const prep = await prepareDelivery(client, deps, row.outbound, provider);
    if (prep.kind === 'websocket') {
      // as at acceptance, where a websocket thread gets no row at all
      await client.query('DELETE FROM ingest.deliveries WHERE seq = $1::bigint', [row.seq]);
      return prep;
    }
    const body = prep.kind === 'ready' ? prep.body : '{}';
    await client.query('UPDATE ingest.deliveries SET provider = $2::text, body = $3::text, updated_at = now() WHERE seq = $1::bigint', [row.seq, provider, body]);
    return prep.kind === 'ready' ? { kind: 'ready', provider, body } : { kind: 'undeliverable', provider, reason: prep.reason };
  });
}

export interface AcceptOutboundResult {
  /** rows the delivery loop should now try */
  pending: number;
  /** status / dead-letter records written to the outbox */
  events: number;
}

/**
 * The omni.outbound.v1 consumer handler. Persists each reply of our channels as a delivery row (one
 * transaction per batch, idempotent on outboundId) so the offset can be committed before the HTTP
 * work happens. Replies that can never be delivered (no target, voice, bad recipient) get their final
 * status here, with the status and dead letter written to the outbox in the same transaction. A reply
 * whose thread has no known provider yet is kept pending with UNRESOLVED_PROVIDER (resolveProvider).
 */
export async function acceptOutbound(deps: AcceptOutboundDeps, msgs: Received<OutboundMessage>[]): Promise<AcceptOutboundResult> {
  const mine = msgs.filter((m) => deps.channels.includes(m.value.channel));
  if (mine.length === 0) return { pending: 0, events: 0 };
  return withTransaction(deps.pool, async (client) => {
    const seen = await knownOutboundIds(client, mine.map((m) => m.value.outboundId));
    const providers = await providersOfThreads(client, [...new Set(mine.map((m) => m.value.threadKey))]);
    const deferred = await conversationsAwaitingProvider(client, [...new Set(mine.map((m) => m.value.conversationId))]);
    const events: OutboxRecord[] = [];
    let pending = 0;
    for (const m of mine) {
      const out = m.value;
      if (seen.has(out.outboundId)) continue;
      seen.add(out.outboundId);
      const source: OutboundSource = { topic: m.topic, partition: m.partition, offset: m.offset, groupId: deps.groupId };
      const provider = providers.get(out.threadKey);
      if (out.channel === 'phone') {
        // A voice conversation has nobody to read a text: the agent calls back instead.
        if (await insertDelivery(client, { out, provider: provider ?? 'unknown', status: 'callback-task', body: '{}', source }))
          events.push(statusRecord(deps.topics, out, 'callback-task', 0, { reason: 'voice conversation: call the customer back' }));
        continue;
      }
      if (!provider || deferred.has(out.conversationId)) {
        // The thread's inbound message is not recorded yet (an ingest process killed between publishing
        // it and committing its dedupe row; the provider's retry records it). Kept pending: the delivery
        // loop looks the provider up again on each attempt, under the retry policy. A later reply of a
        // conversation with such a row waits the same way, so bodies (email Message-IDs) keep reply order.
        if (await insertDelivery(client, { out, provider: UNRESOLVED_PROVIDER, status: 'pending', body: '{}', lastError: noKnownProvider(out.threadKey), source })) pending++;
        deferred.add(out.conversationId);
        continue;
      }
      const prep = await prepareDelivery(client, deps, out, provider);
      if (prep.kind === 'websocket') continue;
      const failure = prep.kind === 'undeliverable' ? prep.reason : undefined;
      const body = prep.kind === 'ready' ? prep.body : '{}';
      const inserted = await insertDelivery(client, { out, provider, status: failure ? 'failed' : 'pending', body, lastError: failure, source });
      if (!inserted) continue;
      if (failure) events.push(statusRecord(deps.topics, out, 'failed', 0, { reason: failure }), deadLetterRecord(deps.topics, out, source, failure));
      else pending++;
    }
    await enqueueOutbox(client, 'ingest', events);
    return { pending, events: events.length };
  });
}
