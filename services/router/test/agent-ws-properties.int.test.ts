/**
 * Property-based test of the agent console websocket (`GET /v1/agents/ws`, docs/agent-protocol.md)
 * against hostile frames, on the real router, broker and database. A connected agent with one
 * assigned conversation sends, interleaved with valid commands: arbitrary JSON, each command with a
 * field of the wrong type, unknown commands and properties, NUL / lone surrogates / RTL /
 * zero-width / 100k-character strings in ids, reply text, subjects, handoff notes and reasons, deep
 * nesting, huge arrays, text that is not JSON and binary frames. For every frame:
 *   - exactly one answer (`ack` or `error`, never `INTERNAL`); an `error` for a malformed frame is
 *     `BAD_FRAME`/`UNKNOWN_TYPE` naming the field (or the reason: not JSON, no string type);
 *   - the socket stays open, and a valid command sent after it (ping, presence) is answered;
 *   - a reply is either acked and then on omni.outbound.v1 exactly once, its text cleaned of what
 *     PostgreSQL cannot store, or refused with nothing published;
 *   - the router answers its HTTP routes (never 5xx) and /healthz is 200 throughout.
 * `npm test` runs FUZZ_RUNS frames (default 60); `npm run fuzz` runs it for FUZZ_SECONDS / 8.
 */
import fc from 'fast-check';
import { cleanString, isStorable } from '@omni/contracts';
import { TopicWatcher } from '../../../test/support/infra';
import { hostileString, toJsonText, wrongType } from '../../../test/support/hostile-arbitraries';
import { RouterHarness } from './support/router-harness';
import type { AgentClient, Frame } from './support/agent-client';

const FUZZ_SECONDS = Number(process.env.FUZZ_SECONDS ?? 0);
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
// a fuzz run gives this socket one boundary's share, as test/hostile-properties gives each of its 8
// boundaries (so `npm run fuzz` takes about 9/8 of FUZZ_SECONDS in all)
const fuzzMs = (FUZZ_SECONDS * 1000) / 8;
const params = (): fc.Parameters<unknown[]> =>
  FUZZ_SECONDS > 0 ? { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: fuzzMs, markInterruptAsFailure: false } : { numRuns: RUNS };
jest.setTimeout(FUZZ_SECONDS > 0 ? fuzzMs + 300_000 : 180_000);

const h = new RouterHarness();
let outbound: TopicWatcher;
let agent: AgentClient;
let conversationId: string;

beforeAll(async () => {
  await h.start('agentwsprops', { OFFER_TIMEOUT_MS: '600000', DISCONNECT_GRACE_MS: '600000' });
  outbound = await TopicWatcher.start(h.world, h.world.topics.outbound);
  await h.createAgent('fuzz-agent', { tiers: [1, 2, 3, 4, 5], capacity: { chat: 5, email: 5, phone: 1 } });
  agent = await h.connect('fuzz-agent');
  const { messageId } = await h.send('I forgot my password', { channel: 'chat' });
  conversationId = await h.openedBy(messageId);
  await agent.offer(conversationId);
  expect(await agent.command({ type: 'accept', conversationId })).toMatchObject({ type: 'ack', conversationId });
});

afterAll(async () => {
  await outbound?.stop();
  await h.stop();
});

/** How the answer to a case is judged. */
type Expect =
  | { kind: 'any' } // exactly one answer, not INTERNAL
  | { kind: 'bad'; names: string } // BAD_FRAME / UNKNOWN_TYPE whose message contains `names`
  | { kind: 'reply'; text: unknown; subject: unknown } // on the assigned conversation: ack ⇒ published once, cleaned; else refused
  | { kind: 'ack'; presence?: string }; // a valid command: acked

interface Case {
  label: string;
  frame: string | Buffer;
  expect: Expect;
}

const CONV = '__CONV__'; // replaced by the assigned conversation's id at run time
const NOWHERE = 'conv_does_not_exist';

/** Each command with valid values for its fields (on a conversation that is not ours, so nothing moves). */
const COMMAND_FIELDS: Record<string, Record<string, unknown>> = {
  ping: {},
  presence: { status: 'away', reason: 'break' },
  accept: { conversationId: NOWHERE },
  reject: { conversationId: NOWHERE, reason: 'busy' },
  reply: { conversationId: NOWHERE, text: 'hello', subject: 'Re: hi' },
  escalate: { conversationId: NOWHERE, note: 'tried a reset', toTier: 2 },
  transfer: { conversationId: NOWHERE, toTier: 2, note: 'n' },
  invite: { conversationId: NOWHERE, agentId: 'someone', role: 'observer' },
  leave: { conversationId: NOWHERE },
  resolve: { conversationId: NOWHERE, reason: 'done' },
  'end-wrap-up': { conversationId: NOWHERE },
};
const LITERALS: Record<string, readonly string[]> = { status: ['online', 'away', 'offline'], role: ['observer', 'helper'] };
const INTEGER_FIELDS = new Set(['toTier']);
const ID_FIELDS = new Set(['conversationId', 'toAgentId', 'agentId']);

