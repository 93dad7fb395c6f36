import { join } from 'node:path';
import { CustomerRecord, DeadLetter, DeliveryStatus, InboundMessage } from '@omni/contracts';
import { OutboxRelay, startConsumer } from '@omni/kafka';
import type { Consumer } from 'kafkajs';
import type { Logger } from '@omni/logging';
import { connectInfra, registerKafkaMetrics, runPeriodically } from '@omni/service';
import { createPool } from '@omni/db';
import type { RouterConfig } from './config';
import { buildApp } from './app';
import { AgentHub } from './agent-hub';
import { csatKey, serviceAuth } from '@omni/auth';
import { forgetCustomer, handleCustomer } from './consumers/customers';
import { handleDeliveryStatus } from './consumers/delivery';
import { handleInboundBatch } from './consumers/inbound';
import { Matcher } from './routing/matching';
import { RuleCache, seedDefaultRules } from './store/rule-store';
import { clockOf, type RouterCtx } from './store/routing-tx';
import { Sweeper } from './routing/timers';
import { knowledgeAsker } from './routing/knowledge-prefetch';
import { refreshSessions } from './store/agents';
import { pruneProcessedEvents } from './store/retention';
import { storeDeadLetter } from './store/dead-letters';
import { startErasureConsumer } from './consumers/erasure';
import { startRouterContentSweep } from './store/content-retention';
import { checkRetention, recordStartupSettings } from './replay/recording';

