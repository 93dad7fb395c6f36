import type { Conversation } from '../src/domain/conversation';
import { agentPresence, agentTimedOut, arrivalKind, decide, openConversation, type Input, type Outcome } from '../src/domain/lifecycle';
import { planOffers, type AgentSnapshot, type WaitingConversation } from '../src/domain/match';
import { at, conversation, message, policy, T0 } from './support/lifecycle-fixtures';

const NOW = at(200_000);
const none = null;
const STATES: Record<string, Conversation | null> = {
  none,
  queued: conversation(),
  offeredMine: conversation({ status: 'offered', agentId: 'a1', offerDeadline: at(20_000), queue: null }),
  offeredOther: conversation({ status: 'offered', agentId: 'a9', offerDeadline: at(20_000), queue: null }),
  assignedMine: conversation({ status: 'assigned', agentId: 'a1', queue: null }),
  assignedOther: conversation({ status: 'assigned', agentId: 'a9', queue: null }),
  resolvedRecent: conversation({ status: 'resolved', agentId: null, lastAgentId: 'a1', resolvedAt: at(0), queue: null }),
  resolvedOld: conversation({ status: 'resolved', agentId: null, lastAgentId: 'a1', resolvedAt: at(-7_200_000), queue: null }),
  closed: conversation({ status: 'closed', agentId: null, lastAgentId: 'a1', resolvedAt: at(-7_200_000), queue: null }),
  // self-service (tier 0): waiting for YES/NO, its answer deadline passed (due) or not yet (pending)
  selfServiceDue: conversation({ status: 'self-service', queue: null, selfService: { state: 'offered', articleIds: ['kb-1'], offeredAt: at(0), deadline: at(100_000) } }),
  selfServicePending: conversation({ status: 'self-service', queue: null, selfService: { state: 'offered', articleIds: ['kb-1'], offeredAt: at(0), deadline: at(300_000) } }),
};

const opening = () => ({ conversation: openConversation('c-new', message('t1', 1), { tier: 1, category: 'access', priority: 50, skills: [] }, { attributes: {}, displayName: null }, NOW), ruleVersion: 1, matchedRules: ['r1'] });
const room = { id: 'a2', capacity: { chat: 2 }, load: { chat: 1 } };
const cid = 'c1';
const INPUTS: Record<string, Input> = {
  message: { kind: 'message', at: NOW, message: message('t1', 1), opening: opening() },
  accept: { kind: 'accept', at: NOW, conversationId: cid, agentId: 'a1' },
  reject: { kind: 'reject', at: NOW, conversationId: cid, agentId: 'a1' },
  resolve: { kind: 'resolve', at: NOW, conversationId: cid, agentId: 'a1' },
  escalate: { kind: 'escalate', at: NOW, conversationId: cid, agentId: 'a1', note: 'tried resetting the password' },
  transferTier: { kind: 'transfer', at: NOW, conversationId: cid, agentId: 'a1', toTier: 2, note: 'needs a DBA' },
  transferAgent: { kind: 'transfer', at: NOW, conversationId: cid, agentId: 'a1', toAgentId: 'a2', target: room },
  reply: { kind: 'reply', at: NOW, conversationId: cid, agentId: 'a1', text: 'hi', outboundId: 'out-1' },
  invite: { kind: 'invite', at: NOW, conversationId: cid, agentId: 'a1', targetId: 'a3', role: 'observer', targetExists: true },
  leave: { kind: 'leave', at: NOW, conversationId: cid, agentId: 'a1' },
  offer: { kind: 'offer', at: NOW, agent: { id: 'a3', capacity: { chat: 1 }, load: {} }, reason: 'tier 1 queue match' },
  offerExpired: { kind: 'offer-expired', at: NOW },
  slaBreached: { kind: 'sla-breached', at: NOW },
  reopenWindowOver: { kind: 'reopen-window-over', at: NOW },
  agentReleased: { kind: 'agent-released', at: NOW, agentId: 'a1', reason: 'agent a1 went offline' },
  selfServiceExpired: { kind: 'self-service-expired', at: NOW },
  messageYes: { kind: 'message', at: NOW, message: message('t1', 2, { text: 'SÍ' }) },
};