const deep = fc.integer({ min: 33, max: 150_000 }).map((depth) => ({ __deep: depth }));
const huge = fc.integer({ min: 101, max: 60_000 }).map((n) => ({ __huge: n }));

/** A value of the wrong type (or out of range, or not one of the literals) for a field. */
function wrongFor(field: string): fc.Arbitrary<unknown> {
  if (INTEGER_FIELDS.has(field))
    return fc.oneof(
      fc.double().filter((d) => !(Number.isInteger(d) && d >= 1 && d <= 5)),
      fc.integer().filter((d) => d < 1 || d > 5),
      fc.string({ maxLength: 4 }),
      fc.boolean(),
      fc.constant(null),
      deep,
      huge,
    );
  const literals = LITERALS[field];
  if (literals) return fc.oneof(wrongType, hostileString.filter((s) => !literals.includes(s)), deep);
  return fc.oneof({ weight: 4, arbitrary: wrongType }, { weight: 1, arbitrary: deep }, { weight: 1, arbitrary: huge });
}

/** A command with one field of the wrong type: refused, naming the field. */
const wrongField: fc.Arbitrary<Case> = fc
  .constantFrom(...Object.entries(COMMAND_FIELDS).flatMap(([type, fields]) => [...Object.keys(fields), 'ref'].map((f) => [type, f] as const)))
  .chain(([type, f]) => (f === 'ref' ? fc.oneof(wrongType, fc.string({ minLength: 129, maxLength: 300 })) : wrongFor(f)).map((v) => ({ type, f, v })))
  .map(({ type, f, v }) => ({ label: `wrong ${type}.${f}`, frame: toJsonText({ type, ...COMMAND_FIELDS[type], [f]: v }), expect: { kind: 'bad', names: `/${f}` } }));

/** A command missing a required field, or carrying one it does not know. */
const missingOrExtra: fc.Arbitrary<Case> = fc.oneof(
  fc.constantFrom(...Object.entries(COMMAND_FIELDS).flatMap(([type, fields]) => Object.keys(fields).filter((f) => !['reason', 'subject', 'note', 'toTier'].includes(f) && type !== 'end-wrap-up').map((f) => [type, f] as const))).map(([type, f]) => {
    const rest = { ...COMMAND_FIELDS[type] };
    delete rest[f];
    const missing = type === 'transfer' && f === 'toTier' ? 'toAgentId' : f;
    return { label: `missing ${type}.${f}`, frame: JSON.stringify({ type, ...rest }), expect: { kind: 'bad', names: missing } } as Case;
  }),
  fc
    .tuple(fc.constantFrom(...Object.keys(COMMAND_FIELDS)), fc.stringMatching(/^[a-z]{1,12}$/).filter((k) => !['type', 'ref', 'conversationId', 'text', 'subject', 'note', 'toTier', 'toAgentId', 'agentId', 'role', 'reason', 'status'].includes(k)), fc.jsonValue({ maxDepth: 2 }))
    .map(([type, k, v]) => ({ label: `extra ${type}.${k}`, frame: JSON.stringify({ type, ...COMMAND_FIELDS[type], [k]: v }), expect: { kind: 'bad', names: k } as Expect })),
);

/** Unknown commands: any string (hostile, long, empty) that is not a command's type. */
const unknownType: fc.Arbitrary<Case> = hostileString
  .filter((t) => !(t in COMMAND_FIELDS))
  .map((type) => ({ label: 'unknown type', frame: JSON.stringify({ type, ref: 'u' }), expect: { kind: 'bad', names: 'type' } }));

