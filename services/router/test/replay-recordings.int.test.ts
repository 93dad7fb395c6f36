import fc from 'fast-check';
import { readConfig } from '../src/config';
import { start } from '../src/start';
import { RecordedBehaviour } from '../src/replay/behaviour';
import { parseReplayConfig } from '../src/replay/config';
import { replay } from '../src/replay/engine';
import { faithfulness } from '../src/replay/report';
import { runReplay } from '../src/replay/run';
import { DEFAULT_RULES } from '../src/domain/default-rules';
import { eventually, testLogger, TopicWatcher } from '../../../test/support/infra';
import { RouterHarness } from './support/router-harness';

/**
 * The recordings replay reads beyond the topics (docs/replay.md "What is recorded") and safe
 * activation, on the real stack: a capacity change mid-day is recorded (profile version + event on
 * omni.agents.v1) and reproduced by replay; console sessions and lifecycle settings are recorded;
 * a rules draft marked "activate after replay" is refused (409) until its replay is done, then
 * activated, its report read next to the version; a job outlives its router as failed-or-done;
 * hostile bodies on the new and changed admin routes never get a 5xx and a refused one changes no row.
 */
const h = new RouterHarness();
const ENV = { OFFER_TIMEOUT_MS: '5000', QUEUE_SLA_MS_TIER_1: '600000', DISCONNECT_GRACE_MS: '600000', MAX_CONSECUTIVE_OFFER_TIMEOUTS: '3', PRIORITY_AGEING_POINTS_PER_MINUTE: '3', WRAP_UP_MS: '30000' };
let from = 0;
let to = 0;

beforeAll(async () => {
  await h.start('replayrec', ENV);
  from = Date.now() - 1000;
});
afterAll(async () => {
  await h.stop();
});

const count = async (table: string) => Number((await h.world.pool.query<{ n: string }>(`SELECT count(*) AS n FROM router.${table}`)).rows[0]!.n);

