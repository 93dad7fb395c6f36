import type { Pool } from 'pg';
import type { Channel, OutboundMessage, TopicNames } from '@omni/contracts';
import { withTransaction } from '@omni/db';
import { enqueueOutbox, type OutboxRecord, type Received } from '@omni/kafka';
import type { DeliveryTarget } from './delivery-config';
import { buildCallbackBody, emailOf, UndeliverableError } from './callback-body';
import { deadLetterRecord, statusRecord, type OutboundSource } from './delivery-events';
import { insertDelivery, knownOutboundIds, providersOfThreads } from './delivery-store';
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
 * status here, with the status and dead letter written to the outbox in the same transaction.
 */
export async function acceptOutbound(deps: AcceptOutboundDeps, msgs: Received<OutboundMessage>[]): Promise<AcceptOutboundResult> {
  const mine = msgs.filter((m) => deps.channels.includes(m.value.channel));
  if (mine.length === 0) return { pending: 0, events: 0 };
  return withTransaction(deps.pool, async (client) => {
    const seen = await knownOutboundIds(client, mine.map((m) => m.value.outboundId));
    const providers = await providersOfThreads(client, [...new Set(mine.map((m) => m.value.threadKey))]);
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
      if (provider === WEBSOCKET_PROVIDER) continue;
      let failure: string | undefined;
      let body = '{}';
      const target = provider ? deps.targets.get(provider) : undefined;
      if (!provider) failure = `no delivery target: thread ${out.threadKey.slice(0, 200)} has no known provider`;
      else if (!target) failure = `no delivery target for provider ${provider}`;
      else {
        try {
          // check the recipient before a Message-ID is recorded for a reply that can never be sent
          if (out.channel === 'email') emailOf(out.to);
          const email = out.channel === 'email' ? await emailHeadersForReply(client, { outboundId: out.outboundId, threadKey: out.threadKey, domain: deps.emailDomain, replyToBase: deps.replyToBase }) : undefined;
          body = JSON.stringify(buildCallbackBody(out, provider, email));
        } catch (err) {
          if (!(err instanceof UndeliverableError)) throw err;
          failure = err.message;
        }
      }
      const inserted = await insertDelivery(client, { out, provider: provider ?? 'unknown', status: failure ? 'failed' : 'pending', body, lastError: failure, source });
      if (!inserted) continue;
      if (failure) events.push(statusRecord(deps.topics, out, 'failed', 0, { reason: failure }), deadLetterRecord(deps.topics, out, source, failure));
      else pending++;
    }
    await enqueueOutbox(client, 'ingest', events);
    return { pending, events: events.length };
  });
}
