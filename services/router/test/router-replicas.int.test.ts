/**
 * Several router replicas on the same topics and database: 200 conversations arriving at once for
 * 10 agents split across the replicas' sockets. Every conversation is assigned exactly once and no
 * agent ever holds more than its capacity, checked from omni.conversations.v1, from each agent's
 * numbered event log and from the database; then again with one replica (a child process) killed
 * with SIGKILL mid-run while its agents reconnect to the survivor with their last sequence number.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { RouterHarness } from './support/router-harness';
import type { AgentClient, Frame } from './support/agent-client';

const AGENTS = 10;
const CAPACITY = 3;
const CONVERSATIONS = 200;
const ENV = { OFFER_TIMEOUT_MS: '30000', DISCONNECT_GRACE_MS: '30000' };

/** A console that accepts every offer and resolves every assignment: capacity churns all the time. */
function worker(c: AgentClient, f: Frame): void {
  if (f.type === 'offer') c.fire({ type: 'accept', conversationId: f.conversationId });
  if (f.type === 'assigned') c.fire({ type: 'resolve', conversationId: f.conversationId });
  if (f.type === 'welcome')
    for (const w of f.conversations as { conversationId: string; status: string }[])
      c.fire({ type: w.status === 'offered' ? 'accept' : 'resolve', conversationId: w.conversationId });
}

async function createAgents(h: RouterHarness): Promise<string[]> {
  const ids = Array.from({ length: AGENTS }, (_, i) => `agent-${i}`);
  for (const id of ids) await h.createAgent(id, { capacity: { chat: CAPACITY } });
  return ids;
}

/**
 * The outbox relay delivers at least once (a replica killed between the broker's ack and its DELETE
 * commit leaves rows the survivor sends again), and consumers drop repeats by event id: so do these
 * checks. Returns a predicate true only for the first copy of each event seen on the topic.
 */
function firstCopy(): (s: { value: Record<string, unknown> }) => boolean {
  const first = new Map<unknown, unknown>();
  return (s) => {
    const id = s.value.eventId;
    if (!first.has(id)) first.set(id, s);
    return first.get(id) === s;
  };
}

async function feed(h: RouterHarness): Promise<string[]> {
  const sent = await Promise.all(Array.from({ length: CONVERSATIONS }, (_, i) => h.send(`I forgot my password (${i})`, { thread: `load-${i}` })));
  const ids = new Set(sent.map((s) => s.messageId));
  const first = firstCopy();
  const opened = await h.conversations.waitFor((v, s) => v.type === 'conversation.opened' && ids.has(v.messageId as string) && first(s), CONVERSATIONS, 200000);
  return opened.map((o) => o.value.conversationId as string);
}

/** On failure only: where the conversations that never resolved are stuck (DB state and event trail). */
async function dumpUnresolved(h: RouterHarness, convs: string[]): Promise<void> {
  const resolved = new Set(h.conversations.seen.filter((s) => s.value.type === 'conversation.resolved').map((s) => s.value.conversationId as string));
  const missing = convs.filter((c) => !resolved.has(c));
  const q = async (sql: string, params: unknown[]) => (await h.world.pool.query(sql, params)).rows;
  const report = {
    missing: missing.length,
    conversations: await q('SELECT id, status, agent_id, last_agent_id, offer_deadline, declined_agents, resolved_at, updated_at FROM router.conversations WHERE id = ANY($1::text[])', [missing]),
    queue: await q('SELECT * FROM router.queue_entries WHERE conversation_id = ANY($1::text[])', [missing]),
    outbox: await q(`SELECT id, topic, value->>'type' AS type, key, created_at FROM router.outbox WHERE key = ANY($1::text[])`, [missing]),
    agents: await q('SELECT id, presence, session_id, seen_at, disconnect_deadline, consecutive_timeouts FROM router.agents ORDER BY id', []),
    agentEvents: await q(`SELECT agent_id, seq, frame->>'type' AS type, frame->>'reason' AS reason, frame->>'at' AS at FROM router.agent_events WHERE frame->>'conversationId' = ANY($1::text[]) ORDER BY agent_id, seq`, [missing]),
    distinctConversations: new Set(convs).size,
    redelivered: (() => {
      const n = new Map<string, number>();
      for (const s of h.conversations.seen) n.set(s.value.eventId as string, (n.get(s.value.eventId as string) ?? 0) + 1);
      return h.conversations.seen.filter((s) => n.get(s.value.eventId as string)! > 1).map((s) => `${s.value.type} ${s.value.conversationId} ${s.value.eventId} p${s.partition}@${s.offset}`);
    })(),
    topicEvents: missing.map((c) => [c, h.eventTypes(c).join(' ')]),
  };
  console.error(`unresolved conversations:\n${JSON.stringify(report, null, 1)}`);
}

