import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '@omni/logging';
import { splitList } from '@omni/config';
import { kafkajsIdleFix } from './kafkajs-idle-fix';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** The idle fetch wait (KAFKA_FETCH_MAX_WAIT_MS) a client was created with: startConsumer's default. */
const fetchWaits = new WeakMap<Kafka, number>();
export const fetchMaxWaitOf = (kafka: Kafka): number | undefined => fetchWaits.get(kafka);

/**
 * A kafkajs client whose logs go through our pino logger (kafkajs info chatter demoted to debug).
 * `fetchMaxWaitMs`: how long its consumers' idle fetches wait at the broker (kafkajs default otherwise).
 */
export function createKafka(opts: { brokers: string; clientId: string; logger: Logger; fetchMaxWaitMs?: number }): Kafka {
  const log = opts.logger.child({ component: 'kafkajs' });
  if (kafkajsIdleFix !== 'applied') log.warn({ kafkajsIdleFix }, 'kafkajs request-queue idle fix not applied: check whether this kafkajs still polls every millisecond when idle');
  const kafka = new Kafka({
    clientId: opts.clientId,
    brokers: splitList(opts.brokers),
    connectionTimeout: 3000,
    requestTimeout: 30000,
    retry: { initialRetryTime: 100, retries: 5, maxRetryTime: 2000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        const lvl = LEVELS[level] ?? 'info';
        log[lvl === 'info' ? 'debug' : lvl](rest, message);
      },
  });
  if (opts.fetchMaxWaitMs !== undefined) fetchWaits.set(kafka, opts.fetchMaxWaitMs);
  return kafka;
}
