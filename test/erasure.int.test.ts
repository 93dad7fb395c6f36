/**
 * Right to be forgotten across the stack (issue 14), on the real broker and database: ingest-chat,
 * ingest-email, the router and history in-process. A person writes on chat (a visitor session with
 * name and e-mail) and by e-mail, an agent is offered both conversations, accepts, replies (the chat
 * reply is stored for the session, the e-mail one ends as a failed delivery row) and resolves one.
 * An admin erases the person in history; history publishes one omni.erasures.v1 event and every
 * service forgets them. Then a `pg_dump` of the whole test database (every schema: history, router,
 * ingest) holds none of the person's addresses, name, session, thread or message text, while a
 * second person's data is intact, and the compacted customers topic, once compacted, holds none of
 * them either. A second case stops the router's and ingest's erasure halfway (as a crash would),
 * then the event finishes it. A fast-check property sends hostile erasure records: each is
 * dead-lettered by both consumers and erases nothing, and the consumers go on.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import type { Producer } from 'kafkajs';
import { cleanBySchema, ErasureEvent, erasureEventProblems, problemsOf, type Channel } from '@omni/contracts';
import { eraseFromIngest, sweepIngestContent } from '@omni/ingest';
import { KAFKA_MAX_MESSAGE_BYTES } from '@omni/kafka';
import * as routerCfg from '@omni/router/src/config';
import { eraseFromRouter } from '@omni/router/src/store/erasure';
import { sweepRouterContent } from '@omni/router/src/store/content-retention';
import type { RouterCtx } from '@omni/router/src/store/routing-tx';
import { AgentClient } from '../services/router/test/support/agent-client';
import { createWorld, eventually, testLogger, TopicWatcher, type TestWorld } from './support/infra';
import { postJson, startStack, type Stack } from './support/stack';
import { bearer, testToken } from './support/tokens';

const run = promisify(execFile);
const RUNS = Number(process.env.FUZZ_RUNS ?? 30);
jest.setTimeout(300_000);

/** What the consumers accept: the contract after its clean step, and part below parts. */
function isValidErasure(v: unknown): boolean {
  const { value } = cleanBySchema(ErasureEvent, JSON.parse(JSON.stringify(v)));
  return problemsOf(ErasureEvent, value).length === 0 && erasureEventProblems(value as ErasureEvent).length === 0;
}

interface Person {
  tag: string;
  customerIds: string[];
  conversations: string[];
  /** strings that must not survive the erasure anywhere */
  secrets: string[];
}

