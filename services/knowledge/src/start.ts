import { join } from 'node:path';
import { ConversationEvent } from '@omni/contracts';
import { startConsumer } from '@omni/kafka';
import type { Logger } from '@omni/logging';
import { serviceAuth } from '@omni/auth';
import { createPool } from '@omni/db';
import { connectInfra, registerKafkaMetrics } from '@omni/service';
import type { KnowledgeConfig } from './config';
import { buildApp } from './app';
import { handleConversationBatch } from './consumers/conversation-outcomes';
import { historyClient } from './history-client';
import { seedArticles } from './seed-articles';
import { WORD_SIMILARITY_THRESHOLD } from './store/search';

/** Connects, migrates, seeds, starts the conversations consumer and the HTTP server (main.ts and tests). */
export async function start(config: KnowledgeConfig, logger: Logger) {
  const auth = serviceAuth(config, logger);
  const infra = await connectInfra({
    service: 'knowledge',
    schema: 'knowledge',
    migrationsDir: join(__dirname, '..', 'migrations'),
    config,
    logger,
  });
  // The service's own pool: typo tolerance uses pg_trgm's <% operator, which reads
  // pg_trgm.word_similarity_threshold; set per connection at start-up, so no SET per query.
  const pool = createPool(config.DATABASE_URL, { options: `-c pg_trgm.word_similarity_threshold=${WORD_SIMILARITY_THRESHOLD}` });
  if (config.KNOWLEDGE_SEED) {
    const n = await seedArticles(pool);
    if (n) logger.info({ inserted: n }, 'built-in articles inserted');
  }
  const app = await buildApp({
    infra: { pool, readiness: infra.readiness },
    logger,
    auth: auth.http,
    history: historyClient(config.HISTORY_URL, auth.jwtSecret, config.HISTORY_TIMEOUT_MS),
    articleLinkTemplate: config.ARTICLE_LINK_TEMPLATE,
  });
  const t = infra.topics;
  const consumer = await startConsumer<ConversationEvent>({
    kafka: infra.kafka,
    groupId: config.KNOWLEDGE_GROUP_ID,
    topics: { [t.conversations]: ConversationEvent },
    logger,
    publisher: infra.publisher,
    dlqTopic: t.dlq,
    registry: app.metrics,
    handleBatch: (batch) => handleConversationBatch({ pool }, batch),
  });
  const kafkaMetrics = registerKafkaMetrics(app.metrics, infra.kafka, t, { groups: [config.KNOWLEDGE_GROUP_ID] });
  const url = await app.listen({ port: config.PORT, host: config.HOST });
  logger.info(`knowledge listening on ${url}`);
  return {
    app,
    url,
    pool,
    close: async () => {
      await consumer.disconnect();
      await app.close();
      await kafkaMetrics.close();
      await pool.end().catch(() => undefined);
      await infra.close();
    },
  };
}
