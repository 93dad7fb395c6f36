import { computeCategoryKpis, computeKpis, isFirstContactResolution, percentile, type KpiConversation } from '../src/domain/kpis';
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