test('a capacity change mid-day (1 → 2) is recorded with its time and an agent.profile-changed event, and replay reproduces the day only because it uses it', async () => {
  const agentsTopic = await TopicWatcher.start(h.world, h.world.topics.agents);
  try {
    await h.createAgent('solo', { tiers: [1], languages: ['en', 'es'], capacity: { chat: 1 } });
    const solo = await h.connect('solo');
    const m1 = await h.send('I forgot my password and now I am locked out', { channel: 'chat', thread: 'a' });
    const c1 = await h.openedBy(m1.messageId);
    await h.event(c1, 'offered');
    expect(await solo.command({ type: 'accept', conversationId: c1 })).toMatchObject({ type: 'ack' });
    const m2 = await h.send('The wifi keeps dropping every few minutes at home', { channel: 'chat', thread: 'b' });
    const c2 = await h.openedBy(m2.messageId);
    await h.event(c2, 'queued');
    expect(h.eventTypes(c2)).not.toContain('offered'); // full: capacity 1
    // the day goes on a while before the admin raises the capacity (longer than the replay's 1 s tolerance)
    await new Promise((r) => setTimeout(r, 2000));
    await h.createAgent('solo', { tiers: [1], languages: ['en', 'es'], capacity: { chat: 2 } });
    await h.event(c2, 'offered');
    expect(await solo.command({ type: 'accept', conversationId: c2 })).toMatchObject({ type: 'ack' });
    for (const c of [c1, c2]) expect(await solo.command({ type: 'resolve', conversationId: c })).toMatchObject({ type: 'ack' });
    await h.event(c2, 'resolved');

    const versions = (await h.world.pool.query<{ version: number; capacity: Record<string, number> }>("SELECT version, capacity FROM router.agent_profile_versions WHERE agent_id = 'solo' ORDER BY version")).rows;
    expect(versions).toEqual([
      { version: 1, capacity: { chat: 1 } },
      { version: 2, capacity: { chat: 2 } },
    ]);
    const events = await agentsTopic.waitFor((v) => v.type === 'agent.profile-changed' && v.agentId === 'solo', 2);
    expect(events.map((e) => (e.value.data as { capacityByChannel: unknown }).capacityByChannel)).toEqual([{ chat: 1 }, { chat: 2 }]);
    // an unchanged PUT records no version and publishes nothing
    await h.createAgent('solo', { tiers: [1], languages: ['en', 'es'], capacity: { chat: 2 } });
    expect(await count("agent_profile_versions WHERE agent_id = 'solo'")).toBe(2);

    // the console session and the settings in force are recorded
    expect((await h.world.pool.query("SELECT 1 FROM router.agent_console_sessions WHERE agent_id = 'solo' AND detached_at IS NULL")).rowCount).toBe(1);
    const recorded = (await h.world.pool.query<{ settings: Record<string, unknown> }>('SELECT settings FROM router.lifecycle_settings_versions ORDER BY version DESC LIMIT 1')).rows[0]!.settings;
    expect(recorded).toMatchObject({ offerTimeoutMs: 5000, wrapUpMs: 30_000, priorityAgeing: { pointsPerMinute: 3, maxPriority: 100 } });

    to = Date.now() + 300;
    await new Promise((r) => setTimeout(r, 400)); // the window's end is a time, not an event
    const env = h.routerEnv({}); // not ENV: the settings come from the recorded version, not from this env
    const res = await runReplay({ kafka: h.world.kafka, pool: h.world.pool, topics: h.world.topics, env }, { from, to, config: { proposed: {} } });
    if (!res.ok) throw new Error(JSON.stringify(res.problems));
    const { report, source } = res.run;
    expect(source.recording.inputs.filter((i) => i.kind === 'profile' && i.agentId === 'solo').map((i) => (i as { capacity: unknown }).capacity)).toEqual([{ chat: 1 }, { chat: 2 }]);
    expect(source.live.policy?.offerTimeoutMs).toBe(5000);
    // ageing and wrap-up come from the recorded version too (this env has neither)
    expect([source.live.ageing, source.live.wrapUpMs]).toEqual([{ pointsPerMinute: 3, maxPriority: 100 }, 30_000]);
    expect(report.faithfulness).toMatchObject({ conversations: 2, reproduced: 2, sharePct: 100, differences: [] });

    // without the profile history (capacity as the agent has it now, from the start) the day is not reproduced
    const cfg = parseReplayConfig({ proposed: {} }, { ...source.live, policy: source.live.policy! });
    if (!cfg.ok) throw new Error('config');
    const rec = source.recording;
    const now = { ...rec, agents: rec.agents.map((a) => (a.id === 'solo' ? { ...a, capacity: { chat: 2 } } : a)), inputs: rec.inputs.filter((i) => i.kind !== 'profile') };
    const without = replay(now, cfg.baseline, new RecordedBehaviour(rec.decisions));
    expect(faithfulness(rec.decisions, without.decisions, { toleranceMs: 1000 }).reproduced).toBeLessThan(2);

    // the console leaving is recorded
    await solo.close();
    await eventually(async () => ((await h.world.pool.query("SELECT 1 FROM router.agent_console_sessions WHERE agent_id = 'solo' AND detached_at IS NOT NULL")).rowCount === 1 ? true : undefined), 'the session end recorded');
  } finally {
    await agentsTopic.stop();
  }
});

async function waitJob(path: string): Promise<Record<string, any>> {
  return eventually(
    async () => {
      const r = await h.admin('GET', path);
      return r.status === 200 && r.body.status !== 'running' ? (r.body as Record<string, any>) : undefined;
    },
    `replay job at ${path} finished`,
    180_000,
    250,
  );
}

