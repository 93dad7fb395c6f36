import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import { KIND_CHANNELS, OutboundMessage, type ChannelKind, type TopicNames } from '@omni/contracts';
import { startConsumer, type Publisher } from '@omni/kafka';
import type { Logger } from '@omni/logging';
import { acceptOutbound } from './accept-outbound';
import { parseDeliveryTargets, type DeliverySettings } from './delivery-config';
import { DeliveryWorker } from './delivery-worker';

export interface DeliveryInfra {
  pool: Pool;
  kafka: Kafka;
  publisher: Publisher;
  topics: TopicNames;
}

/** The consumer group of a kind's outbound consumer; the topic suffix keeps test worlds apart. */
export function deliveryGroupId(kind: ChannelKind, settings: Pick<DeliverySettings, 'DELIVERY_GROUP_ID'>, topicSuffix = ''): string {
  return settings.DELIVERY_GROUP_ID || `ingest-${kind}-delivery${topicSuffix}`;
}

/**
 * Starts outbound delivery for one ingest service's channels: the omni.outbound.v1 consumer that
 * persists replies and the delivery loop that POSTs them; their statuses and dead letters go
 * through `ingest.outbox`, relayed by the service's relay (`kickRelay`). Returns the closer
 * (consumer first, so nothing new arrives, then the loop); the service stops its relay after it.
 */
export async function startDelivery(opts: {
  kind: ChannelKind;
  settings: DeliverySettings;
  topicSuffix: string;
  infra: DeliveryInfra;
  logger: Logger;
  registry?: Registry;
  kickRelay: () => void;
}): Promise<{ groupId?: string; close: () => Promise<void> }> {
  const { kind, settings, infra } = opts;
  if (!settings.DELIVERY_ENABLED) return { close: async () => undefined };
  const logger = opts.logger.child({ component: 'delivery' });
  const targets = parseDeliveryTargets(settings.DELIVERY_TARGETS);
  const channels = KIND_CHANNELS[kind];
  const groupId = deliveryGroupId(kind, settings, opts.topicSuffix);
  const worker = new DeliveryWorker({
    pool: infra.pool,
    topics: infra.topics,
    channels,
    targets,
    policy: { maxAttempts: settings.DELIVERY_MAX_ATTEMPTS, baseBackoffMs: settings.DELIVERY_BASE_BACKOFF_MS, maxBackoffMs: settings.DELIVERY_MAX_BACKOFF_MS },
    emailDomain: settings.EMAIL_MESSAGE_ID_DOMAIN,
    replyToBase: settings.EMAIL_REPLY_TO_ADDRESS,
    timeoutMs: settings.DELIVERY_TIMEOUT_MS,
    concurrency: settings.DELIVERY_CONCURRENCY,
    pollMs: settings.DELIVERY_POLL_MS,
    logger,
    onOutbox: opts.kickRelay,
    registry: opts.registry,
  });
  worker.start();
  let consumer;
  try {
    consumer = await startConsumer<OutboundMessage>({
      kafka: infra.kafka,
      groupId,
      topics: { [infra.topics.outbound]: OutboundMessage },
      logger,
      publisher: infra.publisher,
      dlqTopic: infra.topics.dlq,
      handleBatch: async (msgs) => {
        const r = await acceptOutbound(
          { pool: infra.pool, topics: infra.topics, groupId, channels, targets, emailDomain: settings.EMAIL_MESSAGE_ID_DOMAIN, replyToBase: settings.EMAIL_REPLY_TO_ADDRESS },
          msgs,
        );
        if (r.pending > 0) worker.kick();
        if (r.events > 0) opts.kickRelay();
      },
    });
  } catch (err) {
    await worker.stop();
    throw err;
  }
  logger.info({ groupId, channels, targets: [...targets.keys()] }, 'outbound delivery started');
  return {
    groupId,
    close: async () => {
      await consumer.disconnect();
      await worker.stop();
    },
  };
}
