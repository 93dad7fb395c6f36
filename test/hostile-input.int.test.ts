/**
 * Regression tests, one per class of hostile input of issue 11 that broke the promise on main
 * ("a message answered 2xx reaches the timeline exactly once; a 4xx publishes nothing; never 5xx
 * but 503; the process stays up"). The whole pipeline runs in-process on the real broker and database.
 */
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Producer } from 'kafkajs';
import { deterministicMessageId, type OutboundMessage } from '@omni/contracts';
import { statusRecord } from '@omni/ingest';
import { enqueueOutbox } from '@omni/kafka';
import { mintToken } from '@omni/router/src/auth/tokens';
import { createWorld, eventually, TopicWatcher, type TestWorld } from './support/infra';
import { ADAPTER_KEY, postJson, startStack, timelineCount, type Stack } from './support/stack';

jest.setTimeout(180_000);

describe('hostile input, end to end', () => {
  let world: TestWorld;
  let stack: Stack;
  let inbound: TopicWatcher;
  let conversations: TopicWatcher;
  let customers: TopicWatcher;
  let dlq: TopicWatcher;
  let producer: Producer;
  const JWT_SECRET = 'hostile-test-secret-0123456789';
  let n = 0;
  const uid = (p: string) => `${p}-${Date.now().toString(36)}-${n++}`;
  const chatMessage = (over: Record<string, unknown> = {}) => ({
    adapterMessageId: uid('m'),
    channel: 'chat',
    threadKey: uid('t'),
    from: { address: uid('v') },
    text: 'I forgot my password',
    ...over,
  });
  const chatUrl = () => `${stack.ingest.chat.url}/v1/chat/messages`;
  const alive = async () => expect((await fetch(`${stack.ingest.chat.url}/healthz`)).status).toBe(200);

  beforeAll(async () => {
    world = await createWorld('hostile');
    [inbound, conversations, customers, dlq] = await Promise.all([
      TopicWatcher.start(world, world.topics.inbound),
      TopicWatcher.start(world, world.topics.conversations),
      TopicWatcher.start(world, world.topics.customers),
      TopicWatcher.start(world, world.topics.dlq),
    ]);
    stack = await startStack(world, { kinds: ['chat', 'email'], env: { JWT_SECRET } });
    producer = world.kafka.producer();
    await producer.connect();
  });
  afterAll(async () => {
    await producer?.disconnect();
    await stack?.close();
    await Promise.all([inbound, conversations, customers, dlq].map((w) => w?.stop()));
    await world?.close();
  });

  /** Resolves once the message is on the timeline; then checks it is there exactly once. */
  const onTimelineOnce = async (messageId: string) => {
    await eventually(async () => ((await timelineCount(world, messageId)) > 0 ? true : undefined), `message ${messageId} on the timeline`);
    expect(await timelineCount(world, messageId)).toBe(1);
  };

  describe('one message stops routing for everyone', () => {
    it('a chat sender address longer than the old actor id limit is routed, and routing goes on for the next customer', async () => {
      const long = await postJson(chatUrl(), chatMessage({ from: { address: `visitor-${'x'.repeat(300)}` } }));
      expect(long.status).toBe(202);
      const next = await postJson(chatUrl(), chatMessage());
      expect(next.status).toBe(202);
      await conversations.waitFor((v) => v.type === 'conversation.opened' && v.messageId === long.body.messageId);
      await conversations.waitFor((v) => v.type === 'conversation.opened' && v.messageId === next.body.messageId);
      await onTimelineOnce(long.body.messageId);
    });

    it("a poison row in the router's outbox is dead-lettered with its reason and every other event still flows", async () => {
      await world.pool.query(`INSERT INTO router.outbox (topic, key, schema_id, value) VALUES ($1::text, 'poison-router', 'omni.conversations.v1', '{"schema":"omni.conversations.v1","eventId":"evt_poison"}'::jsonb)`, [
        world.topics.conversations,
      ]);
      const after = await postJson(chatUrl(), chatMessage());
      expect(after.status).toBe(202);
      await conversations.waitFor((v) => v.type === 'conversation.opened' && v.messageId === after.body.messageId);
      const [dead] = await dlq.waitFor((v) => (v.source as { groupId: string }).groupId === 'outbox:router');
      expect(dead!.value.reason).toMatch(/contract/);
      expect(dead!.value.key).toBe('poison-router');
      const metrics = await (await fetch(`${stack.router.url}/metrics`)).text();
      expect(metrics).toMatch(/outbox_dead_lettered_total\{[^}]*outbox="router"[^}]*\} 1/);
      // removed when the relay's transaction commits, just after the broker acked the dead letter
      await eventually(
        async () => ((await world.pool.query(`SELECT count(*)::int AS n FROM router.outbox WHERE key = 'poison-router'`)).rows[0].n === 0 ? true : undefined),
        'poison row removed from router.outbox',
      );
    });

    it("a poison row in history's outbox, and an identity that grows when lower-cased, do not stop customer records", async () => {
      await world.pool.query(`INSERT INTO history.outbox (topic, key, schema_id, value) VALUES ($1::text, 'poison-history', 'omni.customers.v1', '{"schema":"omni.customers.v1"}'::jsonb)`, [
        world.topics.customers,
      ]);
      // 'İ' (U+0130) lower-cases to two code points: 300 of them make a 600-character identity
      const grows = `${'İ'.repeat(300)}@example.com`;
      const big = await postJson(`${stack.ingest.email.url}/v1/email/messages`, { adapterMessageId: uid('e'), channel: 'email', threadKey: uid('et'), from: { address: grows }, text: 'hello' });
      expect(big.status).toBe(202);
      const plain = uid('plain');
      const ok = await postJson(chatUrl(), chatMessage({ from: { address: plain } }));
      expect(ok.status).toBe(202);
      await customers.waitFor((v) => (v.identities as { address: string }[]).some((i) => i.address === plain));
      await customers.waitFor((v) => (v.identities as { channel: string }[]).some((i) => i.channel === 'email'));
      await dlq.waitFor((v) => (v.source as { groupId: string }).groupId === 'outbox:history');
      await onTimelineOnce(big.body.messageId);
    });

    it("a poison row in ingest's outbox is dead-lettered with its reason and the delivery status behind it is still published", async () => {
      const delivery = await TopicWatcher.start(world, world.topics.delivery);
      try {
        const out: OutboundMessage = {
          schema: 'omni.outbound.v1',
          outboundId: uid('out'),
          conversationId: uid('conv'),
          channel: 'chat',
          threadKey: uid('chat:t'),
          to: { channel: 'chat', address: uid('v') },
          agentId: 'agent-poison',
          text: 'reply',
          createdAt: new Date().toISOString(),
        };
        const good = statusRecord(world.topics, out, 'delivered', 1);
        // the poison row first (lower id), then a normal one, committed together so one relay pass sees both
        const client = await world.pool.connect();
        try {
          await client.query('BEGIN');
          await client.query(`INSERT INTO ingest.outbox (topic, key, schema_id, value) VALUES ($1::text, 'poison-ingest', 'omni.delivery.v1', '{"schema":"omni.delivery.v1","eventId":"dlv_poison"}'::jsonb)`, [
            world.topics.delivery,
          ]);
          await enqueueOutbox(client, 'ingest', [good]);
          await client.query('COMMIT');
        } finally {
          client.release();
        }
        const [sent] = await delivery.waitFor((v) => v.eventId === (good.value as { eventId: string }).eventId);
        expect(sent!.value).toEqual(good.value);
        const [dead] = await dlq.waitFor((v) => (v.source as { groupId: string }).groupId === 'outbox:ingest' && v.key === 'poison-ingest');
        expect(dead!.value.reason).toMatch(/outbox row refused \(contract\)/);
        expect(dead!.value.value).toContain('dlv_poison');
        // never published on its topic, gone from the table, counted by whichever ingest relay took it
        expect(delivery.seen.some((s) => s.value.eventId === 'dlv_poison')).toBe(false);
        // the row leaves the table when the relay's transaction commits, just after the broker acked the dead letter
        await eventually(
          async () => ((await world.pool.query(`SELECT count(*)::int AS n FROM ingest.outbox WHERE key = 'poison-ingest'`)).rows[0].n === 0 ? true : undefined),
          'poison row removed from ingest.outbox',
        );
        const counted = async () =>
          (
            await Promise.all(
              [stack.ingest.chat.url, stack.ingest.email.url].map(async (url) => {
                const m = /outbox_dead_lettered_total\{[^}]*outbox="ingest"[^}]*\} (\d+)/.exec(await (await fetch(`${url}/metrics`)).text());
                return m ? Number(m[1]) : 0;
              }),
            )
          ).reduce((a, b) => a + b, 0);
        await eventually(async () => ((await counted()) > 0 ? true : undefined), 'outbox_dead_lettered_total{outbox="ingest"}');
        expect(await counted()).toBe(1);
        await alive();
      } finally {
        await delivery.stop();
      }
    });
  });

  describe('deeply nested JSON in raw', () => {
    it('is refused with 400 naming body.raw, nothing is published, and the service stays up', async () => {
      const depth = 200_000;
      const body = `{"adapterMessageId":"deep-1","channel":"chat","threadKey":"deep","from":{"address":"v"},"text":"x","raw":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
      const res = await postJson(chatUrl(), body);
      expect(res.status).toBe(400);
      expect(res.body.fields.map((f: { field: string }) => f.field)).toContain('body.raw');
      await alive();
      const marker = await postJson(chatUrl(), chatMessage());
      await inbound.waitFor((v) => v.messageId === marker.body.messageId);
      expect(inbound.seen.some((s) => s.value.providerMessageId === 'deep-1')).toBe(false);
    });
  });

  describe('strings PostgreSQL cannot store', () => {
    it('in text, subject and name: cleaned, flagged in the envelope, on the timeline exactly once', async () => {
      const res = await postJson(chatUrl(), chatMessage({ text: 'pass\u0000word \ud800 lost', subject: 'x\udc00', from: { address: uid('v'), name: 'A\u0000' } }));
      expect(res.status).toBe(202);
      const [m] = await inbound.waitFor((v) => v.messageId === res.body.messageId);
      expect(m!.value.text).toBe('pass\ufffdword \ufffd lost');
      expect(m!.value.cleaned).toEqual(expect.arrayContaining(['/text', '/subject', '/from/name']));
      await onTimelineOnce(res.body.messageId);
    });

    it.each([
      ['threadKey', { threadKey: 'a\u0000b' }, 'body.threadKey'],
      ['adapterMessageId', { adapterMessageId: 'id\ud800' }, 'body.adapterMessageId'],
      ['from.address', { from: { address: 'v\u0000' } }, 'body.from.address'],
      ['a thread key over its byte limit', { threadKey: '𝄞'.repeat(600) }, 'body.threadKey'],
    ])('in %s: 400 naming the field, nothing published', async (_name, over, field) => {
      const body = chatMessage(over);
      const res = await postJson(chatUrl(), body);
      expect(res.status).toBe(400);
      expect(res.body.fields.map((f: { field: string }) => f.field)).toContain(field);
      const marker = await postJson(chatUrl(), chatMessage());
      await inbound.waitFor((v) => v.messageId === marker.body.messageId);
      expect(inbound.seen.some((s) => s.value.providerMessageId === body.adapterMessageId)).toBe(false);
    });
  });

  describe('one bad request poisons its neighbours', () => {
    it('concurrent valid requests are all 202 and published once although bad ones ride along', async () => {
      const good = Array.from({ length: 30 }, () => chatMessage());
      const bad = [chatMessage({ threadKey: '\u0000' }), chatMessage({ adapterMessageId: true }), chatMessage({ raw: { x: '\ud800' } }), chatMessage({ text: 5 })];
      const answers = await Promise.all([...good, ...bad].map((b) => postJson(chatUrl(), b)));
      expect(answers.slice(0, 30).map((a) => a.status)).toEqual(Array(30).fill(202));
      expect(answers.slice(30).map((a) => a.status)).toEqual([400, 400, 202, 400]);
      const ids = answers.filter((a) => a.status === 202).map((a) => a.body.messageId as string);
      await inbound.waitFor((v) => ids.includes(v.messageId as string), ids.length);
      for (const id of ids) expect(inbound.seen.filter((s) => s.value.messageId === id)).toHaveLength(1);
    });
  });

  describe('type coercion', () => {
    it.each([
      ['adapterMessageId: true', { adapterMessageId: true }, 'body.adapterMessageId'],
      ['adapterMessageId: 12', { adapterMessageId: 12 }, 'body.adapterMessageId'],
      ['text: null', { text: null }, 'body.text'],
      ['threadKey: false', { threadKey: false }, 'body.threadKey'],
      ['attachments: an object, not an array', { attachments: { name: 'a' } }, 'body.attachments'],
    ])('%s is a 400 naming the field, not converted', async (_n, over, field) => {
      const res = await postJson(chatUrl(), chatMessage(over));
      expect(res.status).toBe(400);
      expect(res.body.fields.map((f: { field: string }) => f.field)).toContain(field);
    });
  });

  describe('a body streamed over the size limit without Expect: 100-continue', () => {
    it('gets the 413 JSON answer, not a connection reset', async () => {
      const { hostname, port } = new URL(stack.ingest.chat.url);
      for (let i = 0; i < 5; i++) {
        const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = request({ hostname, port, method: 'POST', path: '/v1/chat/messages', headers: { 'content-type': 'application/json', 'x-api-key': ADAPTER_KEY, 'transfer-encoding': 'chunked' } }, (res) => {
            let body = '';
            res.on('data', (c) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode!, body }));
          });
          req.on('error', reject);
          const chunk = Buffer.alloc(64 * 1024, 'a');
          let sent = 0;
          const pump = () => {
            while (sent < 3 * 1024 * 1024) {
              sent += chunk.length;
              if (!req.write(chunk)) return void req.once('drain', pump);
            }
            req.end();
          };
          req.write('{"text":"');
          pump();
        });
        expect(answer.status).toBe(413);
        expect(JSON.parse(answer.body)).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
      }
      await alive();
    });
  });

  describe('consumers and dead letters', () => {
    const envelope = (over: Record<string, unknown> = {}) => {
      const id = uid('raw');
      return {
        schema: 'omni.inbound.v1',
        messageId: deterministicMessageId('adapter:older', id),
        channel: 'chat',
        provider: 'adapter:older',
        providerMessageId: id,
        threadKey: `chat:${uid('t')}`,
        from: { channel: 'chat', address: uid('v') },
        sentAt: new Date().toISOString(),
        receivedAt: new Date().toISOString(),
        text: 'hello',
        ...over,
      };
    };
    const admin = () => ({ authorization: `Bearer ${mintToken(JWT_SECRET, { sub: 'ops', role: 'admin' })}` });

    it('a message the consumers can store after cleaning (NUL in text from an older producer) is cleaned, not dead-lettered', async () => {
      const e = envelope({ text: 'old\u0000producer \ud800' });
      await producer.send({ topic: world.topics.inbound, messages: [{ key: e.threadKey, value: JSON.stringify(e) }] });
      await onTimelineOnce(e.messageId);
      const { rows } = await world.pool.query(`SELECT payload FROM history.timeline WHERE event_id = $1::text`, [e.messageId]);
      expect(JSON.stringify(rows[0].payload)).toContain('old\ufffdproducer');
      expect(dlq.seen.some((d) => String(d.value.value).includes(e.messageId))).toBe(false);
    });

    it('a dead-lettered inbound message is counted, listed by the admin API with its replay command, and the command re-publishes it', async () => {
      // unstorable thread key written straight to Kafka (no producer of ours can): the consumers refuse it
      const bad = envelope({ threadKey: 'chat:\u0000' });
      await producer.send({ topic: world.topics.inbound, messages: [{ key: 'x', value: JSON.stringify(bad) }] });
      await dlq.waitFor((v) => String(v.value).includes(bad.messageId) && (v.source as { groupId: string }).groupId.startsWith('router'));
      const listed = await eventually(async () => {
        const res = await fetch(`${stack.router.url}/v1/admin/dead-letters?topic=${encodeURIComponent(world.topics.inbound)}`, { headers: admin() });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { items: { id: string; value: string; reason: string; replay: string; groupId: string }[] };
        return body.items.find((i) => i.value.includes(bad.messageId) && i.groupId.startsWith('router'));
      }, 'dead letter listed');
      expect(listed.reason).toMatch(/threadKey/);
      expect(listed.replay).toBe(`npm run dlq:replay -- ${listed.id}`);
      expect((await fetch(`${stack.router.url}/v1/admin/dead-letters`)).status).toBe(401);
      const metrics = await (await fetch(`${stack.router.url}/metrics`)).text();
      expect(metrics).toMatch(/consumer_dead_lettered_total\{[^}]*topic="[^"]*inbound[^"]*"[^}]*\} [1-9]/);

      const run = (id: string) =>
        promisify(execFile)(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'services/router/src/cli/dlq-replay.ts'), id], {
          env: { ...process.env, ...world.env({ JWT_SECRET }), LOG_LEVEL: 'silent' },
        });
      // still invalid: the replay is refused with the reason, nothing is published
      await expect(run(listed.id)).rejects.toMatchObject({ stderr: expect.stringMatching(/threadKey/) });

      // a dead letter whose value is fine today (dead-lettered by an older consumer) goes through
      const good = envelope();
      await producer.send({
        topic: world.topics.dlq,
        messages: [{ key: 'k', value: JSON.stringify({ schema: 'omni.dlq.v1', source: { topic: world.topics.inbound, partition: 0, offset: '999999', groupId: 'older' }, reason: 'old bug', key: good.threadKey, value: JSON.stringify(good), failedAt: new Date().toISOString() }) }],
      });
      const old = await eventually(async () => {
        const res = await fetch(`${stack.router.url}/v1/admin/dead-letters?pending=true`, { headers: admin() });
        const body = (await res.json()) as { items: { id: string; groupId: string }[] };
        return body.items.find((i) => i.groupId === 'older');
      }, 'older dead letter listed');
      const out = await run(old.id);
      expect(out.stdout).toMatch(/re-published/);
      await onTimelineOnce(good.messageId);
      const after = (await (await fetch(`${stack.router.url}/v1/admin/dead-letters/${old.id}`, { headers: admin() })).json()) as { replays: number; replayedAt: string | null };
      expect(after.replays).toBe(1);
      expect(after.replayedAt).not.toBeNull();
    });
  });
});
