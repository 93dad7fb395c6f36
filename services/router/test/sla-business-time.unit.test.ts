/**
 * Queue SLA clocks in business time (issue 17, docs/queue-intelligence.md): a tier with a calendar
 * counts its queue SLA only while it is open, so a conversation that arrives at night is not
 * breached — and overflowed to the next tier — before the team is back. Without a calendar (or
 * without hours in the policy) the SLA is wall-clock time, as before.
 */
import fc from 'fast-check';
import { BusinessCalendar, TierHours, type BusinessHours } from '../src/domain/business-hours';
import { decide, openConversation, slaDeadline, type LifecyclePolicy } from '../src/domain/lifecycle';
import { message, policy } from './support/lifecycle-fixtures';

// tiers 1 and 2 work Monday–Friday 09:00–17:00 UTC; tier 3 has no calendar (always open)
const WEEKDAYS = { start: '09:00', end: '17:00' };
const HOURS: BusinessHours = {
  tiers: {
    1: { timeZone: 'UTC', weekly: { mon: [WEEKDAYS], tue: [WEEKDAYS], wed: [WEEKDAYS], thu: [WEEKDAYS], fri: [WEEKDAYS] } },
    2: { timeZone: 'UTC', weekly: { mon: [WEEKDAYS], tue: [WEEKDAYS], wed: [WEEKDAYS], thu: [WEEKDAYS], fri: [WEEKDAYS] } },
  },
} as BusinessHours;
const withHours: LifecyclePolicy = { ...policy, hours: new TierHours(HOURS) };
const THURSDAY_NIGHT = new Date('2026-01-01T20:00:00Z'); // a Thursday, after closing
const FRIDAY_OPENING = new Date('2026-01-02T09:00:00Z');

function openAt(at: Date, tier: number, p: LifecyclePolicy) {
  const m = message('t1', 1, { receivedAt: at.toISOString(), sentAt: at.toISOString() });
  const conv = openConversation('c-new', m, { tier, category: 'access', priority: 50, skills: [] }, { attributes: {}, displayName: null }, at);
  const out = decide(null, { kind: 'message', at, message: m, opening: { conversation: conv, ruleVersion: 1, matchedRules: ['r1'] } }, p);
  if (!out.ok) throw new Error(out.message);
  return out.conversation!;
}

describe('queue SLA in business time', () => {
  it('a conversation queued at night is due two business minutes after the tier opens', () => {
    const c = openAt(THURSDAY_NIGHT, 1, withHours);
    expect(c.status).toBe('queued');
    expect(c.queue!.slaDeadline).toEqual(new Date(FRIDAY_OPENING.getTime() + 120_000));
  });

  it('inside hours, and for a tier without a calendar, the deadline is wall-clock', () => {
    const morning = new Date('2026-01-02T10:00:00Z');
    expect(openAt(morning, 1, withHours).queue!.slaDeadline).toEqual(new Date(morning.getTime() + 120_000));
    expect(openAt(THURSDAY_NIGHT, 3, withHours).queue!.slaDeadline).toEqual(new Date(THURSDAY_NIGHT.getTime() + 600_000));
    expect(openAt(THURSDAY_NIGHT, 1, policy).queue!.slaDeadline).toEqual(new Date(THURSDAY_NIGHT.getTime() + 120_000));
  });

  it('the sweep at night finds nothing due; an overflow sets the next tier\'s deadline in its business time', () => {
    const c = openAt(THURSDAY_NIGHT, 1, withHours);
    const night = decide(c, { kind: 'sla-breached', at: new Date(THURSDAY_NIGHT.getTime() + 3 * 3_600_000) }, withHours);
    expect(night.ok).toBe(false);
    // Friday 16:59: tier 1 breached long ago; tier 2 gets five business minutes: one minute on Friday, four on Monday
    const late = new Date('2026-01-02T16:59:00Z');
    const out = decide(c, { kind: 'sla-breached', at: late }, withHours);
    if (!out.ok) throw new Error(out.message);
    expect(out.conversation!.queue!.tiers).toEqual([1, 2]);
    expect(out.conversation!.queue!.slaDeadline).toEqual(new Date('2026-01-05T09:04:00Z'));
  });

  it('property: the deadline is never earlier than the wall-clock one, and holds exactly the SLA in business time', () => {
    const cal = new BusinessCalendar(HOURS.tiers[1]!);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 * 24 * 28 }), fc.integer({ min: 0, max: 3 * 3_600_000 }), (minutes, ms) => {
        const from = new Date(THURSDAY_NIGHT.getTime() + minutes * 60_000);
        const due = slaDeadline(withHours, 1, from, ms);
        expect(due.getTime()).toBeGreaterThanOrEqual(from.getTime() + ms);
        expect(cal.businessMs(from, due)).toBe(ms);
        expect(slaDeadline(withHours, 3, from, ms)).toEqual(new Date(from.getTime() + ms));
      }),
      { numRuns: 500 },
    );
  });
});
