import fc from 'fast-check';
import { asyncNotice, errorStats, estimateWait, isMaterial, NO_NOTICE, observeHandle, priorRate, MIN_HANDLE_WEIGHT, type AsyncNoticeState } from '../src/domain/wait-estimate';

/** PROPERTY_RUNS_FACTOR=20 for a one-off stress run */
const runs = (n: number) => n * Number(process.env.PROPERTY_RUNS_FACTOR ?? 1);
const MIN = 60_000;

describe('wait estimate: table', () => {
  it.each([
    ['a free slot for it', { position: 2, slots: 5, busy: 3, meanHandleMs: 10 * MIN }, 0],
    ['all busy, first in line, mean', { position: 1, slots: 4, busy: 4, meanHandleMs: 8 * MIN, statistic: 'mean' as const }, 2 * MIN],
    ['all busy, fifth in line, mean', { position: 5, slots: 4, busy: 4, meanHandleMs: 8 * MIN, statistic: 'mean' as const }, 10 * MIN],
    ['one free slot, third in line, mean', { position: 3, slots: 4, busy: 3, meanHandleMs: 8 * MIN, statistic: 'mean' as const }, 4 * MIN],
    ['closed for an hour first', { position: 1, slots: 2, busy: 0, meanHandleMs: 8 * MIN, closedForMs: 60 * MIN }, 60 * MIN],
    ['nobody eligible online', { position: 1, slots: 0, busy: 0, meanHandleMs: 8 * MIN }, null],
  ])('%s', (_n, view, expected) => {
    expect(estimateWait(view).estimateMs).toBe(expected);
  });

  it('the default statistic is the Erlang median: below the mean, converging to it', () => {
    const mean = estimateWait({ position: 1, slots: 1, busy: 1, meanHandleMs: 100 * MIN, statistic: 'mean' }).estimateMs!;
    const median = estimateWait({ position: 1, slots: 1, busy: 1, meanHandleMs: 100 * MIN }).estimateMs!;
    // exponential: median = ln 2 × mean = 0.693; Wilson–Hilferty gives 0.702
    expect(median / mean).toBeCloseTo(0.7, 1);
    const m50 = estimateWait({ position: 50, slots: 1, busy: 1, meanHandleMs: MIN }).estimateMs!;
    expect(m50 / (50 * MIN)).toBeGreaterThan(0.99);
  });

  it('the handle-time mean decays towards recent work (pure time decay: minWeight 1)', () => {
    let r = priorRate(5 * MIN, 0);
    for (let i = 1; i <= 20; i++) r = observeHandle(r, 20 * MIN, i * MIN, 30 * MIN, 1);
    expect(r.meanHandleMs).toBeGreaterThan(19 * MIN);
    // three hours later (six half-lives), one short conversation outweighs them: they have decayed
    const later = observeHandle(r, 2 * MIN, 200 * MIN, 30 * MIN, 1);
    expect(later.meanHandleMs).toBeLessThan(8 * MIN);
    // the same observation right away barely moves it
    expect(observeHandle(r, 2 * MIN, 21 * MIN, 30 * MIN, 1).meanHandleMs).toBeGreaterThan(17 * MIN);
  });

  it('a quiet tier keeps at least MIN_HANDLE_WEIGHT observations in the mean, however long between them', () => {
    let r = priorRate(5 * MIN, 0);
    for (let i = 1; i <= 30; i++) r = observeHandle(r, 30 * MIN, i * 120 * MIN, 30 * MIN);
    // two hours between conversations (four half-lives): without the floor only the last one or two would count
    expect(r.weight).toBeCloseTo(MIN_HANDLE_WEIGHT, 6);
    expect(r.meanHandleMs).toBeGreaterThan(25 * MIN); // the observations, not the 5-minute prior
    const after = observeHandle(r, 2 * MIN, 31 * 120 * MIN, 30 * MIN);
    // one more conversation moves it by 1/MIN_HANDLE_WEIGHT of the difference, not all the way
    expect(after.meanHandleMs).toBeCloseTo((r.meanHandleMs * (MIN_HANDLE_WEIGHT - 1) + 2 * MIN) / MIN_HANDLE_WEIGHT, 0);
  });

  it('more busy than staffed (agents left the shift holding work): the extra ones must end first, at rates k/h̄', () => {
    // 3 busy, 1 slot: 2 must end (h̄/3 + h̄/2 on average) before position 1 can start (h̄/1 more)
    const mean = estimateWait({ position: 1, slots: 1, busy: 3, meanHandleMs: 60 * MIN, statistic: 'mean' }).estimateMs!;
    expect(mean).toBe(Math.round(60 * MIN * (1 / 3 + 1 / 2 + 1)));
    const median = estimateWait({ position: 1, slots: 1, busy: 3, meanHandleMs: 60 * MIN }).estimateMs!;
    expect(median).toBeLessThan(mean);
    expect(median).toBeGreaterThan(estimateWait({ position: 1, slots: 1, busy: 1, meanHandleMs: 60 * MIN }).estimateMs!);
    // busy ≤ slots is unchanged: the Erlang median
    expect(estimateWait({ position: 3, slots: 2, busy: 2, meanHandleMs: 60 * MIN }).estimateMs).toBe(Math.round(3 * (1 - 1 / 27) ** 3 * 30 * MIN));
  });

  it('errorStats: nearest-rank median and p90', () => {
    const pairs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((e) => ({ estimateMs: 100 + e * 10, actualMs: 100 }));
    expect(errorStats(pairs)).toEqual({ n: 10, medianAbsMs: 40, p90AbsMs: 80, medianActualMs: 100 });
    expect(errorStats([])).toEqual({ n: 0, medianAbsMs: 0, p90AbsMs: 0, medianActualMs: 0 });
  });

  it.each([
    ['first announcement', null, { position: 5, estimateMs: 300_000 }, 10_000, true],
    ['reaching the head, even within the interval', { position: 2, estimateMs: 60_000, at: 9_000 }, { position: 1, estimateMs: 30_000 }, 10_000, true],
    ['within the minimum interval', { position: 9, estimateMs: 600_000, at: 8_000 }, { position: 5, estimateMs: 300_000 }, 10_000, false],
    ['one place of ten', { position: 10, estimateMs: 600_000, at: 0 }, { position: 9, estimateMs: 590_000 }, 10_000, true],
    ['one place of fifty (under 10 %) and 10 s', { position: 50, estimateMs: 3_000_000, at: 0 }, { position: 49, estimateMs: 2_990_000 }, 10_000, false],
    ['estimate up 25 % on a long queue', { position: 50, estimateMs: 3_000_000, at: 0 }, { position: 50, estimateMs: 3_750_000 }, 10_000, true],
    ['estimate down 20 s', { position: 3, estimateMs: 100_000, at: 0 }, { position: 3, estimateMs: 80_000 }, 10_000, false],
    ['nobody online any more', { position: 3, estimateMs: 100_000, at: 0 }, { position: 3, estimateMs: null }, 10_000, true],
  ])('isMaterial: %s', (_n, prev, next, at, expected) => {
    expect(isMaterial(prev, next, at)).toBe(expected);
  });

  it.each([
    ['under the threshold: nothing', NO_NOTICE, 5 * MIN, null],
    ['over the threshold: the first message', NO_NOTICE, 11 * MIN, 'over-threshold'],
    ['grew but not doubled: nothing', { sent: 1, lastMs: 11 * MIN }, 20 * MIN, null],
    ['doubled: the second message', { sent: 1, lastMs: 11 * MIN }, 22 * MIN, 'grown'],
    ['after two: never again', { sent: 2, lastMs: 22 * MIN }, 300 * MIN, null],
    ['unknown estimate: nothing', NO_NOTICE, null, null],
  ])('asyncNotice: %s', (_n, state, est, expected) => {
    expect(asyncNotice(state as AsyncNoticeState, est, { thresholdMs: 10 * MIN, growFactor: 2 }).send).toBe(expected);
  });
});

