/**
 * The live visitor chat over a real websocket, the real broker and database: sessions, messages acked
 * after Kafka, error frames, agent replies from omni.outbound.v1, resume after reconnect.
 */
import { createHmac } from 'node:crypto';
import type { Producer } from 'kafkajs';
import type { OutboundMessage } from '@omni/contracts';
import { startIngestService } from '@omni/ingest';
import { readConfig } from '../src/config';
import { start } from '../src/start';
import { createWorld, eventually, testLogger, TopicWatcher, type TestWorld } from '../../../test/support/infra';
import { storeReply } from '../src/session-store';
import { WsClient, type Frame } from './ws-client';
import fc from 'fast-check';
import { field, hostileString, toJsonText, wrongType } from '../../../test/support/hostile-arbitraries';

const SECRET = 'chat-session-secret-for-tests';
const KEY = 'widget-key-1';

describe('ingest-chat: visitor websocket', () => {
  let world: TestWorld;
  let url: string;
  let wsUrl: string;
  let close: () => Promise<void>;
  let inbound: TopicWatcher;
  let delivery: TopicWatcher;
  let producer: Producer;
  const clients: WsClient[] = [];

  beforeAll(async () => {
    world = await createWorld('chatws');
    inbound = await TopicWatcher.start(world, world.topics.inbound);
    delivery = await TopicWatcher.start(world, world.topics.delivery);
    producer = world.kafka.producer();
    await producer.connect();
    const s = await startIngestService(
      'chat',
      readConfig(world.env({ ADAPTER_API_KEYS: `widget:${KEY}`, CHAT_SESSION_SECRET: SECRET, CHAT_WS_GROUP_ID: world.groupId('chat-ws'), CHAT_WAIT_GROUP_ID: world.groupId('chat-waits'), CHAT_WS_PING_MS: '2500' })),
      testLogger,
      start,
    );
    url = s.url;
    wsUrl = url.replace(/^http/, 'ws');
    close = s.close;
  });

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await close?.();
    await producer?.disconnect();
    await inbound?.stop();
    await delivery?.stop();
    await world?.close();
  });

  async function createSession(body: Record<string, unknown> = {}) {
    const res = await fetch(`${url}/v1/chat/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    return (await res.json()) as { sessionId: string; token: string; visitorId: string; expiresAt: string };
  }

  async function connect(query: string): Promise<WsClient> {
    const c = await WsClient.connect(`${wsUrl}/v1/chat/ws?${query}`);
    clients.push(c);
    return c;
  }

  async function connectReady(token: string, lastSeq?: number): Promise<WsClient> {
    const c = await connect(`token=${encodeURIComponent(token)}${lastSeq === undefined ? '' : `&lastSeq=${lastSeq}`}`);
    await c.waitFor((f) => f.type === 'ready');
    return c;
  }

  let outboundCount = 0;
  async function publishReply(sessionId: string, text: string, outboundId = `ob_${++outboundCount}_${world.id}`, raw?: Record<string, unknown>): Promise<string> {
    const value: OutboundMessage = {
      schema: 'omni.outbound.v1',
      outboundId,
      conversationId: `conv_${sessionId}`,
      channel: 'chat',
      threadKey: `chat:${sessionId}`,
      to: { channel: 'chat', address: 'visitor' },
      agentId: 'agent-7',
      text,
      createdAt: new Date().toISOString(),
      ...(raw ? { raw } : {}),
    };
    // as the router would: keyed by conversation, acks from all in-sync replicas
    await producer.send({ topic: world.topics.outbound, acks: -1, messages: [{ key: value.conversationId, value: JSON.stringify(value) }] });
    return outboundId;
  }

  const replies = (c: WsClient) => c.frames.filter((f) => f.type === 'reply');

  it('creates a session with a signed token and a generated visitor id', async () => {
    const s = await createSession({ name: 'Ana', email: 'ana@example.org', language: 'es' });
    expect(s.sessionId).toMatch(/^cs_[0-9a-f]{32}$/);
    expect(s.visitorId).toMatch(/^v_/);
    expect(s.token.split('.')).toHaveLength(3);
    const row = await world.pool.query('SELECT visitor_id, name, email, language, adapter_id FROM ingest.chat_sessions WHERE session_id = $1::text', [s.sessionId]);
    expect(row.rows).toEqual([{ visitor_id: s.visitorId, name: 'Ana', email: 'ana@example.org', language: 'es', adapter_id: 'widget' }]);
    const given = await createSession({ visitorId: 'visitor-42' });
    expect(given.visitorId).toBe('visitor-42');
  });

  it('documents the session route in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    // @fastify/websocket hides websocket routes from OpenAPI (no HTTP response to describe); the
    // socket protocol is in docs/ingest-chat.md
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/chat/sessions', '/v1/chat/messages']));
  });

  it('rejects session creation without a key (401) and with a bad email (400 naming the field)', async () => {
    const noKey = await fetch(`${url}/v1/chat/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(noKey.status).toBe(401);
    const bad = await fetch(`${url}/v1/chat/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify({ email: 'not-an-email' }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { fields: { field: string }[] }).fields.map((f) => f.field)).toContain('body.email');
  });

  it('acks a visitor message only once it is on omni.inbound.v1, and a re-sent one as duplicate', async () => {
    const s = await createSession({ visitorId: 'visitor-ack', name: 'Ana', email: 'ana@example.org', language: 'es' });
    const c = await connectReady(s.token);
    c.send({ type: 'message', clientMessageId: 'c-1', text: 'Hola, no puedo pagar' });
    const [ack] = await c.waitFor((f) => f.type === 'ack' && f.clientMessageId === 'c-1');
    expect(ack).toMatchObject({ duplicate: false, messageId: expect.stringMatching(/^msg_/) });
    const [msg] = await inbound.waitFor((v) => v.messageId === ack!.messageId);
    expect(msg!.key).toBe(`chat:${s.sessionId}`);
    expect(msg!.value).toMatchObject({
      channel: 'chat',
      provider: 'webchat',
      providerMessageId: `${s.sessionId}:c-1`,
      threadKey: `chat:${s.sessionId}`,
      from: { channel: 'chat', address: 'visitor-ack', name: 'Ana', email: 'ana@example.org' },
      text: 'Hola, no puedo pagar',
      language: 'es',
    });
    c.send({ type: 'message', clientMessageId: 'c-1', text: 'Hola, no puedo pagar' });
    c.send({ type: 'message', clientMessageId: 'c-2', text: 'marker' });
    const [dup] = await c.waitFor((f) => f.type === 'ack' && f.clientMessageId === 'c-1', 2).then((a) => a.slice(1));
    expect(dup).toMatchObject({ duplicate: true, messageId: ack!.messageId });
    const [marker] = await c.waitFor((f) => f.type === 'ack' && f.clientMessageId === 'c-2');
    await inbound.waitFor((v) => v.messageId === marker!.messageId);
    expect(inbound.seen.filter((m) => m.value.messageId === ack!.messageId)).toHaveLength(1);
  });

  it('answers bad frames with an error frame naming the field and keeps the socket open', async () => {
    const s = await createSession();
    const c = await connectReady(s.token);
    c.send('{not json');
    c.send({ type: 'shout', text: 'x' });
    c.send({ type: 'message', clientMessageId: 'e-1' });
    c.send({ type: 'message', clientMessageId: 'e-2', text: 'x', extra: true });
    c.send({ type: 'resume', lastSeq: -1 });
    const errors = await c.waitFor((f) => f.type === 'error', 5);
    expect(errors.map((e) => e.field)).toEqual(['frame', 'type', 'text', 'extra', 'lastSeq']);
    expect(errors[2]).toMatchObject({ code: 'VALIDATION', clientMessageId: 'e-1' });
    c.send({ type: 'message', clientMessageId: 'e-3', text: 'still here' });
    const [ack] = await c.waitFor((f) => f.type === 'ack' && f.clientMessageId === 'e-3');
    await inbound.waitFor((v) => v.messageId === ack!.messageId);
    expect(inbound.seen.filter((m) => String(m.value.providerMessageId).startsWith(`${s.sessionId}:`)).map((m) => m.value.providerMessageId)).toEqual([`${s.sessionId}:e-3`]);
    expect(c.closed).toBeUndefined();
  });

  it('sends an error frame then closes for a missing, forged, expired or unknown-session token', async () => {
    const s = await createSession();
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const forge = (claims: Record<string, unknown>, secret = SECRET) => {
      const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
      return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
    };
    const now = Math.floor(Date.now() / 1000);
    for (const query of [
      '',
      'token=abc.def.ghi',
      `token=${forge({ sid: s.sessionId, iat: now }, 'some-other-secret-value')}`,
      `token=${forge({ sid: s.sessionId, iat: now - 100, exp: now - 10 })}`,
      `token=${forge({ sid: 'cs_00000000000000000000000000000000', iat: now })}`,
    ]) {
      const c = await connect(query);
      const closed = await c.waitClosed();
      expect(closed.code).toBe(4401);
      expect(c.frames).toEqual([expect.objectContaining({ type: 'error', code: 'UNAUTHORIZED' })]);
    }
  });

  it('closes an open socket with an error frame when its session expires', async () => {
    const s = await createSession();
    await world.pool.query(`UPDATE ingest.chat_sessions SET expires_at = now() + interval '2 seconds' WHERE session_id = $1::text`, [s.sessionId]);
    // not waiting for "ready": on a slow machine the session may already be over when the socket opens,
    // which ends the same way
    const c = await connect(`token=${encodeURIComponent(s.token)}`);
    const closed = await c.waitClosed();
    expect(closed.code).toBe(4401);
    expect(c.frames.at(-1)).toMatchObject({ type: 'error', code: 'UNAUTHORIZED', message: 'session expired' });
  });

  it('pushes agent replies from omni.outbound.v1 and publishes a delivered status', async () => {
    const s = await createSession();
    const c = await connectReady(s.token);
    const ob = await publishReply(s.sessionId, 'Hola Ana, te ayudo con el pago');
    const [reply] = await c.waitFor((f) => f.type === 'reply');
    expect(reply).toMatchObject({ seq: 1, outboundId: ob, text: 'Hola Ana, te ayudo con el pago', agentId: 'agent-7' });
    const [status] = await delivery.waitFor((v) => v.outboundId === ob);
    expect(status!.value).toMatchObject({ status: 'delivered', channel: 'chat', conversationId: `conv_${s.sessionId}` });
    expect(status!.key).toBe(`conv_${s.sessionId}`);
  });

  it('replays exactly the missed replies, in order, after a reconnect with lastSeq or a resume frame', async () => {
    const s = await createSession();
    const first = await connectReady(s.token);
    await publishReply(s.sessionId, 'r1');
    await first.waitFor((f) => f.type === 'reply' && f.seq === 1);
    await first.close();

    const missed = [await publishReply(s.sessionId, 'r2'), await publishReply(s.sessionId, 'r3'), await publishReply(s.sessionId, 'r4')];
    // a redelivery of r3 (Kafka at-least-once) must not become a fourth missed reply
    await publishReply(s.sessionId, 'r3', missed[1]);
    await eventually(async () => {
      const r = await world.pool.query<{ n: string }>('SELECT count(*) AS n FROM ingest.chat_session_events WHERE session_id = $1::text', [s.sessionId]);
      return Number(r.rows[0]!.n) === 4 ? true : undefined;
    }, 'the three missed replies stored');

    const second = await connectReady(s.token, 1);
    await second.waitFor((f) => f.type === 'reply', 3);
    const marker = await publishReply(s.sessionId, 'r5');
    await second.waitFor((f) => f.type === 'reply' && f.outboundId === marker);
    expect(replies(second).map((f: Frame) => [f.seq, f.text])).toEqual([
      [2, 'r2'],
      [3, 'r3'],
      [4, 'r4'],
      [5, 'r5'],
    ]);
    await second.close();

    // a widget that lost its place connects with the newest seq, then asks to resume from 3
    const third = await connectReady(s.token, 5);
    third.send({ type: 'resume', lastSeq: 3 });
    await third.waitFor((f) => f.type === 'reply', 2);
    const m2 = await publishReply(s.sessionId, 'r6');
    await third.waitFor((f) => f.type === 'reply' && f.outboundId === m2);
    expect(replies(third).map((f) => f.seq)).toEqual([4, 5, 6]);

    // every reply delivered once is reported delivered once
    await delivery.waitFor((v) => v.outboundId === m2);
    const ids = delivery.seen.filter((d) => String(d.value.conversationId) === `conv_${s.sessionId}`).map((d) => d.value.outboundId);
    expect(new Set(ids).size).toBe(6);
    expect(ids).toHaveLength(6);
  });

  it('pushes a reply stored by another replica (its consumer) to the socket held here', async () => {
    const s = await createSession();
    const c = await connectReady(s.token);
    // what another replica's consumer does: store under the next seq and NOTIFY on commit
    const outcome = await storeReply(world.pool, s.sessionId, {
      schema: 'omni.outbound.v1',
      outboundId: `ob_elsewhere_${world.id}`,
      conversationId: `conv_${s.sessionId}`,
      channel: 'chat',
      threadKey: `chat:${s.sessionId}`,
      to: { channel: 'chat', address: 'visitor' },
      agentId: 'agent-9',
      text: 'from the other replica',
      createdAt: new Date().toISOString(),
    });
    expect(outcome).toBe('stored');
    const [reply] = await c.waitFor((f) => f.type === 'reply');
    expect(reply).toMatchObject({ seq: 1, text: 'from the other replica', agentId: 'agent-9' });
  });

  it('numbers replies stored concurrently (several replicas, redeliveries) 1..N without gap or duplicate', async () => {
    const s = await createSession();
    const reply = (n: number): OutboundMessage => ({
      schema: 'omni.outbound.v1',
      outboundId: `ob_conc_${n}_${world.id}`,
      conversationId: `conv_${s.sessionId}`,
      channel: 'chat',
      threadKey: `chat:${s.sessionId}`,
      to: { channel: 'chat', address: 'visitor' },
      agentId: 'agent-3',
      text: `concurrent ${n}`,
      createdAt: new Date().toISOString(),
    });
    // 20 distinct replies, 5 of them stored twice at the same time
    const outcomes = await Promise.all([...Array.from({ length: 20 }, (_, n) => storeReply(world.pool, s.sessionId, reply(n))), ...[0, 4, 8, 12, 16].map((n) => storeReply(world.pool, s.sessionId, reply(n)))]);
    expect(outcomes.filter((o) => o === 'stored')).toHaveLength(20);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(5);
    const rows = await world.pool.query<{ seq: string }>('SELECT seq FROM ingest.chat_session_events WHERE session_id = $1::text ORDER BY seq', [s.sessionId]);
    expect(rows.rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const c = await connectReady(s.token);
    await c.waitFor((f) => f.type === 'reply', 20);
    expect(replies(c).map((f) => f.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('terminates a socket whose peer stopped answering pings, and keeps one that answers', async () => {
    const s = await createSession();
    const live = await connectReady(s.token);
    const dead = await WsClient.connect(`${wsUrl}/v1/chat/ws?token=${encodeURIComponent(s.token)}`, { autoPong: false });
    clients.push(dead);
    await dead.waitFor((f) => f.type === 'ready');
    const closed = await dead.waitClosed();
    expect(closed.code).toBe(1006);
    // the answering socket outlived several ping rounds and still gets replies
    const ob = await publishReply(s.sessionId, 'still there?');
    await live.waitFor((f) => f.type === 'reply' && f.outboundId === ob);
    expect(live.closed).toBeUndefined();
  });

  it('ignores outbound messages of other channels and of adapter-route chat threads', async () => {
    const s = await createSession();
    const c = await connectReady(s.token);
    const other: OutboundMessage = {
      schema: 'omni.outbound.v1',
      outboundId: `ob_other_${world.id}`,
      conversationId: 'conv-adapter',
      channel: 'chat',
      threadKey: 'chat:sess-from-an-adapter',
      to: { channel: 'chat', address: 'v' },
      agentId: 'agent-1',
      text: 'not for a websocket',
      createdAt: new Date().toISOString(),
    };
    await producer.send({ topic: world.topics.outbound, acks: -1, messages: [{ key: other.conversationId, value: JSON.stringify(other) }] });
    const marker = await publishReply(s.sessionId, 'mine');
    await c.waitFor((f) => f.type === 'reply' && f.outboundId === marker);
    const r = await world.pool.query('SELECT 1 FROM ingest.chat_session_events WHERE outbound_id = $1::text', [other.outboundId]);
    expect(r.rowCount).toBe(0);
  });

  describe('reply buttons (the self-service YES/NO, docs/knowledge.md)', () => {
    const CHOICES = [
      { value: 'yes', label: 'Sí' },
      { value: 'no', label: 'No' },
    ];

    it('a reply with raw.choices carries them; a click comes back as a message whose text is the label', async () => {
      const s = await createSession({ language: 'es' });
      const c = await connectReady(s.token);
      const ob = await publishReply(s.sessionId, '¿Esto resolvió tu consulta?', undefined, { choices: CHOICES, selfService: { articleIds: ['kb-1'] } });
      const [reply] = await c.waitFor((f) => f.type === 'reply' && f.outboundId === ob);
      expect(reply!.choices).toEqual(CHOICES);
      // a reply without buttons has no choices field
      const plain = await publishReply(s.sessionId, 'hola');
      const [p] = await c.waitFor((f) => f.type === 'reply' && f.outboundId === plain);
      expect(p).not.toHaveProperty('choices');
      // replayed after a reconnect with the buttons too
      const again = await connectReady(s.token, 0);
      const [replayed] = await again.waitFor((f) => f.type === 'reply' && f.outboundId === ob);
      expect(replayed!.choices).toEqual(CHOICES);

      c.send({ type: 'choice', clientMessageId: 'click-1', outboundId: ob, value: 'yes' });
      const [ack] = await c.waitFor((f) => f.type === 'ack' && f.clientMessageId === 'click-1');
      const [msg] = await inbound.waitFor((v) => v.messageId === ack!.messageId);
      expect(msg!.value).toMatchObject({ text: 'Sí', threadKey: `chat:${s.sessionId}`, raw: { choice: { outboundId: ob, value: 'yes' }, clientMessageId: 'click-1' } });
    });

    it('malformed raw.choices are dropped, not shown', async () => {
      const s = await createSession();
      const c = await connectReady(s.token);
      const bad = [[], [{ value: 'yes' }], [{ value: 'a b', label: 'x' }], [{ value: 'y', label: 'x'.repeat(65) }], [{ value: 'y', label: 7 }], Array.from({ length: 5 }, (_, i) => ({ value: `v${i}`, label: 'x' })), 'yes', { value: 'yes' }];
      for (const choices of bad) {
        const ob = await publishReply(s.sessionId, 'x', undefined, { choices });
        const [r] = await c.waitFor((f) => f.type === 'reply' && f.outboundId === ob);
        expect(r).not.toHaveProperty('choices');
      }
    });

    it('hostile choice frames are refused with an error naming the field, the socket stays open, and only offered choices are sent on, once each', async () => {
      const s = await createSession();
      const c = await connectReady(s.token);
      const ob = await publishReply(s.sessionId, 'did this solve it?', undefined, { choices: CHOICES });
      const plain = await publishReply(s.sessionId, 'no buttons here');
      await c.waitFor((f) => f.type === 'reply' && f.outboundId === plain);
      let n = 0;
      let pongs = 0;
      const acked = new Map<string, string>(); // clientMessageId → messageId
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            { weight: 3, arbitrary: fc.record({ outboundId: fc.constantFrom(ob, plain, 'ob_nope'), value: fc.constantFrom('yes', 'no', 'maybe') }) },
            { weight: 3, arbitrary: fc.record({ outboundId: field(fc.constant(ob)), value: field(fc.constantFrom('yes', 'no')), extra: fc.option(fc.oneof(hostileString, wrongType), { nil: undefined }) }, { requiredKeys: [] }) },
            { weight: 1, arbitrary: fc.record({ outboundId: fc.constant(ob), value: fc.constant({ __deep: 5_000 }) }) },
          ),
          async (gen) => {
            const cmid = `choice-${++n}`;
            const frame = toJsonText({ type: 'choice', clientMessageId: cmid, ...gen });
            fc.pre(Buffer.byteLength(frame) < 60_000);
            const before = c.frames.length;
            c.send(frame);
            c.send({ type: 'ping' });
            await c.waitFor((f) => f.type === 'pong', ++pongs, 60_000);
            expect(c.closed).toBeUndefined();
            const answers = c.frames.slice(before).filter((f) => f.type === 'ack' || f.type === 'error');
            expect(answers).toHaveLength(1);
            const a = answers[0]!;
            const valid = (gen as { outboundId?: unknown }).outboundId === ob && ['yes', 'no'].includes((gen as { value?: unknown }).value as string) && !('extra' in gen && (gen as { extra?: unknown }).extra !== undefined);
            if (valid) {
              expect(a).toMatchObject({ type: 'ack', clientMessageId: cmid });
              acked.set(cmid, a.messageId as string);
            } else {
              expect(a).toMatchObject({ type: 'error', code: 'VALIDATION' });
              expect(typeof a.field).toBe('string');
            }
          },
        ),
        { numRuns: Number(process.env.FUZZ_RUNS ?? 60) },
      );
      // every acked click is on omni.inbound.v1 exactly once, with the label as its text; nothing else from this session
      if (acked.size) await inbound.waitFor((v) => v.messageId === [...acked.values()].at(-1));
      const mine = inbound.seen.filter((m) => String(m.value.providerMessageId).startsWith(`${s.sessionId}:`));
      expect(mine.map((m) => m.value.messageId).sort()).toEqual([...acked.values()].sort());
      for (const m of mine) expect(['Sí', 'No']).toContain(m.value.text);
    });
  });
});
