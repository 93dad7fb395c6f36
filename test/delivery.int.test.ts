/**
 * Outbound delivery over the real broker and database, to a real HTTP adapter stub: agent replies on
 * omni.outbound.v1 → the owning ingest service → signed callback → statuses on omni.delivery.v1,
 * failures on omni.dlq.v1.
 */
import { OutboundMessage, type DeliveryStatus, type DeadLetter } from '@omni/contracts';
import { recordAttempt, startIngestService } from '@omni/ingest';
import { Publisher } from '@omni/kafka';
import { Partitioners } from 'kafkajs';
import * as chatCfg from '@omni/ingest-chat/src/config';
import { start as startChat } from '@omni/ingest-chat/src/start';
import * as emailCfg from '@omni/ingest-email/src/config';
import { start as startEmail } from '@omni/ingest-email/src/start';
import * as phoneCfg from '@omni/ingest-phone/src/config';
import { start as startPhone } from '@omni/ingest-phone/src/start';
import { AdapterStub } from './support/adapter-stub';
import { createWorld, eventually, testLogger, TopicWatcher, type TestWorld } from './support/infra';

const SECRETS = { '/web': 'web-secret-0123', '/mail': 'mail-secret-4567', '/sms': 'sms-secret-8901', '/down': 'down-secret-2345' };

