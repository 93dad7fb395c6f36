// Accuracy of the wait estimate (services/router/src/domain/wait-estimate.ts) in a simulation:
// per tier, Poisson arrivals with a rate that changes over the day, a staffing schedule that
// changes every two hours, log-normal handle times (CV 1, heavier-tailed than exponential) and a
// FIFO queue. Every conversation records the estimate it was given when it was queued (ours: the
// queue-length predictor with a time-decayed handle time; the baseline: the moving average of the
// last 20 actual waits of the tier, known at that moment) and its actual wait; the table prints
// the median and p90 absolute error of both, measured in the same run on the same arrivals.
//   npm run bench:wait-estimate        (BENCH_SEED, BENCH_DAYS to vary; pure CPU, a few seconds)
import { errorStats, estimateWait, observeHandle, priorRate, type ServiceRate } from '../services/router/src/domain/wait-estimate';

const SEED = Number(process.env.BENCH_SEED ?? 17);
const DAYS = Number(process.env.BENCH_DAYS ?? 20);
const HALF_LIFE_MS = 30 * 60_000;
const PRIOR_HANDLE_MS = 5 * 60_000; // the router's guess before it has seen a tier: deliberately not the truth
const MA_WINDOW = 20;
const STAT = (process.env.BENCH_STAT ?? 'median') as 'median' | 'mean';
const WARMUP_MS = 2 * 3_600_000;
const H = 3_600_000;
const MIN = 60_000;

