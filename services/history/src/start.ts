import { join } from 'node:path';
import { AgentEvent, ConversationEvent, DeliveryStatus, InboundMessage, OutboundMessage } from '@omni/contracts';
import { OutboxRelay, startConsumer } from '@omni/kafka';
import type { Logger } from '@omni/logging';
import { serviceAuth } from '@omni/auth';
import { connectInfra, registerKafkaMetrics, runPeriodically } from '@omni/service';
import { sweepMessageContent } from './store/content-retention';
import type { HistoryConfig } from './config';
import { buildApp } from './app';
import { handleTimelineBatch } from './consumers/timeline';
import { handleAgentEventsBatch } from './consumers/agent-events';
import { RouterCalendars } from './router-calendars';
import { knowledgeKpis } from './knowledge-kpis';
import { configureIdentity } from './domain/identity';
import { isSupportedCountry, type CountryCode } from 'libphonenumber-js';
import type { HistoryEvent } from './domain/timeline-entry';
import { pendingErasures, runErasure, type ErasureDeps } from './store/erasure';

/** Connects, migrates, starts the outbox relay, the timeline consumer and the HTTP server (main.ts and tests). */
export async function start(config: HistoryConfig, logger: Logger) {
  const region = config.HISTORY_DEFAULT_PHONE_REGION;
  if (region && !isSupportedCountry(region)) throw new Error(`HISTORY_DEFAULT_PHONE_REGION: ${region} is not a region libphonenumber knows`);
  configureIdentity(region ? { defaultPhoneRegion: region as CountryCode } : {});
  const auth = serviceAuth(config, logger);
  const infra = await connectInfra({ service: 'history', schema: 'history', migrationsDir: join(__dirname, '..', 'migrations'), config, logger });
  // customers.v1 records are written to history.outbox in the same transaction as the change
  const relay = new OutboxRelay(infra.pool, 'history', infra.publisher, logger, { dlqTopic: infra.topics.dlq });
  relay.start();
  // Tombstones (null values) are outside the envelope contracts, so they go through a plain producer;
  // an erasure records its step only after they are acknowledged, and resends them on resume.
  const tombstones = infra.kafka.producer({ allowAutoTopicCreation: false });
  await tombstones.connect();
  const tombstone: ErasureDeps['tombstone'] = async (topic, keys) => {
    await tombstones.send({ topic, acks: -1, messages: keys.map((key) => ({ key, value: null })) });
  };
  const calendars = new RouterCalendars({
    pool: infra.pool,
    routerUrl: config.ROUTER_URL,
    jwtSecret: auth.jwtSecret,
    timeoutMs: config.ROUTER_TIMEOUT_MS,
    maxAgeMs: config.BUSINESS_HOURS_MAX_AGE_MS,
    logger,
  });
  const kpis = {
    sla: { firstResponseMs: config.SLA_FIRST_RESPONSE_MS, resolutionMs: config.SLA_RESOLUTION_MS },
    calendars,
    knowledge: (from: string, to: string) => knowledgeKpis({ baseUrl: config.KNOWLEDGE_URL, jwtSecret: auth.jwtSecret, timeoutMs: config.KNOWLEDGE_TIMEOUT_MS }, from, to),
  };
  const app = await buildApp({ infra, logger, relay, recontactDays: config.FCR_RECONTACT_DAYS, kpis, auth: auth.http, jwtSecret: auth.jwtSecret, tombstone });
  // erasures a crash interrupted are finished before anything else is served
  for (const id of await pendingErasures(infra.pool)) {
    const e = await runErasure({ pool: infra.pool, customersTopic: infra.topics.customers, erasuresTopic: infra.topics.erasures, tombstone }, id);
    logger.info({ erasureId: id, customers: e.members.length }, 'resumed an interrupted erasure');
  }
  relay.bindMetrics(app.metrics);
  const t = infra.topics;
  const consumer = await startConsumer<HistoryEvent>({
    kafka: infra.kafka,
    groupId: config.HISTORY_GROUP_ID,
    topics: { [t.inbound]: InboundMessage, [t.conversations]: ConversationEvent, [t.outbound]: OutboundMessage, [t.delivery]: DeliveryStatus },
    logger,
    publisher: infra.publisher,
    dlqTopic: t.dlq,
    registry: app.metrics,
    partitionsConsumedConcurrently: config.HISTORY_PARTITIONS_CONCURRENTLY,
    fetch: { minBytes: config.HISTORY_FETCH_MIN_BYTES, maxWaitTimeInMs: config.HISTORY_FETCH_MAX_WAIT_MS },
    handleBatch: (batch) => handleTimelineBatch({ pool: infra.pool, topics: t, relay }, batch),
  });
  // agent state over time has its own group: a backlog of timeline events never delays occupancy, and the reverse
  const agentsGroup = config.HISTORY_AGENTS_GROUP_ID || `${config.HISTORY_GROUP_ID}-agents`;
  const agentsConsumer = await startConsumer<AgentEvent>({
    kafka: infra.kafka,
    groupId: agentsGroup,
    topics: { [t.agents]: AgentEvent },
    logger,
    publisher: infra.publisher,
    dlqTopic: t.dlq,
    registry: app.metrics,
    handleBatch: async (batch) => {
      await handleAgentEventsBatch({ pool: infra.pool }, batch);
    },
  });
  const kafkaMetrics = registerKafkaMetrics(app.metrics, infra.kafka, t, { groups: [config.HISTORY_GROUP_ID, agentsGroup] });
  // the router's calendars are checked in the background too, so a re-activated version is dated
  // within BUSINESS_HOURS_MAX_AGE_MS of it (the router's API does not date activations)
  const calendarCheck = runPeriodically(
    config.BUSINESS_HOURS_MAX_AGE_MS,
    () => calendars.check(),
    (err) => logger.warn({ err: err.message }, 'router business hours check failed, retrying next tick'),
  );
  const contentSweep = runPeriodically(
    config.HISTORY_CONTENT_SWEEP_INTERVAL_MS,
    async () => {
      const swept = await sweepMessageContent(infra.pool, config.HISTORY_CONTENT_RETENTION_DAYS);
      if (swept > 0) logger.info({ swept, retentionDays: config.HISTORY_CONTENT_RETENTION_DAYS }, 'message content past retention removed');
    },
    (err) => logger.warn({ err: err.message }, 'content retention sweep failed, retrying next tick'),
  );
  const url = await app.listen({ port: config.PORT, host: config.HOST });
  logger.info(`history listening on ${url}`);
  return {
    app,
    url,
    pool: infra.pool,
    close: async () => {
      await consumer.disconnect();
      await agentsConsumer.disconnect();
      await calendarCheck.stop();
      await contentSweep.stop();
      await app.close();
      await kafkaMetrics.close();
      await tombstones.disconnect().catch(() => undefined);
      await relay.stop();
      await infra.close();
    },
  };
}
