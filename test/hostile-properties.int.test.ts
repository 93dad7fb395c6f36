/**
 * Property-based tests of the boundaries against hostile input, on the real stack (four ingest
 * services, router and history in-process, real broker and database). For every generated input:
 *   2xx ⇒ exactly one message on omni.inbound.v1, and it reaches history's timeline exactly once;
 *   4xx ⇒ a JSON error naming the field, and nothing published;
 *   never 5xx but 503; the service still answers afterwards.
 * `npm test` runs a modest number of cases (FUZZ_RUNS, default 30 per boundary); `npm run fuzz`
 * runs the same properties for FUZZ_SECONDS in all and prints the cases tried per boundary.
 */
import fc from 'fast-check';
import type { Producer } from 'kafkajs';
import { cleanBySchema, InboundMessage, KIND_CHANNELS, problemsOf } from '@omni/contracts';
import { WsClient } from '../services/ingest-chat/test/ws-client';
import { createWorld, TopicWatcher, type TestWorld } from './support/infra';
import { postJson, startStack, type Kind, type Stack } from './support/stack';
import { adapterBody, rawEnvelope, sessionBody, toJsonText, visitorFrame } from './support/hostile-arbitraries';

const BOUNDARIES = 8;
const FUZZ_SECONDS = Number(process.env.FUZZ_SECONDS ?? 0);
const RUNS = Number(process.env.FUZZ_RUNS ?? 30);
const perBoundaryMs = (FUZZ_SECONDS * 1000) / BOUNDARIES;
const params = (): fc.Parameters<unknown[]> =>
  FUZZ_SECONDS > 0 ? { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: perBoundaryMs, markInterruptAsFailure: false } : { numRuns: RUNS };
jest.setTimeout(FUZZ_SECONDS > 0 ? perBoundaryMs + 600_000 : 240_000);

interface Tally {
  cases: number;
  ok: number;
  refused: number;
  unavailable: number;
}