/** Hostile text in every free-text and id field of commands on a conversation that is not ours. */
const hostileFields: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom(
      ['reject', 'reason'],
      ['resolve', 'reason'],
      ['escalate', 'note'],
      ['transfer', 'note'],
      ['transfer', 'toAgentId'],
      ['invite', 'agentId'],
      ['reply', 'subject'],
      ['reply', 'text'],
      ['accept', 'conversationId'],
      ['reject', 'conversationId'],
      ['reply', 'conversationId'],
      ['escalate', 'conversationId'],
      ['leave', 'conversationId'],
      ['resolve', 'conversationId'],
      ['ping', 'ref'],
      ['presence', 'reason'],
      ['end-wrap-up', 'conversationId'],
    ),
    hostileString,
  )
  .map(([[type, f], v]) => ({
    label: `hostile ${type}.${f}`,
    frame: JSON.stringify({ type, ...COMMAND_FIELDS[type], [f]: v }),
    // an id PostgreSQL cannot store is refused naming it; anything else gets one answer (NOT_ASSIGNED, BAD_FRAME for a limit…)
    // so is an away reason (refused like an id); a storable one not in the admins' list is refused too (BAD_FRAME)
    expect: (ID_FIELDS.has(f) || (type === 'presence' && f === 'reason')) && !isStorable(v) ? { kind: 'bad', names: `/${f}` } : { kind: 'any' },
  }));

/** A reply on the agent's own conversation with hostile text and subject: acked and published once (cleaned), or refused. */
const hostileReply: fc.Arbitrary<Case> = fc
  .record({ text: fc.oneof({ weight: 6, arbitrary: hostileString }, { weight: 1, arbitrary: wrongType }), subject: fc.option(hostileString, { nil: undefined }) })
  .map(({ text, subject }) => ({
    label: 'reply on own conversation',
    frame: JSON.stringify({ type: 'reply', conversationId: CONV, text, ...(subject !== undefined ? { subject } : {}) }),
    expect: { kind: 'reply', text, subject },
  }));

/** Not JSON at all (or JSON that is not a command object), deep nesting, huge arrays. */
const notACommand: fc.Arbitrary<Case> = fc.oneof(
  hostileString.filter((s) => s.length < 40_000).map((s) => ({ label: 'any text', frame: s, expect: isJson(s) ? { kind: 'any' } : { kind: 'bad', names: 'JSON' } }) as Case),
  fc.jsonValue({ maxDepth: 4 }).map((v) => ({ label: 'any JSON', frame: JSON.stringify(v), expect: { kind: 'any' } }) as Case),
  fc.jsonValue({ maxDepth: 2 }).map((v) => ({ label: 'truncated JSON', frame: JSON.stringify({ type: 'ping', v }).slice(0, -1), expect: { kind: 'bad', names: 'JSON' } }) as Case),
  fc.oneof(deep, huge).map((v) => ({ label: 'deep or huge', frame: toJsonText(v), expect: { kind: 'bad', names: 'type' } }) as Case),
  fc
    .tuple(fc.constantFrom('reply', 'escalate', 'ping'), fc.oneof(deep, huge))
    .map(([type, v]) => ({ label: `deep or huge in ${type}`, frame: toJsonText({ type, conversationId: CONV, text: v, note: v }), expect: { kind: 'bad', names: type === 'ping' ? '/' : type === 'reply' ? '/text' : '/note' } }) as Case),
);

/** Binary frames: random bytes, or a command's JSON sent as binary. */
const binary: fc.Arbitrary<Case> = fc.oneof(
  fc.uint8Array({ maxLength: 2000 }).map((b) => ({ label: 'binary bytes', frame: Buffer.from(b), expect: { kind: 'any' } }) as Case),
  fc.constantFrom('{"type":"ping"}', '{"type":"reply","text":1}', '\u0000').map((s) => ({ label: 'binary JSON', frame: Buffer.from(s, 'utf8'), expect: { kind: 'any' } }) as Case),
);

/** Valid commands between the hostile ones (the conversation stays assigned: presence only online/away). */
const valid: fc.Arbitrary<Case> = fc.oneof(
  fc.constant({ label: 'valid ping', frame: JSON.stringify({ type: 'ping' }), expect: { kind: 'ack' } } as Case),
  fc.constantFrom('away', 'online').map((status) => ({ label: `valid presence ${status}`, frame: JSON.stringify({ type: 'presence', status }), expect: { kind: 'ack', presence: status } }) as Case),
  fc.constantFrom('break', 'training').map((reason) => ({ label: `valid away ${reason}`, frame: JSON.stringify({ type: 'presence', status: 'away', reason }), expect: { kind: 'ack', presence: 'away' } }) as Case),
);

function isJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

const hostileFrame: fc.Arbitrary<Case> = fc.oneof(
  { weight: 4, arbitrary: wrongField },
  { weight: 2, arbitrary: missingOrExtra },
  { weight: 1, arbitrary: unknownType },
  { weight: 4, arbitrary: hostileFields },
  { weight: 4, arbitrary: hostileReply },
  { weight: 3, arbitrary: notACommand },
  { weight: 1, arbitrary: binary },
  { weight: 2, arbitrary: valid },
);

