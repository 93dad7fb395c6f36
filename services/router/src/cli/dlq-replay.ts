/**
 * Re-publishes one dead letter (GET /v1/admin/dead-letters lists them) to the topic it came from.
 *   npm run dlq:replay -- <id>
 * Uses the router's settings (DATABASE_URL, KAFKA_BROKERS, KAFKA_TOPIC_SUFFIX). The value goes through
 * the contract's clean step and validation first; one still invalid is refused with the reason.
 */
import { createPool } from '@omni/db';
import { createKafka, Publisher } from '@omni/kafka';
import { createLogger } from '@omni/logging';
import { readConfig } from '../config';
import { replayDeadLetter } from '../store/dead-letters';

async function main(): Promise<number> {
  const id = process.argv[2];
  if (!id || !/^[0-9]{1,18}$/.test(id)) {
    process.stderr.write('usage: npm run dlq:replay -- <dead letter id>\n');
    return 2;
  }
  const config = readConfig(process.env);
  const logger = createLogger('dlq-replay');
  const pool = createPool(config.DATABASE_URL, { max: 1 });
  const publisher = new Publisher(createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'dlq-replay', logger }));
  try {
    await publisher.connect();
    const r = await replayDeadLetter(pool, publisher, id);
    process.stdout.write(`dead letter ${id} re-published to ${r.topic} (key ${r.key ?? 'none'}, ${r.schema})\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`replay of dead letter ${id} failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await publisher.disconnect().catch(() => undefined);
    await pool.end().catch(() => undefined);
  }
}

void main().then((code) => process.exit(code));
