/**
 * npm run bench:scale-out — router and history replicas against a three-broker KRaft cluster
 * (deploy/kafka/kafka.sh with KAFKA_NODES=3 on free ports; the shared broker on 9092 is not touched),
 * topics with 6 partitions, replication factor 3 and min.insync.replicas 2.
 *
 * Every replica is its own process (the service's main.ts) in one consumer group per service:
 *   1. two history replicas, and 1, then 2, then 3 router replicas: for each count a burst of
 *      BENCH_MESSAGES customer messages (one thread each) is published to omni.inbound.v1 and timed
 *      until every one is routed (router.conversation_messages) and on the timeline (history), with
 *      the router group's partition assignment printed;
 *   2. under a steady load (SCALE_RATE messages/s), router replica 3 is stopped (SIGTERM), then
 *      started again: the assignment is printed before, after the stop and after the return;
 *   3. checks: in every assignment each partition has exactly one owner; every message published is
 *      routed once and on the timeline (none lost); every thread has exactly one conversation (no
 *      message routed twice); from the agents' event logs, no conversation held by two agents at once
 *      (agents on replica 1 accept and resolve every offer throughout).
 * Prints the figures and exits 1 on any violation. Not part of `npm test` or CI (three JVMs and five
 * Node processes; about 5 minutes).
 *
 * Env: DATABASE_URL (as the tests; else the local or embedded PostgreSQL), BENCH_MESSAGES (2000),
 * SCALE_RATE (50), SCALE_PHASE_S (20).
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { AssignerProtocol, Kafka, logLevel, type Admin } from 'kafkajs';
import { derivedId, InboundMessage } from '@omni/contracts';
import { createKafka, Publisher } from '@omni/kafka';
import { freePort, localPostgres, stopEmbedded } from '../deploy/postgres/local-pg';
import { createWorld, testLogger, type TestWorld } from '../test/support/infra';
import { processCpuSeconds, startServiceProcess, type ServiceProcess } from '../test/support/service-process';
import { bearer, testToken } from '../test/support/tokens';
import { AgentClient, type Frame } from '../services/router/test/support/agent-client';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');
const M = Number(process.env.BENCH_MESSAGES ?? 2000);
const RATE = Number(process.env.SCALE_RATE ?? 50);
const PHASE_MS = Number(process.env.SCALE_PHASE_S ?? 20) * 1000;
const PARTITIONS = 6;
const AGENTS = 4;
const CAPACITY = 3;
const log = (msg: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 180000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The machine's busy and total CPU time so far (jiffies, all cores), from /proc/stat. */
function machineCpu(): { busy: number; total: number } {
  try {
    const v = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
  } catch {
    return { busy: 0, total: 1 };
  }
}

type Assignment = Map<string, number[]>; // memberId → partitions of the topic

async function assignment(admin: Admin, groupId: string, topic: string): Promise<{ state: string; members: Assignment }> {
  const { groups } = await admin.describeGroups([groupId]);
  const g = groups[0]!;
  const members: Assignment = new Map();
  for (const m of g.members) {
    const decoded = m.memberAssignment.length ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
    members.set(m.memberId, [...(decoded?.assignment[topic] ?? [])].sort((a, b) => a - b));
  }
  return { state: g.state, members };
}

