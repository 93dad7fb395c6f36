import { TierHours } from '@omni/business-time';
import { computeCategoryKpis, computeDeflection, computeEstimateError, computeKpis, computeTierSla, isFirstContactResolution, percentile, type KpiConversation } from '../src/domain/kpis';
import { projectConversation, type ConversationRow } from '../src/domain/conversation-projection';

const base: KpiConversation = {
  id: 'x',
  channel: 'chat',
  category: 'access',
  firstTier: 1,
  resolvedTier: 1,
  tierPath: [1],
  escalations: [],
  queueWaits: [],
  openedAt: '2026-01-01T10:00:00.000Z',
  firstResponseAt: null,
  resolvedAt: '2026-01-01T10:10:00.000Z',
  csatScore: null,
  recontacted: false,
  waitEstimate: null,
  selfServiceOffered: false,
  selfServed: false,
};

describe('percentile (nearest rank)', () => {
  it.each([
    [[], 0.5, null],
    [[7], 0.95, 7],
    [[4, 1, 3, 2], 0.5, 2],
    [[4, 1, 3, 2], 0.95, 4],
    [[10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.95, 100],
    [[10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.5, 50],
  ])('%p q=%p → %p', (values, q, want) => expect(percentile(values as number[], q)).toBe(want));
});

describe('first-contact resolution', () => {
  it.each<[string, Partial<KpiConversation>, boolean]>([
    ['resolved at entry tier, no escalation, no recontact', {}, true],
    ['not resolved', { resolvedAt: null, resolvedTier: null }, false],
    ['escalated', { escalations: [{ fromTier: 1, toTier: 2 }], resolvedTier: 2 }, false],
    ['recontacted within the window', { recontacted: true }, false],
    ['resolved at another tier (e.g. transferred)', { resolvedTier: 2 }, false],
  ])('%s', (_, patch, want) => expect(isFirstContactResolution({ ...base, ...patch })).toBe(want));
});

describe('computeKpis', () => {
  it('returns nulls, not NaN, on an empty set', () => {
    const k = computeKpis([]);
    expect(k.firstContactResolution.rate).toBeNull();
    expect(k.firstResponseTime).toEqual({ count: 0, averageMs: null, p50Ms: null, p95Ms: null });
    expect(k.csat.average).toBeNull();
    expect(k.escalation.rate).toBeNull();
  });

  it('counts escalations per tier and per path', () => {
    const k = computeKpis([
      { ...base, id: 'a' },
      { ...base, id: 'b', tierPath: [1, 2, 3], escalations: [{ fromTier: 1, toTier: 2 }, { fromTier: 2, toTier: 3 }], resolvedTier: 3 },
      { ...base, id: 'c', tierPath: [1, 2], escalations: [{ fromTier: 1, toTier: 2 }], resolvedTier: 2, csatScore: 2 },
    ]);
    expect(k.escalation.rate).toBeCloseTo(2 / 3);
    expect(k.escalation.byTier).toEqual([
      { tier: 1, handled: 3, escalated: 2, rate: 2 / 3 },
      { tier: 2, handled: 2, escalated: 1, rate: 0.5 },
      { tier: 3, handled: 1, escalated: 0, rate: 0 },
    ]);
    expect(k.escalation.paths).toEqual([
      { fromTier: 1, toTier: 2, count: 2 },
      { fromTier: 2, toTier: 3, count: 1 },
    ]);
    expect(k.tier1Resolution).toEqual({ share: 1 / 3, count: 1, of: 3 });
    expect(k.csat).toEqual({ average: 2, responses: 1, responseRate: 1 / 3, of: 3 });
    expect(computeCategoryKpis([{ ...base, category: null }])[0]!.category).toBe('uncategorised');
  });
});

describe('projectConversation', () => {
  let seq = 0;
  const row = (kind: string, at: string, payload: Record<string, unknown> = {}, agentId: string | null = null): ConversationRow => ({
    eventId: `e${++seq}`,
    seq,
    kind,
    occurredAt: `2026-01-01T${at}:00.000Z`,
    customerId: 'cus_1',
    channel: 'email',
    threadKey: 'email:t',
    tier: typeof payload.tier === 'number' ? payload.tier : null,
    agentId,
    payload,
  });

  it("the router's automatic answers (system:…) are not the first response", () => {
    const p = projectConversation('c', [
      row('conversation.opened', '10:00', { tier: 1, category: 'network', messageId: 'm1' }),
      row('message.outbound', '10:00', {}, 'system:business-hours'),
      row('message.outbound', '10:40', {}, 'a1'),
    ])!;
    expect(p.firstResponseAt).toBe('2026-01-01T10:40:00.000Z');
    expect(p.agents).toEqual(['a1']);
  });

  it('replays events in time order whatever order they arrive in', () => {
    const rows = [
      row('conversation.opened', '10:00', { tier: 1, category: 'network', messageId: 'm1' }),
      row('conversation.queued', '10:00', { tier: 1 }),
      row('conversation.offered', '10:03', { tier: 1 }, 'a1'),
      row('message.outbound', '10:05', {}, 'a1'),
      row('conversation.escalated', '10:20', { tier: 2, fromTier: 1, handoffNote: 'tried X' }, 'a1'),
      row('conversation.queued', '10:20', { tier: 2 }),
      row('conversation.assigned', '10:30', { tier: 2 }, 'a7'),
      row('conversation.resolved', '11:00', { tier: 2 }, 'a7'),
      row('csat.submitted', '11:05', { score: 4 }),
    ];
    const p = projectConversation('c', [...rows].reverse())!;
    expect(p).toMatchObject({
      status: 'resolved',
      firstTier: 1,
      tier: 2,
      resolvedTier: 2,
      tierPath: [1, 2],
      agents: ['a1', 'a7'],
      messageIds: ['m1'],
      openedAt: '2026-01-01T10:00:00.000Z',
      firstResponseAt: '2026-01-01T10:05:00.000Z',
      resolvedAt: '2026-01-01T11:00:00.000Z',
      csatScore: 4,
      category: 'network',
    });
    expect(p.escalations).toEqual([expect.objectContaining({ fromTier: 1, toTier: 2, handoffNote: 'tried X', kind: 'escalated' })]);
    expect(p.queueWaits.map((w) => [w.tier, w.ms])).toEqual([
      [1, 180_000],
      [2, 600_000],
    ]);
    expect(projectConversation('c', rows)).toEqual(p);
  });

  it('keeps the estimate of the first queued event and the wait until the first accept or assign; records self-service and the resolution reason', () => {
    const est = (position: number, estimateMs: number) => ({ estimate: { position, estimateMs, estimator: 'queue-length' } });
    const p = projectConversation('c', [
      row('conversation.opened', '10:00', { tier: 1 }),
      row('conversation.self-service-offered', '10:00', { tier: 1 }),
      row('conversation.queued', '10:01', { tier: 1, ...est(3, 240_000) }),
      row('conversation.offered', '10:02', { tier: 1 }, 'a1'),
      row('conversation.offer-expired', '10:03', { tier: 1 }, 'a1'),
      row('conversation.queued', '10:03', { tier: 1, ...est(1, 1) }),
      row('conversation.accepted', '10:06', { tier: 1 }, 'a2'),
      row('conversation.assigned', '10:07', { tier: 1 }, 'a2'),
      row('conversation.resolved', '10:30', { tier: 1, reason: 'self-served' }),
    ])!;
    expect(p.waitEstimate).toEqual({ tier: 1, position: 3, estimateMs: 240_000, estimator: 'queue-length', queuedAt: '2026-01-01T10:01:00.000Z', servedAt: '2026-01-01T10:06:00.000Z', actualMs: 300_000 });
    expect(p.selfServiceOffered).toBe(true);
    expect(p.resolvedReason).toBe('self-served');
  });

  it.each([
    ['no estimate on the first queued event (a later one does not count)', [row('conversation.queued', '10:00', { tier: 1 }), row('conversation.queued', '10:01', { tier: 1, estimate: { position: 1, estimateMs: 5, estimator: 'x' } })]],
    ['a negative estimate', [row('conversation.queued', '10:00', { tier: 1, estimate: { position: 1, estimateMs: -1, estimator: 'x' } })]],
    ['a position that is not an integer', [row('conversation.queued', '10:00', { tier: 1, estimate: { position: '1', estimateMs: 5, estimator: 'x' } })]],
    ['no estimator', [row('conversation.queued', '10:00', { tier: 1, estimate: { position: 1, estimateMs: 5 } })]],
    ['an array', [row('conversation.queued', '10:00', { tier: 1, estimate: [1, 2] })]],
  ])('ignores %s', (_what, rows) => {
    expect(projectConversation('c', rows)!.waitEstimate).toBeNull();
  });

  it('a reopen clears the resolution; a transfer within the tier is not an escalation', () => {
    const p = projectConversation('c', [
      row('conversation.opened', '09:00', { tier: 1 }),
      row('conversation.transferred', '09:10', { tier: 1, fromTier: 1, toAgentId: 'a2' }, 'a1'),
      row('conversation.resolved', '09:20', { tier: 1 }),
      row('conversation.reopened', '09:30', { tier: 1 }),
    ])!;
    expect(p.status).toBe('open');
    expect(p.resolvedAt).toBeNull();
    expect(p.escalations).toEqual([]);
    expect(p.agents).toEqual(['a1', 'a2']);
  });
});

describe('SLA per tier in wall-clock and business time', () => {
  const H = 3_600_000;
  // tier 1 open 09:00–17:00 UTC every day
  const nineToFive = [{ start: '09:00', end: '17:00' }];
  const hours = new TierHours({ tiers: { '1': { timeZone: 'UTC', weekly: { mon: nineToFive, tue: nineToFive, wed: nineToFive, thu: nineToFive, fri: nineToFive, sat: nineToFive, sun: nineToFive } } } });
  const at = () => ({ version: 1, hours });
  const conv = (id: string, opened: string, firstResponseAt: string | null, resolvedAt: string | null): KpiConversation => ({ ...base, id, openedAt: opened, firstResponseAt, resolvedAt });
  const targets = { firstResponseMs: H, resolutionMs: 4 * H };

  it('stops each clock at its event, judges running clocks at `at`, and leaves moot or young clocks out', () => {
    const list = [
      // opened 16:30, answered 09:30 next day: wall 17 h, business 1 h (met in business time only)
      conv('a', '2026-01-05T16:30:00.000Z', '2026-01-06T09:30:00.000Z', '2026-01-06T10:30:00.000Z'),
      // resolved without a response (self-served): the first-response clock is moot
      conv('b', '2026-01-06T10:00:00.000Z', null, '2026-01-06T10:05:00.000Z'),
      // still waiting at `at` (12:00 next day), opened 20:00: wall 16 h missed, business 3 h missed
      conv('c', '2026-01-06T20:00:00.000Z', null, null),
      // still waiting, 30 min old: not counted yet
      conv('d', '2026-01-07T11:30:00.000Z', null, null),
    ];
    const [t1] = computeTierSla(list, targets, at, '2026-01-07T12:00:00.000Z');
    expect(t1!.firstResponseTime.wall).toMatchObject({ count: 1, p50Ms: 17 * H });
    expect(t1!.firstResponseTime.business).toMatchObject({ count: 1, p50Ms: H });
    expect(t1!.slaMet.firstResponse).toEqual({ wall: { met: 0, of: 2, rate: 0 }, business: { met: 1, of: 2, rate: 0.5 } });
    // resolution (4 h): a 18 h wall / 2 h business; b 5 min; c running 16 h wall / 3 h business (not yet missed in business time)
    expect(t1!.slaMet.resolution).toEqual({ wall: { met: 1, of: 3, rate: 1 / 3 }, business: { met: 2, of: 2, rate: 1 } });
  });

  it('gives null business figures when the calendars are unavailable, and counts conversations whose version is unknown', () => {
    const list = [conv('a', '2026-01-05T16:30:00.000Z', '2026-01-06T09:30:00.000Z', null)];
    const [off] = computeTierSla(list, targets, null, '2026-01-07T12:00:00.000Z');
    expect(off!.firstResponseTime.business).toBeNull();
    expect(off!.slaMet.firstResponse.business).toBeNull();
    expect(off!.slaMet.firstResponse.wall).toEqual({ met: 0, of: 1, rate: 0 });
    const [unknown] = computeTierSla(list, targets, () => undefined, '2026-01-07T12:00:00.000Z');
    expect(unknown!.businessUnknown).toBe(1);
    expect(unknown!.firstResponseTime.business).toMatchObject({ count: 0 });
  });
});

describe('wait-estimate error and deflection', () => {
  const withEstimate = (id: string, tier: number, estimateMs: number, actualMs: number | null): KpiConversation => ({
    ...base,
    id,
    waitEstimate: { tier, position: 1, estimateMs, estimator: 'queue-length', queuedAt: '2026-01-01T10:00:00.000Z', servedAt: actualMs === null ? null : 'x', actualMs },
  });

  it('reports median and p90 absolute and relative error per tier over served waits (nearest rank)', () => {
    const list = [
      withEstimate('a', 1, 100, 200), // 100, 0.5
      withEstimate('b', 1, 300, 200), // 100, 0.5
      withEstimate('c', 1, 0, 1000), // 1000, 1
      withEstimate('d', 1, 50, 0), // 50, no relative error (0 ms wait)
      withEstimate('e', 1, 10, null), // still waiting
      withEstimate('f', 2, 10, 10),
    ];
    expect(computeEstimateError(list)).toEqual([
      { tier: 1, count: 4, medianAbsErrorMs: 100, p90AbsErrorMs: 1000, medianRelativeError: 0.5, p90RelativeError: 1, relativeCount: 3, estimators: [{ estimator: 'queue-length', count: 4 }] },
      { tier: 2, count: 1, medianAbsErrorMs: 0, p90AbsErrorMs: 0, medianRelativeError: 0, p90RelativeError: 0, relativeCount: 1, estimators: [{ estimator: 'queue-length', count: 1 }] },
    ]);
  });

  it('divides self-served by the conversations offered self-service and by all of the group', () => {
    const c = (id: string, category: string | null, channel: string, offered: boolean, selfServed: boolean): KpiConversation => ({ ...base, id, category, channel, selfServiceOffered: offered, selfServed });
    const d = computeDeflection([c('a', 'pw', 'chat', true, true), c('b', 'pw', 'sms', true, false), c('c', 'pw', 'chat', false, false), c('d', null, 'chat', false, false)]);
    expect(d).toMatchObject({ conversations: 4, offered: 2, selfServed: 1, rateOfOffered: 0.5, rateOfAll: 0.25 });
    expect(d.byCategory).toEqual([
      { category: 'pw', conversations: 3, offered: 2, selfServed: 1, rateOfOffered: 0.5, rateOfAll: 1 / 3 },
      { category: 'uncategorised', conversations: 1, offered: 0, selfServed: 0, rateOfOffered: null, rateOfAll: 0 },
    ]);
    expect(d.byChannel).toEqual([
      { channel: 'chat', conversations: 3, offered: 1, selfServed: 1, rateOfOffered: 1, rateOfAll: 1 / 3 },
      { channel: 'sms', conversations: 1, offered: 1, selfServed: 0, rateOfOffered: 0, rateOfAll: 0 },
    ]);
  });
});