test('activate after replay: a rules draft is inactive, refused (409, saying why) while its replay runs, activated once it is done; the report is read next to the version', async () => {
  expect(to).toBeGreaterThan(0);
  const rules = DEFAULT_RULES.map((r) => (r.id === 'connectivity' ? { ...r, then: { ...r.then, tier: 2 } } : r));
  const before = (await h.admin('GET', '/v1/admin/rules')).body.version;
  const window = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
  const put = await h.admin('PUT', '/v1/admin/rules', { rules, note: 'wifi to tier 2', activateAfterReplay: window });
  expect(put.status).toBe(201);
  expect(put.body).toMatchObject({ active: false, activateAfterReplay: true });
  const v = put.body.version as number;
  expect(typeof put.body.replayJobId).toBe('string');
  const early = await h.admin('POST', `/v1/admin/rules/versions/${v}/activate`);
  expect(early.status).toBe(409);
  expect(early.body.message).toMatch(/activate after replay.*still running/);
  expect((await h.admin('GET', '/v1/admin/rules')).body.version).toBe(before);

  const job = await waitJob(`/v1/admin/rules/versions/${v}/replay?changesLimit=10`);
  expect(job).toMatchObject({ status: 'done', target: { kind: 'rules', version: v }, id: put.body.replayJobId });
  expect(job.report.proposed.config).toBe(`rules version ${v} (draft)`);
  expect(job.report.faithfulness).toMatchObject({ sharePct: 100 });
  // the wifi conversation is the one the draft moves
  expect(job.report.changed.filter((c: { classificationChanged: boolean }) => c.classificationChanged).map((c: { proposed: { tier: number } }) => c.proposed.tier)).toEqual([2]);

  const ok = await h.admin('POST', `/v1/admin/rules/versions/${v}/activate`);
  expect(ok.status).toBe(200);
  expect((await h.admin('GET', '/v1/admin/rules')).body).toMatchObject({ version: v, active: true });
  // a plain version (not a draft) needs no replay, as before
  expect((await h.admin('POST', `/v1/admin/rules/versions/${before}/activate`)).status).toBe(200);
});

test('a replay job outlives its router: a router shut down mid-job leaves it failed (saying why), listed by the others; a job of a router that died is failed once its heartbeat is stale', async () => {
  const other = await start(readConfig(h.routerEnv(ENV)), testLogger);
  let id = '';
  try {
    const res = await fetch(`${other.url}/v1/admin/replays`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), config: { proposed: {} } }),
    });
    expect(res.status).toBe(202);
    id = String(((await res.json()) as { id: string }).id);
  } finally {
    await other.close();
  }
  const listed = (await h.admin('GET', '/v1/admin/replays')).body.replays.find((r: { id: string }) => r.id === id);
  expect(['failed', 'done']).toContain(listed.status);
  if (listed.status === 'failed') expect(listed.error).toMatch(/interrupted|SIGTERM/);

  // a crash leaves the row running: it is failed once its heartbeat is older than REPLAY_JOB_STALE_MS (30 s)
  await h.world.pool.query(
    `INSERT INTO router.replay_jobs (id, status, request, progress, created_by, heartbeat_at) VALUES ('replay_crashed', 'running', '{}', '{"phase":"baseline","share":0.5}', 'test', now() - interval '1 minute')`,
  );
  const crashed = await h.admin('GET', '/v1/admin/replays/replay_crashed');
  expect(crashed.body).toMatchObject({ status: 'failed', error: expect.stringMatching(/interrupted/) });
});

