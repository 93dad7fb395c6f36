import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { AgentEvent, check, ConversationEvent, derivedId, InboundMessage } from '@omni/contracts';
import type { BusinessHours } from '../domain/business-hours';
import type { LifecyclePolicy } from '../domain/lifecycle';
import type { PriorityAgeing, Proficiency } from '../domain/preference';
import type { Rule } from '../domain/rules';
import type { SelfServiceSetting } from '../domain/self-service';
import { consoleSessions, profileVersions, selfServiceAnswers, settingsVersions, type LifecycleSettings } from '../store/replay-recordings';
import type { AgentProfile, DecisionEvent, RecordedInput, Recording } from './types';

/**
 * Reads a window of what the router already records into memory (never writing anything):
 * - customer messages: omni.inbound.v1 from the offsets of `from` (admin.fetchTopicOffsetsByTimestamp)
 *   to those past `to`;
 * - the live decisions: omni.conversations.v1 over the same window (the faithfulness reference and
 *   the agents' recorded answers and handling times);
 * - agents' presence: router.agent_events presence frames (the last before the window is the
 *   starting presence); profiles: router.agent_profile_versions (the version in force at each
 *   instant; router.agents for an agent without versions); consoles: router.agent_console_sessions;
 * - the rule set and business hours that were live (audit_log activations, router.conversations'
 *   rule_version), the lifecycle settings (router.lifecycle_settings_versions, else the env) with
 *   priority ageing and WRAP_UP_MS; wrap-ups ended early: omni.agents.v1 agent.wrap-up-ended by the agent;
 * - customers' attributes as classification saw them (router.conversations.customer_attributes,
 *   written with the classification; router.customer_profiles — current — for a conversation the
 *   table no longer has) and escalations of the 30 days before.
 * PostgreSQL is read in one READ ONLY transaction.
 */

export interface KafkaRecord {
  partition: number;
  offset: string;
  timestamp: number;
  value: unknown;
}

