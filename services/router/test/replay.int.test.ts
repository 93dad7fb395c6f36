import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_RULES } from '../src/domain/default-rules';
import { runReplay } from '../src/replay/run';
import { renderReport } from '../src/replay/report';
import { createHttpApp } from '@omni/service';
import { routeGuard, TokenVerifier } from '@omni/auth';
import { mintToken } from '../src/auth/tokens';
import { ReplayJobs } from '../src/replay/jobs';
import { adminReplayRoutes } from '../src/replay/routes';
import { JWT_SECRET, RouterHarness } from './support/router-harness';
import { testLogger } from '../../../test/support/infra';
import type { AgentClient } from './support/agent-client';

/**
 * A scripted day on the real stack (router in-process, real broker and database, agents on real
 * websockets): mixed channels, a follow-up, an escalation with a note, a rejection, an offer left
 * to lapse, an agent going away and coming back, an agent going offline with work (requeued), a
 * reopen. Then the window is replayed from what was recorded (Kafka + PostgreSQL) with the live
 * configuration (every decision reproduced) and with orders moved to tier 2 (exactly the orders
 * conversation changes classification), and nothing live is written.
 */
const h = new RouterHarness();
const ENV = { OFFER_TIMEOUT_MS: '3000', QUEUE_SLA_MS_TIER_1: '600000', QUEUE_SLA_MS_TIER_2: '600000', DISCONNECT_GRACE_MS: '600000', MAX_CONSECUTIVE_OFFER_TIMEOUTS: '3' };
const clients = new Map<string, AgentClient>();
let from = 0;
let to = 0;
let orders = '';
/** the rule edit made live in the middle of the day (version 2): install questions get their own category */
const v2 = DEFAULT_RULES.map((r) => (r.id === 'installs-updates' ? { ...r, then: { ...r.then, category: 'software' } } : r));
/** the proposal: version 2 with orders moved to tier 2 */
const ordersToTier2 = v2.map((r) => (r.id === 'orders-shipping' ? { ...r, then: { ...r.then, tier: 2 } } : r));

beforeAll(async () => {
  await h.start('replay', ENV);
  from = Date.now() - 1000;
});

afterAll(async () => {
  await h.stop();
});

/** The agent the conversation's n-th offer went to (1-based). */
async function offeredTo(conv: string, n = 1): Promise<AgentClient> {
  const offers = await h.event(conv, 'offered', n);
  return clients.get(String(offers[n - 1]!.agentId))!;
}

async function ok(c: AgentClient, cmd: Record<string, unknown>): Promise<void> {
  expect(await c.command(cmd)).toMatchObject({ type: 'ack' });
}