async function checkInvariants(h: RouterHarness, convs: string[]): Promise<void> {
  const set = new Set(convs);
  // Event log: every conversation resolved, assigned exactly once.
  const first = firstCopy();
  try {
    await h.conversations.waitFor((v, s) => v.type === 'conversation.resolved' && set.has(v.conversationId as string) && first(s), CONVERSATIONS, 180000);
  } catch (err) {
    await dumpUnresolved(h, convs);
    throw err;
  }
  const assigned = new Map<string, number>();
  const firstAssigned = firstCopy();
  for (const s of h.conversations.seen)
    if (s.value.type === 'conversation.assigned' && set.has(s.value.conversationId as string) && firstAssigned(s))
      assigned.set(s.value.conversationId as string, (assigned.get(s.value.conversationId as string) ?? 0) + 1);
  expect(assigned.size).toBe(CONVERSATIONS);
  expect([...assigned.values()].every((n) => n === 1)).toBe(true);

  // Per-agent event log in sequence order: open work never exceeds capacity, and seqs have no gap.
  const { rows } = await h.world.pool.query<{ agent_id: string; seq: string; frame: Frame }>('SELECT agent_id, seq, frame FROM router.agent_events ORDER BY agent_id, seq');
  const byAgent = new Map<string, Frame[]>();
  for (const r of rows) byAgent.set(r.agent_id, [...(byAgent.get(r.agent_id) ?? []), r.frame]);
  let offers = 0;
  for (const [agent, frames] of byAgent) {
    expect(frames.map((f) => f.seq)).toEqual(frames.map((_, i) => i + 1));
    let open = 0;
    let peak = 0;
    for (const f of frames) {
      if (f.type === 'offer') open++, offers++;
      if (f.type === 'offer-closed' || f.type === 'unassigned') open--;
      peak = Math.max(peak, open);
    }
    expect({ agent, peak: Math.min(peak, CAPACITY), open }).toEqual({ agent, peak, open: 0 });
  }
  expect(offers).toBeGreaterThanOrEqual(CONVERSATIONS);

  // Database: all resolved, each by one agent, nothing left queued or offered.
  const db = await h.world.pool.query(`SELECT status, count(*)::int AS n FROM router.conversations WHERE id = ANY($1::text[]) GROUP BY status`, [convs]);
  expect(db.rows).toEqual([{ status: 'resolved', n: CONVERSATIONS }]);
  const queued = await h.world.pool.query('SELECT count(*)::int AS n FROM router.queue_entries');
  expect(queued.rows[0].n).toBe(0);
}

describe('two router replicas in one process', () => {
  const h = new RouterHarness();
  beforeAll(() => h.start('replicas', ENV));
  afterAll(() => h.stop());

  it('assigns 200 concurrent conversations exactly once, never over capacity', async () => {
    const second = await h.startRouter(ENV);
    const ids = await createAgents(h);
    await Promise.all(ids.map((id, i) => h.connect(id, { url: i % 2 ? second : h.url, onFrame: worker })));
    const convs = await feed(h);
    await checkInvariants(h, convs);
  }, 300_000);
});

describe('a replica killed with SIGKILL mid-run', () => {
  const h = new RouterHarness();
  let child: ChildProcess | undefined;
  beforeAll(() => h.start('replicakill', ENV));
  afterAll(async () => {
    child?.kill('SIGKILL');
    await h.stop();
  });

  it('loses nothing and double-books nothing', async () => {
    // node itself with the tsx loader (the tsx CLI would fork a grandchild that SIGKILL would miss)
    child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '../src/main.ts')], {
      env: { ...process.env, ...h.routerEnv(ENV), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const childUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      child!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /router listening on (http:\/\/[^"\s]+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child!.once('exit', (code) => reject(new Error(`child router exited with ${code}: ${out.slice(-2000)}`)));
    });
    const ids = await createAgents(h);
    const clients = new Map<string, AgentClient>();
    await Promise.all(ids.map(async (id, i) => clients.set(id, await h.connect(id, { url: i % 2 ? childUrl : h.url, onFrame: worker }))));
    const onChild = ids.filter((_, i) => i % 2);

    const fed = feed(h);
    // Kill the child once the run is well under way.
    await h.conversations.waitFor((v) => v.type === 'conversation.assigned', 40, 120000);
    child.kill('SIGKILL');
    const doneAtKill = h.conversations.seen.filter((s) => s.value.type === 'conversation.resolved').length;
    expect(doneAtKill).toBeLessThan(CONVERSATIONS); // really mid-run
    await new Promise((r) => (child!.exitCode !== null || child!.signalCode !== null ? r(undefined) : child!.once('exit', r)));
    // Its agents' consoles drop; they come back on the survivor and resume from their last seq.
    await Promise.all(
      onChild.map(async (id) => {
        const old = clients.get(id)!;
        await old.waitFor(() => old.closed, 1, 30000);
        clients.set(id, await h.connect(id, { lastSeq: old.lastSeq, onFrame: worker }));
      }),
    );
    const convs = await fed;
    await checkInvariants(h, convs);
    // The dead member keeps its partitions until the group session times out (30 s) before the
    // survivor gets them: allow for that on a loaded machine.
  }, 300_000);
});
