/**
 * Queue position and estimated wait, pure (docs/queue-intelligence.md has the formula and why).
 *
 * Estimator: Whitt's queue-length (QL) predictor for a many-server queue with the service rate
 * measured, not assumed. A conversation at position p (1-based among the waiting conversations the
 * same agents serve, in queue order) is picked when p − f more slots free up, where f is the number
 * of free slots now; with s slots of eligible agents busy, slots free at a rate s / h̄, h̄ the mean
 * handle time per slot. So
 *
 *     W(p) = 0                      if p ≤ f
 *     W(p) = (p − f) · h̄ / s        otherwise           (s = slots of eligible agents online)
 *
 * h̄ is an exponentially time-decayed mean of recent handle times of the tier (half-life
 * `halfLifeMs`, a prior counting as one observation, never fewer than MIN_HANDLE_WEIGHT − 1
 * observations kept), so a change of the work mix shows within the half-life (or 20 conversations
 * in a quiet tier) and s follows staffing at once. A moving average of recent waits (the floor) lags
 * staffing changes by a whole queue's worth of waits and knows nothing of the position.
 */

/** Time-decayed mean handle time of a tier: the service side of the estimator. */
export interface ServiceRate {
  meanHandleMs: number;
  /** decayed number of observations behind the mean (the prior counts 1) */
  weight: number;
  /** when the weight was last decayed (ms since epoch) */
  at: number;
}

/** the fewest observations the decayed mean keeps (docs/queue-intelligence.md: tier-3 accuracy) */
export const MIN_HANDLE_WEIGHT = 20;

export const priorRate = (meanHandleMs: number, at: number): ServiceRate => ({ meanHandleMs, weight: 1, at });

/** The rate after one more handle time observed at `at` (a resolved conversation: accept → resolve, plus wrap-up if any). */
export function observeHandle(r: ServiceRate, handleMs: number, at: number, halfLifeMs: number, minWeight = MIN_HANDLE_WEIGHT): ServiceRate {
  const h = Math.max(0, handleMs);
  // time decay, but never below minWeight − 1 observations' worth (nor above what there is): a quiet
  // tier (a few conversations an hour) would otherwise estimate from one or two handle times
  const decayed = Math.max(r.weight * Math.pow(0.5, Math.max(0, at - r.at) / halfLifeMs), Math.min(r.weight, minWeight - 1));
  const weight = decayed + 1;
  return { meanHandleMs: (r.meanHandleMs * decayed + h) / weight, weight, at: Math.max(at, r.at) };
}

export interface QueueView {
  /** 1-based place among the waiting conversations the same agents serve, in queue order */
  position: number;
  /** slots (capacity on the channel) of the eligible agents online and available */
  slots: number;
  /** of which taken (offered or assigned) */
  busy: number;
  meanHandleMs: number;
  /** the queue is closed for this long (business hours): added to the wait */
  closedForMs?: number;
  /** 'median' (default): the median of the wait given the position, which minimises the typical absolute error; 'mean': its mean */
  statistic?: 'median' | 'mean';
}

export interface WaitEstimate {
  position: number;
  /** null: nobody who could take it is online (no rate to estimate from) */
  estimateMs: number | null;
}

export function estimateWait(v: QueueView): WaitEstimate {
  const position = Math.max(1, Math.floor(v.position));
  if (v.slots <= 0 || !Number.isFinite(v.meanHandleMs)) return { position, estimateMs: null };
  const h = Math.max(0, v.meanHandleMs);
  const s = v.slots;
  const b = Math.max(0, Math.floor(v.busy));
  const free = Math.max(0, s - b);
  const departures = Math.max(0, position - free);
  // More busy than staffed (agents who left the shift finish what they hold; a lowered capacity):
  // b − s conversations must end before any slot opens, at rates k/h̄ for k = b … s+1 (each one
  // that ends leaves fewer to end), then `position` more at s/h̄. Mean and variance of that sum of
  // exponentials; with b ≤ s it is the Erlang(n, s/h̄) of the formula above.
  let mean = (departures * h) / s;
  let variance = departures * (h / s) ** 2;
  for (let k = b; k > s && departures > 0; k--) {
    mean += h / k;
    variance += (h / k) ** 2;
  }
  if (departures === 0 || mean === 0) return { position, estimateMs: Math.round(Math.max(0, v.closedForMs ?? 0)) };
  // the median of a gamma with that mean and variance, shape κ = mean²/variance (Wilson–Hilferty:
  // mean·(1 − 1/(9κ))³; κ = n for the Erlang case, within 1 % of the exact median from κ = 1)
  const shape = (mean * mean) / variance;
  const open = v.statistic === 'mean' ? mean : mean * Math.pow(1 - 1 / (9 * shape), 3);
  return { position, estimateMs: Math.round(open + Math.max(0, v.closedForMs ?? 0)) };
}