test('a scripted day is replayed from Kafka and PostgreSQL: 100 % of decisions reproduced with the live configuration; a category moved to tier 2 changes exactly its conversations', async () => {
  const langs = ['en', 'es'];
  await h.createAgent('t1a', { tiers: [1], languages: langs, capacity: { chat: 2, email: 2, whatsapp: 2 } });
  await h.createAgent('t1b', { tiers: [1], languages: langs, capacity: { chat: 2, email: 2, whatsapp: 2 } });
  await h.createAgent('t2', { tiers: [2], skills: ['databases', 'apis', 'integrations'], languages: langs, capacity: { chat: 2, email: 2, whatsapp: 2 } });
  for (const id of ['t1a', 't1b', 't2']) clients.set(id, await h.connect(id));
  const t1a = clients.get('t1a')!;
  const t1b = clients.get('t1b')!;
  const t2 = clients.get('t2')!;

  // B: a password chat, a follow-up while assigned, resolved
  const m1 = await h.send('I forgot my password and now I am locked out', { channel: 'chat', thread: 'pw' });
  const c1 = await h.openedBy(m1.messageId);
  const x1 = await offeredTo(c1);
  await ok(x1, { type: 'accept', conversationId: c1 });
  await h.send('Any news on this?', { channel: 'chat', thread: 'pw' });
  await h.event(c1, 'message');
  await ok(x1, { type: 'resolve', conversationId: c1 });
  await h.event(c1, 'resolved');

  // C: an order e-mail, escalated with a note, taken by tier 2 and resolved
  const m2 = await h.send('My order has not arrived, the tracking page shows nothing', { channel: 'email', thread: 'order' });
  const c2 = await h.openedBy(m2.messageId);
  const x2 = await offeredTo(c2);
  await ok(x2, { type: 'accept', conversationId: c2 });
  await ok(x2, { type: 'escalate', conversationId: c2, note: 'carrier API shows an error, needs tier 2' });
  expect((await offeredTo(c2, 2)).agentId).toBe('t2');
  await ok(t2, { type: 'accept', conversationId: c2 });
  await ok(t2, { type: 'resolve', conversationId: c2 });
  await h.event(c2, 'resolved');

  // D: a tier-2 WhatsApp the only tier-2 agent rejects: it waits in its queue
  const m3 = await h.send('The webhook endpoint answers with http 500 since this morning', { channel: 'whatsapp', thread: 'hook' });
  const c3 = await h.openedBy(m3.messageId);
  expect((await offeredTo(c3)).agentId).toBe('t2');
  await ok(t2, { type: 'reject', conversationId: c3, reason: 'not mine' });
  await h.event(c3, 'requeued');

  // E: t1a away; a wifi chat goes to t1b, who lets it lapse; t1a back online takes it
  await ok(t1a, { type: 'presence', status: 'away' });
  const m4 = await h.send('The wifi keeps dropping every few minutes at home', { channel: 'chat', thread: 'wifi' });
  const c4 = await h.openedBy(m4.messageId);
  expect((await offeredTo(c4)).agentId).toBe('t1b');
  await h.event(c4, 'offer-expired');
  await ok(t1a, { type: 'presence', status: 'online' });
  expect((await offeredTo(c4, 2)).agentId).toBe('t1a');
  await ok(t1a, { type: 'accept', conversationId: c4 });

  // a rule edit goes live mid-day (the next conversations are classified with version 2)
  expect((await h.admin('PUT', '/v1/admin/rules', { rules: v2, note: 'installs are software' })).status).toBe(201);

  // F: an install question goes to the least loaded (t1b), who goes offline holding it: requeued to t1a
  const m5 = await h.send('How do I install the new version on my laptop?', { channel: 'chat', thread: 'install' });
  const c5 = await h.openedBy(m5.messageId);
  expect((await offeredTo(c5)).agentId).toBe('t1b');
  await ok(t1b, { type: 'accept', conversationId: c5 });
  await ok(t1b, { type: 'presence', status: 'offline' });
  await h.event(c5, 'requeued');
  expect((await offeredTo(c5, 2)).agentId).toBe('t1a');
  await ok(t1a, { type: 'accept', conversationId: c5 });
  await ok(t1a, { type: 'resolve', conversationId: c5 });
  await ok(t1a, { type: 'resolve', conversationId: c4 });

  // G: the password customer writes again inside the reopen window
  await h.send('It happened again, sorry', { channel: 'chat', thread: 'pw' });
  await h.event(c1, 'reopened');
  const x7 = await offeredTo(c1, 2);
  await ok(x7, { type: 'accept', conversationId: c1 });
  await ok(x7, { type: 'resolve', conversationId: c1 });
  await h.event(c1, 'resolved', 2);
  to = Date.now() + 500;
  orders = c2;
  await new Promise((r) => setTimeout(r, 600)); // let `to` pass: the window's end is a time, not an event

  const liveEvents = h.conversations.seen.length;
  const counts = async () =>
    (await h.world.pool.query<{ n: string }>(`SELECT (SELECT count(*) FROM router.conversations) + (SELECT count(*) FROM router.agent_events) + (SELECT count(*) FROM router.outbox) + (SELECT count(*) FROM router.queue_entries) AS n`)).rows[0]!.n;
  const before = await counts();

  const rules = ordersToTier2;
  const res = await runReplay(
    { kafka: h.world.kafka, pool: h.world.pool, topics: h.world.topics, env: h.routerEnv(ENV) },
    { from, to, config: { proposed: { name: 'orders to tier 2', rules } } },
  );
  if (!res.ok) throw new Error(JSON.stringify(res.problems));
  const { report, source } = res.run;
  const text = renderReport(report);
  if (process.env.REPLAY_DEBUG) {
    const { faithfulness } = await import('../src/replay/report');
    const { replay } = await import('../src/replay/engine');
    const { RecordedBehaviour } = await import('../src/replay/behaviour');
    const { parseReplayConfig } = await import('../src/replay/config');
    const { policyFromEnv } = await import('../src/replay/run');
    const cfg = parseReplayConfig({ proposed: {} }, { ...source.live, policy: policyFromEnv(h.routerEnv(ENV)) });
    if (cfg.ok) {
      const base = replay(source.recording, cfg.baseline, new RecordedBehaviour(source.recording.decisions));
      const exact = faithfulness(source.recording.decisions, base.decisions, { toleranceMs: 0 });
      const gaps = source.recording.decisions.map((d, i) => Math.abs(d.at - (base.decisions.filter((x) => x.conversationId === d.conversationId)[source.recording.decisions.filter((x, j) => j < i && x.conversationId === d.conversationId).length]?.at ?? d.at)));
      console.log(`${text}\nexact (0 ms): ${exact.sharePct} %; largest time difference ${Math.max(...gaps)} ms\n${exact.differences.map((x) => x.explanation).join('\n')}`);
    }
  }
  expect(source.live.ruleVersionsSeen).toEqual([1, 2]);
  expect([source.live.ruleVersion, ...source.live.ruleTimeline.map((t) => t.version)]).toEqual([1, 2]);
  expect(source.recording.inputs.filter((i) => i.kind === 'message')).toHaveLength(7);
  expect(source.recording.inputs.filter((i) => i.kind === 'presence').length).toBeGreaterThanOrEqual(6);
  // faithfulness: every conversation's decisions, in order, with the same agents and tiers
  expect({ differences: report.faithfulness!.differences, text }).toEqual({ differences: [], text });
  expect(report.faithfulness).toMatchObject({ conversations: 5, reproduced: 5, sharePct: 100 });
  // the install question was classified live with version 2 ('software'): reproduced means replay switched versions when live did
  expect((await h.event(c5, 'classified'))[0]).toMatchObject({ category: 'software' });
  expect(report.baseline.behaviour.modelled).toBe(0);
  // the proposal: exactly the orders conversation is classified differently
  expect(report.changed.filter((c) => c.classificationChanged).map((c) => c.conversationId)).toEqual([c2]);
  const ch = report.changed.find((c) => c.conversationId === c2)!;
  expect([ch.baseline.tier, ch.proposed.tier, ch.proposed.category]).toEqual([1, 2, 'orders-shipping']);
  expect(ch.proposed.decisions.find((d) => d.type === 'conversation.offered')?.agentId).toBe('t2');
  expect(report.proposed.tiers.find((t) => t.tier === 2)!.volume).toBe(report.baseline.tiers.find((t) => t.tier === 2)!.volume + 1);
  // read only: nothing written to the router's tables or topics
  expect(await counts()).toBe(before);
  expect(h.conversations.seen.length).toBe(liveEvents);

  // a window starting at the order e-mail, warmed up from the quiet start: the password conversation is warm-up only
  const opened2 = Date.parse(String((await h.event(c2, 'opened'))[0]!.occurredAt));
  const warm = await runReplay(
    { kafka: h.world.kafka, pool: h.world.pool, topics: h.world.topics, env: h.routerEnv(ENV) },
    { from: opened2, to, warmupFrom: from, config: { proposed: { name: 'orders to tier 2', rules } } },
  );
  if (!warm.ok) throw new Error(JSON.stringify(warm.problems));
  expect(warm.run.report.faithfulness).toMatchObject({ conversations: 4, reproduced: 4, differences: [] });
  expect(warm.run.report.baseline.conversations).toBe(4);
  expect(warm.run.report.changed.filter((c) => c.classificationChanged).map((c) => c.conversationId)).toEqual([c2]);

  // the same mid-day window without a warm-up: the state at its start (the password conversation resolved
  // inside its reopen window, the agents' load and idle order) is rebuilt from the recorded offers
  const cold = await runReplay(
    { kafka: h.world.kafka, pool: h.world.pool, topics: h.world.topics, env: h.routerEnv(ENV) },
    { from: opened2, to, config: { proposed: { name: 'orders to tier 2', rules } } },
  );
  if (!cold.ok) throw new Error(JSON.stringify(cold.problems));
  expect(cold.run.report.faithfulness).toMatchObject({ conversations: 4, reproduced: 4, sharePct: 100, differences: [] });
  expect(cold.run.report.changed.filter((c) => c.classificationChanged).map((c) => c.conversationId)).toEqual([c2]);

  // a window before anything happened: nothing read, an empty report
  const empty = await runReplay(
    { kafka: h.world.kafka, pool: h.world.pool, topics: h.world.topics, env: h.routerEnv(ENV) },
    { from: from - 3_600_000, to: from - 1_800_000, config: { proposed: {} } },
  );
  if (!empty.ok) throw new Error(JSON.stringify(empty.problems));
  expect(empty.run.source.recording.inputs.filter((i) => i.kind === 'message')).toEqual([]);
  expect(empty.run.report).toMatchObject({ changed: [], baseline: { conversations: 0 }, faithfulness: { conversations: 0, sharePct: 100 } });

  // the CLI on the same window: the report on stdout, the JSON with decision records in --out
  const dir = mkdtempSync(join(tmpdir(), 'replay-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ proposed: { name: 'orders to tier 2', rules } }));
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'services/router/src/replay/cli.ts', '--from', new Date(from).toISOString(), '--to', new Date(to).toISOString(), '--config', join(dir, 'config.json'), '--out', join(dir, 'report.json')],
    { env: { ...process.env, ...h.routerEnv(ENV), LOG_LEVEL: 'silent' }, cwd: join(__dirname, '../../..'), timeout: 120_000 },
  );
  expect(stdout).toContain('5/5 conversations reproduced (100 %');
  expect(stdout).toContain('orders to tier 2');
  const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  expect(json.changed.filter((c: { classificationChanged: boolean }) => c.classificationChanged).map((c: { conversationId: string }) => c.conversationId)).toEqual([c2]);
});