/** an input of the table with some fields changed */
const w = (name: keyof typeof INPUTS, extra: Record<string, unknown>): Input => ({ ...INPUTS[name]!, ...extra }) as Input;

type Expect = string | [Conversation['status'], string[]];
const E = (status: Conversation['status'], ...events: string[]): Expect => [status, events.map((e) => `conversation.${e}`)];
/** A follow-up message on a live or recently resolved conversation (not waiting in self-service). */
const JOINS = {
  queued: E('queued', 'message'),
  offeredMine: E('offered', 'message'),
  offeredOther: E('offered', 'message'),
  assignedMine: E('assigned', 'message'),
  assignedOther: E('assigned', 'message'),
  resolvedRecent: E('queued', 'reopened', 'queued'),
};
/** Every (input, state) pair: the refusal code, or the new status and the events in order. */
const TABLE: Record<string, { otherwise: string } & Partial<Record<keyof typeof STATES, Expect>>> = {
  message: {
    otherwise: 'ILLEGAL',
    none: E('queued', 'opened', 'classified', 'queued'),
    ...JOINS,
    closed: E('queued', 'opened', 'classified', 'queued'),
    // resolvedOld: ILLEGAL — the store closes it first (arrivalKind close-then-open)
    // any other reply to the self-service question routes it
    selfServiceDue: E('queued', 'message', 'queued'),
    selfServicePending: E('queued', 'message', 'queued'),
  },
  messageYes: {
    otherwise: 'ILLEGAL',
    ...JOINS,
    // YES answers self-service only while it waits for it (even past the deadline the sweep has not applied yet)
    selfServiceDue: E('resolved', 'message', 'resolved'),
    selfServicePending: E('resolved', 'message', 'resolved'),
  },
  selfServiceExpired: { otherwise: 'NOT_DUE', selfServiceDue: E('queued', 'queued') },
  accept: { otherwise: 'NOT_OFFERED', offeredMine: E('assigned', 'accepted', 'assigned') },
  reject: { otherwise: 'NOT_OFFERED', offeredMine: E('queued', 'rejected', 'requeued') },
  resolve: { otherwise: 'NOT_ASSIGNED', assignedMine: E('resolved', 'resolved') },
  escalate: { otherwise: 'NOT_ASSIGNED', assignedMine: E('queued', 'escalated', 'queued') },
  transferTier: { otherwise: 'NOT_ASSIGNED', assignedMine: E('queued', 'escalated', 'queued') },
  transferAgent: { otherwise: 'NOT_ASSIGNED', assignedMine: E('offered', 'transferred', 'offered') },
  reply: { otherwise: 'NOT_ASSIGNED', assignedMine: E('assigned') },
  invite: { otherwise: 'NOT_ASSIGNED', assignedMine: E('assigned') },
  leave: { otherwise: 'NOT_PARTICIPANT' },
  offer: { otherwise: 'ILLEGAL', queued: E('offered', 'offered') },
  offerExpired: { otherwise: 'NOT_DUE', offeredMine: E('queued', 'offer-expired', 'requeued'), offeredOther: E('queued', 'offer-expired', 'requeued') },
  slaBreached: { otherwise: 'NOT_DUE', queued: E('queued', 'overflowed') },
  reopenWindowOver: { otherwise: 'NOT_DUE', resolvedOld: E('closed', 'closed'), closed: 'NOT_DUE' },
  agentReleased: { otherwise: 'NOT_DUE', offeredMine: E('queued', 'requeued'), assignedMine: E('queued', 'requeued') },
};

const summary = (o: Outcome): Expect => (o.ok ? [o.conversation.status, o.events.map((e) => e.type)] : o.code);
const cases = Object.entries(TABLE).flatMap(([input, row]) =>
  Object.keys(STATES).map((state) => [input, state, (row as Record<string, Expect>)[state] ?? row.otherwise] as const),
);

