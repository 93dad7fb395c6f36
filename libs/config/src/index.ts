import envSchema from 'env-schema';
import { Type, type Static, type TProperties } from '@sinclair/typebox';

/** Settings every service shares: where Kafka and Postgres are, logging, topic suffix. */
export const CommonEnv = {
  KAFKA_BROKERS: Type.String({ default: '127.0.0.1:9092', minLength: 1 }),
  DATABASE_URL: Type.String({ default: 'postgres://postgres@127.0.0.1:5432/omni', pattern: '^postgres(ql)?://' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
  HOST: Type.String({ default: '0.0.0.0' }),
  KAFKA_TOPIC_SUFFIX: Type.String({ default: '' }),
  KAFKA_TOPIC_PARTITIONS: Type.Integer({ default: 6, minimum: 1 }),
  // Replication of the topics created at start-up: 1/1 for one dev broker; production (3 brokers) 3/2,
  // so a topic stays writable (acks=all) with one broker down and loses nothing acknowledged.
  KAFKA_REPLICATION_FACTOR: Type.Integer({ default: 1, minimum: 1 }),
  KAFKA_MIN_INSYNC_REPLICAS: Type.Integer({ default: 1, minimum: 1 }),
  SHUTDOWN_GRACE_MS: Type.Integer({ default: 10000, minimum: 100 }),
  // How long the broker holds an idle fetch open (kafkajs maxWaitTimeInMs; its default, 5 s). A
  // consumer's shutdown waits for the fetch in flight, so this bounds how long an idle service takes
  // to leave its group; lower means faster stops and more idle fetches. A consumer with its own
  // fetch batching (history's HISTORY_FETCH_MAX_WAIT_MS) keeps that.
  KAFKA_FETCH_MAX_WAIT_MS: Type.Integer({ default: 5000, minimum: 10, maximum: 30000 }),
};

export class ConfigError extends Error {}

/**
 * Reads and validates the environment against a schema (types coerced, defaults applied).
 * Throws ConfigError whose message names the bad or missing variable.
 */
export function loadConfig<P extends TProperties>(props: P, env: NodeJS.ProcessEnv = process.env): Static<ReturnType<typeof Type.Object<P>>> {
  const schema = Type.Object(props);
  try {
    // env: false — read only the env object given (process.env by default), so tests can pass their own
    return envSchema({ schema, data: { ...env }, env: false, dotenv: false }) as Static<typeof schema>;
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
  }
}

/** Splits "a,b , c" into trimmed non-empty parts. */
export function splitList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

/** Parses "id:secret,id2:secret2" pairs (adapter API keys and similar). */
export function parsePairs(value: string, variable: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of splitList(value)) {
    const i = part.indexOf(':');
    if (i <= 0 || i === part.length - 1) throw new ConfigError(`invalid configuration: ${variable} entry '${part.slice(0, 20)}' must be id:secret`);
    out.set(part.slice(0, i), part.slice(i + 1));
  }
  return out;
}