/** The records of a topic whose Kafka timestamps fall in [from, to], in (partition, offset) order. */
export async function readTopicWindow(kafka: Kafka, topic: string, from: number, to: number, opts: { timeoutMs?: number } = {}): Promise<KafkaRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  let ranges: { partition: number; start: bigint; end: bigint }[];
  try {
    const starts = await admin.fetchTopicOffsetsByTimestamp(topic, from);
    const ends = await admin.fetchTopicOffsetsByTimestamp(topic, to + 1);
    const high = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
    ranges = starts.map((s) => {
      const e = ends.find((x) => x.partition === s.partition);
      const hi = high.get(s.partition) ?? 0n;
      const start = BigInt(s.offset) < 0n ? hi : BigInt(s.offset);
      const end = !e || BigInt(e.offset) < 0n ? hi : BigInt(e.offset);
      return { partition: s.partition, start, end: end < start ? start : end };
    });
  } finally {
    await admin.disconnect();
  }
  const todo = ranges.filter((r) => r.end > r.start);
  if (todo.length === 0) return [];
  const groupId = `replay-${randomBytes(6).toString('hex')}`;
  // a bounded read that ends in a disconnect, which waits for the fetch in flight: a short broker wait
  // (a fetch with data returns at once; only the last, idle one waits) instead of kafkajs's 5 s
  const consumer = kafka.consumer({ groupId, sessionTimeout: 30_000, retry: { retries: 5 }, maxWaitTimeInMs: 250 });
  const out: KafkaRecord[] = [];
  const remaining = new Map(todo.map((r) => [r.partition, r]));
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((r) => (resolveDone = r));
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const r = remaining.get(batch.partition);
        if (!r) return;
        for (const m of batch.messages) {
          const off = BigInt(m.offset);
          if (off < r.start) continue;
          if (off >= r.end) break;
          const ts = Number(m.timestamp);
          let value: unknown;
          try {
            value = JSON.parse(m.value?.toString('utf8') ?? 'null');
          } catch {
            value = undefined;
          }
          if (ts >= from && ts <= to) out.push({ partition: batch.partition, offset: m.offset, timestamp: ts, value });
        }
        const last = batch.messages.at(-1);
        if (last && BigInt(last.offset) + 1n >= r.end) {
          remaining.delete(batch.partition);
          consumer.pause([{ topic, partitions: [batch.partition] }]);
          if (remaining.size === 0) resolveDone();
        }
      },
    });
    for (const r of todo) consumer.seek({ topic, partition: r.partition, offset: r.start.toString() });
    const timeoutMs = opts.timeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`reading ${topic}: partitions ${[...remaining.keys()].join(',')} not read to their end within ${timeoutMs} ms`)), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect().catch(() => undefined);
    const admin2 = kafka.admin();
    await admin2.connect().catch(() => undefined);
    await admin2.deleteGroups([groupId]).catch(() => undefined);
    await admin2.disconnect().catch(() => undefined);
  }
  return out.sort((a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
}

/** A conversation event as replay compares it. */
export function decisionOf(e: ConversationEvent): DecisionEvent {
  return {
    conversationId: e.conversationId,
    type: e.type,
    at: Date.parse(e.occurredAt),
    ...(e.agentId ? { agentId: e.agentId } : {}),
    ...(e.toAgentId ? { toAgentId: e.toAgentId } : {}),
    tier: e.tier,
    ...(e.fromTier !== undefined ? { fromTier: e.fromTier } : {}),
    ...(e.category ? { category: e.category } : {}),
    ...(e.reason ? { reason: e.reason } : {}),
    ...(e.handoffNote ? { handoffNote: e.handoffNote } : {}),
  };
}

export interface LiveSettings {
  /** the rule set active at the window's start */
  rules: Rule[];
  ruleVersion: number;
  /** rule versions activated inside the window (audit_log rules.replace / rules.activate), in order */
  ruleTimeline: { from: number; version: number; rules: Rule[]; selfService: SelfServiceSetting | null }[];
  /** the self-service setting versioned with the rules at the start (rule_sets.self_service) */
  selfService: SelfServiceSetting | null;
  /** rule versions the window's conversations were classified with (more than one: the rules changed inside the window) */
  ruleVersionsSeen: number[];
  /** the recorded lifecycle settings in force at the start and the versions recorded inside the window (absent: none recorded, the env applies) */
  policy?: LifecyclePolicy;
  policyTimeline: { from: number; policy: LifecyclePolicy; ageing?: PriorityAgeing; wrapUpMs?: number }[];
  /** priority ageing recorded with the settings in force at the start (absent: off, or no settings recorded) */
  ageing?: PriorityAgeing;
  /** WRAP_UP_MS recorded with the settings in force at the start (absent: none, or no settings recorded) */
  wrapUpMs?: number;
  /** business hours in force at the start (null: always open) and activated inside the window */
  hours: BusinessHours | null;
  hoursTimeline: { from: number; hours: BusinessHours | null }[];
}

/** A recorded settings version as the lifecycle takes it. */
export function policyOf(s: LifecycleSettings): LifecyclePolicy {
  return {
    offerTimeoutMs: s.offerTimeoutMs,
    reopenWindowMs: s.reopenWindowMs,
    slaMsByTier: Object.fromEntries(Object.entries(s.slaMsByTier).map(([t, v]) => [Number(t), v])),
    overflowMode: s.overflowMode,
    maxConsecutiveOfferTimeouts: s.maxConsecutiveOfferTimeouts,
  };
}

/** Proficiency levels as the matcher takes them (live: store/agents.ts, an empty object is none). */
const levels = (p: Proficiency | null | undefined): { proficiency?: Proficiency } => (p && Object.keys(p).length ? { proficiency: p } : {});

/** What the match pass and wrap-up take from a recorded settings version besides the lifecycle policy. */
function settingsExtras(s: LifecycleSettings): { ageing?: PriorityAgeing; wrapUpMs?: number } {
  return { ...(s.priorityAgeing ? { ageing: s.priorityAgeing } : {}), ...(s.wrapUpMs > 0 ? { wrapUpMs: s.wrapUpMs } : {}) };
}

/** Versions by time: the one in force at `from` (else the earliest: nothing older is known) and those taking effect in (from, to]. */
export function inForce<T extends { at: number }>(versions: T[], from: number, to: number): { start: T | undefined; inWindow: T[] } {
  const before = versions.filter((v) => v.at <= from);
  return { start: before.at(-1) ?? versions[0], inWindow: versions.filter((v) => v.at > from && v.at <= to) };
}

export interface WindowSource {
  recording: Recording;
  live: LiveSettings;
  /** inputs dropped, with why (invalid envelopes, presence frames replay derives itself, …) */
  skipped: { what: string; why: string }[];
}

type RuleSetRow = { version: number; rules: Rule[]; self_service: SelfServiceSetting | null };

const padOffset = (o: string) => o.padStart(20, '0');

/**
 * Builds the replay's recording of [from, to] from Kafka and PostgreSQL. A message's time is when the
 * router decided on it (the occurredAt of the opened/message/reopened event naming it), else its
 * Kafka timestamp; messages sharing an instant keep their (partition, offset) order.
 */
export async function loadWindow(kafka: Kafka, pool: Pool, topics: { inbound: string; conversations: string; agents?: string }, from: number, to: number): Promise<WindowSource> {
  const skipped: WindowSource['skipped'] = [];
  const [inbound, events] = [await readTopicWindow(kafka, topics.inbound, from, to), await readTopicWindow(kafka, topics.conversations, from, to)];
  // wrap-ups the agents ended early (omni.agents.v1 agent.wrap-up-ended by the agent; those at their maximum replay derives itself)
  const wrapUpEnds: RecordedInput[] = [];
  for (const r of topics.agents ? await readTopicWindow(kafka, topics.agents, from, to) : []) {
    if (!check(AgentEvent, r.value)) {
      skipped.push({ what: `${topics.agents}/${r.partition}@${r.offset}`, why: 'not a valid omni.agents.v1 event' });
      continue;
    }
    const e = r.value;
    const at = Date.parse(e.occurredAt);
    if (e.type === 'agent.wrap-up-ended' && e.actor.type === 'agent' && at >= from && at <= to)
      wrapUpEnds.push({ kind: 'wrap-up-ended', at, agentId: e.agentId, ...(e.conversationId ? { conversationId: e.conversationId } : {}) });
  }
  const decisions: DecisionEvent[] = [];
  const decidedAt = new Map<string, number>();
  for (const r of events) {
    if (!check(ConversationEvent, r.value)) {
      skipped.push({ what: `${topics.conversations}/${r.partition}@${r.offset}`, why: 'not a valid omni.conversations.v1 event' });
      continue;
    }
    const d = decisionOf(r.value);
    if (d.at < from || d.at > to) continue;
    decisions.push(d);
    const mid = r.value.messageId;
    if (mid && ['conversation.opened', 'conversation.message', 'conversation.reopened'].includes(d.type) && !decidedAt.has(mid)) decidedAt.set(mid, d.at);
  }
  // per conversation, in the order the router decided (a conversation's events share a partition, in order)
  const messages: { m: InboundMessage; at: number; order: string }[] = [];
  for (const r of inbound) {
    if (!check(InboundMessage, r.value)) {
      skipped.push({ what: `${topics.inbound}/${r.partition}@${r.offset}`, why: 'not a valid omni.inbound.v1 envelope (the router dead-letters these)' });
      continue;
    }
    const at = decidedAt.get(r.value.messageId) ?? r.timestamp;
    messages.push({ m: r.value, at, order: `${String(r.partition).padStart(5, '0')}:${padOffset(r.offset)}` });
  }

  const client = await pool.connect();
  try {
    await client.query('BEGIN READ ONLY');
    const agents = await client.query<{ id: string; tiers: number[]; skills: string[]; languages: string[]; capacity: Record<string, number>; proficiency: Proficiency }>(
      'SELECT id, tiers, skills, languages, capacity, proficiency FROM router.agents ORDER BY id',
    );
    const frames = await client.query<{ agent_id: string; seq: string; presence: string; reason: string | null; at: string }>(
      `SELECT agent_id, seq, frame->>'presence' AS presence, frame->>'reason' AS reason, COALESCE(frame->>'at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) AS at
         FROM router.agent_events WHERE frame->>'type' = 'presence' ORDER BY agent_id, seq`,
    );
    const conv = await client.query<{ rule_version: number | null; n: string }>(
      'SELECT rule_version, count(*) AS n FROM router.conversations WHERE opened_at BETWEEN $1 AND $2 GROUP BY rule_version ORDER BY count(*) DESC, rule_version DESC',
      [new Date(from), new Date(to)],
    );
    const ruleVersionsSeen = conv.rows.flatMap((r) => (r.rule_version === null ? [] : [r.rule_version])).sort((a, b) => a - b);
    // activations (an edit makes its new version active; an activate rolls back) with their times
    const activations = await client.query<{ at: Date; version: number; before_version: number | null }>(
      `SELECT at, (after->>'version')::int AS version, (before->>'version')::int AS before_version FROM router.audit_log
        WHERE action IN ('rules.replace', 'rules.activate') AND outcome = 'ok' AND after ? 'version' AND at <= $1 ORDER BY seq`,
      [new Date(to)],
    );
    const atStart = activations.rows.filter((a) => a.at.getTime() < from).at(-1)?.version;
    const inWindow = activations.rows.filter((a) => a.at.getTime() >= from);
    // at the start: the last activation before it, else what the first one inside replaced, else what the window's conversations say
    const startVersion = atStart ?? inWindow[0]?.before_version ?? (inWindow.length ? undefined : (conv.rows[0]?.rule_version ?? undefined));
    const ruleRow = await client.query<RuleSetRow>(
      startVersion !== undefined && startVersion !== null
        ? 'SELECT version, rules, self_service FROM router.rule_sets WHERE version = $1'
        : 'SELECT version, rules, self_service FROM router.rule_sets WHERE created_at <= $1 ORDER BY version DESC LIMIT 1',
      [startVersion ?? new Date(from)],
    );
    const active = ruleRow.rows[0] ?? (await client.query<RuleSetRow>('SELECT version, rules, self_service FROM router.rule_sets WHERE active')).rows[0];
    const timelineRules = inWindow.length
      ? await client.query<RuleSetRow>('SELECT version, rules, self_service FROM router.rule_sets WHERE version = ANY($1::int[])', [inWindow.map((a) => a.version)])
      : { rows: [] };
    const ruleTimeline = inWindow.flatMap((a) => {
      const r = timelineRules.rows.find((x) => x.version === a.version);
      return r ? [{ from: a.at.getTime(), version: r.version, rules: r.rules, selfService: r.self_service }] : [];
    });
    const keys = [...new Set(messages.map((x) => `${x.m.from.channel}:${x.m.from.address}`))];
    const profiles = await client.query<{ identity: string; display_name: string | null; attributes: Record<string, unknown> }>(
      'SELECT identity, display_name, attributes FROM router.customer_profiles WHERE identity = ANY($1::text[])',
      [keys],
    );
    const before = await client.query<{ key: string; n: number }>(
      `SELECT customer_key AS key, COALESCE(sum(escalations), 0)::int AS n FROM router.conversations
        WHERE customer_key = ANY($1::text[]) AND opened_at > $2::timestamptz - interval '30 days' AND opened_at < $2::timestamptz GROUP BY customer_key`,
      [keys, new Date(from)],
    );
    const opened = await client.query<{ id: string; customer_attributes: Record<string, unknown> }>(
      'SELECT id, customer_attributes FROM router.conversations WHERE opened_at BETWEEN $1::timestamptz AND $2::timestamptz',
      [new Date(from), new Date(to)],
    );
    const versions = await profileVersions(client, new Date(to));
    const sessions = await consoleSessions(client, new Date(to));
    const tier0 = await selfServiceAnswers(client, new Date(from), new Date(to));
    const settings = await settingsVersions(client, new Date(to));
    const hoursActivations = await client.query<{ at: Date; version: number; before_version: number | null }>(
      `SELECT at, (after->>'version')::int AS version, (before->>'version')::int AS before_version FROM router.audit_log
        WHERE action IN ('business-hours.replace', 'business-hours.activate') AND outcome = 'ok' AND after ? 'version' AND at <= $1 ORDER BY seq`,
      [new Date(to)],
    );
    const hoursRows = await client.query<{ version: number; hours: BusinessHours }>('SELECT version, hours FROM router.business_hours');
    await client.query('COMMIT');

    const profileOf = new Map(profiles.rows.map((p) => [p.identity, p]));
    const escalationsBefore = new Map(before.rows.map((r) => [r.key, r.n]));
    const classifiedWith = new Map(opened.rows.map((r) => [r.id, r.customer_attributes]));
    const inputs: RecordedInput[] = messages.map(({ m, at, order }) => {
      const key = `${m.from.channel}:${m.from.address}`;
      const p = profileOf.get(key);
      // what classification saw when this message opened a conversation; the current profile otherwise
      const attributes = classifiedWith.get(derivedId('conv', m.messageId)) ?? p?.attributes ?? {};
      const articles = tier0.get(derivedId('conv', m.messageId));
      return { kind: 'message', at, order, message: m, customer: { attributes, displayName: p?.display_name ?? null, recentEscalations: escalationsBefore.get(key) ?? 0 }, ...(articles ? { selfServiceArticles: articles } : {}) };
    });
    const start = new Map<string, AgentProfile['presence']>();
    for (const f of frames.rows) {
      const at = Date.parse(f.at);
      const presence = f.presence as AgentProfile['presence'];
      if (!['online', 'away', 'offline'].includes(presence)) continue;
      if (at < from) start.set(f.agent_id, presence);
      else if (at <= to) {
        // the lifecycle sets an agent away after lapsed offers itself (agentTimedOut): replay derives it
        if (f.reason && /offers expired in a row/.test(f.reason)) {
          skipped.push({ what: `agent ${f.agent_id} presence ${presence} at ${f.at}`, why: 'derived by replay (offers lapsed in a row)' });
          continue;
        }
        inputs.push({ kind: 'presence', at, agentId: f.agent_id, presence });
      }
    }
    // profiles: the version in force at the start, each later one an input at its time
    const byAgent = new Map<string, (typeof versions)[number][]>();
    for (const v of versions) byAgent.set(v.agent_id, [...(byAgent.get(v.agent_id) ?? []), v]);
    const sessionsOf = new Map<string, (typeof sessions)[number][]>();
    for (const x of sessions) sessionsOf.set(x.agent_id, [...(sessionsOf.get(x.agent_id) ?? []), x]);
    const agentProfiles: AgentProfile[] = agents.rows.map((a) => {
      const vs = inForce((byAgent.get(a.id) ?? []).map((v) => ({ ...v, at: v.valid_from.getTime() })), from, to);
      for (const v of vs.inWindow) inputs.push({ kind: 'profile', at: v.at, agentId: a.id, tiers: v.tiers, skills: v.skills, languages: v.languages, capacity: v.capacity, ...levels(v.proficiency) });
      const p = vs.start ?? a;
      // consoles: attached at the start if a session spans it; each attach and detach inside the window an input
      const ss = sessionsOf.get(a.id);
      let attached: boolean | undefined;
      if (ss) {
        attached = ss.some((x) => x.attached_at.getTime() <= from && (x.detached_at === null || x.detached_at.getTime() > from));
        for (const x of ss) {
          if (x.attached_at.getTime() > from) inputs.push({ kind: 'console', at: x.attached_at.getTime(), agentId: a.id, attached: true });
          if (x.detached_at && x.detached_at.getTime() > from && x.detached_at.getTime() <= to) inputs.push({ kind: 'console', at: x.detached_at.getTime(), agentId: a.id, attached: false });
        }
      }
      return { id: a.id, tiers: p.tiers, skills: p.skills, languages: p.languages, capacity: p.capacity, ...levels(p.proficiency), presence: start.get(a.id) ?? 'offline', idleSince: from, ...(attached !== undefined ? { attached } : {}) };
    });
    const st = inForce(settings.map((v) => ({ ...v, at: v.valid_from.getTime() })), from, to);
    const hoursOf = new Map(hoursRows.rows.map((r) => [r.version, r.hours]));
    const hoursAt = hoursActivations.rows.map((a) => ({ at: a.at.getTime(), hours: hoursOf.get(a.version) ?? null, before: a.before_version }));
    const hoursStart = hoursAt.filter((a) => a.at <= from).at(-1);
    const hoursIn = hoursAt.filter((a) => a.at > from);
    // at the start: the last activation before it, else what the first one inside replaced (none: always open)
    const hoursAtStart = hoursStart ? hoursStart.hours : hoursIn[0]?.before ? (hoursOf.get(hoursIn[0].before) ?? null) : null;
    return {
      recording: { from, to, inputs: [...inputs, ...wrapUpEnds], agents: agentProfiles, decisions },
      live: {
        rules: active?.rules ?? [],
        ruleVersion: active?.version ?? 0,
        ruleTimeline,
        selfService: active?.self_service ?? null,
        ruleVersionsSeen,
        ...(st.start ? { policy: policyOf(st.start.settings), ...settingsExtras(st.start.settings) } : {}),
        policyTimeline: st.inWindow.map((v) => ({ from: v.at, policy: policyOf(v.settings), ...settingsExtras(v.settings) })),
        hours: hoursAtStart,
        hoursTimeline: hoursIn.map((h) => ({ from: h.at, hours: h.hours })),
      },
      skipped,
    };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