describe('lifecycle transitions (every input × every state)', () => {
  it.each(cases)('%s on %s → %j', (input, state, expected) => {
    const before = structuredClone(STATES[state]!);
    const out = decide(STATES[state]!, INPUTS[input]!, policy);
    expect(summary(out)).toEqual(expected);
    expect(STATES[state]).toEqual(before); // pure: the state passed in is never changed
    if (out.ok) {
      const c = out.conversation;
      // the state a decision leaves is always consistent
      expect(c.agentId !== null).toBe(c.status === 'offered' || c.status === 'assigned');
      expect(!!c.queue).toBe(c.status === 'queued');
      expect(c.offerDeadline !== null).toBe(c.status === 'offered');
      for (const o of out.offers) expect(o.deadline).toEqual(new Date(NOW.getTime() + policy.offerTimeoutMs));
      for (const e of out.events) expect(e.subject.id).toBe(c.id);
    }
  });
});

describe('lifecycle details', () => {
  const assigned = STATES.assignedMine!;
  it('refuses an escalation without a note, or to a tier that is not higher', () => {
    expect(summary(decide(assigned, w('escalate', { note: '  ' }), policy))).toBe('HANDOFF_NOTE_REQUIRED');
    expect(summary(decide(assigned, w('escalate', { toTier: 1 }), policy))).toBe('INVALID_TIER');
    expect(summary(decide({ ...assigned, tier: 5 }, INPUTS.escalate!, policy))).toBe('INVALID_TIER');
    expect(summary(decide(assigned, w('transferTier', { note: undefined }), policy))).toBe('HANDOFF_NOTE_REQUIRED');
    expect(summary(decide(assigned, w('transferTier', { toTier: 9 }), policy))).toBe('INVALID_TIER');
  });
  it('escalation keeps the handoff note, counts it, clears refusals and drops collaborators', () => {
    const c = { ...assigned, declinedAgents: ['a7'], participants: [{ agentId: 'a5', role: 'helper' as const, invitedBy: 'a1' }] };
    const out = decide(c, INPUTS.escalate!, policy);
    if (!out.ok) throw new Error(out.message);
    expect(out.conversation).toMatchObject({ tier: 2, escalations: 1, lastAgentId: 'a1', declinedAgents: [], participants: [], agentId: null });
    expect(out.conversation.handoffNotes).toEqual([{ fromTier: 1, toTier: 2, agentId: 'a1', note: 'tried resetting the password', at: NOW.toISOString() }]);
    expect(out.frames.map((f) => [f.agentId, f.frame.type])).toEqual([
      ['a1', 'unassigned'],
      ['a5', 'left'],
    ]);
    expect(out.events[0]).toMatchObject({ extra: { fromTier: 1, agentId: 'a1', handoffNote: 'tried resetting the password' }, subject: { tier: 2, agentId: 'a1' } });
    expect(out.events[1]!.subject.agentId).toBeNull();
    expect(out.conversation.queue!.waitingSince).toEqual(NOW);
  });
  it('transfer to an agent needs the target online with room, and not yourself', () => {
    expect(summary(decide(assigned, w('transferAgent', { target: null }), policy))).toBe('AGENT_UNAVAILABLE');
    expect(summary(decide(assigned, w('transferAgent', { target: { ...room, load: { chat: 2 } } }), policy))).toBe('AGENT_UNAVAILABLE');
    expect(summary(decide(assigned, w('transferAgent', { toAgentId: 'a1' }), policy))).toBe('AGENT_UNAVAILABLE');
    const out = decide({ ...assigned, declinedAgents: ['a2'] }, INPUTS.transferAgent!, policy);
    if (!out.ok) throw new Error(out.message);
    expect(out.offers).toEqual([{ conversationId: 'c1', agentId: 'a2', deadline: new Date(NOW.getTime() + policy.offerTimeoutMs) }]);
    expect(out.events[1]).toMatchObject({ actor: { type: 'agent', id: 'a1' }, reason: 'transfer from a1' });
    expect(out.wantsMatch).toBe(true);
  });
  it('reject and expiry bar the agent and keep the waiting time; expiry counts a lapse', () => {
    const offered = { ...STATES.offeredMine!, waitingSince: at(-50_000) };
    const r = decide(offered, INPUTS.reject!, policy);
    const x = decide(offered, INPUTS.offerExpired!, policy);
    for (const out of [r, x]) {
      if (!out.ok) throw new Error(out.message);
      expect(out.conversation.declinedAgents).toEqual(['a1']);
      expect(out.conversation.queue!.waitingSince).toEqual(at(-50_000));
    }
    expect(r.ok && r.agents).toEqual([]);
    expect(x.ok && x.agents).toEqual([{ agentId: 'a1', offerLapsed: true }]);
    expect(summary(decide(offered, { kind: 'offer-expired', at: at(19_999) }, policy))).toBe('NOT_DUE');
  });
  it('never offers to an agent who declined, or without room', () => {
    const q = { ...STATES.queued!, declinedAgents: ['a3'] };
    expect(summary(decide(q, INPUTS.offer!, policy))).toBe('ILLEGAL');
    expect(summary(decide(STATES.queued!, w('offer', { agent: { id: 'a3', capacity: { chat: 1 }, load: { chat: 1 } } }), policy))).toBe('ILLEGAL');
    expect(summary(decide(STATES.queued!, w('offer', { agent: { id: 'a3', capacity: { email: 5 }, load: {} } }), policy))).toBe('ILLEGAL');
  });
  it('a reopened conversation goes to its previous agent first and keeps no refusals', () => {
    const out = decide({ ...STATES.resolvedRecent!, declinedAgents: ['a4'] }, INPUTS.message!, policy);
    if (!out.ok) throw new Error(out.message);
    expect(out.conversation).toMatchObject({ status: 'queued', resolvedAt: null, declinedAgents: [], lastMessageId: 'msg-t1-1' });
    expect(out.conversation.queue!.preferredAgentId).toBe('a1');
    expect(out.events[0]!.extra).toEqual({ messageId: 'msg-t1-1', data: { previousAgentId: 'a1' } });
  });
  it('a message reaches the assignee and the collaborators, not an offered agent', () => {
    const parts = [{ agentId: 'a5', role: 'observer' as const, invitedBy: 'a1' }];
    const a = decide({ ...assigned, participants: parts }, INPUTS.message!, policy);
    const o = decide({ ...STATES.offeredMine!, participants: [] }, INPUTS.message!, policy);
    expect(a.ok && a.frames.map((f) => f.agentId)).toEqual(['a1', 'a5']);
    expect(o.ok && o.frames).toEqual([]);
  });
  it('only the assignee or a helper may reply; an observer may not', () => {
    const c = { ...STATES.assignedOther!, participants: [{ agentId: 'a1', role: 'helper' as const, invitedBy: 'a9' }] };
    expect(decide(c, INPUTS.reply!, policy).ok).toBe(true);
    expect(summary(decide({ ...c, participants: [{ agentId: 'a1', role: 'observer' as const, invitedBy: 'a9' }] }, INPUTS.reply!, policy))).toBe('NOT_ASSIGNED');
    expect(summary(decide({ ...c, status: 'offered' }, INPUTS.reply!, policy))).toBe('NOT_ASSIGNED');
  });
  it('invite refuses yourself and unknown agents; leave only for collaborators', () => {
    expect(summary(decide(assigned, w('invite', { targetId: 'a1' }), policy))).toBe('AGENT_UNAVAILABLE');
    expect(summary(decide(assigned, w('invite', { targetExists: false }), policy))).toBe('AGENT_UNAVAILABLE');
    const inv = decide(assigned, INPUTS.invite!, policy);
    if (!inv.ok) throw new Error(inv.message);
    expect(inv.frames).toEqual([{ agentId: 'a3', frame: { type: 'joined', conversationId: 'c1', role: 'observer', invitedBy: 'a1' }, withContext: true }]);
    const left = decide(inv.conversation, { kind: 'leave', at: NOW, conversationId: 'c1', agentId: 'a3' }, policy);
    expect(left.ok && left.conversation.participants).toEqual([]);
  });
  it('SLA overflow widens, escalates, and stops at tier 5', () => {
    const w = decide(STATES.queued!, INPUTS.slaBreached!, policy);
    expect(w.ok && w.conversation.queue).toMatchObject({ tiers: [1, 2], overflows: 1, slaDeadline: new Date(NOW.getTime() + 300_000) });
    const e = decide({ ...STATES.queued!, declinedAgents: ['a1'] }, INPUTS.slaBreached!, { ...policy, overflowMode: 'escalate' });
    expect(e.ok && e.conversation).toMatchObject({ tier: 2, declinedAgents: [], queue: { tiers: [2] } });
    expect(e.ok && e.events[0]!.extra.fromTier).toBe(1);
    const top = decide({ ...STATES.queued!, queue: { ...STATES.queued!.queue!, tiers: [4, 5] } }, INPUTS.slaBreached!, policy);
    expect(top.ok && [top.events.length, top.conversation.queue!.slaDeadline]).toEqual([0, null]);
  });
  it('says how a message meets its thread', () => {
    expect(['none', 'queued', 'assignedMine', 'resolvedRecent', 'resolvedOld', 'closed'].map((s) => arrivalKind(STATES[s], NOW, policy))).toEqual([
      'open',
      'join',
      'join',
      'reopen',
      'close-then-open',
      'open',
    ]);
  });
  it('agent lifecycle: lapses in a row set an online agent away; presence changes say so', () => {
    const a = { id: 'a1', presence: 'online' as const, consecutiveTimeouts: 0 };
    const one = agentTimedOut(a, policy);
    expect([one.agent, one.frames]).toEqual([{ ...a, consecutiveTimeouts: 1 }, []]);
    const two = agentTimedOut(one.agent, policy);
    expect(two.agent.presence).toBe('away');
    expect(two.frames[0]!.frame).toEqual({ type: 'presence', presence: 'away', reason: '2 offers expired in a row' });
    expect(agentTimedOut({ ...a, presence: 'away', consecutiveTimeouts: 5 }, policy).frames).toEqual([]);
    const off = agentPresence(a, 'offline', 'set by agent');
    expect([off.releaseWork, off.wantsMatch, off.frames.length]).toEqual([true, false, 1]);
    const on = agentPresence({ ...a, presence: 'away', consecutiveTimeouts: 2 }, 'online', 'set by agent');
    expect([on.agent.consecutiveTimeouts, on.wantsMatch, on.cameOnline]).toEqual([0, true, true]);
    expect(agentPresence(a, 'online', 'x').frames).toEqual([]);
  });
  it('is deterministic: the same inputs give the same decision', () => {
    for (const [name, input] of Object.entries(INPUTS))
      for (const s of Object.values(STATES)) expect([name, decide(s, input, policy)]).toEqual([name, decide(s, input, policy)]);
  });
});

describe('offer planning', () => {
  const agent = (id: string, extra: Partial<AgentSnapshot> = {}): AgentSnapshot => ({ id, tiers: [1], skills: [], languages: [], capacity: { chat: 1 }, load: {}, idleSince: T0, ...extra });
  const wc = (id: string, extra: Partial<WaitingConversation> = {}): WaitingConversation => ({ conversationId: id, priority: 50, waitingSince: T0, tiers: [1], channel: 'chat', requiredSkills: [], declined: [], ...extra });
  it('fills agents greedily in queue order, passing over what nobody can take', () => {
    const plan = planOffers([wc('x', { requiredSkills: ['sql'] }), wc('y'), wc('z')], [agent('a'), agent('b', { idleSince: at(5) })], false, NOW);
    expect(plan.map((p) => [p.conversationId, p.agent.id, p.agent.load.chat ?? 0])).toEqual([
      ['y', 'a', 0],
      ['z', 'b', 0],
    ]);
  });
  it('keeps tier order for arrivals: a conversation nobody can take holds its tier back', () => {
    expect(planOffers([wc('x', { requiredSkills: ['sql'] }), wc('y')], [agent('a')], true, NOW)).toEqual([]);
  });
});