// ---- when to tell the customer ----

export interface UpdatePolicy {
  /** an estimate moves materially when it changes by at least this much … */
  minAbsMs: number;
  /** … and by at least this fraction of the last one announced */
  minRelative: number;
  /** no more than one update per this interval, except reaching the head of the queue */
  minIntervalMs: number;
}

export const DEFAULT_UPDATE_POLICY: UpdatePolicy = { minAbsMs: 30_000, minRelative: 0.2, minIntervalMs: 5_000 };

export interface Announced extends WaitEstimate {
  at: number;
}

/**
 * Whether a live channel (the chat visitor's websocket) gets an update: the first estimate; reaching
 * position 1; a position change of at least 10 % (at least one place); an estimate appearing or
 * disappearing; an estimate moving by ≥ max(minAbsMs, minRelative × last). Rate-limited by
 * minIntervalMs except reaching the head, so a busy queue is not a stream of frames.
 */
export function isMaterial(prev: Announced | null, next: WaitEstimate, at: number, p: UpdatePolicy = DEFAULT_UPDATE_POLICY): boolean {
  if (!prev) return true;
  if (next.position === 1 && prev.position !== 1) return true;
  if (at - prev.at < p.minIntervalMs) return false;
  if (Math.abs(next.position - prev.position) >= Math.max(1, Math.ceil(prev.position * 0.1))) return true;
  if ((prev.estimateMs === null) !== (next.estimateMs === null)) return true;
  if (prev.estimateMs === null || next.estimateMs === null) return false;
  return Math.abs(next.estimateMs - prev.estimateMs) >= Math.max(p.minAbsMs, p.minRelative * prev.estimateMs);
}

export interface AsyncNoticePolicy {
  /** one message when the estimate first exceeds this */
  thresholdMs: number;
  /** one more when the estimate reaches this multiple of the one announced (and grew by ≥ thresholdMs) */
  growFactor: number;
}

export const DEFAULT_ASYNC_POLICY: AsyncNoticePolicy = { thresholdMs: 10 * 60_000, growFactor: 2 };

export interface AsyncNoticeState {
  sent: number;
  /** the estimate in the last message sent */
  lastMs: number | null;
}

export const NO_NOTICE: AsyncNoticeState = { sent: 0, lastMs: null };

/**
 * Async channels (SMS, WhatsApp, email, Messenger): at most two messages per wait — one when the
 * estimate first exceeds the threshold, one if it then grows by the factor — never a flood.
 */
export function asyncNotice(s: AsyncNoticeState, estimateMs: number | null, p: AsyncNoticePolicy = DEFAULT_ASYNC_POLICY): { send: null | 'over-threshold' | 'grown'; state: AsyncNoticeState } {
  if (estimateMs === null) return { send: null, state: s };
  if (s.sent === 0 && estimateMs > p.thresholdMs) return { send: 'over-threshold', state: { sent: 1, lastMs: estimateMs } };
  if (s.sent === 1 && s.lastMs !== null && estimateMs >= s.lastMs * p.growFactor && estimateMs - s.lastMs >= p.thresholdMs)
    return { send: 'grown', state: { sent: 2, lastMs: estimateMs } };
  return { send: null, state: s };
}

// ---- accuracy ----

/** Median and p90 of absolute errors |estimate − actual| (nearest-rank), for the KPI and the benchmark. */
export function errorStats(pairs: { estimateMs: number; actualMs: number }[]): { n: number; medianAbsMs: number; p90AbsMs: number; medianActualMs: number } {
  const q = (xs: number[], f: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(f * xs.length) - 1))]! : 0);
  const abs = pairs.map((x) => Math.abs(x.estimateMs - x.actualMs)).sort((a, b) => a - b);
  const act = pairs.map((x) => x.actualMs).sort((a, b) => a - b);
  return { n: pairs.length, medianAbsMs: q(abs, 0.5), p90AbsMs: q(abs, 0.9), medianActualMs: q(act, 0.5) };
}
