import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { CommonEnv, parsePairs } from '@omni/config';
import { AuthEnv, assertProductionSecrets, defaultServiceAuth, declareRouteAuth, publicRoute, serviceAuth, type AuthConfig, type ServiceAuth } from '@omni/auth';
import type { ChannelKind } from '@omni/contracts';
import { createLogger, type Logger } from '@omni/logging';
import { OutboxRelay } from '@omni/kafka';
import { connectInfra, createHttpApp, registerKafkaMetrics, runPeriodically, runService, type Infra } from '@omni/service';
import { createIngestMetrics, type IngestMetrics } from './ingest-metrics';
import { registerAdapterRoute } from './adapter-route';
import type { IngestDeps } from './accept-inbound';
import { DeliveryEnv, deliverySettings, parseDeliveryTargets, type DeliverySettings } from './delivery/delivery-config';
import { startDelivery } from './delivery/start-delivery';
import { DedupeEnv, sweepDedupe, type DedupeSettings } from './dedupe-retention';
import { IngestErasureEnv, startIngestErasureConsumer, sweepIngestContent, type IngestErasureSettings } from './erasure';

/** Env every ingest service reads on top of CommonEnv. */
export const IngestEnv = {
  ...CommonEnv,
  ...AuthEnv,
  ADAPTER_API_KEYS: Type.String({ default: '', description: 'adapterId:key pairs, comma separated' }),
  BODY_LIMIT_BYTES: Type.Integer({ default: 1024 * 1024, minimum: 1024 }),
  ...DeliveryEnv,
  ...DedupeEnv,
  ...IngestErasureEnv,
};

/** Where the shared `ingest` schema's migrations live. */
export const INGEST_MIGRATIONS = join(__dirname, '..', 'migrations');

export interface IngestAppDeps {
  infra: Pick<Infra, 'pool' | 'publisher' | 'topics' | 'readiness'>;
  logger: Logger;
  apiKeys: Map<string, string>;
  bodyLimit?: number;
  /** after committing rows to `ingest.outbox`: relay them now (one relay per service) */
  kickRelay: () => void;
  /** access control (libs/auth); absent (tests building an app by hand) = a random key, so only public routes answer */
  auth?: ServiceAuth['http'];
}

/**
 * Builds an ingest service's fastify app: the bootstrap routes, the generic adapter route for its
 * channel kind, and whatever provider routes `register` adds.
 */
export async function buildIngestApp(
  kind: ChannelKind,
  deps: IngestAppDeps,
  register?: (app: FastifyInstance, ingest: IngestDeps) => Promise<void> | void,
): Promise<{ app: FastifyInstance; ingest: IngestDeps; metrics: IngestMetrics }> {
  const app = await createHttpApp({ name: `ingest-${kind}`, logger: deps.logger, readiness: deps.infra.readiness, bodyLimit: deps.bodyLimit, ...(deps.auth ?? defaultServiceAuth(deps.logger).http) });
  const metrics = createIngestMetrics(app.metrics);
  const ingest: IngestDeps = { pool: deps.infra.pool, publisher: deps.infra.publisher, topics: deps.infra.topics, metrics, logger: deps.logger };
  // The adapter route checks the adapter's API key itself (onRequest, before the body is read);
  // as a public route it is rate-limited per API key.
  await app.register(async (scope) => {
    declareRouteAuth(scope, publicRoute('channel adapter: X-Api-Key checked by the route, limited per key'));
    registerAdapterRoute(scope, ingest, kind, deps.apiKeys);
  });
  if (register) await register(app, ingest);
  return { app, ingest, metrics };
}

/** The settings runIngestService needs from a service's own validated config. */
export interface BaseIngestConfig {
  KAFKA_BROKERS: string;
  DATABASE_URL: string;
  KAFKA_TOPIC_SUFFIX: string;
  KAFKA_TOPIC_PARTITIONS: number;
  ADAPTER_API_KEYS: string;
  BODY_LIMIT_BYTES: number;
  HOST: string;
  PORT: number;
  SHUTDOWN_GRACE_MS: number;
}

/** Delivery and dedupe settings are optional in the type (IngestEnv supplies them with defaults). */
export type IngestServiceConfig = BaseIngestConfig & AuthConfig & Partial<DeliverySettings> & Partial<DedupeSettings> & Partial<IngestErasureSettings>;