describe('outbound delivery to channel adapters', () => {
  let world: TestWorld;
  let stub: AdapterStub;
  let down: AdapterStub;
  let downPort: number;
  let publisher: Publisher;
  let delivery: TopicWatcher<DeliveryStatus>;
  let dlq: TopicWatcher<DeadLetter>;
  const services: { url: string; close: () => Promise<void> }[] = [];
  let chatUrl: string;
  let emailUrl: string;
  let phoneUrl: string;
  let n = 0;

  beforeAll(async () => {
    world = await createWorld('delivery');
    stub = new AdapterStub(SECRETS);
    await stub.listen();
    // reserve a port for the adapter that is down at first, then comes back on the same port
    down = new AdapterStub(SECRETS);
    await down.listenOnStablePort();
    downPort = down.port;
    await down.close();
    delivery = await TopicWatcher.start<DeliveryStatus>(world, world.topics.delivery);
    dlq = await TopicWatcher.start<DeadLetter>(world, world.topics.dlq);
    publisher = new Publisher(world.kafka);
    await publisher.connect();
    const common = { DELIVERY_BASE_BACKOFF_MS: '20', DELIVERY_MAX_BACKOFF_MS: '200', DELIVERY_POLL_MS: '200', DELIVERY_TIMEOUT_MS: '30000' };
    const chat = await startIngestService(
      'chat',
      chatCfg.readConfig(
        world.env({
          ...common,
          ADAPTER_API_KEYS: 'web:k-web,down:k-down,orphan:k-orphan',
          DELIVERY_TARGETS: `adapter:web=${stub.url('/web')}|${SECRETS['/web']},adapter:down=http://127.0.0.1:${downPort}/down|${SECRETS['/down']}`,
          DELIVERY_MAX_ATTEMPTS: '60',
        }),
      ),
      testLogger,
      startChat,
    );
    const email = await startIngestService(
      'email',
      emailCfg.readConfig(
        world.env({
          ...common,
          ADAPTER_API_KEYS: 'mail:k-mail',
          DELIVERY_TARGETS: `adapter:mail=${stub.url('/mail')}|${SECRETS['/mail']}`,
          EMAIL_MESSAGE_ID_DOMAIN: 'replies.example.com',
          EMAIL_REPLY_TO_ADDRESS: 'support@example.com',
          DELIVERY_TIMEOUT_MS: '1000',
          DELIVERY_MAX_ATTEMPTS: '60',
        }),
      ),
      testLogger,
      startEmail,
    );
    const phone = await startIngestService(
      'phone',
      phoneCfg.readConfig(world.env({ ...common, TWILIO_AUTH_TOKEN: 'test-twilio-token', TWILIO_PUBLIC_URL: 'https://support.example.com', ADAPTER_API_KEYS: 'sms:k-sms,voice:k-voice', DELIVERY_TARGETS: `adapter:sms=${stub.url('/sms')}|${SECRETS['/sms']}`, DELIVERY_MAX_ATTEMPTS: '3' })),
      testLogger,
      startPhone,
    );
    services.push(chat, email, phone);
    [chatUrl, emailUrl, phoneUrl] = [chat.url, email.url, phone.url];
  });

  afterAll(async () => {
    for (const s of services.reverse()) await s.close();
    await publisher?.disconnect();
    await delivery?.stop();
    await dlq?.stop();
    await stub?.close();
    await down?.close();
    await world?.close();
  });

  /** An inbound message through the adapter route, so ingest.dedupe knows the thread's provider. */
  async function inbound(url: string, kind: string, key: string, channel: string, threadKey: string, from: Record<string, string>): Promise<string> {
    const res = await fetch(`${url}/v1/${kind}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ adapterMessageId: `in-${++n}`, channel, threadKey, from, text: 'necesito ayuda' }),
    });
    expect(res.status).toBe(202);
    return `${channel}:${threadKey}`;
  }

  /** What the router does for an agent reply. */
  function reply(conversationId: string, channel: OutboundMessage['channel'], threadKey: string, to: Record<string, string>, extra: Partial<OutboundMessage> = {}): OutboundMessage {
    return {
      schema: 'omni.outbound.v1',
      outboundId: `out_${world.id}_${++n}`,
      conversationId,
      channel,
      threadKey,
      to: { channel, address: to.address!, ...to },
      agentId: 'agent-7',
      text: `respuesta ${n}`,
      createdAt: new Date().toISOString(),
      ...extra,
    };
  }

  async function publish(...msgs: OutboundMessage[]): Promise<void> {
    await publisher.publish(msgs.map((m) => ({ topic: world.topics.outbound, key: m.conversationId, value: m, schema: OutboundMessage })));
  }

  /** A key of the form `${prefix}-<n>` that the producer puts on the same partition as `key` (3 partitions in tests). */
  function keyOnSamePartition(key: string, prefix: string): string {
    const partitionOf = Partitioners.DefaultPartitioner();
    const partitionMetadata = [0, 1, 2].map((partitionId) => ({ partitionId, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] }));
    const target = partitionOf({ topic: world.topics.outbound, partitionMetadata, message: { key, value: null } });
    for (let i = 0; ; i++) if (partitionOf({ topic: world.topics.outbound, partitionMetadata, message: { key: `${prefix}-${i}`, value: null } }) === target) return `${prefix}-${i}`;
  }

  const statusesOf = (outboundId: string) => delivery.seen.filter((s) => s.value.outboundId === outboundId).map((s) => `${s.value.status}:${s.value.attempt}`);

  it('delivers a reply the first time, signed so that the documented verifier accepts it', async () => {
    const thread = await inbound(chatUrl, 'chat', 'k-web', 'chat', 'sess-first', { address: 'visitor-1', name: 'Lucía' });
    const out = reply('conv-first', 'chat', thread, { address: 'visitor-1', name: 'Lucía' });
    await publish(out);
    const [req] = await stub.waitFor((r) => r.body.outboundId === out.outboundId);
    expect(req!.path).toBe('/web');
    expect(req!.verified).toBe(true);
    expect(req!.headers['idempotency-key']).toBe(out.outboundId);
    expect(req!.headers['x-omni-signature']).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(Math.abs(Number(req!.headers['x-omni-timestamp']) - Date.now() / 1000)).toBeLessThan(120);
    expect(req!.body).toEqual({
      outboundId: out.outboundId,
      conversationId: 'conv-first',
      channel: 'chat',
      provider: 'adapter:web',
      threadKey: 'chat:sess-first',
      adapterThreadKey: 'sess-first',
      to: { channel: 'chat', address: 'visitor-1', name: 'Lucía' },
      text: out.text,
      agentId: 'agent-7',
      createdAt: out.createdAt,
    });
    const [st] = await delivery.waitFor((v) => v.outboundId === out.outboundId && v.status === 'delivered');
    expect(st!.key).toBe('conv-first');
    expect(st!.value).toMatchObject({ conversationId: 'conv-first', channel: 'chat', attempt: 1, providerMessageId: `pm-${out.outboundId}` });
    expect(statusesOf(out.outboundId)).toEqual(['delivered:1']);
    const row = await world.pool.query('SELECT status, attempts FROM ingest.deliveries WHERE outbound_id = $1::text', [out.outboundId]);
    expect(row.rows).toEqual([{ status: 'delivered', attempts: 1 }]);
  });

  it('retries two 503s with the same body and idempotency key, then delivers', async () => {
    const thread = await inbound(chatUrl, 'chat', 'k-web', 'chat', 'sess-503', { address: 'visitor-2' });
    stub.script.set('conv-503', [{ status: 503 }, { status: 503 }]);
    const out = reply('conv-503', 'chat', thread, { address: 'visitor-2' });
    await publish(out);
    await delivery.waitFor((v) => v.outboundId === out.outboundId && v.status === 'delivered');
    expect(statusesOf(out.outboundId)).toEqual(['retrying:1', 'retrying:2', 'delivered:3']);
    const retry = delivery.seen.find((s) => s.value.outboundId === out.outboundId && s.value.status === 'retrying')!;
    expect(retry.value.reason).toMatch(/HTTP 503/);
    const reqs = stub.of(out.outboundId);
    expect(reqs).toHaveLength(3);
    expect(new Set(reqs.map((r) => r.rawBody)).size).toBe(1);
    expect(reqs.every((r) => r.headers['idempotency-key'] === out.outboundId && r.verified)).toBe(true);
  });

  it('honours Retry-After on a 429', async () => {
    const thread = await inbound(chatUrl, 'chat', 'k-web', 'chat', 'sess-429', { address: 'visitor-3' });
    stub.script.set('conv-429', [{ status: 429, headers: { 'retry-after': '1' } }]);
    const out = reply('conv-429', 'chat', thread, { address: 'visitor-3' });
    await publish(out);
    await delivery.waitFor((v) => v.outboundId === out.outboundId && v.status === 'delivered');
    const [first, second] = stub.of(out.outboundId);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1000);
    expect(statusesOf(out.outboundId)).toEqual(['retrying:1', 'delivered:2']);
  });

  it('fails a permanent 400 at once: failed status with the reason and a dead letter', async () => {
    const thread = await inbound(chatUrl, 'chat', 'k-web', 'chat', 'sess-400', { address: 'visitor-4' });
    stub.script.set('conv-400', [{ status: 400, body: { error: 'bad recipient' } }]);
    const out = reply('conv-400', 'chat', thread, { address: 'visitor-4' });
    await publish(out);
    const [failed] = await delivery.waitFor((v) => v.outboundId === out.outboundId && v.status === 'failed');
    expect(failed!.value).toMatchObject({ conversationId: 'conv-400', outboundId: out.outboundId, attempt: 1, reason: 'adapter answered HTTP 400' });
    const [dead] = await dlq.waitFor((v) => v.value !== null && v.value.includes(out.outboundId));
    expect(dead!.value.reason).toBe('delivery failed: adapter answered HTTP 400');
    expect(dead!.value.source.topic).toBe(world.topics.outbound);
    expect(JSON.parse(dead!.value.value!)).toEqual(out);
    expect(stub.of(out.outboundId)).toHaveLength(1);
    expect(statusesOf(out.outboundId)).toEqual(['failed:1']);
  });

  it('dead-letters a reply whose thread provider has no delivery target', async () => {
    const thread = await inbound(chatUrl, 'chat', 'k-orphan', 'chat', 'sess-orphan', { address: 'visitor-5' });
    const out = reply('conv-orphan', 'chat', thread, { address: 'visitor-5' });
    await publish(out);
    const [failed] = await delivery.waitFor((v) => v.outboundId === out.outboundId && v.status === 'failed');
    expect(failed!.value).toMatchObject({ conversationId: 'conv-orphan', attempt: 0, reason: 'no delivery target for provider adapter:orphan' });
    await dlq.waitFor((v) => v.value !== null && v.value.includes(out.outboundId));
  });

  // docs/chaos.md finding 3: an ingest process killed after publishing an inbound message but before
  // committing its dedupe row; the agent's reply arrives before the provider's retry records the thread.
  it('keeps a reply whose thread has no known provider yet pending, then delivers it once when the inbound message is recorded', async () => {
    const out = reply('conv-race', 'chat', 'chat:sess-race', { address: 'visitor-12' });
    const later = reply('conv-race', 'chat', 'chat:sess-race', { address: 'visitor-12' });
    await publish(out, out); // the duplicated event too
    const [retrying] = await delivery.waitFor((v) => v.outboundId === out.outboundId && v.status === 'retrying', 2);
    expect(retrying!.value.reason).toMatch(/^no delivery target yet: thread chat:sess-race has no known provider/);
    // a later reply of the conversation, accepted while the first still waits, keeps its place behind it
    await publish(later);
    await eventually(async () => ((await world.pool.query('SELECT 1 FROM ingest.deliveries WHERE outbound_id = $1::text', [later.outboundId])).rowCount ? true : undefined), 'the later reply accepted');
    expect(stub.of(out.outboundId)).toEqual([]);
    const waiting = await world.pool.query<{ status: string; provider: string }>('SELECT status, provider FROM ingest.deliveries WHERE conversation_id = $1::text ORDER BY seq', ['conv-race']);
    expect(waiting.rows).toEqual([{ status: 'pending', provider: '' }, { status: 'pending', provider: '' }]);
    // the provider's retry reaches ingest and records the thread
    await inbound(chatUrl, 'chat', 'k-web', 'chat', 'sess-race', { address: 'visitor-12' });
    await delivery.waitFor((v) => v.outboundId === out.outboundId && v.status === 'delivered');
    await delivery.waitFor((v) => v.outboundId === later.outboundId && v.status === 'delivered');
    const [req] = stub.of(out.outboundId);
    expect(stub.of(out.outboundId)).toHaveLength(1);
    expect(req!.path).toBe('/web');
    expect(req!.verified).toBe(true);
    expect(req!.body).toMatchObject({ outboundId: out.outboundId, provider: 'adapter:web', threadKey: 'chat:sess-race', text: out.text });
    expect(stub.of(later.outboundId)).toHaveLength(1);
    expect(stub.requests.map((r) => r.body.outboundId).filter((id) => id === out.outboundId || id === later.outboundId)).toEqual([out.outboundId, later.outboundId]);
    const statuses = statusesOf(out.outboundId);
    expect(statuses.filter((s) => s.startsWith('delivered'))).toHaveLength(1);
    expect(statuses.filter((s) => s.startsWith('failed'))).toEqual([]);
    expect(dlq.seen.filter((d) => d.value.value !== null && (d.value.value.includes(out.outboundId) || d.value.value.includes(later.outboundId)))).toEqual([]);
    const rows = await world.pool.query<{ status: string; provider: string }>('SELECT status, provider FROM ingest.deliveries WHERE conversation_id = $1::text ORDER BY seq', ['conv-race']);
    expect(rows.rows).toEqual([{ status: 'delivered', provider: 'adapter:web' }, { status: 'delivered', provider: 'adapter:web' }]);
  });

  it('an email reply accepted before its thread is known gets its threading headers when the provider is found, in reply order', async () => {
    const thread = 'email:<root-race@customer.example>';
    const to = { address: 'eva@customer.example' };
    const first = reply('conv-mail-race', 'email', thread, to, { subject: 'Re: factura' });
    const second = reply('conv-mail-race', 'email', thread, to, { subject: 'Re: factura' });
    await publish(first, second);
    await delivery.waitFor((v) => v.outboundId === first.outboundId && v.status === 'retrying');
    // no Message-ID is recorded for a reply whose body is not built yet
    const before = await world.pool.query('SELECT 1 FROM ingest.email_message_ids WHERE thread_key = $1::text', [thread]);
    expect(before.rowCount).toBe(0);
    // the customer's mail as ingest-email's threading records it, then its dedupe row (the provider)
    await world.pool.query(`INSERT INTO ingest.email_message_ids (message_id, thread_key, direction) VALUES ('<root-race@customer.example>', $1::text, 'inbound')`, [thread]);
    await inbound(emailUrl, 'email', 'k-mail', 'email', '<root-race@customer.example>', to);
    await delivery.waitFor((v) => v.outboundId === second.outboundId && v.status === 'delivered');
    const [a, ...moreA] = stub.of(first.outboundId);
    const [b, ...moreB] = stub.of(second.outboundId);
    expect([moreA, moreB]).toEqual([[], []]);
    const ea = a!.body.email as { messageId: string; inReplyTo: string; references: string[] };
    const eb = b!.body.email as typeof ea;
    expect(a!.body.provider).toBe('adapter:mail');
    expect(ea.inReplyTo).toBe('<root-race@customer.example>');
    expect(eb.inReplyTo).toBe(ea.messageId);
    expect(eb.references).toEqual(['<root-race@customer.example>', ea.messageId]);
  });

  it('gives up on a thread whose provider never becomes known only after DELIVERY_MAX_ATTEMPTS look-ups, with a dead letter', async () => {
    const out = reply('conv-never', 'sms', 'sms:+34600999000', { address: '+34600999000' });
    await publish(out);
    const [failed] = await delivery.waitFor((v) => v.outboundId === out.outboundId && v.status === 'failed');
    expect(failed!.value.reason).toMatch(/^gave up after 3 attempts: no delivery target yet: thread sms:\+34600999000 has no known provider/);
    expect(statusesOf(out.outboundId)).toEqual(['retrying:1', 'retrying:2', 'failed:3']);
    await dlq.waitFor((v) => v.value !== null && v.value.includes(out.outboundId));
    expect(stub.of(out.outboundId)).toEqual([]);
  });

  it('keeps retrying while the adapter is down, then delivers everything in order once it is back', async () => {
    const thread = await inbound(chatUrl, 'chat', 'k-down', 'chat', 'sess-down', { address: 'visitor-6' });
    const replies = [1, 2, 3].map(() => reply('conv-down', 'chat', thread, { address: 'visitor-6' }));
    await publish(...replies);
    const [r1, r2, r3] = replies.map((r) => r.outboundId) as [string, string, string];
    const retries = await delivery.waitFor((v) => v.outboundId === r1 && v.status === 'retrying', 2);
    expect(retries[0]!.value.reason).toMatch(/unreachable: ECONNREFUSED/);
    // only the oldest reply of the conversation is attempted while it is undelivered
    expect(delivery.seen.filter((s) => s.value.outboundId === r2 || s.value.outboundId === r3)).toEqual([]);
    await down.listen(downPort);
    for (const id of [r1, r2, r3]) await delivery.waitFor((v) => v.outboundId === id && v.status === 'delivered');
    const order = down.requests.map((r) => r.body.outboundId);
    expect(order).toEqual([r1, r2, r3]);
    expect(down.requests.every((r) => r.verified)).toBe(true);
    expect(statusesOf(r2)).toEqual(['delivered:1']);
  });

  it('re-delivers a reply whose replica died mid-attempt once its lease has ended; the dead claim cannot record', async () => {
    const thread = await inbound(chatUrl, 'chat', 'k-web', 'chat', 'sess-crash', { address: 'visitor-11' });
    const out = reply('conv-crash', 'chat', thread, { address: 'visitor-11' });
    const body = JSON.stringify({ outboundId: out.outboundId, conversationId: out.conversationId, channel: 'chat', provider: 'adapter:web', threadKey: thread, to: out.to, text: out.text, agentId: out.agentId, createdAt: out.createdAt });
    // the state a replica leaves when it is killed during its first attempt: claimed, lease running
    const inserted = await world.pool.query<{ seq: string; lease_end: Date }>(
      `INSERT INTO ingest.deliveries (outbound_id, conversation_id, channel, thread_key, provider, status, body, outbound, attempts, next_attempt_at, claim_token,
                                      source_topic, source_partition, source_offset, source_group)
       VALUES ($1::text, 'conv-crash', 'chat', $2::text, 'adapter:web', 'pending', $3::text, $4::jsonb, 1, now() + interval '1500 milliseconds', 'claim_dead',
               $5::text, 0, '0', 'dead-replica') RETURNING seq::text, next_attempt_at AS lease_end`,
      [out.outboundId, thread, body, JSON.stringify(out), world.topics.outbound],
    );
    const [req] = await stub.waitFor((r) => r.body.outboundId === out.outboundId);
    // nobody touched the row before the dead replica's lease ended (same host clock as the database)
    expect(req!.at).toBeGreaterThanOrEqual(inserted.rows[0]!.lease_end.getTime());
    expect(req!.rawBody).toBe(body);
    await delivery.waitFor((v) => v.outboundId === out.outboundId && v.status === 'delivered');
    expect(statusesOf(out.outboundId)).toEqual(['delivered:2']);
    const row = { seq: inserted.rows[0]!.seq, outboundId: out.outboundId, conversationId: 'conv-crash', channel: 'chat', provider: 'adapter:web', body, outbound: out, attempts: 1, source: { topic: world.topics.outbound, partition: 0, offset: '0', groupId: 'x' } };
    expect(await recordAttempt(world.pool, row, 'claim_dead', { status: 'failed', lastError: 'late' }, [])).toBe(false);
    const after = await world.pool.query('SELECT status, attempts FROM ingest.deliveries WHERE outbound_id = $1::text', [out.outboundId]);
    expect(after.rows).toEqual([{ status: 'delivered', attempts: 2 }]);
  });

  it('delivers a duplicated outbound event once', async () => {
    const thread = await inbound(chatUrl, 'chat', 'k-web', 'chat', 'sess-dup', { address: 'visitor-7' });
    const out = reply('conv-dup', 'chat', thread, { address: 'visitor-7' });
    const marker = reply('conv-dup', 'chat', thread, { address: 'visitor-7' });
    await publish(out);
    await publish(out);
    await publish(marker);
    // same conversation = same partition and per-conversation order: the marker comes after both copies
    await delivery.waitFor((v) => v.outboundId === marker.outboundId && v.status === 'delivered');
    expect(stub.of(out.outboundId)).toHaveLength(1);
    expect(statusesOf(out.outboundId)).toEqual(['delivered:1']);
    const rows = await world.pool.query('SELECT count(*)::int AS n FROM ingest.deliveries WHERE outbound_id = $1::text', [out.outboundId]);
    expect(rows.rows[0].n).toBe(1);
  });

  it('a slow adapter answer on one conversation does not delay another conversation of the same partition', async () => {
    const slowThread = await inbound(chatUrl, 'chat', 'k-web', 'chat', 'sess-slow', { address: 'visitor-8' });
    const fastThread = await inbound(chatUrl, 'chat', 'k-web', 'chat', 'sess-fast', { address: 'visitor-9' });
    let release!: () => void;
    stub.script.set('conv-slow', [{ status: 200, hold: new Promise<void>((r) => (release = r)) }]);
    const slow = reply('conv-slow', 'chat', slowThread, { address: 'visitor-8' });
    const slow2 = reply('conv-slow', 'chat', slowThread, { address: 'visitor-8' });
    // the other conversation shares the Kafka partition: the consumer must not wait on the slow one
    const fast = reply(keyOnSamePartition('conv-slow', 'conv-fast'), 'chat', fastThread, { address: 'visitor-9' });
    await publish(slow, slow2);
    await stub.waitFor((r) => r.body.outboundId === slow.outboundId);
    await publish(fast);
    await delivery.waitFor((v) => v.outboundId === fast.outboundId && v.status === 'delivered');
    // the slow one is still waiting for its adapter, and its conversation's next reply behind it
    expect(statusesOf(slow.outboundId)).toEqual([]);
    expect(stub.of(slow2.outboundId)).toEqual([]);
    const partitions = await world.pool.query('SELECT DISTINCT source_partition FROM ingest.deliveries WHERE outbound_id = ANY($1::text[])', [[slow.outboundId, fast.outboundId]]);
    expect(partitions.rowCount).toBe(1);
    release();
    await delivery.waitFor((v) => v.outboundId === slow2.outboundId && v.status === 'delivered');
    expect(statusesOf(slow.outboundId)).toEqual(['delivered:1']);
  });

  it('skips threads of the chat websocket (provider webchat): ingest-chat delivers those itself', async () => {
    await world.pool.query(
      `INSERT INTO ingest.dedupe (message_id, channel, provider, provider_message_id, thread_key) VALUES ('msg_ws_1', 'chat', 'webchat', 'ws-1', 'chat:ws-sess')`,
    );
    const thread = await inbound(chatUrl, 'chat', 'k-web', 'chat', 'sess-after-ws', { address: 'visitor-10' });
    const ws = reply('conv-ws', 'chat', 'chat:ws-sess', { address: 'visitor-ws' });
    // same conversation key → same partition, consumed after the websocket reply
    const marker = reply('conv-ws', 'chat', thread, { address: 'visitor-10' });
    await publish(ws, marker);
    await delivery.waitFor((v) => v.outboundId === marker.outboundId && v.status === 'delivered');
    expect(statusesOf(ws.outboundId)).toEqual([]);
    expect(stub.of(ws.outboundId)).toEqual([]);
    const rows = await world.pool.query('SELECT 1 FROM ingest.deliveries WHERE outbound_id = $1::text', [ws.outboundId]);
    expect(rows.rowCount).toBe(0);
  });

  it('threads email replies: Message-ID recorded for the thread, In-Reply-To, References, plus-address Reply-To', async () => {
    const thread = await inbound(emailUrl, 'email', 'k-mail', 'email', '<root-1@customer.example>', { address: 'ana@customer.example', name: 'Ana' });
    // the customer's first mail, as ingest-email's threading records it
    await world.pool.query(`INSERT INTO ingest.email_message_ids (message_id, thread_key, direction) VALUES ('<root-1@customer.example>', $1::text, 'inbound')`, [thread]);
    const to = { address: 'ana@customer.example', name: 'Ana' };
    const first = reply('conv-mail', 'email', thread, to, { subject: 'Re: no puedo entrar' });
    const second = reply('conv-mail', 'email', thread, to, { subject: 'Re: no puedo entrar' });
    await publish(first, second);
    await delivery.waitFor((v) => v.outboundId === second.outboundId && v.status === 'delivered');
    const [a] = stub.of(first.outboundId);
    const [b] = stub.of(second.outboundId);
    expect(a!.path).toBe('/mail');
    expect(a!.verified).toBe(true);
    const ea = a!.body.email as { to: string; messageId: string; inReplyTo: string; references: string[]; replyTo: string };
    const eb = b!.body.email as typeof ea;
    expect(ea.to).toBe('ana@customer.example');
    expect(ea.messageId).toMatch(/^<out-[0-9a-f]{24}@replies\.example\.com>$/);
    expect(ea.inReplyTo).toBe('<root-1@customer.example>');
    expect(ea.references).toEqual(['<root-1@customer.example>']);
    expect(ea.replyTo).toMatch(/^support\+t_[0-9a-f]+@example\.com$/);
    expect(eb.inReplyTo).toBe(ea.messageId);
    expect(eb.references).toEqual(['<root-1@customer.example>', ea.messageId]);
    expect(eb.replyTo).toBe(ea.replyTo);
    expect(a!.body.subject).toBe('Re: no puedo entrar');
    // the customer's answer names our Message-ID in In-Reply-To: the index leads it to the same thread
    const ids = await world.pool.query('SELECT message_id, direction FROM ingest.email_message_ids WHERE thread_key = $1::text ORDER BY created_at', [thread]);
    expect(ids.rows).toEqual([
      { message_id: '<root-1@customer.example>', direction: 'inbound' },
      { message_id: ea.messageId, direction: 'outbound' },
      { message_id: eb.messageId, direction: 'outbound' },
    ]);
    const token = /\+t_([0-9a-f]+)@/.exec(ea.replyTo)![1];
    const tok = await world.pool.query('SELECT thread_key FROM ingest.email_thread_tokens WHERE token = $1::text', [`t_${token}`]);
    expect(tok.rows).toEqual([{ thread_key: thread }]);
  });

  it('retries an attempt the adapter does not answer within DELIVERY_TIMEOUT_MS', async () => {
    const thread = await inbound(emailUrl, 'email', 'k-mail', 'email', '<root-t@customer.example>', { address: 'teo@customer.example' });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    stub.script.set('conv-timeout', [{ status: 200, hold: held }]);
    const out = reply('conv-timeout', 'email', thread, { address: 'teo@customer.example' });
    await publish(out);
    try {
      const [retry] = await delivery.waitFor((v) => v.outboundId === out.outboundId && v.status === 'retrying');
      expect(retry!.value.reason).toMatch(/^adapter did not answer in time/);
      await delivery.waitFor((v) => v.outboundId === out.outboundId && v.status === 'delivered');
      expect(statusesOf(out.outboundId)).toEqual(['retrying:1', 'delivered:2']);
      expect(stub.of(out.outboundId)).toHaveLength(2);
    } finally {
      release();
    }
  });

  it('gives voice conversations a call-back task and makes no HTTP call', async () => {
    const thread = await inbound(phoneUrl, 'phone', 'k-voice', 'phone', '+34911222333', { address: '+34911222333' });
    const out = reply('conv-voice', 'phone', thread, { address: '+34911222333' });
    await publish(out);
    const [task] = await delivery.waitFor((v) => v.outboundId === out.outboundId);
    expect(task!.value).toMatchObject({ status: 'callback-task', conversationId: 'conv-voice', attempt: 0, reason: 'voice conversation: call the customer back' });
    // the row is terminal from the start: the delivery loop never claims it
    const row = await world.pool.query('SELECT status, attempts FROM ingest.deliveries WHERE outbound_id = $1::text', [out.outboundId]);
    expect(row.rows).toEqual([{ status: 'callback-task', attempts: 0 }]);
    expect(stub.of(out.outboundId)).toEqual([]);
  });

  it('sends SMS to the E.164 number and gives up after DELIVERY_MAX_ATTEMPTS transient failures', async () => {
    const thread = await inbound(phoneUrl, 'phone', 'k-sms', 'sms', '+34600111222', { address: '+34600111222' });
    stub.script.set('conv-sms', [{ status: 502 }, { status: 503 }, { status: 500 }]);
    const out = reply('conv-sms', 'sms', thread, { address: '+34 600 111 222' });
    await publish(out);
    const [failed] = await delivery.waitFor((v) => v.outboundId === out.outboundId && v.status === 'failed');
    expect(failed!.value.reason).toBe('gave up after 3 attempts: adapter answered HTTP 500');
    expect(statusesOf(out.outboundId)).toEqual(['retrying:1', 'retrying:2', 'failed:3']);
    await dlq.waitFor((v) => v.value !== null && v.value.includes(out.outboundId));
    const reqs = stub.of(out.outboundId);
    expect(reqs).toHaveLength(3);
    expect(reqs[0]!.body.sms).toEqual({ to: '+34600111222' });
  });

  it('refuses to start with a malformed DELIVERY_TARGETS, naming the variable', async () => {
    const cfg = chatCfg.readConfig(world.env({ DELIVERY_TARGETS: 'adapter:web=https://x.example/cb' }));
    await expect(startIngestService('chat', cfg, testLogger, startChat)).rejects.toThrow(/DELIVERY_TARGETS entry 'adapter:web=https:\/\/x.example\/cb' must be provider=callbackUrl\|secret/);
  });
});