/** A stable group of `n` members that together own every partition exactly once. */
async function stableAssignment(admin: Admin, groupId: string, topic: string, n: number): Promise<Assignment> {
  return until(`group ${groupId} stable with ${n} members`, async () => {
    const a = await assignment(admin, groupId, topic);
    if (a.state !== 'Stable' || a.members.size !== n) return undefined;
    const owned = [...a.members.values()].flat();
    return owned.length === PARTITIONS ? a.members : undefined;
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  const failures: string[] = [];
  // ---- infrastructure: a cluster of our own, the database as for the tests
  const port = await freePort();
  const dataDir = path.join(root, '.run', `scale-out-${process.pid}`);
  const kenv = { ...process.env, KAFKA_NODES: '3', KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(port + 10), KAFKA_DATA_DIR: dataDir };
  const kafkaSh = (...args: string[]) => run('bash', [path.join(root, 'deploy/kafka/kafka.sh'), ...args], { env: kenv, timeout: 240000 });
  let pgName: string | undefined;
  if (!process.env.DATABASE_URL) {
    const pg = await localPostgres({ name: `scale-out-pg-${process.pid}`, port: await freePort(), fresh: true });
    if (pg.started) pgName = `scale-out-pg-${process.pid}`;
    process.env.DATABASE_URL = pg.serverUrl;
  }
  log(`starting a 3-broker KRaft cluster on 127.0.0.1:${port}-${port + 2}`);
  rmSync(dataDir, { recursive: true, force: true });
  await kafkaSh('start');
  const brokers = (await kafkaSh('brokers')).stdout.trim();
  process.env.KAFKA_BROKERS = brokers;
  let world: TestWorld | undefined;
  const procs: ServiceProcess[] = [];
  const agents: AgentClient[] = [];
  let publisher: Publisher | undefined;
  let admin: Admin | undefined;
  try {
    world = await createWorld('scaleout', { partitions: PARTITIONS, replicationFactor: 3, minInsyncReplicas: 2 });
    const w = world;
    admin = new Kafka({ brokers: brokers.split(','), clientId: 'scale-out', logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const routerGroup = w.groupId('router');
    const historyGroup = w.groupId('history');
    const routerEnv = w.env({ ROUTER_GROUP_ID: routerGroup, LOG_LEVEL: 'info', SWEEP_INTERVAL_MS: '500' });
    const historyEnv = w.env({ HISTORY_GROUP_ID: historyGroup, LOG_LEVEL: 'info' });

    // ---- processes: two history replicas, router replica 1 (one at a time: they migrate the schema)
    const history = [await startServiceProcess('history', historyEnv), await startServiceProcess('history', historyEnv)];
    procs.push(...history);
    const routers: (ServiceProcess | undefined)[] = [await startServiceProcess('router', routerEnv)];
    procs.push(routers[0]!);
    log('history ×2 and router ×1 running');

    // member ids → replica names, learnt as each replica joins
    const names = new Map<string, string>();
    const nameNew = (a: Assignment, name: string) => {
      for (const id of a.keys()) if (!names.has(id)) names.set(id, name);
    };
    const show = (label: string, a: Assignment) => {
      const owners = new Map<number, string[]>();
      for (const [id, ps] of a) for (const p of ps) owners.set(p, [...(owners.get(p) ?? []), names.get(id) ?? id]);
      const twice = [...owners].filter(([, o]) => o.length > 1);
      const missing = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => !owners.has(p));
      log(`${label}: ${[...a].map(([id, ps]) => `${names.get(id) ?? id.slice(0, 14)} → [${ps.join(',')}]`).sort().join('  ')}`);
      if (twice.length) failures.push(`${label}: partitions with two owners ${JSON.stringify(twice)}`);
      if (missing.length) failures.push(`${label}: partitions with no owner ${missing.join(',')}`);
    };
    nameNew(await stableAssignment(admin, routerGroup, w.topics.inbound, 1), 'router-1');
    const hist = await stableAssignment(admin, historyGroup, w.topics.inbound, 2);
    let h = 0;
    for (const id of hist.keys()) names.set(id, `history-${++h}`);
    show('history group, omni.inbound.v1', hist);

    // ---- agents on replica 1 that accept and resolve every offer (assignments to check)
    const r1 = routers[0]!.url;
    for (let i = 1; i <= AGENTS; i++) {
      const id = `agent-${i}`;
      const res = await fetch(`${r1}/v1/admin/agents/${id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', ...bearer('admin') },
        body: JSON.stringify({ name: id, tiers: [1, 2, 3, 4, 5], skills: [], languages: ['es', 'en'], capacity: { chat: CAPACITY, email: 1, phone: 1 } }),
      });
      if (res.status !== 200 && res.status !== 201) throw new Error(`agent ${id}: HTTP ${res.status}`);
      const onFrame = (c: AgentClient, f: Frame) => {
        if (f.type === 'offer') c.fire({ type: 'accept', conversationId: f.conversationId });
        if (f.type === 'assigned') c.fire({ type: 'resolve', conversationId: f.conversationId });
      };
      agents.push(await AgentClient.connect(r1, id, testToken('agent', id), { presence: 'online', onFrame }));
    }

    // ---- the load: customer messages straight onto omni.inbound.v1, one thread each
    publisher = new Publisher(createKafka({ brokers, clientId: `scale-feeder-${w.id}`, logger: testLogger }));
    await publisher.connect();
    const sent: string[] = [];
    let n = 0;
    const envelope = (): InboundMessage => {
      const i = ++n;
      const now = new Date().toISOString();
      const pid = `${w.id}-${i}`;
      return {
        schema: 'omni.inbound.v1',
        messageId: derivedId('msg', pid),
        channel: 'chat',
        provider: 'bench',
        providerMessageId: pid,
        threadKey: `chat:scale-${i}`,
        from: { channel: 'chat', address: `visitor-${i}` },
        sentAt: now,
        receivedAt: now,
        text: i % 3 ? 'No puedo entrar, olvidé mi contraseña' : 'My order has not arrived yet, where is it?',
      };
    };
    const publish = async (count: number) => {
      const batch = Array.from({ length: count }, envelope);
      for (let i = 0; i < batch.length; i += 500) {
        const part = batch.slice(i, i + 500);
        await publisher!.publish(part.map((value) => ({ topic: w.topics.inbound, key: value.threadKey, value, schema: InboundMessage })));
        sent.push(...part.map((v) => v.messageId));
      }
    };
    const count = async (sql: string, ids: string[]) => (await w.pool.query<{ n: number }>(sql, [ids])).rows[0]!.n;
    const routedOf = (ids: string[]) => count('SELECT count(DISTINCT message_id)::int AS n FROM router.conversation_messages WHERE message_id = ANY($1::text[])', ids);
    const onTimelineOf = (ids: string[]) => count(`SELECT count(DISTINCT event_id)::int AS n FROM history.timeline WHERE kind = 'message.inbound' AND event_id = ANY($1::text[])`, ids);

    // ---- 1. throughput per router replica count
    const table: { routers: number; routedPerS: number; historyPerS: number; routedS: number; historyS: number; machineBusy: number; routerCpu: number[] }[] = [];
    for (let k = 1; k <= 3; k++) {
      if (k > 1) {
        const p = await startServiceProcess('router', routerEnv);
        routers.push(p);
        procs.push(p);
        nameNew(await stableAssignment(admin, routerGroup, w.topics.inbound, k), `router-${k}`);
      }
      show(`${k} router replica(s), router group on omni.inbound.v1`, await stableAssignment(admin, routerGroup, w.topics.inbound, k));
      const from = sent.length;
      const cpu0 = routers.map((r) => processCpuSeconds(r?.child.pid));
      const m0 = machineCpu();
      const t0 = Date.now();
      await publish(M);
      const ids = sent.slice(from);
      let routedAt = 0;
      let historyAt = 0;
      await until(
        `${M} messages routed and on the timeline with ${k} router(s)`,
        async () => {
          if (!routedAt && (await routedOf(ids)) === ids.length) routedAt = Date.now();
          if (!historyAt && (await onTimelineOf(ids)) === ids.length) historyAt = Date.now();
          return routedAt && historyAt ? true : undefined;
        },
        600000,
        100,
      );
      const m1 = machineCpu();
      const routerCpu = routers.map((r, i) => processCpuSeconds(r?.child.pid) - cpu0[i]!);
      const machineBusy = (m1.busy - m0.busy) / Math.max(1, m1.total - m0.total);
      const row = { routers: k, routedS: (routedAt - t0) / 1000, historyS: (historyAt - t0) / 1000, routedPerS: (M / (routedAt - t0)) * 1000, historyPerS: (M / (historyAt - t0)) * 1000, machineBusy, routerCpu };
      table.push(row);
      log(
        `${k} router(s): ${M} messages routed in ${row.routedS.toFixed(1)} s (${row.routedPerS.toFixed(0)}/s); on the timeline (2 history replicas) in ${row.historyS.toFixed(1)} s (${row.historyPerS.toFixed(0)}/s); ` +
          `router CPU s ${routerCpu.map((c) => c.toFixed(1)).join(' + ')}; machine CPU busy ${(machineBusy * 100).toFixed(0)}%`,
      );
    }

    // ---- 2. a replica leaves and returns under steady load
    let loading = true;
    const steady = (async () => {
      while (loading) {
        const t = Date.now();
        await publish(Math.max(1, Math.round(RATE / 10))).catch((err: Error) => failures.push(`steady publish failed: ${err.message}`));
        await sleep(Math.max(0, 100 - (Date.now() - t)));
      }
    })();
    await sleep(PHASE_MS / 2);
    show('before the stop (3 routers)', await stableAssignment(admin, routerGroup, w.topics.inbound, 3));
    const leaving = routers[2]!;
    const stopAt = Date.now();
    log('stopping router-3 (SIGTERM) under load');
    await leaving.stop();
    show(`after router-3 stopped (rebalanced in ${((Date.now() - stopAt) / 1000).toFixed(1)} s incl. shutdown)`, await stableAssignment(admin, routerGroup, w.topics.inbound, 2));
    await sleep(PHASE_MS / 2);
    log('starting router-3 again under load');
    const back = await startServiceProcess('router', routerEnv);
    routers[2] = back;
    procs.push(back);
    const backAssignment = await stableAssignment(admin, routerGroup, w.topics.inbound, 3);
    nameNew(backAssignment, 'router-3 (returned)');
    show('after router-3 returned', backAssignment);
    await sleep(PHASE_MS / 2);
    loading = false;
    await steady;
    const steadyCount = sent.length - 3 * M;

    // ---- 3. drain and check
    log(`load over: ${sent.length} messages published (${steadyCount} during the stop/start); draining`);
    await until('every message routed and on the timeline', async () => ((await routedOf(sent)) === sent.length && (await onTimelineOf(sent)) === sent.length ? true : undefined), 600000, 1000).catch(
      (err: Error) => failures.push(err.message),
    );
    const routed = await routedOf(sent);
    const onTimeline = await onTimelineOf(sent);
    const twiceRouted = (await w.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM (SELECT message_id FROM router.conversation_messages GROUP BY message_id HAVING count(*) > 1) x')).rows[0]!.n;
    const threadsTwice = (await w.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM (SELECT thread_key FROM router.conversations GROUP BY thread_key HAVING count(*) > 1) x')).rows[0]!.n;
    const assignedTwice = await conversationsHeldTwice(w);
    const assignedTotal = (await w.pool.query<{ n: number }>(`SELECT count(DISTINCT frame->>'conversationId')::int AS n FROM router.agent_events WHERE frame->>'type' = 'assigned'`)).rows[0]!.n;
    if (routed !== sent.length) failures.push(`${sent.length - routed} messages not routed (lost)`);
    if (onTimeline !== sent.length) failures.push(`${sent.length - onTimeline} messages not on the timeline (lost)`);
    if (twiceRouted) failures.push(`${twiceRouted} messages routed twice`);
    if (threadsTwice) failures.push(`${threadsTwice} threads with two conversations (a message processed twice)`);
    if (assignedTwice.length) failures.push(`${assignedTwice.length} conversations held by two agents at once: ${assignedTwice.slice(0, 5).join(', ')}`);

    console.log(`\nscale-out: 3-broker KRaft cluster (RF 3, min ISR 2), ${PARTITIONS} partitions, 2 history replicas, ${M} messages per burst, ${AGENTS} agents (capacity ${CAPACITY}) accepting and resolving`);
    console.log(
      ['routers'.padEnd(8), 'routed/s'.padStart(9), 'routed in s'.padStart(12), 'timeline/s'.padStart(11), 'timeline in s'.padStart(14), 'vs 1 router'.padStart(12), 'CPU s per router replica'.padStart(26), 'machine busy'.padStart(13)].join(' '),
    );
    for (const r of table)
      console.log(
        [
          String(r.routers).padEnd(8),
          r.routedPerS.toFixed(0).padStart(9),
          r.routedS.toFixed(1).padStart(12),
          r.historyPerS.toFixed(0).padStart(11),
          r.historyS.toFixed(1).padStart(14),
          `${((r.routedPerS / table[0]!.routedPerS) * 100).toFixed(0)}%`.padStart(12),
          r.routerCpu.map((c) => c.toFixed(1)).join(' / ').padStart(26),
          `${(r.machineBusy * 100).toFixed(0)}%`.padStart(13),
        ].join(' '),
      );
    console.log('CPU s per router replica: CPU time each router process used during the burst (the work divides between replicas); machine busy: all cores, during the burst');
    console.log(`messages published ${sent.length}; routed ${routed}; on the timeline ${onTimeline}; routed twice ${twiceRouted}; threads with two conversations ${threadsTwice}`);
    console.log(`conversations assigned to an agent ${assignedTotal}; held by two agents at once ${assignedTwice.length}`);
    console.log(`machine: ${cpus().length} CPU cores shared by the 3 brokers, PostgreSQL, the 5 service processes and this driver; took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } catch (err) {
    failures.push(`aborted: ${(err as Error).stack ?? (err as Error).message}`);
  } finally {
    for (const a of agents) await a.close().catch(() => undefined);
    await publisher?.disconnect().catch(() => undefined);
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
    await world?.close().catch(() => undefined);
    await kafkaSh('stop').catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    if (pgName) stopEmbedded(pgName, process.env, true);
  }
  if (failures.length) {
    log(`FAILED:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  } else log('passed: every partition had one owner through the rebalances; no message lost or routed twice; no conversation held twice');
}

/**
 * From every agent's numbered event log (what the consoles were sent, in order): conversations whose
 * assigned periods overlap, on two agents or twice on one (as bench/chaos.ts checks it).
 */
async function conversationsHeldTwice(w: TestWorld): Promise<string[]> {
  const { rows } = await w.pool.query<{ agent_id: string; frame: { type: string; conversationId?: string; at: string } }>('SELECT agent_id, frame FROM router.agent_events ORDER BY agent_id, seq');
  const periods = new Map<string, { from: number; to: number }[]>();
  const open = new Map<string, number>(); // agent|conversation → assigned at
  const twice = new Set<string>();
  for (const r of rows) {
    const c = r.frame.conversationId;
    if (!c) continue;
    const key = `${r.agent_id}|${c}`;
    const at = Date.parse(r.frame.at);
    if (r.frame.type === 'assigned') {
      if (open.has(key)) twice.add(c);
      open.set(key, at);
    } else if (r.frame.type === 'unassigned' && open.has(key)) {
      periods.set(c, [...(periods.get(c) ?? []), { from: open.get(key)!, to: at }]);
      open.delete(key);
    }
  }
  for (const [key, from] of open) {
    const c = key.slice(key.indexOf('|') + 1);
    periods.set(c, [...(periods.get(c) ?? []), { from, to: Infinity }]);
  }
  for (const [c, list] of periods) {
    const sorted = [...list].sort((a, b) => a.from - b.from);
    for (let i = 1; i < sorted.length; i++) if (sorted[i]!.from < sorted[i - 1]!.to) twice.add(c);
  }
  return [...twice];
}

main().catch((err: Error) => {
  process.stderr.write(`scale-out: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
