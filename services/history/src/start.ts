import { join } from 'node:path';
import { ConversationEvent, DeliveryStatus, InboundMessage, OutboundMessage } from '@omni/contracts';
import { startConsumer } from '@omni/kafka';
import type { Logger } from '@omni/logging';
import { connectInfra } from '@omni/service';
import type { HistoryConfig } from './config';
import { buildApp } from './app';
import { handleTimelineBatch } from './consumers/timeline';
import type { HistoryEvent } from './domain/timeline-entry';

/** Connects, migrates, starts the timeline consumer and the HTTP server (main.ts and tests). */
export async function start(config: HistoryConfig, logger: Logger) {
  const infra = await connectInfra({ service: 'history', schema: 'history', migrationsDir: join(__dirname, '..', 'migrations'), config, logger });
  const app = await buildApp({ infra, logger });
  const t = infra.topics;
  const consumer = await startConsumer<HistoryEvent>({
    kafka: infra.kafka,
    groupId: config.HISTORY_GROUP_ID,
    topics: { [t.inbound]: InboundMessage, [t.conversations]: ConversationEvent, [t.outbound]: OutboundMessage, [t.delivery]: DeliveryStatus },
    logger,
    publisher: infra.publisher,
    dlqTopic: t.dlq,
    handleBatch: (batch) => handleTimelineBatch({ pool: infra.pool }, batch),
  });
  const url = await app.listen({ port: config.PORT, host: config.HOST });
  logger.info(`history listening on ${url}`);
  return {
    app,
    url,
    close: async () => {
      await consumer.disconnect();
      await app.close();
      await infra.close();
    },
  };
}