/** Connects infrastructure, builds the app and listens; used by main.ts and by tests (PORT=0). */
export async function startIngestService<C extends IngestServiceConfig>(
  kind: ChannelKind,
  config: C,
  logger: Logger,
  build: (config: C, deps: IngestAppDeps) => Promise<{ app: FastifyInstance; close?: () => Promise<void>; consumerGroups?: string[] }>,
): Promise<{ app: FastifyInstance; url: string; close: () => Promise<void> }> {
  const name = `ingest-${kind}`;
  // validate delivery settings before connecting anything: a bad DELIVERY_TARGETS fails fast, by name
  const delivery = deliverySettings(config);
  const targets = parseDeliveryTargets(delivery.DELIVERY_TARGETS);
  // production mode refuses short or placeholder secrets (JWT_SECRET, adapter keys, callback signing secrets) before connecting
  const apiKeys = parsePairs(config.ADAPTER_API_KEYS, 'ADAPTER_API_KEYS');
  assertProductionSecrets({
    ...Object.fromEntries([...apiKeys].map(([id, key]) => [`ADAPTER_API_KEYS[${id}]`, key])),
    ...Object.fromEntries([...targets.values()].map((t) => [`DELIVERY_TARGETS[${t.provider}]`, t.secret])),
  });
  const auth = serviceAuth(config, logger);
  const infra = await connectInfra({ service: name, schema: 'ingest', migrationsDir: INGEST_MIGRATIONS, config, logger });
  // one relay for the service's `ingest.outbox` rows (delivery statuses, chat delivered receipts)
  const relay = new OutboxRelay(infra.pool, 'ingest', infra.publisher, logger, { dlqTopic: infra.topics.dlq });
  relay.start();
  const kickRelay = () => relay.kick();
  const built = await build(config, { infra, logger, apiKeys, bodyLimit: config.BODY_LIMIT_BYTES, kickRelay, auth: auth.http });
  relay.bindMetrics(built.app.metrics);
  // Every ingest service delivers agent replies for its own channels (docs/delivery-callbacks.md).
  const deliveryRun = await startDelivery({ kind, settings: delivery, topicSuffix: config.KAFKA_TOPIC_SUFFIX, infra, logger, registry: built.app.metrics, kickRelay });
  // omni.erasures.v1: forget a person history erased (this service's channels and tables, erasure.ts)
  const erasureGroup = config.ERASURE_GROUP_ID || `${name}-erasures${config.KAFKA_TOPIC_SUFFIX}`;
  const erasures = await startIngestErasureConsumer({ kind, kafka: infra.kafka, pool: infra.pool, publisher: infra.publisher, topics: infra.topics, logger, registry: built.app.metrics, groupId: erasureGroup });
  const kafkaMetrics = registerKafkaMetrics(built.app.metrics, infra.kafka, infra.topics, {
    groups: [...(deliveryRun.groupId ? [deliveryRun.groupId] : []), erasureGroup, ...(built.consumerGroups ?? [])],
  });
  const retentionDays = config.DEDUPE_RETENTION_DAYS ?? DedupeEnv.DEDUPE_RETENTION_DAYS.default;
  const dedupeSweep = runPeriodically(
    config.DEDUPE_SWEEP_INTERVAL_MS ?? DedupeEnv.DEDUPE_SWEEP_INTERVAL_MS.default,
    async () => {
      const deleted = await sweepDedupe(infra.pool, retentionDays);
      if (deleted > 0) logger.info({ deleted, retentionDays }, 'dedupe rows past retention removed');
    },
    (err) => logger.warn({ err: err.message }, 'dedupe sweep failed, retrying next tick'),
  );
  const contentDays = config.INGEST_CONTENT_RETENTION_DAYS ?? IngestErasureEnv.INGEST_CONTENT_RETENTION_DAYS.default;
  const contentSweep = runPeriodically(
    config.INGEST_CONTENT_SWEEP_INTERVAL_MS ?? IngestErasureEnv.INGEST_CONTENT_SWEEP_INTERVAL_MS.default,
    async () => {
      const swept = await sweepIngestContent(infra.pool, contentDays);
      if (swept > 0) logger.info({ swept, retentionDays: contentDays }, 'reply content past retention removed');
    },
    (err) => logger.warn({ err: err.message }, 'content retention sweep failed, retrying next tick'),
  );
  const url = await built.app.listen({ port: config.PORT, host: config.HOST });
  logger.info(`${name} listening on ${url}`);
  return {
    app: built.app,
    url,
    close: async () => {
      await erasures.disconnect();
      await dedupeSweep.stop();
      await contentSweep.stop();
      await deliveryRun.close();
      await built.close?.();
      await built.app.close();
      await kafkaMetrics.close();
      await relay.stop(); // after everything that writes the outbox
      await infra.close();
    },
  };
}

/** main() shared by the ingest services: config, start, graceful close on signals. */
export function runIngestService<C extends IngestServiceConfig>(
  kind: ChannelKind,
  readConfig: () => C,
  build: (config: C, deps: IngestAppDeps) => Promise<{ app: FastifyInstance; close?: () => Promise<void>; consumerGroups?: string[] }>,
): void {
  const logger = createLogger(`ingest-${kind}`);
  void runService(`ingest-${kind}`, logger, 10000, () => startIngestService(kind, readConfig(), logger, build));
}
