import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { topicNames, type TopicNames } from '@omni/contracts';
import { createPool, ensureDatabase, migrate } from '@omni/db';
import { createKafka, ensureTopics, pingKafka, Publisher } from '@omni/kafka';
import type { Logger } from '@omni/logging';
import type { ReadinessCheck } from './http-app';

export interface InfraConfig {
  KAFKA_BROKERS: string;
  DATABASE_URL: string;
  KAFKA_TOPIC_SUFFIX: string;
  KAFKA_TOPIC_PARTITIONS: number;
  KAFKA_REPLICATION_FACTOR?: number;
  KAFKA_MIN_INSYNC_REPLICAS?: number;
  /** idle fetch wait of this service's consumers (CommonEnv; kafkajs's 5 s when absent) */
  KAFKA_FETCH_MAX_WAIT_MS?: number;
}

/** Connections every service holds: its pool (own schema migrated), the Kafka client and publisher. */
export interface Infra {
  pool: Pool;
  kafka: Kafka;
  publisher: Publisher;
  topics: TopicNames;
  readiness: ReadinessCheck[];
  close: () => Promise<void>;
}

/**
 * Connects to Postgres (creating the database and migrating the service's schema) and to Kafka
 * (creating topics, connecting the publisher). Failures are rethrown with a message that names the
 * dependency, so start-up ends with one clear line.
 */
export async function connectInfra(opts: { service: string; schema: string; migrationsDir: string; config: InfraConfig; logger: Logger }): Promise<Infra> {
  const { config, logger } = opts;
  try {
    await ensureDatabase(config.DATABASE_URL);
  } catch (err) {
    throw new Error(`postgres unreachable at DATABASE_URL (${redactUrl(config.DATABASE_URL)}): ${(err as Error).message}`);
  }
  const pool = createPool(config.DATABASE_URL);
  try {
    const r = await migrate(pool, opts.schema, opts.migrationsDir);
    if (r.applied.length) logger.info({ applied: r.applied }, `migrated schema ${opts.schema}`);
  } catch (err) {
    await pool.end();
    throw new Error(`database migration failed: ${(err as Error).message}`);
  }
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: opts.service, logger, fetchMaxWaitMs: config.KAFKA_FETCH_MAX_WAIT_MS });
  const topics = topicNames(config.KAFKA_TOPIC_SUFFIX);
  const publisher = new Publisher(kafka);
  try {
    await ensureTopics(kafka, topics, config.KAFKA_TOPIC_PARTITIONS, {
      replicationFactor: config.KAFKA_REPLICATION_FACTOR,
      minInsyncReplicas: config.KAFKA_MIN_INSYNC_REPLICAS,
    });
    await publisher.connect();
  } catch (err) {
    await pool.end();
    throw new Error(`kafka unreachable at KAFKA_BROKERS (${config.KAFKA_BROKERS}): ${(err as Error).message}`);
  }
  return {
    pool,
    kafka,
    publisher,
    topics,
    readiness: [
      { name: 'postgres', check: async () => void (await pool.query('SELECT 1')) },
      { name: 'kafka', check: () => pingKafka(kafka) },
    ],
    close: async () => {
      await publisher.disconnect().catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'unparseable URL';
  }
}
