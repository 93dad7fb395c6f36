/**
 * The bare pipeline bench/router.ts measures beside the router: the least any design on this stack
 * must spend per routed message. Two processes, started by the bench:
 *   ingest   — a minimal fastify POST that publishes the body with kafkajs (acks=-1) and answers 202;
 *   consumer — a minimal kafkajs consumer that, per message, runs one PostgreSQL transaction
 *              inserting a conversation row and an offer row, then sends one websocket frame to
 *              the client connected to it (the bench, standing in for an agent console).
 * No validation, no classification, no outbox, no matching: only the hops every design pays.
 */
import Fastify from 'fastify';
import { Kafka, logLevel } from 'kafkajs';
import { Pool } from 'pg';
import { WebSocketServer, type WebSocket } from 'ws';
// the same kafkajs fix the services run with (libs/kafka/src/kafkajs-idle-fix.ts), so the two compare like for like
import '../libs/kafka/src/kafkajs-idle-fix';

const role = process.argv[2];
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const topic = process.env.BARE_TOPIC!;
const port = Number(process.env.PORT ?? 0);
const kafka = new Kafka({ brokers, clientId: `bare-${role}`, logLevel: logLevel.NOTHING });

async function ingest(): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  const app = Fastify();
  app.post('/messages', async (req, reply) => {
    const body = req.body as { threadKey: string };
    await producer.send({ topic, acks: -1, messages: [{ key: body.threadKey, value: JSON.stringify(body) }] });
    return reply.status(202).send({ ok: true });
  });
  app.get('/readyz', async () => ({ ok: true }));
  await app.listen({ port, host: '127.0.0.1' });
  process.on('SIGTERM', () => void app.close().then(() => producer.disconnect()).then(() => process.exit(0)));
}

async function consumer(): Promise<void> {
  const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 8 });
  await pool.query(`CREATE SCHEMA IF NOT EXISTS bare;
    CREATE TABLE IF NOT EXISTS bare.conversations (id text PRIMARY KEY, thread_key text NOT NULL, body jsonb NOT NULL, opened_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE IF NOT EXISTS bare.offers (conversation_id text PRIMARY KEY REFERENCES bare.conversations (id), agent_id text NOT NULL, deadline timestamptz NOT NULL)`);
  const clients = new Set<WebSocket>();
  const app = Fastify();
  app.get('/readyz', async () => ({ ok: true }));
  await app.listen({ port, host: '127.0.0.1' });
  const wss = new WebSocketServer({ server: app.server });
  wss.on('connection', (ws) => {
    clients.add(ws);
    ws.on('close', () => clients.delete(ws));
  });
  const c = kafka.consumer({ groupId: process.env.BARE_GROUP!, maxWaitTimeInMs: 10 });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await c.run({
    partitionsConsumedConcurrently: Number(process.env.BARE_PARTITIONS ?? 6),
    eachMessage: async ({ message }) => {
      const body = JSON.parse(message.value!.toString()) as { threadKey: string; text: string };
      const id = `conv-${body.threadKey}`;
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('INSERT INTO bare.conversations (id, thread_key, body) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [id, body.threadKey, JSON.stringify(body)]);
        await client.query(`INSERT INTO bare.offers (conversation_id, agent_id, deadline) VALUES ($1, 'agent-0', now() + interval '20 seconds') ON CONFLICT DO NOTHING`, [id]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
      const frame = JSON.stringify({ type: 'offer', conversationId: id, conversation: { lastText: body.text } });
      for (const ws of clients) ws.send(frame);
    },
  });
  process.on('SIGTERM', () => void c.disconnect().then(() => app.close()).then(() => pool.end()).then(() => process.exit(0)));
}

void (role === 'ingest' ? ingest() : role === 'consumer' ? consumer() : Promise.reject(new Error(`role ingest|consumer, not ${role}`))).catch((err) => {
  process.stderr.write(`bare ${role} failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