function mulberry32(a: number): () => number {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(SEED);
const exp = (mean: number) => -Math.log(1 - rnd()) * mean;
function lognormal(mean: number, cv: number): number {
  const s2 = Math.log(1 + cv * cv);
  const mu = Math.log(mean) - s2 / 2;
  const z = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  return Math.exp(mu + Math.sqrt(s2) * z);
}

interface TierSpec {
  tier: number;
  handleMeanMs: number;
  /** agents on shift, per two-hour block (cycled) */
  staffing: number[];
  /** arrivals per hour, per two-hour block (cycled) */
  arrivalsPerHour: number[];
}
const SCENARIOS: Record<string, TierSpec[]> = {
  // staffing and arrivals change every two hours (the default)
  varying: [
  { tier: 1, handleMeanMs: 6 * MIN, staffing: [12, 8, 14, 10, 6, 12], arrivalsPerHour: [100, 75, 130, 95, 55, 110] },
  { tier: 2, handleMeanMs: 15 * MIN, staffing: [4, 3, 5, 3, 2, 4], arrivalsPerHour: [15, 11, 19, 11, 7, 14] },
  { tier: 3, handleMeanMs: 30 * MIN, staffing: [2, 1, 3, 2, 1, 2], arrivalsPerHour: [3.6, 1.8, 5.5, 3.6, 1.8, 3.6] },
  ],
  // the same mean load with staffing and arrivals constant: the error no estimator from the present state can remove
  constant: [
    { tier: 1, handleMeanMs: 6 * MIN, staffing: [10], arrivalsPerHour: [94] },
    { tier: 2, handleMeanMs: 15 * MIN, staffing: [4], arrivalsPerHour: [14.5] },
    { tier: 3, handleMeanMs: 30 * MIN, staffing: [2], arrivalsPerHour: [3.6] },
  ],
};
const SCENARIO = process.env.BENCH_SCENARIO ?? 'all';

interface Waiting {
  arrivedAt: number;
  est: number | null;
  ma: number | null;
}

function simulate(spec: TierSpec) {
  const block = (t: number) => Math.floor(t / (2 * H)) % spec.staffing.length;
  const end = DAYS * 24 * H;
  let rate: ServiceRate = priorRate(PRIOR_HANDLE_MS, 0);
  const recentWaits: number[] = [];
  const queue: Waiting[] = [];
  const ends: { at: number; handle: number }[] = []; // conversations in service (one per busy agent)
  const results: { est: number | null; ma: number | null; actual: number }[] = [];
  let nextArrival = exp(H / spec.arrivalsPerHour[0]!);
  let now = 0;

  const start = (w: Waiting, t: number) => {
    const actual = t - w.arrivedAt;
    if (w.arrivedAt >= WARMUP_MS) results.push({ est: w.est, ma: w.ma, actual });
    recentWaits.push(actual);
    if (recentWaits.length > MA_WINDOW) recentWaits.shift();
    const handle = lognormal(spec.handleMeanMs, 1);
    ends.push({ at: t + handle, handle });
  };
  // agents on shift: staffing of the block; an agent going off shift finishes their conversation first
  const slots = (t: number) => spec.staffing[block(t)]!;

  while (now < end) {
    const first = ends.reduce<{ at: number; handle: number } | null>((m, e) => (!m || e.at < m.at ? e : m), null);
    const nextEnd = first ? first.at : Infinity;
    const nextBlock = (Math.floor(now / (2 * H)) + 1) * 2 * H;
    now = Math.min(nextArrival, nextEnd, nextBlock);
    if (now === nextEnd) {
      ends.splice(ends.indexOf(first!), 1);
      // the handle time is known at resolve; the rate learns from it
      rate = observeHandle(rate, first!.handle, now, HALF_LIFE_MS);
    } else if (now === nextArrival) {
      const w: Waiting = { arrivedAt: now, est: null, ma: null };
      const position = queue.length + 1;
      w.est = estimateWait({ position, slots: slots(now), busy: ends.length, meanHandleMs: rate.meanHandleMs, statistic: STAT }).estimateMs;
      w.ma = recentWaits.length ? recentWaits.reduce((s, x) => s + x, 0) / recentWaits.length : 0;
      queue.push(w);
      nextArrival = now + exp(H / spec.arrivalsPerHour[block(now)]!);
    }
    while (queue.length && ends.length < slots(now)) start(queue.shift()!, now);
  }
  return results;
}

const fmt = (ms: number) => (ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(0)} s`);
const pct = (x: number) => `${(100 * x).toFixed(0)} %`;

console.log(`wait-estimate accuracy: seed ${SEED}, ${DAYS} simulated days per tier, first ${WARMUP_MS / H} h discarded, estimate statistic ${STAT}`);
console.log('| staffing | tier | conversations | waited > 0 | median / p90 actual wait | ours: median / p90 abs error | moving average (20): median / p90 abs error | ours median abs error ÷ median actual | same, only those that waited |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const [scenario, tiers] of Object.entries(SCENARIOS)) {
  if (SCENARIO !== 'all' && SCENARIO !== scenario) continue;
  for (const spec of tiers) {
  const r = simulate(spec).filter((x) => x.est !== null);
  const ours = errorStats(r.map((x) => ({ estimateMs: x.est!, actualMs: x.actual })));
  const ma = errorStats(r.map((x) => ({ estimateMs: x.ma ?? 0, actualMs: x.actual })));
  const waited = r.filter((x) => x.actual > 0);
  const oursW = errorStats(waited.map((x) => ({ estimateMs: x.est!, actualMs: x.actual })));
  const p90Actual = errorStats(r.map((x) => ({ estimateMs: 0, actualMs: x.actual }))).p90AbsMs;
  console.log(
    `| ${scenario} | ${spec.tier} | ${r.length} | ${pct(waited.length / r.length)} | ${fmt(ours.medianActualMs)} / ${fmt(p90Actual)} | ${fmt(ours.medianAbsMs)} / ${fmt(ours.p90AbsMs)} | ${fmt(ma.medianAbsMs)} / ${fmt(ma.p90AbsMs)} | ${ours.medianActualMs ? pct(ours.medianAbsMs / ours.medianActualMs) : 'n/a'} | ${oursW.medianActualMs ? pct(oursW.medianAbsMs / oursW.medianActualMs) : 'n/a'} |`,
  );
}
}