describe('hostile input properties, end to end', () => {
  let world: TestWorld;
  let stack: Stack;
  let inbound: TopicWatcher;
  let dlq: TopicWatcher;
  let producer: Producer;
  const tallies: Record<string, Tally> = {};
  const tally = (route: string) => (tallies[route] ??= { cases: 0, ok: 0, refused: 0, unavailable: 0 });
  let caseNo = 0;
  const run = Date.now().toString(36);

  beforeAll(async () => {
    world = await createWorld('hostileprops');
    inbound = await TopicWatcher.start(world, world.topics.inbound);
    dlq = await TopicWatcher.start(world, world.topics.dlq);
    stack = await startStack(world);
    producer = world.kafka.producer();
    await producer.connect();
  });
  afterAll(async () => {
    const rows = Object.entries(tallies).map(([route, t]) => `  ${route.padEnd(34)} ${String(t.cases).padStart(7)} ${String(t.ok).padStart(7)} ${String(t.refused).padStart(7)} ${String(t.unavailable).padStart(5)}`);
    // eslint-disable-next-line no-console
    console.log(`hostile input cases per boundary${FUZZ_SECONDS ? ` (fuzz, ${FUZZ_SECONDS} s)` : ''}\n  ${'boundary'.padEnd(34)}   cases  2xx/ok 4xx/ref   503\n${rows.join('\n')}`);
    await producer?.disconnect();
    await stack?.close();
    await inbound?.stop();
    await dlq?.stop();
    await world?.close();
  });

  /** The answer contract of every HTTP boundary; returns 'ok' | 'refused' | 'unavailable'. */
  function judge(route: string, res: { status: number; body: any }, okStatuses: number[]): 'ok' | 'refused' | 'unavailable' {
    const show = () => `${route} answered ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`;
    if (res.status === 503) return 'unavailable';
    if (res.status >= 500) throw new Error(`5xx: ${show()}`);
    if (okStatuses.includes(res.status)) return 'ok';
    if (res.status < 400) throw new Error(`unexpected status: ${show()}`);
    if (typeof res.body !== 'object' || res.body === null || typeof res.body.error !== 'string') throw new Error(`4xx without a JSON error: ${show()}`);
    if (res.status === 400) {
      const fields = res.body.fields as { field?: unknown; reason?: unknown }[] | undefined;
      if (!Array.isArray(fields) || fields.length === 0 || !fields.every((f) => typeof f.field === 'string' && f.field.length > 0 && typeof f.reason === 'string'))
        throw new Error(`400 without the field named: ${show()}`);
    }
    return 'refused';
  }

  /** Waits until every accepted message is on the topic and on the timeline, then checks each is there exactly once. */
  async function verifyEndToEnd(accepted: string[], refusedProviderIds: Set<string>): Promise<void> {
    const ids = [...new Set(accepted)];
    const deadline = Date.now() + 120_000 + ids.length * 50;
    if (ids.length > 0) await inbound.waitFor((v) => ids.includes(v.messageId as string), ids.length, deadline - Date.now());
    for (;;) {
      const { rows } = await world.pool.query<{ event_id: string; n: number }>('SELECT event_id, count(*)::int AS n FROM history.timeline WHERE event_id = ANY($1::text[]) GROUP BY event_id', [ids]);
      if (rows.length === ids.length) {
        expect(rows.filter((r) => r.n !== 1)).toEqual([]);
        break;
      }
      if (Date.now() > deadline) throw new Error(`only ${rows.length} of ${ids.length} accepted messages reached the timeline`);
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const id of ids) {
      const copies = inbound.seen.filter((s) => s.value.messageId === id).length;
      if (copies !== 1) throw new Error(`${id} is on omni.inbound.v1 ${copies} times`);
    }
    const leaked = inbound.seen.filter((s) => refusedProviderIds.has(s.value.providerMessageId as string));
    expect(leaked.map((s) => s.value.providerMessageId)).toEqual([]);
  }

  const alive = async (url: string) => expect((await fetch(`${url}/healthz`)).status).toBe(200);

  describe.each(['chat', 'email', 'phone', 'social'] as Kind[])('POST /v1/%s/messages', (kind) => {
    it('2xx ⇒ on the topic and the timeline exactly once; 4xx ⇒ field named, nothing published; never 5xx', async () => {
      const route = `POST /v1/${kind}/messages`;
      const accepted: string[] = [];
      const refused = new Set<string>();
      await fc.assert(
        fc.asyncProperty(adapterBody(KIND_CHANNELS[kind]), async (generated) => {
          const i = ++caseNo;
          const body = generated as Record<string, unknown>;
          // unique per case (the hostile part is kept after the prefix), so outcomes can be told apart
          if (body && typeof body === 'object' && typeof body.adapterMessageId === 'string') body.adapterMessageId = `c${run}-${i}-${body.adapterMessageId}`;
          const res = await postJson(`${stack.ingest[kind].url}/v1/${kind}/messages`, toJsonText(body));
          const verdict = judge(route, res, [200, 202]);
          tally(route).cases++;
          tally(route)[verdict === 'ok' ? 'ok' : verdict]++;
          if (verdict === 'ok') accepted.push(res.body.messageId as string);
          else if (body && typeof body === 'object' && typeof body.adapterMessageId === 'string') refused.add(body.adapterMessageId);
        }),
        params(),
      );
      await alive(stack.ingest[kind].url);
      await verifyEndToEnd(accepted, refused);
    });
  });

  it('POST /v1/chat/sessions: 201 ⇒ a stored session; 4xx ⇒ field named; never 5xx', async () => {
    const route = 'POST /v1/chat/sessions';
    await fc.assert(
      fc.asyncProperty(sessionBody, async (body) => {
        const res = await postJson(`${stack.ingest.chat.url}/v1/chat/sessions`, toJsonText(body));
        const verdict = judge(route, res, [201]);
        tally(route).cases++;
        tally(route)[verdict === 'ok' ? 'ok' : verdict]++;
        if (verdict === 'ok') {
          const { rows } = await world.pool.query('SELECT count(*)::int AS n FROM ingest.chat_sessions WHERE session_id = $1::text', [res.body.sessionId]);
          expect(rows[0].n).toBe(1);
        }
      }),
      params(),
    );
    await alive(stack.ingest.chat.url);
  });

  it('GET /v1/chat/ws: every frame is acked or refused naming the field, never an internal error; acked ⇒ on the timeline once', async () => {
    const route = 'GET /v1/chat/ws (frames)';
    const session = await postJson(`${stack.ingest.chat.url}/v1/chat/sessions`, { visitorId: `v-${run}` });
    expect(session.status).toBe(201);
    const ws = await WsClient.connect(`${stack.ingest.chat.url.replace('http', 'ws')}/v1/chat/ws?token=${session.body.token}`);
    await ws.waitFor((f) => f.type === 'ready');
    const accepted: string[] = [];
    let pongs = 0;
    try {
      await fc.assert(
        fc.asyncProperty(visitorFrame, async (generated) => {
          const i = ++caseNo;
          // unique client ids per case (hostile content kept after the prefix)
          const frame = generated.replace(/"clientMessageId":"/, `"clientMessageId":"c${i}-`);
          fc.pre(Buffer.byteLength(frame) < 60_000); // larger frames are closed by the socket's own limit (CHAT_WS_MAX_FRAME_BYTES)
          const before = ws.frames.length;
          ws.send(frame);
          ws.send({ type: 'ping' });
          pongs++;
          await ws.waitFor((f) => f.type === 'pong', pongs, 60_000);
          if (ws.closed) throw new Error(`socket closed after ${JSON.stringify(frame).slice(0, 300)}: ${JSON.stringify(ws.closed)}`);
          const answers = ws.frames.slice(before).filter((f) => f.type !== 'pong' && f.type !== 'reply');
          tally(route).cases++;
          for (const a of answers) {
            if (a.type === 'error' && (a.code === 'INTERNAL' || typeof a.field !== 'string')) throw new Error(`bad error frame ${JSON.stringify(a)} for ${frame.slice(0, 300)}`);
            if (a.type === 'error') tally(route)[a.code === 'UNAVAILABLE' ? 'unavailable' : 'refused']++;
            if (a.type === 'ack') {
              tally(route).ok++;
              if (!a.duplicate) accepted.push(a.messageId as string);
            }
          }
        }),
        params(),
      );
    } finally {
      await ws.close();
    }
    await verifyEndToEnd(accepted, new Set());
  });

  it("router's and history's decode: whatever the contract accepts after cleaning reaches both, exactly once; the rest is dead-lettered with the reason by both", async () => {
    const route = 'omni.inbound.v1 decode (router, history)';
    const storable: string[] = [];
    const refused: string[] = []; // DLQ keys (topic:partition:offset) of the messages the contract refuses
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer().chain(() => rawEnvelope(`msg_fuzz_${run}_${++n}`)), async (envelope) => {
        const text = toJsonText(envelope);
        const { value } = cleanBySchema(InboundMessage, JSON.parse(text));
        const ok = problemsOf(InboundMessage, value).length === 0;
        const [meta] = await producer.send({ topic: world.topics.inbound, messages: [{ key: typeof envelope.threadKey === 'string' ? envelope.threadKey : 'k', value: text }] });
        tally(route).cases++;
        tally(route)[ok ? 'ok' : 'refused']++;
        if (ok) storable.push(envelope.messageId as string);
        else refused.push(`${meta!.topicName}:${meta!.partition}:${meta!.baseOffset}`);
      }),
      params(),
    );
    const deadline = 120_000 + (storable.length + refused.length) * 50;
    const started = Date.now();
    for (;;) {
      const { rows } = await world.pool.query<{ event_id: string; n: number }>('SELECT event_id, count(*)::int AS n FROM history.timeline WHERE event_id = ANY($1::text[]) GROUP BY event_id', [storable]);
      const routed = await world.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM router.conversation_messages WHERE message_id = ANY($1::text[])', [storable]);
      const deadFor = (group: string) => new Set(dlq.seen.filter((d) => (d.value.source as { groupId: string }).groupId.startsWith(group)).map((d) => d.key));
      const storableKeys = new Set(storable);
      const router = deadFor('router-');
      const history = deadFor('history-');
      const done = rows.length === storable.length && routed.rows[0]!.n === storable.length && refused.every((id) => router.has(id) && history.has(id));
      if (done) {
        expect(rows.filter((r) => r.n !== 1)).toEqual([]);
        // nothing the contract accepts after cleaning was dead-lettered by either consumer
        const deadIds = dlq.seen
          .filter((d) => d.value.value !== null)
          .map((d) => /"messageId":"(msg_fuzz_[a-z0-9]+_[0-9]+)"/.exec(String(d.value.value))?.[1])
          .filter((id): id is string => id !== undefined && storableKeys.has(id));
        expect(deadIds).toEqual([]);
        break;
      }
      if (Date.now() - started > deadline)
        throw new Error(`decode: ${rows.length}/${storable.length} on the timeline, ${routed.rows[0]!.n} routed, ${refused.filter((id) => router.has(id)).length}/${refused.length} dead-lettered by the router, ${refused.filter((id) => history.has(id)).length} by history`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await alive(stack.router.url);
    await alive(stack.history.url);
  });
});

