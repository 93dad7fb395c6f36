import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import type { LifecyclePolicy } from '../domain/lifecycle';
import { DEFAULT_BEHAVIOUR, RecordedBehaviour } from './behaviour';
import { DEFAULT_POLICY, parseReplayConfig, type ConfigProblem } from './config';
import { replay } from './engine';
import { compare, type Report } from './report';
import { loadWindow, type WindowSource } from './sources';

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
  deps: { kafka: Kafka; pool: Pool; topics: { inbound: string; conversations: string }; env: NodeJS.ProcessEnv },
  args: { from: number; to: number; config: unknown; toleranceMs?: number; warmupFrom?: number },
  onProgress: (p: ReplayProgress) => void = () => undefined,
): Promise<{ ok: true; run: ReplayRun } | { ok: false; problems: ConfigProblem[] }> {
  // a warm-up from a quiet point before the window rebuilds the state the window starts in
  onProgress({ phase: 'reading', share: 0 });
  const source = await loadWindow(deps.kafka, deps.pool, deps.topics, Math.min(args.warmupFrom ?? args.from, args.from), args.to);
  // the recorded lifecycle settings (router.lifecycle_settings_versions) where there are some, else the env
  const live = source.live;
  const cfg = parseReplayConfig(args.config, {
    rules: live.rules,
    ruleVersion: live.ruleVersion,
    ruleTimeline: live.ruleTimeline,
    policy: live.policy ?? policyFromEnv(deps.env),
    policyTimeline: live.policyTimeline,
    hours: live.hours,
    hoursTimeline: live.hoursTimeline,
  });
  if (!cfg.ok) return cfg;
  const rec = source.recording;
  const defaults = (b: typeof cfg.baseline.behaviour) => ({ ...DEFAULT_BEHAVIOUR, ...(b ?? {}) });
  const span = Math.max(1, rec.to - rec.from);
  const progress = (phase: 'baseline' | 'proposed') => (p: { at: number }) => onProgress({ phase, share: Math.min(1, (p.at - rec.from) / span), simulatedUntil: new Date(p.at).toISOString() });
  onProgress({ phase: 'baseline', share: 0 });
  const base = replay(rec, cfg.baseline, new RecordedBehaviour(rec.decisions, defaults(cfg.baseline.behaviour)), { reportFrom: args.from, onProgress: progress('baseline') });
  onProgress({ phase: 'proposed', share: 0 });
  const prop = replay(rec, cfg.proposed, new RecordedBehaviour(rec.decisions, defaults(cfg.proposed.behaviour)), { reportFrom: args.from, onProgress: progress('proposed') });
  onProgress({ phase: 'report', share: 1 });
  const report = compare(base, prop, cfg.baseline.policy, cfg.proposed.policy, rec.decisions, { toleranceMs: args.toleranceMs ?? 1000 });
  return { ok: true, run: { report, source } };
}