describe('wait estimate: properties', () => {
  const view = fc.record({
    position: fc.integer({ min: 1, max: 500 }),
    slots: fc.integer({ min: 0, max: 200 }),
    busy: fc.integer({ min: 0, max: 250 }),
    meanHandleMs: fc.integer({ min: 0, max: 3_600_000 }),
    closedForMs: fc.integer({ min: 0, max: 86_400_000 }),
    statistic: fc.constantFrom('mean' as const, 'median' as const),
  });

  it('the estimate is non-negative, grows with the position and the handle time, shrinks with more free slots', () => {
    fc.assert(
      fc.property(view, (v) => {
        const e = estimateWait(v).estimateMs;
        if (v.slots === 0) return expect(e).toBeNull();
        expect(e).toBeGreaterThanOrEqual(v.closedForMs);
        expect(estimateWait({ ...v, position: v.position + 1 }).estimateMs!).toBeGreaterThanOrEqual(e!);
        expect(estimateWait({ ...v, meanHandleMs: v.meanHandleMs + 1000 }).estimateMs!).toBeGreaterThanOrEqual(e!);
        expect(estimateWait({ ...v, busy: Math.max(0, v.busy - 1) }).estimateMs!).toBeLessThanOrEqual(e!);
        expect(estimateWait({ ...v, statistic: 'median' }).estimateMs!).toBeLessThanOrEqual(estimateWait({ ...v, statistic: 'mean' }).estimateMs!);
      }),
      { numRuns: runs(500) },
    );
  });

  it('the decayed mean stays between the smallest and largest values it has seen', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3_600_000 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 3_600_000 }), fc.integer({ min: 0, max: 600_000 })), { maxLength: 50 }), (prior, obs) => {
        let r = priorRate(prior, 0);
        let t = 0;
        let lo = prior;
        let hi = prior;
        for (const [h, dt] of obs) {
          t += dt;
          r = observeHandle(r, h, t, 1_800_000);
          lo = Math.min(lo, h);
          hi = Math.max(hi, h);
          expect(r.meanHandleMs).toBeGreaterThanOrEqual(lo - 1e-6);
          expect(r.meanHandleMs).toBeLessThanOrEqual(hi + 1e-6);
        }
      }),
      { numRuns: runs(300) },
    );
  });

  it('async channels: at most two messages per wait, the first over the threshold, the second at least the factor above it', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: 0, max: 10 * 3_600_000 }), { nil: null }), { maxLength: 100 }), fc.integer({ min: 1, max: 3_600_000 }), (ests, thresholdMs) => {
        let s = NO_NOTICE;
        const sent: number[] = [];
        for (const e of ests) {
          const r = asyncNotice(s, e, { thresholdMs, growFactor: 2 });
          if (r.send) sent.push(e!);
          s = r.state;
        }
        expect(sent.length).toBeLessThanOrEqual(2);
        if (sent.length >= 1) expect(sent[0]!).toBeGreaterThan(thresholdMs);
        if (sent.length === 2) expect(sent[1]!).toBeGreaterThanOrEqual(2 * sent[0]!);
      }),
      { numRuns: runs(300) },
    );
  });

  it('live updates: never two within the minimum interval unless the conversation reached the head', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 1, max: 100 }), fc.option(fc.integer({ min: 0, max: 7_200_000 }), { nil: null })), { maxLength: 80 }),
        (steps) => {
          let t = 0;
          let prev: { position: number; estimateMs: number | null; at: number } | null = null;
          for (const [dt, position, estimateMs] of steps) {
            t += dt;
            if (isMaterial(prev, { position, estimateMs }, t)) {
              if (prev && t - prev.at < 5_000) expect(position).toBe(1);
              prev = { position, estimateMs, at: t };
            }
          }
        },
      ),
      { numRuns: runs(300) },
    );
  });
});
