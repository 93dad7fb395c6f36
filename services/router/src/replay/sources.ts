import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { check, ConversationEvent, InboundMessage } from '@omni/contracts';
import type { Rule } from '../domain/rules';
import type { AgentProfile, DecisionEvent, RecordedInput, Recording } from './types';

/**
 * Reads a window of what the router already records into memory (never writing anything):
 * - customer messages: omni.inbound.v1 from the offsets of `from` (admin.fetchTopicOffsetsByTimestamp)
 *   to those past `to`;
 * - the live decisions: omni.conversations.v1 over the same window (the faithfulness reference and
 *   the agents' recorded answers and handling times);
 * - agents' presence: router.agent_events presence frames (the last before the window is the
 *   starting presence), profiles: router.agents (current: profile history is not recorded);
 * - the rule set that was live: the rule_version of the window's conversations (router.conversations);
 * - customers' profiles (router.customer_profiles, current) and escalations of the 30 days before.
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
  const consumer = kafka.consumer({ groupId, sessionTimeout: 30_000, retry: { retries: 5 } });
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
  ruleTimeline: { from: number; version: number; rules: Rule[] }[];
  /** rule versions the window's conversations were classified with (more than one: the rules changed inside the window) */
  ruleVersionsSeen: number[];
}

export interface WindowSource {
  recording: Recording;
  live: LiveSettings;
  /** inputs dropped, with why (invalid envelopes, presence frames replay derives itself, …) */
  skipped: { what: string; why: string }[];
}

const padOffset = (o: string) => o.padStart(20, '0');

/**
 * Builds the replay's recording of [from, to] from Kafka and PostgreSQL. A message's time is when the
 * router decided on it (the occurredAt of the opened/message/reopened event naming it), else its
 * Kafka timestamp; messages sharing an instant keep their (partition, offset) order.
 */
export async function loadWindow(kafka: Kafka, pool: Pool, topics: { inbound: string; conversations: string }, from: number, to: number): Promise<WindowSource> {
  const skipped: WindowSource['skipped'] = [];
  const [inbound, events] = [await readTopicWindow(kafka, topics.inbound, from, to), await readTopicWindow(kafka, topics.conversations, from, to)];
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
    const agents = await client.query<{ id: string; tiers: number[]; skills: string[]; languages: string[]; capacity: Record<string, number> }>(
      'SELECT id, tiers, skills, languages, capacity FROM router.agents ORDER BY id',
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
    const ruleRow = await client.query<{ version: number; rules: Rule[] }>(
      startVersion !== undefined && startVersion !== null
        ? 'SELECT version, rules FROM router.rule_sets WHERE version = $1'
        : 'SELECT version, rules FROM router.rule_sets WHERE created_at <= $1 ORDER BY version DESC LIMIT 1',
      [startVersion ?? new Date(from)],
    );
    const active = ruleRow.rows[0] ?? (await client.query<{ version: number; rules: Rule[] }>('SELECT version, rules FROM router.rule_sets WHERE active')).rows[0];
    const timelineRules = inWindow.length
      ? await client.query<{ version: number; rules: Rule[] }>('SELECT version, rules FROM router.rule_sets WHERE version = ANY($1::int[])', [inWindow.map((a) => a.version)])
      : { rows: [] };
    const ruleTimeline = inWindow.flatMap((a) => {
      const r = timelineRules.rows.find((x) => x.version === a.version);
      return r ? [{ from: a.at.getTime(), version: r.version, rules: r.rules }] : [];
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
    await client.query('COMMIT');

    const profileOf = new Map(profiles.rows.map((p) => [p.identity, p]));
    const escalationsBefore = new Map(before.rows.map((r) => [r.key, r.n]));
    const inputs: RecordedInput[] = messages.map(({ m, at, order }) => {
      const key = `${m.from.channel}:${m.from.address}`;
      const p = profileOf.get(key);
      return { kind: 'message', at, order, message: m, customer: { attributes: p?.attributes ?? {}, displayName: p?.display_name ?? null, recentEscalations: escalationsBefore.get(key) ?? 0 } };
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
    const agentProfiles: AgentProfile[] = agents.rows.map((a) => ({ id: a.id, tiers: a.tiers, skills: a.skills, languages: a.languages, capacity: a.capacity, presence: start.get(a.id) ?? 'offline', idleSince: from }));
    return {
      recording: { from, to, inputs, agents: agentProfiles, decisions },
      live: { rules: active?.rules ?? [], ruleVersion: active?.version ?? 0, ruleTimeline, ruleVersionsSeen },
      skipped,
    };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