test('the admin API runs a replay in the background (a child process) with progress, then serves its report; admins start, supervisors read', async () => {
  expect(orders).not.toBe(''); // the scripted day above was recorded
  const jobs = new ReplayJobs({ env: { ...process.env, ...h.routerEnv(ENV), LOG_LEVEL: "silent" }, pool: h.world.pool });
  const app = await createHttpApp({ name: 'replay-api', logger: testLogger, guard: routeGuard({ verifier: new TokenVerifier(JWT_SECRET), publicRateLimit: { max: 100, maxPerCredential: 100, timeWindowMs: 60_000 } }) });
  await app.register(adminReplayRoutes, { jobs });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const as = (role: 'admin' | 'supervisor' | 'agent') => ({ authorization: `Bearer ${mintToken(JWT_SECRET, { sub: `${role}-1`, role })}`, 'content-type': 'application/json' });
  const call = async (method: string, url: string, role: 'admin' | 'supervisor' | 'agent', body?: unknown) => {
    const r = await fetch(base + url, { method, headers: as(role), ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    return { status: r.status, body: (await r.json()) as Record<string, any> };
  };
  try {
    const body = { from: new Date(from).toISOString(), to: new Date(to).toISOString(), config: { proposed: { name: 'orders to tier 2', rules: ordersToTier2 } } };
    expect((await call('POST', '/v1/admin/replays', 'supervisor', body)).status).toBe(403);
    expect((await call('POST', '/v1/admin/replays', 'admin', { ...body, config: { proposed: { offerTimeoutMs: 'soon' } } })).status).toBe(400);
    expect((await call('POST', '/v1/admin/replays', 'admin', { ...body, to: body.from })).status).toBe(400);
    const started = await call('POST', '/v1/admin/replays', 'admin', body);
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ status: 'running', progress: { phase: 'reading' } });
    expect((await call('POST', '/v1/admin/replays', 'admin', body)).status).toBe(409); // one at a time per replica
    const id = String(started.body.id);
    expect((await call('GET', `/v1/admin/replays/${id}`, 'agent')).status).toBe(403);
    const deadline = Date.now() + 120_000;
    let job: Record<string, any> = started.body;
    const phases = new Set<string>();
    while (job.status === 'running' && Date.now() < deadline) {
      await new Promise<void>((r) => setTimeout(r, 200)); // polling the API is what a console does
      job = (await call('GET', `/v1/admin/replays/${id}?changesLimit=10`, 'supervisor')).body;
      phases.add(String(job.progress?.phase));
    }
    expect(job).toMatchObject({ status: 'done', progress: { phase: 'report', share: 1 } });
    expect(job.report.faithfulness).toMatchObject({ conversations: 5, reproduced: 5, sharePct: 100 });
    expect(job.report.changed.filter((c: { classificationChanged: boolean }) => c.classificationChanged).map((c: { conversationId: string }) => c.conversationId)).toEqual([orders]);
    expect((await call('GET', '/v1/admin/replays', 'supervisor')).body.replays.map((r: { id: string }) => r.id)).toEqual([id]);
    expect((await call('GET', '/v1/admin/replays/replay_nope', 'supervisor')).status).toBe(404);
  } finally {
    await jobs.stop();
    await app.close();
  }
});