const show = (f: Frame) => JSON.stringify(f).slice(0, 400);

describe('GET /v1/agents/ws against hostile frames', () => {
  it('every frame gets one answer (never INTERNAL), the socket stays open, replies are published once or not at all, HTTP never 5xx', async () => {
    const run = Date.now().toString(36);
    const acked: { outboundId: string; text: string; subject?: string }[] = [];
    const tally: Record<string, number> = {};
    let refusedReplies = 0;
    let i = 0;
    let firstFailure = '';
    let lastCase = '';
    const http = async () => {
      for (const [path, headers] of [
        ['/healthz', {}],
        ['/readyz', {}],
        ['/metrics', {}],
        ['/v1/admin/agents', { authorization: `Bearer ${h.adminToken}` }],
      ] as const) {
        const res = await fetch(`${h.url}${path}`, { headers });
        await res.arrayBuffer();
        if (res.status >= 500 || (path === '/healthz' && res.status !== 200)) throw new Error(`GET ${path} answered ${res.status}`);
      }
    };

    await fc.assert(
      fc.asyncProperty(hostileFrame, async (c) => {
        // once the socket is closed every later case fails; the case that closed it is the finding
        if (agent.closed) throw new Error(`socket closed (code ${agent.closeCode}) by an earlier case: ${firstFailure}`);
        const n = ++i;
        tally[c.label.split(' ')[0]!] = (tally[c.label.split(' ')[0]!] ?? 0) + 1;
        const mark = agent.frames.length;
        const frame = typeof c.frame === 'string' ? c.frame.split(CONV).join(conversationId) : c.frame;
        const syncRef = `sync-${run}-${n}`;
        lastCase = `${c.label}: ${typeof frame === 'string' ? JSON.stringify(frame.slice(0, 300)) : `<${frame.length} bytes>`}`;
        if (!firstFailure) firstFailure = `(in flight) ${lastCase}`;
        agent.ws.send(frame, { binary: typeof frame !== 'string' });
        agent.ws.send(JSON.stringify({ type: 'ping', ref: syncRef }));
        // commands are answered in order: what came between the case and the sync ping's ack answers the case
        await agent.waitFor((f) => f.type === 'ack' && f.ref === syncRef, 1, 60_000);
        const after = agent.frames.slice(mark);
        const syncAt = after.findIndex((f) => f.type === 'ack' && f.ref === syncRef);
        const answers = after.slice(0, syncAt).filter((f) => f.type === 'ack' || f.type === 'error');
        const where = `${c.label}: ${typeof frame === 'string' ? JSON.stringify(frame.slice(0, 300)) : `<${frame.length} bytes>`}`;
        if (answers.length !== 1) throw new Error(`${where} got ${answers.length} answers: ${answers.map(show).join(', ')}`);
        const a = answers[0]!;
        if (a.type === 'error') {
          if (a.code === 'INTERNAL') throw new Error(`${where} answered INTERNAL: ${show(a)}`);
          if (typeof a.message !== 'string' || a.message.length === 0) throw new Error(`${where} error without a message: ${show(a)}`);
        }
        expect(agent.closed).toBe(false);

        const e = c.expect;
        if (e.kind === 'bad') {
          if (a.type !== 'error' || !['BAD_FRAME', 'UNKNOWN_TYPE'].includes(a.code as string)) throw new Error(`${where} expected BAD_FRAME/UNKNOWN_TYPE, got ${show(a)}`);
          if (!(a.message as string).includes(e.names)) throw new Error(`${where} error does not name ${e.names}: ${show(a)}`);
        } else if (e.kind === 'ack') {
          if (a.type !== 'ack') throw new Error(`${where} valid command not acked: ${show(a)}`);
          if (e.presence) expect(a.presence).toBe(e.presence);
        } else if (e.kind === 'reply') {
          if (a.type === 'ack') {
            if (typeof e.text !== 'string') throw new Error(`${where} a non-string text was acked`);
            expect(typeof a.outboundId).toBe('string');
            acked.push({ outboundId: a.outboundId as string, text: cleanString(e.text), ...(typeof e.subject === 'string' && e.subject ? { subject: cleanString(e.subject) } : {}) });
          } else {
            // refused: only for a reason the protocol names (a field of the wrong type, empty or over its limit)
            if (a.code !== 'BAD_FRAME' || !/\/(text|subject)/.test(a.message as string)) throw new Error(`${where} reply refused without naming text/subject: ${show(a)}`);
            refusedReplies++;
          }
        }
        if (n % 10 === 0) await http();
        if (firstFailure === `(in flight) ${lastCase}`) firstFailure = '';
      }),
      params(),
    );

    // the socket and the router still work: a valid command after all of it, and the HTTP routes
    expect(await agent.command({ type: 'presence', status: 'online' })).toMatchObject({ type: 'ack', presence: 'online' });
    expect(await agent.command({ type: 'ping' })).toMatchObject({ type: 'ack', command: 'ping' });
    await http();

    // every acked reply is on omni.outbound.v1 exactly once, cleaned; nothing else was published for the conversation
    if (acked.length > 0) await outbound.waitFor((v) => acked.some((r) => r.outboundId === v.outboundId), acked.length, 120_000);
    const published = outbound.seen.filter((s) => s.value.conversationId === conversationId);
    for (const r of acked) {
      const copies = published.filter((s) => s.value.outboundId === r.outboundId);
      expect(copies).toHaveLength(1);
      const v = copies[0]!.value as { text: string; subject?: string };
      expect(isStorable(v.text)).toBe(true);
      expect(v.text).toBe(r.text);
      expect(v.subject).toBe(r.subject);
    }
    expect(published).toHaveLength(acked.length);
    // eslint-disable-next-line no-console
    console.log(`agent websocket: ${i} hostile frames (${JSON.stringify(tally)}); replies acked ${acked.length}, refused ${refusedReplies}`);
  });
});

