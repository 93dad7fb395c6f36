/**
 * Fault test with a real broker that really goes away: ingest answers 503 + Retry-After while Kafka is
 * down, publishes nothing half-way, reports not-ready, and the provider's retry succeeds once the
 * broker is back. Uses its own broker (deploy/kafka/kafka.sh on free ports) so the shared one stays up.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { startIngestService } from '@omni/ingest';
import { readConfig } from '@omni/ingest-chat/src/config';
import { start as startChat } from '@omni/ingest-chat/src/start';
import { topicNames } from '@omni/contracts';
import { createWorld, testLogger, type TestWorld } from './support/infra';

const run = promisify(execFile);
const script = join(__dirname, '..', 'deploy', 'kafka', 'kafka.sh');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('ingest while Kafka is down', () => {
  let world: TestWorld;
  let env: NodeJS.ProcessEnv;
  let dataDir: string;
  let brokers: string;
  let service: Awaited<ReturnType<typeof startIngestService>> | undefined;
  const broker = (cmd: 'start' | 'stop') => run('bash', [script, cmd], { env, timeout: 180000 });

  beforeAll(async () => {
    world = await createWorld('outage');
    dataDir = mkdtempSync(join(tmpdir(), 'omni-kafka-'));
    const port = await freePort();
    env = { ...process.env, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(await freePort()), KAFKA_DATA_DIR: dataDir, KAFKA_HEAP: '384m' };
    brokers = `127.0.0.1:${port}`;
    await broker('start');
    service = await startIngestService('chat', readConfig(world.env({ KAFKA_BROKERS: brokers, ADAPTER_API_KEYS: 'w:key-1' })), testLogger, startChat);
  }, 240000);

  afterAll(async () => {
    await service?.close();
    await broker('stop').catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    await world.close();
  }, 120000);

  const post = (id: string) =>
    fetch(`${service!.url}/v1/chat/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'key-1' },
      body: JSON.stringify({ adapterMessageId: id, channel: 'chat', threadKey: 'sess-outage', from: { address: 'visitor-o' }, text: `message ${id}` }),
    });

  it('answers 503 with Retry-After during the outage and accepts the retry afterwards, exactly once', async () => {
    expect((await post('before')).status).toBe(202);

    await broker('stop');
    const during = await post('during');
    expect(during.status).toBe(503);
    expect(Number(during.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await during.json()).toMatchObject({ error: 'UNAVAILABLE' });
    const ready = await fetch(`${service!.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks.kafka).not.toBe('ok');
    // nothing recorded as published for the failed attempt
    const rows = await world.pool.query(`SELECT provider_message_id FROM ingest.dedupe ORDER BY provider_message_id`);
    expect(rows.rows.map((r) => r.provider_message_id)).toEqual(['before']);

    await broker('start');
    // the provider retries until it gets a 2xx; each retry is a real request, bounded in number
    let retry: Response | undefined;
    for (let i = 0; i < 30; i++) {
      retry = await post('during');
      if (retry.status !== 503) break;
    }
    expect(retry!.status).toBe(202);
    expect(await retry!.json()).toMatchObject({ status: 'accepted' });

    // read the dedicated broker's inbound topic: both messages, each exactly once
    // (read up to the high watermark of every partition, so a duplicate could not hide after the last read)
    const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING });
    const topic = topicNames(world.suffix).inbound;
    const admin = kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    const total = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
    const consumer = kafka.consumer({ groupId: world.groupId('outage-read'), maxWaitTimeInMs: 250 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const ids: string[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          ids.push((JSON.parse(message.value!.toString()) as { providerMessageId: string }).providerMessageId);
          if (ids.length >= total) resolve();
        },
      });
    });
    await consumer.disconnect();
    expect(ids.sort()).toEqual(['before', 'during']);
  }, 300000);
});