test('widening configured live is reproduced: the offer to an agent without the skill comes after the step in replay as it did live', async () => {
  const start = Date.now() - 200;
  // tier 4 (no other agent serves it): invoices need a billing skill nobody has, dropped after 2 s of waiting
  const widening = [{ afterMs: 0 }, { afterMs: 2000, dropSkills: true }];
  const invoices = { id: 'invoices', when: { keywords: { en: ['invoice'] } }, then: { tier: 4, category: 'invoices', skills: ['billing'] } };
  const rules = [{ ...invoices, then: { ...invoices.then, widening } }, ...v2];
  expect((await h.admin('PUT', '/v1/admin/rules', { rules, note: 'invoices widen after 2 s' })).status).toBe(201);
  await h.createAgent('w4', { tiers: [4], languages: ['en', 'es'], capacity: { chat: 1 } });
  const w4 = await h.connect('w4');
  const m = await h.send('Where is my invoice for March?', { channel: 'chat', thread: 'invoice' });
  const c = await h.openedBy(m.messageId);
  const [offer] = await h.event(c, 'offered');
  expect(offer!.agentId).toBe('w4');
  const opened = Date.parse(String((await h.event(c, 'opened'))[0]!.occurredAt));
  expect(Date.parse(String(offer!.occurredAt)) - opened).toBeGreaterThanOrEqual(2000);
  await ok(w4, { type: 'accept', conversationId: c });
  await ok(w4, { type: 'resolve', conversationId: c });
  await h.event(c, 'resolved');
  const end = Date.now() + 500;
  await new Promise((r) => setTimeout(r, 600));

  const res = await runReplay({ kafka: h.world.kafka, pool: h.world.pool, topics: h.world.topics, env: h.routerEnv(ENV) }, { from: start, to: end, config: { proposed: { name: 'no widening', rules: [invoices, ...v2] } } });
  if (!res.ok) throw new Error(JSON.stringify(res.problems));
  const { report } = res.run;
  expect({ differences: report.faithfulness!.differences }).toEqual({ differences: [] });
  expect(report.faithfulness).toMatchObject({ conversations: 1, reproduced: 1, sharePct: 100 });
  // without the steps the conversation would have waited: the proposal lists it, with no offer
  const changed = report.changed.find((x) => x.conversationId === c);
  expect(changed?.proposed.decisions.some((d) => d.type === 'conversation.offered')).toBe(false);
});
