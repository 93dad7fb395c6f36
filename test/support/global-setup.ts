/**
 * Integration tests need a real Kafka broker and a real PostgreSQL server. In order of preference:
 * 1. KAFKA_BROKERS and DATABASE_URL from the environment (what .ci/run and `npm run kafka:start` give);
 * 2. testcontainers (Kafka + PostgreSQL modules) when a Docker engine is reachable;
 * 3. otherwise stop with one sentence saying how to start local infrastructure.
 */
import { execFileSync } from 'node:child_process';

declare global {
  // eslint-disable-next-line no-var
  var __omniContainers: { stop: () => Promise<unknown> }[] | undefined;
}

function dockerReachable(): boolean {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

export default async function globalSetup(): Promise<void> {
  if (process.env.KAFKA_BROKERS && process.env.DATABASE_URL) return;
  if (dockerReachable()) {
    const { KafkaContainer } = await import('@testcontainers/kafka');
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const [kafka, pg] = await Promise.all([
      new KafkaContainer('apache/kafka:4.1.1').withKraft().start(),
      new PostgreSqlContainer('postgres:16-alpine').withUsername('postgres').withPassword('postgres').start(),
    ]);
    process.env.KAFKA_BROKERS = `${kafka.getHost()}:${kafka.getMappedPort(9093)}`;
    process.env.DATABASE_URL = pg.getConnectionUri();
    globalThis.__omniContainers = [kafka, pg];
    return;
  }
  throw new Error(
    'Integration tests need Kafka and PostgreSQL: run `npm run kafka:start` and export KAFKA_BROKERS=127.0.0.1:9092 DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres (or start a Docker engine for testcontainers).',
  );
}