describe('GET /v1/agents/ws at its limits', () => {
  it('a reply at the documented maximum (100,000 characters, however JSON escapes them) is acked and published once, cleaned', async () => {
    for (const [text, expected] of [
      ['\u0000'.repeat(100_000), '\ufffd'.repeat(100_000)], // 6 bytes a character in JSON: 600 kB
      ['😀'.repeat(100_000), '😀'.repeat(100_000)], // 400 kB of UTF-8
      [`${'\u202e\u200b'.repeat(49_999)}ok`, `${'\u202e\u200b'.repeat(49_999)}ok`], // RTL override and zero-width: kept as sent
    ] as const) {
      const ack = await agent.command({ type: 'reply', conversationId, text });
      expect(ack).toMatchObject({ type: 'ack', conversationId });
      const copies = await outbound.waitFor((v) => v.outboundId === ack.outboundId);
      expect(copies).toHaveLength(1);
      expect(copies[0]!.value.text).toBe(expected);
    }
    const over = await agent.command({ type: 'reply', conversationId, text: 'x'.repeat(100_001) });
    expect(over).toMatchObject({ type: 'error', code: 'BAD_FRAME' });
    expect(over.message).toMatch(/\/text/);
    expect(agent.closed).toBe(false);
  });

  it('a frame over the frame limit closes the console with 1009 (documented); it reconnects and keeps its conversation', async () => {
    const before = agent.lastSeq;
    agent.ws.send(JSON.stringify({ type: 'reply', conversationId, text: 'x'.repeat(2 * 1024 * 1024) }));
    await agent.waitFor(() => false, 1, 30_000).catch(() => undefined); // returns as soon as the socket closes
    expect(agent.closed).toBe(true);
    expect(agent.closeCode).toBe(1009);
    agent = await h.connect('fuzz-agent', { lastSeq: before });
    const [welcome] = await agent.waitFor((f) => f.type === 'welcome');
    expect(welcome!.conversations).toEqual([expect.objectContaining({ conversationId, status: 'assigned' })]);
    expect(await agent.command({ type: 'ping' })).toMatchObject({ type: 'ack' });
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  });

  it('a handoff note with NUL, lone surrogates and RTL is stored and published cleaned; an id with NUL is refused naming it', async () => {
    const refused = await agent.command({ type: 'escalate', conversationId: `${conversationId}\u0000`, note: 'x' });
    expect(refused).toMatchObject({ type: 'error', code: 'BAD_FRAME' });
    expect(refused.message).toMatch(/\/conversationId/);
    const note = 'tried\u0000 a reset \ud800 \u202eevif\u202c';
    const cleaned = 'tried\ufffd a reset \ufffd \u202eevif\u202c';
    expect(await agent.command({ type: 'escalate', conversationId, note, toTier: 5 })).toMatchObject({ type: 'ack', tier: 5 });
    const [esc] = await h.event(conversationId, 'escalated');
    expect(esc!.handoffNote).toBe(cleaned);
    const { rows } = await h.world.pool.query<{ handoff_notes: { note: string }[] }>('SELECT handoff_notes FROM router.conversations WHERE id = $1::text', [conversationId]);
    expect(rows[0]!.handoff_notes.map((n) => n.note)).toEqual([cleaned]);
  });
});