describe('erasure of a person across history, router and ingest', () => {
  let world: TestWorld;
  let stack: Stack;
  let agent: AgentClient;
  let customers: TopicWatcher<Record<string, unknown> | null>;
  let erasures: TopicWatcher;
  let dlq: TopicWatcher;
  let conversations: TopicWatcher;
  let producer: Producer;
  let ctx: RouterCtx;

  beforeAll(async () => {
    world = await createWorld('erasuree2e');
    customers = await TopicWatcher.start(world, world.topics.customers);
    erasures = await TopicWatcher.start(world, world.topics.erasures);
    dlq = await TopicWatcher.start(world, world.topics.dlq);
    conversations = await TopicWatcher.start(world, world.topics.conversations);
    // offers never expire here: people left unanswered (agentWork: false) must not set the agent away
    stack = await startStack(world, { kinds: ['chat', 'email'], env: { OFFER_TIMEOUT_MS: '3600000' } });
    producer = world.kafka.producer();
    await producer.connect();
    const put = await fetch(`${stack.router.url}/v1/admin/agents/ag-erase`, {
      method: 'PUT',
      headers: { ...bearer('admin'), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Agent Erase', tiers: [1, 2, 3, 4, 5], skills: ['translation', 'infrastructure', 'databases', 'apis', 'integrations', 'social'], languages: ['en', 'es'], capacity: { chat: 20, email: 20 } }),
    });
    expect([200, 201]).toContain(put.status);
    agent = await AgentClient.connect(stack.router.url, 'ag-erase', testToken('agent', 'ag-erase'));
    // the router's routing context over the test's pool, for the erasure stopped halfway
    ctx = {
      pool: world.pool,
      topics: world.topics,
      config: routerCfg.readConfig(world.env()),
      logger: testLogger,
      kickRelay: () => undefined,
      wakeAgents: () => undefined,
      kickMatcher: () => undefined,
    };
  });
  afterAll(async () => {
    await agent?.close().catch(() => undefined);
    await producer?.disconnect();
    await stack?.close();
    for (const w of [customers, erasures, dlq, conversations]) await w?.stop();
    await world?.close();
  });

  const history = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(stack.history.url + path, {
      method,
      headers: { ...bearer('admin'), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const lookup = (identity: string) =>
    eventually(async () => {
      const r = await history('GET', `/v1/customers?identity=${encodeURIComponent(identity)}`);
      return r.status === 200 ? (r.body.id as string) : undefined;
    }, `customer ${identity} in history`);
  /** every schema of the test database (history, router, ingest, public) */
  const dump = async () => (await run('pg_dump', ['--data-only', world.databaseUrl], { maxBuffer: 256 * 1024 * 1024 })).stdout;
  const found = (text: string, secrets: string[]) => secrets.filter((s) => text.includes(s));

  /**
   * A person on chat (session with name and e-mail) and e-mail; the agent accepts both, replies to
   * both and resolves the chat one (`resolve: false` leaves both assigned, `agentWork: false` leaves
   * them queued/offered).
   */
  async function person(tag: string, opts: { agentWork?: boolean } = {}): Promise<Person> {
    const TAG = tag.toUpperCase();
    const email = `${tag}.person@example.org`;
    const name = `${TAG} Person`;
    const sessionRes = await postJson(`${stack.ingest.chat.url}/v1/chat/sessions`, { visitorId: `visitor-${tag}-${world.id}`, name, email });
    expect(sessionRes.status).toBe(201);
    const { sessionId, visitorId } = sessionRes.body as { sessionId: string; visitorId: string };
    const chat = await postJson(`${stack.ingest.chat.url}/v1/chat/messages`, {
      adapterMessageId: `${tag}-chat-1`,
      channel: 'chat',
      threadKey: sessionId,
      from: { address: visitorId, name, email },
      text: `${TAG}-CHAT-SECRET my password does not work`,
    });
    expect(chat.status).toBe(202);
    const mailThread = `${tag}-mail-thread-${world.id}`;
    const mail = await postJson(`${stack.ingest.email.url}/v1/email/messages`, {
      adapterMessageId: `${tag}-mail-1`,
      channel: 'email',
      threadKey: mailThread,
      from: { address: email, name },
      subject: `${TAG}-SUBJECT-SECRET`,
      text: `${TAG}-MAIL-SECRET I cannot sign in`,
    });
    expect(mail.status).toBe(202);
    const chatMsg = chat.body.messageId as string;
    const mailMsg = mail.body.messageId as string;
    const [chatOpened] = await conversations.waitFor((v) => v.type === 'conversation.opened' && v.messageId === chatMsg);
    const [mailOpened] = await conversations.waitFor((v) => v.type === 'conversation.opened' && v.messageId === mailMsg);
    const convs = [chatOpened!.value.conversationId as string, mailOpened!.value.conversationId as string];
    const secrets = [visitorId, email, name, sessionId, mailThread, `${TAG}-CHAT-SECRET`, `${TAG}-MAIL-SECRET`, `${TAG}-SUBJECT-SECRET`];
    if (opts.agentWork !== false) {
      for (const c of convs) {
        await agent.offer(c);
        expect((await agent.command({ type: 'accept', conversationId: c })).type).toBe('ack');
        expect((await agent.command({ type: 'reply', conversationId: c, text: `${TAG}-REPLY-SECRET for ${c}` })).type).toBe('ack');
      }
      expect((await agent.command({ type: 'resolve', conversationId: convs[0] })).type).toBe('ack');
      secrets.push(`${TAG}-REPLY-SECRET`);
      // every effect has landed before the erasure: the chat reply stored for the session, the
      // e-mail reply's delivery ended (no delivery target), history has both replies and the failure
      await eventually(async () => {
        const r = await world.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ingest.chat_session_events WHERE session_id = $1::text', [sessionId]);
        return r.rows[0]!.n === 1 ? true : undefined;
      }, 'chat reply stored for the session');
      await eventually(async () => {
        const r = await world.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM ingest.deliveries WHERE conversation_id = $1::text AND status = 'failed'", [convs[1]]);
        return r.rows[0]!.n === 1 ? true : undefined;
      }, 'e-mail delivery row');
      await eventually(async () => {
        const r = await world.pool.query<{ n: number; f: number }>(
          "SELECT count(*) FILTER (WHERE kind = 'message.outbound')::int AS n, count(*) FILTER (WHERE kind = 'delivery.failed')::int AS f FROM history.timeline WHERE conversation_id = ANY($1::text[])",
          [convs],
        );
        return r.rows[0]!.n === 2 && r.rows[0]!.f >= 1 ? true : undefined;
      }, 'replies and the failed delivery on the timeline');
      // the replies nobody could deliver are dead-lettered and kept by the router (they hold the text)
      await eventually(async () => {
        const r = await world.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM router.dead_letters WHERE strpos(value, $1::text) > 0 OR strpos(value, $2::text) > 0', convs);
        return r.rows[0]!.n >= 2 ? true : undefined;
      }, 'undeliverable replies in router.dead_letters');
    } else {
      await eventually(async () => {
        const r = await world.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM history.timeline WHERE event_id = ANY($1::text[])', [[chatMsg, mailMsg]]);
        return r.rows[0]!.n === 2 ? true : undefined;
      }, 'messages on the timeline');
    }
    // one person: the chat visitor and the e-mail address are one customer (merged if history did not link them)
    const a = await lookup(`chat:${visitorId}`);
    const b = await lookup(`email:${email}`);
    if (a !== b) expect((await history('POST', `/v1/customers/${a}/merge`, { from: b, reason: 'same person' })).status).toBe(201);
    await eventually(async () => ((await world.pool.query('SELECT 1 FROM router.outbox UNION ALL SELECT 1 FROM history.outbox UNION ALL SELECT 1 FROM ingest.outbox')).rowCount === 0 ? true : undefined), 'outboxes drained');
    return { tag, customerIds: [...new Set([a, b])], conversations: convs, secrets };
  }

  it('leaves none of the person in any schema or in the compacted customers topic, and nothing else goes', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    const before = await dump();
    expect(found(before, alice.secrets)).toEqual(alice.secrets);
    expect(found(before, bob.secrets)).toEqual(bob.secrets);
    const routerRowsBefore = (await world.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM router.conversations')).rows[0]!.n;

    const erased = await history('POST', `/v1/customers/${alice.customerIds[0]}/erase`, { reason: 'art. 17 request' });
    expect(erased.status).toBe(200);
    // one event, naming what the other services need
    const [event] = await erasures.waitFor((v) => v.erasureId === erased.body.erasureId);
    expect(event!.value).toMatchObject({ part: 0, parts: 1, customerIds: expect.arrayContaining(alice.customerIds), conversationIds: expect.arrayContaining(alice.conversations) });
    // the live e-mail conversation was taken from the agent
    await agent.waitFor((f) => f.type === 'unassigned' && f.conversationId === alice.conversations[1] && f.reason === 'erased');

    const after = await eventually(async () => {
      const d = await dump();
      return found(d, alice.secrets).length === 0 ? d : undefined;
    }, 'no trace of alice in the database dump', 120_000, 1000);
    expect(found(after, alice.secrets)).toEqual([]);
    expect(found(after, bob.secrets)).toEqual(bob.secrets);
    // the router keeps the anonymised conversations (queue and KPI counts), closed
    expect((await world.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM router.conversations')).rows[0]!.n).toBe(routerRowsBefore);
    const rows = await world.pool.query<{ status: string; customer_key: string | null }>('SELECT status, customer_key FROM router.conversations WHERE id = ANY($1::text[]) ORDER BY id', [alice.conversations]);
    expect(rows.rows.map((r) => r.customer_key)).toEqual([null, null]);
    expect(rows.rows.map((r) => r.status).sort()).toEqual(['closed', 'resolved']);
    expect((await history('POST', `/v1/customers/${alice.customerIds[0]}/erase`, {})).status).toBe(404);

    // the compacted customers topic: tombstones, and once the broker compacted it, no earlier record
    for (const id of alice.customerIds) await customers.waitFor((v, s) => v === null && s.key === id);
    await compactAndCheck(alice, bob);
  });

  it('finishes an erasure that a crash stopped halfway in the router and in ingest', async () => {
    const carol = await person('carol', { agentWork: false });
    // the event as history will send it, run by hand up to a step and stopped there (a crash
    // before the offset was committed: the same record is delivered again)
    const threadKeys = (await world.pool.query<{ thread_key: string }>('SELECT thread_key FROM router.conversations WHERE id = ANY($1::text[])', [carol.conversations])).rows.map((r) => r.thread_key);
    const identities = (await world.pool.query<{ channel: Channel; address: string }>('SELECT channel, address FROM history.identities WHERE customer_id = ANY($1::text[])', [carol.customerIds])).rows;
    const partial: ErasureEvent = {
      schema: 'omni.erasures.v1',
      erasureId: 'era_crash_test',
      part: 0,
      parts: 1,
      customerIds: carol.customerIds,
      identities: identities.map((i) => ({ channel: i.channel, address: i.address })),
      conversationIds: carol.conversations,
      threadKeys,
      requestedAt: new Date().toISOString(),
    };
    const r = await eraseFromRouter(ctx, partial, { stopAfter: 'agent-events' });
    expect(r).toMatchObject({ stoppedAfter: 'agent-events', conversations: 2, closed: 2 });
    expect((await eraseFromIngest(world.pool, 'chat', partial, { stopAfter: 'outbox' })).stoppedAfter).toBe('outbox');
    const mid = await dump();
    expect(found(mid, [`CAROL-CHAT-SECRET`])).toEqual([`CAROL-CHAT-SECRET`]); // conversations' last text not yet anonymised
    expect((await world.pool.query('SELECT 1 FROM ingest.dedupe WHERE thread_key = ANY($1::text[])', [threadKeys])).rowCount).toBeGreaterThan(0);

    const erased = await history('POST', `/v1/customers/${carol.customerIds[0]}/erase`, {});
    expect(erased.status).toBe(200);
    const after = await eventually(async () => {
      const d = await dump();
      return found(d, carol.secrets).length === 0 ? d : undefined;
    }, 'no trace of carol in the database dump', 120_000, 1000);
    expect(found(after, carol.secrets)).toEqual([]);
    // running the finished erasure again changes nothing
    await expect(eraseFromRouter(ctx, partial)).resolves.toMatchObject({ closed: 0, frames: 0, outbox: 0, profiles: 0 });
    await expect(eraseFromIngest(world.pool, 'email', partial)).resolves.toMatchObject({ deleted: expect.objectContaining({ deliveries: 0, dedupe: 0 }) });
    await expect(eraseFromIngest(world.pool, 'social', partial)).resolves.toMatchObject({ deleted: expect.objectContaining({ deliveries: 0, dedupe: 0 }) });
  });

  it('forgets a caller in ingest-phone (call log and voicemails by number), and only them', async () => {
    const [caller, other] = ['+34600111222', '+34600333444'];
    for (const [sid, from] of [['CA-erase-1', caller], ['CA-keep-1', other]]) {
      await world.pool.query("INSERT INTO ingest.phone_calls (call_sid, from_number, to_number) VALUES ($1::text, $2::text, '+15550000000')", [sid, from]);
      await world.pool.query("INSERT INTO ingest.phone_voicemails (recording_sid, call_sid, recording_url) VALUES ($1::text, $2::text, 'https://rec.example/' || $1::text)", [`RE-${sid}`, sid]);
    }
    const e: ErasureEvent = {
      schema: 'omni.erasures.v1',
      erasureId: 'era_phone',
      part: 0,
      parts: 1,
      customerIds: ['cus_phone'],
      identities: [{ channel: 'phone', address: caller }],
      conversationIds: [],
      threadKeys: [],
      requestedAt: new Date().toISOString(),
    };
    expect((await eraseFromIngest(world.pool, 'phone', e)).deleted).toMatchObject({ phone_calls: 1, phone_voicemails: 1 });
    const left = await world.pool.query<{ call_sid: string }>('SELECT call_sid FROM ingest.phone_calls UNION ALL SELECT call_sid FROM ingest.phone_voicemails ORDER BY 1');
    expect(left.rows.map((r) => r.call_sid)).toEqual(['CA-keep-1', 'CA-keep-1']);
    expect((await eraseFromIngest(world.pool, 'phone', e)).deleted).toMatchObject({ phone_calls: 0, phone_voicemails: 0 });
  });

  it('dead-letters hostile erasure records in every consumer without erasing anything, and goes on', async () => {
    const dave = await person('dave', { agentWork: false });
    const identities = (await world.pool.query<{ channel: Channel; address: string }>('SELECT channel, address FROM history.identities WHERE customer_id = ANY($1::text[])', [dave.customerIds])).rows;
    const valid: ErasureEvent = {
      schema: 'omni.erasures.v1',
      erasureId: 'era_hostile',
      part: 0,
      parts: 1,
      customerIds: dave.customerIds,
      identities: identities.map((i) => ({ channel: i.channel, address: i.address })),
      conversationIds: dave.conversations,
      threadKeys: (await world.pool.query<{ thread_key: string }>('SELECT thread_key FROM router.conversations WHERE id = ANY($1::text[])', [dave.conversations])).rows.map((r) => r.thread_key),
      requestedAt: new Date().toISOString(),
    };
    // each case names dave but breaks the contract in one place: it must erase none of dave
    const hostile = fc.oneof(
      fc.string().map((s) => `not json ${s}`),
      fc.constantFrom('null', '[]', '{}', '"omni.erasures.v1"', '1e309'),
      // one field replaced by anything (kept only when that breaks the contract: a valid record would erase dave)
      fc
        .record({
          field: fc.constantFrom(...Object.keys(valid), 'extra'),
          value: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.string(), fc.string({ unit: 'binary' }), fc.array(fc.oneof(fc.integer(), fc.string()), { maxLength: 3 }), fc.object({ maxDepth: 1 })),
        })
        .map(({ field, value }) => ({ ...valid, [field]: value }) as Record<string, unknown>)
        .filter((v) => !isValidErasure(v))
        .map((v) => JSON.stringify(v)),
      fc.constantFrom(
        { ...valid, extra: 1 },
        { ...valid, schema: 'omni.erasures.v2' },
        { ...valid, customerIds: [] },
        { ...valid, part: -1 },
        { ...valid, identities: [{ channel: 'pigeon', address: 'x' }] },
        { ...valid, identities: [...valid.identities, { channel: 'chat', address: 'nul\u0000here' }] },
        { ...valid, threadKeys: [...valid.threadKeys, '\ud800lone'] },
        { ...valid, conversationIds: [...valid.conversationIds, 'x'.repeat(200)] },
        { ...valid, requestedAt: 'yesterday' },
      ).map((v) => JSON.stringify(v)),
    );
    expect(isValidErasure(valid)).toBe(true);
    const cases = fc.sample(hostile, { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) });
    const dlqBefore = dlq.seen.length;
    await producer.send({ topic: world.topics.erasures, acks: -1, messages: cases.map((value, i) => ({ key: `hostile-${i}`, value })) });
    // then a valid erasure of nobody we know: once both consumers are past it, they went on
    const canary = { ...valid, erasureId: 'era_canary', customerIds: ['cus_nobody'], identities: [{ channel: 'chat' as const, address: 'visitor-nobody' }], conversationIds: ['conv_nobody'], threadKeys: ['chat:nobody'] };
    await producer.send({ topic: world.topics.erasures, acks: -1, messages: [{ key: 'canary', value: JSON.stringify(canary) }] });
    const groups = (s: { value: Record<string, unknown> }) => String((s.value.source as { groupId: string }).groupId);
    await eventually(async () => {
      const mine = dlq.seen.slice(dlqBefore).filter((s) => (s.value.source as { topic: string }).topic === world.topics.erasures);
      const router = mine.filter((s) => groups(s).endsWith('-erasures') && groups(s).startsWith('router'));
      const chat = mine.filter((s) => groups(s).startsWith('ingest-chat-erasures'));
      const email = mine.filter((s) => groups(s).startsWith('ingest-email-erasures'));
      return [router, chat, email].every((g) => g.length === cases.length) ? true : undefined;
    }, 'every hostile record dead-lettered by the router, ingest-chat and ingest-email', 120_000);
    // consumers are past the canary: their committed offsets reach the end of every partition
    await eventually(async () => {
      const admin = world.kafka.admin();
      await admin.connect();
      try {
        const ends = await admin.fetchTopicOffsets(world.topics.erasures);
        const groupIds = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => (g.includes(world.id) && g.endsWith('-erasures')) || g.endsWith(`-erasures${world.suffix}`));
        if (groupIds.length < 3) return undefined;
        for (const g of groupIds) {
          const [committed] = await admin.fetchOffsets({ groupId: g, topics: [world.topics.erasures] });
          for (const p of committed!.partitions) if (Number(p.offset) < Number(ends.find((e) => e.partition === p.partition)!.offset)) return undefined;
        }
        return true;
      } finally {
        await admin.disconnect();
      }
    }, 'erasure consumers committed past the canary', 120_000, 500);
    // dave is untouched everywhere
    expect(found(await dump(), dave.secrets)).toEqual(dave.secrets);
    // (the dump alone would not tell: the router's dead letters now hold the hostile records, which name dave)
    const conv = await world.pool.query<{ customer_key: string | null; status: string; last_text: string | null }>('SELECT customer_key, status, last_text FROM router.conversations WHERE id = ANY($1::text[])', [dave.conversations]);
    expect(conv.rows).toHaveLength(2);
    expect(conv.rows.every((r) => r.customer_key !== null && r.status !== 'closed' && r.last_text !== null)).toBe(true);
    expect((await world.pool.query("SELECT 1 FROM router.agent_events WHERE frame->>'conversationId' = ANY($1::text[]) AND frame->>'type' = 'erased'", [dave.conversations])).rowCount).toBe(0);
    expect((await world.pool.query('SELECT 1 FROM ingest.chat_sessions WHERE visitor_id = $1::text', [dave.secrets[0]])).rowCount).toBe(1);
    expect((await world.pool.query('SELECT 1 FROM ingest.dedupe WHERE thread_key = ANY($1::text[])', [valid.threadKeys])).rowCount).toBe(2);
  });

  it('removes message content past each service\'s retention, in batches, keeping the rows', async () => {
    const erin = await person('erin');
    const content = ['ERIN-CHAT-SECRET', 'ERIN-MAIL-SECRET', 'ERIN-REPLY-SECRET'];
    const schemaDump = async (schema: string) => (await run('pg_dump', ['--data-only', `--schema=${schema}`, world.databaseUrl], { maxBuffer: 256 * 1024 * 1024 })).stdout;
    expect(found(await schemaDump('router'), content)).toEqual(content); // latest text, offer and message frames, dead-lettered replies
    expect(found(await schemaDump('ingest'), content)).toEqual(['ERIN-REPLY-SECRET']); // the session reply and the delivery bodies
    // erin's rows are made 40 days old; everything else is recent
    await world.pool.query("UPDATE router.conversations SET updated_at = now() - interval '40 days' WHERE id = ANY($1::text[])", [erin.conversations]);
    await world.pool.query("UPDATE router.agent_events SET created_at = now() - interval '40 days' WHERE frame->>'conversationId' = ANY($1::text[])", [erin.conversations]);
    await world.pool.query("UPDATE router.dead_letters SET received_at = now() - interval '40 days' WHERE strpos(value, $1::text) > 0 OR strpos(value, $2::text) > 0", erin.conversations);
    await world.pool.query("UPDATE ingest.chat_session_events SET created_at = now() - interval '40 days' WHERE conversation_id = ANY($1::text[])", [erin.conversations]);
    await world.pool.query("UPDATE ingest.deliveries SET created_at = now() - interval '40 days' WHERE conversation_id = ANY($1::text[])", [erin.conversations]);
    const routerRows = (await world.pool.query<{ n: number }>('SELECT (SELECT count(*) FROM router.conversations) + (SELECT count(*) FROM router.agent_events) + (SELECT count(*) FROM router.dead_letters) AS n')).rows[0]!.n;
    const ingestRows = (await world.pool.query<{ n: number }>('SELECT (SELECT count(*) FROM ingest.chat_session_events) + (SELECT count(*) FROM ingest.deliveries) AS n')).rows[0]!.n;
    expect(await sweepRouterContent(world.pool, 0)).toBe(0); // 0 = forever
    expect(await sweepRouterContent(world.pool, 30, 1)).toBeGreaterThanOrEqual(3); // batches of 1: the loop must reach every old row
    expect(await sweepRouterContent(world.pool, 30, 1)).toBe(0); // idempotent
    expect(await sweepIngestContent(world.pool, 30, 1)).toBeGreaterThanOrEqual(2);
    expect(await sweepIngestContent(world.pool, 30, 1)).toBe(0);
    expect(found(await schemaDump('router'), content)).toEqual([]);
    expect(found(await schemaDump('ingest'), content)).toEqual([]);
    expect(found(await schemaDump('history'), content)).toEqual(content); // history keeps its own period (HISTORY_CONTENT_RETENTION_DAYS)
    expect((await world.pool.query<{ n: number }>('SELECT (SELECT count(*) FROM router.conversations) + (SELECT count(*) FROM router.agent_events) + (SELECT count(*) FROM router.dead_letters) AS n')).rows[0]!.n).toBe(routerRows);
    expect((await world.pool.query<{ n: number }>('SELECT (SELECT count(*) FROM ingest.chat_session_events) + (SELECT count(*) FROM ingest.deliveries) AS n')).rows[0]!.n).toBe(ingestRows);
  });

  /**
   * Makes the broker compact the customers topic (test topic only: small segments, no lag, any dirty
   * ratio), rolls the active segment with records of another key, and reads the topic again from the
   * start until no record of the erased person is left; the other person's latest record stays.
   */
  async function compactAndCheck(erased: Person, kept: Person): Promise<void> {
    const admin = world.kafka.admin();
    await admin.connect();
    try {
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: 2, // TOPIC
            name: world.topics.customers,
            // AlterConfigs replaces the topic's whole set: what ensureTopics set is given again
            configEntries: [
              { name: 'cleanup.policy', value: 'compact' },
              { name: 'min.insync.replicas', value: '1' },
              { name: 'max.message.bytes', value: String(KAFKA_MAX_MESSAGE_BYTES) },
              { name: 'segment.ms', value: '1000' },
              { name: 'min.compaction.lag.ms', value: '0' },
              { name: 'min.cleanable.dirty.ratio', value: '0.0001' },
              { name: 'delete.retention.ms', value: '1000' },
            ],
          },
        ],
      });
    } finally {
      await admin.disconnect();
    }
    const partitionsOf = new Set(customers.seen.filter((s) => erased.customerIds.includes(s.key ?? '')).map((s) => s.partition));
    let n = 0;
    await eventually(
      async () => {
        // a record on each affected partition rolls its segment once segment.ms has passed
        await producer.send({ topic: world.topics.customers, acks: -1, messages: [...partitionsOf].map((partition) => ({ partition, key: `roll-${n++}`, value: null })) });
        const texts = await readTopic(world.topics.customers);
        const left = texts.filter((t) => erased.secrets.some((s) => t.includes(s)));
        return left.length === 0 ? texts : undefined;
      },
      'the compacted customers topic to hold no record of the erased person',
      180_000,
      2000,
    ).then((texts) => {
      expect(texts.some((t) => kept.secrets.some((s) => t.includes(s)))).toBe(true);
    });
  }

  /** Every record value on a topic now, read from the beginning with a fresh group. */
  async function readTopic(topic: string): Promise<string[]> {
    const admin = world.kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    const want = new Map(ends.map((e) => [e.partition, Number(e.offset)]));
    const out: string[] = [];
    const consumer = world.kafka.consumer({ groupId: world.groupId('read'), maxWaitTimeInMs: 250 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const reached = new Map<number, number>();
    const done = new Promise<void>((resolve) => {
      const check = () => [...want].every(([p, end]) => end === 0 || (reached.get(p) ?? -1) >= end - 1) && resolve();
      check();
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          out.push(message.value?.toString() ?? '');
          reached.set(partition, Number(message.offset));
          check();
        },
      });
    });
    await Promise.race([done, new Promise((r) => setTimeout(r, 30_000))]);
    await consumer.disconnect();
    return out;
  }
});