/** Connects, migrates, starts the outbox relay, hub, matcher, sweeper, consumers and the HTTP server (main.ts and tests). */
export async function start(config: RouterConfig, logger: Logger) {
  // before connecting anything: production mode refuses a missing, short or placeholder JWT_SECRET
  const auth = serviceAuth(config, logger);
  const infra = await connectInfra({ service: 'router', schema: 'router', migrationsDir: join(__dirname, '..', 'migrations'), config, logger });
  // The router's own pool: offers, agent commands and console streams all need connections at once,
  // more than the default 10 (the infra pool stays for migrations and readiness).
  const pool = createPool(config.DATABASE_URL, { max: config.PG_POOL_MAX });
  await seedDefaultRules(pool);
  // replay's recordings (docs/replay.md): the lifecycle settings in force, and whether the topics reach back far enough
  await recordStartupSettings(pool, config, logger);
  void checkRetention(infra.kafka, infra.topics, config.REPLAY_HORIZON_DAYS, logger);
  const relay = new OutboxRelay(pool, 'router', infra.publisher, logger, { dlqTopic: infra.topics.dlq });
  relay.start();
  const hub = new AgentHub(pool, config.DATABASE_URL, logger);
  await hub.start();
  // eslint-disable-next-line prefer-const
  let matcher: Matcher;
  const ctx: RouterCtx = {
    pool,
    topics: infra.topics,
    config,
    logger,
    kickRelay: () => relay.kick(),
    wakeAgents: (events) => {
      hub.push(events);
      hub.announce([...new Set(events.map((e) => e.agentId))]);
    },
    kickMatcher: () => matcher.kick(),
    csatKey: csatKey(auth.jwtSecret),
    clock: () => new Date(),
  };
  matcher = new Matcher(() => ctx, config.MATCH_WORKERS);
  const sweeper = new Sweeper(ctx, async () => {
    // Liveness of the consoles held here; a replica that dies stops this and its agents time out.
    await refreshSessions(pool, hub.localSessions().map((s) => s.sessionId), clockOf(ctx), config.DISCONNECT_GRACE_MS);
  });
  sweeper.start();
  const pruning = runPeriodically(
    config.PROCESSED_EVENTS_SWEEP_INTERVAL_MS,
    async () => {
      const deleted = await pruneProcessedEvents(pool, config.PROCESSED_EVENTS_RETENTION_DAYS);
      if (deleted > 0) logger.info({ deleted, retentionDays: config.PROCESSED_EVENTS_RETENTION_DAYS }, 'processed event ids past retention removed');
    },
    (err) => logger.warn({ err: err.message }, 'processed_events prune failed, retrying next tick'),
  );
  const contentSweep = startRouterContentSweep(pool, config, logger); // ROUTER_CONTENT_RETENTION_DAYS
  const app = await buildApp({
    infra: { pool, readiness: infra.readiness },
    logger,
    ctx,
    hub,
    auth: auth.http,
    session: {
      jwtSecret: auth.jwtSecret,
      accessTtlSeconds: config.ACCESS_TOKEN_TTL_S,
      refreshTtlSeconds: config.REFRESH_TOKEN_TTL_S,
      maxFailures: config.SIGNIN_MAX_FAILURES,
      lockoutMs: config.SIGNIN_LOCKOUT_MS,
    },
    signInPerMinute: config.SIGNIN_RATE_LIMIT_PER_MINUTE,
  });
  relay.bindMetrics(app.metrics);
  const rules = new RuleCache();
  // suggestions on offers and self-service answers (docs/knowledge.md), asked outside routing transactions
  const ask = config.KNOWLEDGE_URL ? knowledgeAsker(config.KNOWLEDGE_URL, auth.jwtSecret, config.KNOWLEDGE_TIMEOUT_MS, logger) : undefined;
  const consumers: Consumer[] = [];
  consumers.push(
    await startConsumer<InboundMessage>({
      kafka: infra.kafka,
      groupId: config.ROUTER_GROUP_ID,
      topics: { [infra.topics.inbound]: InboundMessage },
      logger,
      publisher: infra.publisher,
      dlqTopic: infra.topics.dlq,
      registry: app.metrics,
      partitionsConsumedConcurrently: config.INBOUND_CONCURRENCY,
      // a fetched batch is routed in a few set-based transactions, in order
      handleBatch: (msgs) => handleInboundBatch({ ctx, rules, ...(ask ? { ask } : {}) }, msgs, config.INBOUND_TX_MAX),
    }),
  );
  consumers.push(
    await startConsumer<CustomerRecord>({
      kafka: infra.kafka,
      groupId: config.CUSTOMERS_GROUP_ID || `${config.ROUTER_GROUP_ID}-customers`,
      topics: { [infra.topics.customers]: CustomerRecord },
      logger,
      publisher: infra.publisher,
      dlqTopic: infra.topics.dlq,
      registry: app.metrics,
      handle: (msg) => handleCustomer(pool, msg),
      handleTombstone: (customerId) => forgetCustomer(pool, customerId),
    }),
  );
  consumers.push(
    await startConsumer<DeliveryStatus>({
      kafka: infra.kafka,
      groupId: `${config.ROUTER_GROUP_ID}-delivery`,
      topics: { [infra.topics.delivery]: DeliveryStatus },
      logger,
      publisher: infra.publisher,
      dlqTopic: infra.topics.dlq,
      registry: app.metrics,
      handle: (msg) => handleDeliveryStatus(ctx, msg),
    }),
  );
  // Every service's dead letters land in router.dead_letters for GET /v1/admin/dead-letters and
  // `npm run dlq:replay` (the router has the admin API and its JWT; omni.dlq.v1 has one partition).
  // A DLQ record this consumer cannot store would loop back into the DLQ: it is only logged.
  consumers.push(
    await startConsumer<DeadLetter>({
      kafka: infra.kafka,
      groupId: `${config.ROUTER_GROUP_ID}-dlq`,
      topics: { [infra.topics.dlq]: DeadLetter },
      logger,
      publisher: infra.publisher,
      dlqTopic: infra.topics.dlq,
      registry: app.metrics,
      handle: (msg) => storeDeadLetter(pool, msg),
    }),
  );
  // omni.erasures.v1 from history: forget the person (store/erasure.ts)
  consumers.push(await startErasureConsumer(ctx, { kafka: infra.kafka, publisher: infra.publisher, registry: app.metrics, groupId: `${config.ROUTER_GROUP_ID}-erasures` }));
  sweeper.observe(app.metrics);
  const kafkaMetrics = registerKafkaMetrics(app.metrics, infra.kafka, infra.topics, {
    groups: [config.ROUTER_GROUP_ID, config.CUSTOMERS_GROUP_ID || `${config.ROUTER_GROUP_ID}-customers`, `${config.ROUTER_GROUP_ID}-delivery`],
  });
  const url = await app.listen({ port: config.PORT, host: config.HOST });
  // Work left waiting by a previous run (or another replica) starts moving without a new message.
  matcher.kick();
  logger.info(`router listening on ${url}`);
  return {
    app,
    url,
    ctx,
    close: async () => {
      for (const c of consumers) await c.disconnect();
      await sweeper.stop();
      await pruning.stop();
      await contentSweep.stop();
      await matcher.stop();
      await hub.stop();
      await app.close();
      await kafkaMetrics.close();
      await relay.stop();
      await pool.end().catch(() => undefined);
      await infra.close();
    },
  };
}
