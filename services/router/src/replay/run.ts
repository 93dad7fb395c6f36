import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import type { LifecyclePolicy } from '../domain/lifecycle';
import type { PriorityAgeing } from '../domain/preference';
import { DEFAULT_BEHAVIOUR, RecordedBehaviour } from './behaviour';
import { DEFAULT_POLICY, parseReplayConfig, type ConfigProblem } from './config';
import { replay } from './engine';
import { compare, type Report } from './report';
import { loadWindow, type WindowSource } from './sources';
import { oldestOpenAt } from '../store/replay-recordings';
import type { ReplayConfig } from './types';

/** The live lifecycle parameters from the router's env (the same names and defaults as services/router/src/config.ts). */
export function policyFromEnv(env: NodeJS.ProcessEnv): LifecyclePolicy {
  const n = (k: string, d: number) => {
    const v = env[k];
    if (v === undefined || v === '') return d;
    const x = Number(v);
    if (!Number.isInteger(x) || x < 0) throw new Error(`${k} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return x;
  };
  const mode = env.OVERFLOW_MODE ?? DEFAULT_POLICY.overflowMode;
  if (mode !== 'widen' && mode !== 'escalate') throw new Error(`OVERFLOW_MODE must be widen or escalate, got ${JSON.stringify(mode)}`);
  return {
    offerTimeoutMs: n('OFFER_TIMEOUT_MS', DEFAULT_POLICY.offerTimeoutMs),
    reopenWindowMs: n('REOPEN_WINDOW_MS', DEFAULT_POLICY.reopenWindowMs),
    slaMsByTier: Object.fromEntries([1, 2, 3, 4, 5].map((t) => [t, n(`QUEUE_SLA_MS_TIER_${t}`, DEFAULT_POLICY.slaMsByTier[t]!)])),
    overflowMode: mode,
    maxConsecutiveOfferTimeouts: n('MAX_CONSECUTIVE_OFFER_TIMEOUTS', DEFAULT_POLICY.maxConsecutiveOfferTimeouts),
  };
}

/** Priority ageing and wrap-up from the router's env (PRIORITY_AGEING_*, WRAP_UP_MS; config.ts's defaults: off), where no settings were recorded. */
function extrasFromEnv(env: NodeJS.ProcessEnv): { ageing?: PriorityAgeing; wrapUpMs?: number } {
  const points = Number(env.PRIORITY_AGEING_POINTS_PER_MINUTE || 0);
  const max = Number(env.PRIORITY_AGEING_MAX || 100);
  const wrapUpMs = Number(env.WRAP_UP_MS || 0);
  return {
    ...(Number.isFinite(points) && points > 0 && Number.isInteger(max) ? { ageing: { pointsPerMinute: points, maxPriority: max } } : {}),
    ...(Number.isInteger(wrapUpMs) && wrapUpMs > 0 ? { wrapUpMs } : {}),
  };
}

export interface ReplayProgress {
  phase: 'reading' | 'baseline' | 'proposed' | 'report';
  /** how far the phase's simulation is through the window (0..1) */
  share: number;
  simulatedUntil?: string;
}

export interface ReplayRun {
  report: Report;
  source: WindowSource;
}

/**
 * Replays [from, to] as recorded (Kafka + PostgreSQL, read only, into memory) with the baseline
 * (what was live, unless the file overrides it) and the proposal, and reports them side by side
 * with the faithfulness of the baseline against the recorded decisions.
 */
export async function runReplay(
  deps: { kafka: Kafka; pool: Pool; topics: { inbound: string; conversations: string; agents?: string }; env: NodeJS.ProcessEnv },
  args: { from: number; to: number; config: unknown; toleranceMs?: number; warmupFrom?: number },
  onProgress: (p: ReplayProgress) => void = () => undefined,
): Promise<{ ok: true; run: ReplayRun } | { ok: false; problems: ConfigProblem[] }> {
  // The state the window starts in: without --warmup-from it is rebuilt from the recording (every
  // conversation that may have been open at `from`, and those a message could reopen, are replayed
  // from their opening with the offers the live router made); with it, replayed (re-decided) from there.
  onProgress({ phase: 'reading', share: 0 });
  const recordedStart = args.warmupFrom === undefined;
  const startAt = recordedStart ? await rebuildFrom(deps.pool, args.from, policyFromEnv(deps.env).reopenWindowMs) : Math.min(args.warmupFrom!, args.from);
  const source = await loadWindow(deps.kafka, deps.pool, deps.topics, startAt, args.to);
  // the recorded lifecycle settings (router.lifecycle_settings_versions) where there are some, else the env
  const live = source.live;
  const cfg = parseReplayConfig(args.config, {
    rules: live.rules,
    ruleVersion: live.ruleVersion,
    ruleTimeline: live.ruleTimeline,
    selfService: live.selfService,
    policy: live.policy ?? policyFromEnv(deps.env),
    policyTimeline: live.policyTimeline,
    ...(live.policy ? { ...(live.ageing ? { ageing: live.ageing } : {}), ...(live.wrapUpMs ? { wrapUpMs: live.wrapUpMs } : {}) } : extrasFromEnv(deps.env)),
    hours: live.hours,
    hoursTimeline: live.hoursTimeline,
  });
  if (!cfg.ok) return cfg;
  const rec = source.recording;
  const defaults = (b: typeof cfg.baseline.behaviour) => ({ ...DEFAULT_BEHAVIOUR, ...(b ?? {}) });
  const span = Math.max(1, rec.to - rec.from);
  const progress = (phase: 'baseline' | 'proposed') => (p: { at: number }) => onProgress({ phase, share: Math.min(1, (p.at - rec.from) / span), simulatedUntil: new Date(p.at).toISOString() });
  onProgress({ phase: 'baseline', share: 0 });
  const base = replay(rec, cfg.baseline, new RecordedBehaviour(rec.decisions, defaults(cfg.baseline.behaviour)), { reportFrom: args.from, recordedStart, onProgress: progress('baseline') });
  onProgress({ phase: 'proposed', share: 0 });
  const proposed = recordedStart ? fromWindowStart(cfg.baseline, cfg.proposed, args.from) : cfg.proposed;
  const prop = replay(rec, proposed, new RecordedBehaviour(rec.decisions, defaults(cfg.proposed.behaviour)), { reportFrom: args.from, recordedStart, onProgress: progress('proposed') });
  onProgress({ phase: 'report', share: 1 });
  const report = compare(base, prop, cfg.baseline.policy, cfg.proposed.policy, rec.decisions, { toleranceMs: args.toleranceMs ?? 1000 });
  return { ok: true, run: { report, source } };
}

/** Where rebuilding the state at `from` starts: the oldest conversation possibly open then, and the reopen window before it. */
async function rebuildFrom(pool: Pool, from: number, reopenWindowMs: number): Promise<number> {
  const client = await pool.connect();
  try {
    const oldest = await oldestOpenAt(client, new Date(from));
    return Math.min(from - reopenWindowMs, oldest?.getTime() ?? from);
  } finally {
    client.release();
  }
}

/** A proposal's rules apply from the window's start: before it (the rebuilt start state) the live ones do. */
function fromWindowStart(baseline: ReplayConfig, proposed: ReplayConfig, from: number): ReplayConfig {
  if (proposed.rules === baseline.rules && proposed.ruleTimeline === baseline.ruleTimeline) return proposed;
  return {
    ...proposed,
    rules: baseline.rules,
    ruleVersion: baseline.ruleVersion,
    ruleTimeline: [...(baseline.ruleTimeline ?? []).filter((t) => t.from < from), { from, version: proposed.ruleVersion, rules: proposed.rules }],
  };
}