describe('hostile bodies on the new and changed admin routes', () => {
  it('NUL and unpaired surrogates in an admin body are stored as U+FFFD, never a 500 (a name of "\\u0000" answered 500 once)', async () => {
    const put = await h.admin('PUT', '/v1/admin/agents/hostile-nul', { name: '\u0000', tiers: [1], capacity: { chat: 1 }, skills: ['bill\ud800'], proficiency: { skills: { 'bill\ud800': 4 } } });
    expect(put.status).toBe(201);
    const got = await h.admin('GET', '/v1/admin/agents/hostile-nul');
    expect(got.body).toMatchObject({ name: '\ufffd', skills: ['bill\ufffd'], proficiency: { skills: { 'bill\ufffd': 4 } } });
  });

  const hostileString = fc.oneof(fc.string(), fc.constantFrom('\u0000', '\ud800', 'مرحبا\u202e', '2026-11-28T10:00:00Z\u0000', ''), fc.string({ unit: 'grapheme' }));
  const hostile = fc.oneof(
    hostileString,
    fc.integer(),
    fc.double(),
    fc.constant(null),
    fc.array(fc.anything(), { maxLength: 3 }),
    fc.object({ maxDepth: 3 }),
    fc.constant(Array.from({ length: 2000 }, () => 1)),
    fc.constant(JSON.parse('['.repeat(200) + ']'.repeat(200))),
  );
  const window = fc.record({ from: fc.oneof(hostile, fc.date().map((d) => (Number.isFinite(d.getTime()) ? d.toISOString() : 'x'))), to: fc.oneof(hostile, fc.constant('2030-01-01T00:00:00Z')) }, { requiredKeys: [] });
  /** a path segment; a lone surrogate (no UTF-8 form) goes as the bytes a client would send for it, %ED%A0%80 */
  const seg = (x: unknown) => {
    try {
      return encodeURIComponent(String(x));
    } catch {
      return `x%ED%A0%80${String(x).length}`;
    }
  };
  const tables = ['rule_sets', 'business_hours', 'replay_jobs', 'agent_profile_versions', 'agents', "audit_log WHERE outcome = 'ok'"];
  const snapshot = async () => Promise.all(tables.map(count));

  const routes: [string, (b: unknown) => string, fc.Arbitrary<unknown>][] = [
    ['PUT', () => '/v1/admin/rules', fc.record({ rules: fc.oneof(hostile, fc.constant(DEFAULT_RULES)), activateAfterReplay: fc.oneof(hostile, window) }, { requiredKeys: [] })],
    ['PUT', () => '/v1/admin/business-hours', fc.record({ hours: fc.oneof(hostile, fc.constant({ tiers: {} })), activateAfterReplay: fc.oneof(hostile, window) }, { requiredKeys: [] })],
    ['POST', () => '/v1/admin/rules/versions/1/replays', fc.oneof(hostile, window)],
    ['POST', () => '/v1/admin/business-hours/versions/1/replays', fc.oneof(hostile, window)],
    ['POST', () => '/v1/admin/replays', fc.record({ from: hostile, to: hostile, config: fc.oneof(hostile, fc.constant({ proposed: {} })) }, { requiredKeys: [] })],
    ['POST', (b) => `/v1/admin/rules/versions/${seg(b)}/activate`, fc.oneof(fc.integer({ min: -5, max: 12 }), hostileString)],
    ['POST', (b) => `/v1/admin/business-hours/versions/${seg(b)}/activate`, fc.oneof(fc.integer({ min: -5, max: 12 }), hostileString)],
    ['GET', (b) => `/v1/admin/rules/versions/${seg(b)}/replay`, fc.oneof(fc.integer({ min: -5, max: 12 }), hostileString)],
    ['PUT', () => '/v1/admin/agents/hostile1', fc.record({ name: hostileString, tiers: fc.oneof(hostile, fc.constant([1])), capacity: fc.oneof(hostile, fc.constant({ chat: 1 })), languages: hostile }, { requiredKeys: [] })],
  ];
  for (const [method, path, body] of routes)
    test(`${method} ${path(':version').replace('%3Aversion', ':version')}: 2xx, 400, 404 or 409, never 5xx; a refused request changes no row`, async () => {
      await fc.assert(
        fc.asyncProperty(body, async (b) => {
          const before = await snapshot();
          const r = await h.admin(method, path(b), method === 'GET' ? undefined : b);
          expect([200, 201, 202, 400, 404, 409]).toContain(r.status);
          expect(r.body).toBeDefined();
          if (r.status >= 400) {
            expect(typeof r.body.message).toBe('string');
            expect(await snapshot()).toEqual(before);
          }
        }),
        { numRuns: 40 },
      );
    });
});
