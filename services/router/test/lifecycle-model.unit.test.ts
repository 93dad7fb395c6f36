import fc from 'fast-check';
import type { Conversation } from '../src/domain/conversation';
import { arrivalKind, decide, openConversation, type Decision, type Input } from '../src/domain/lifecycle';
import { compareWaiting, planOffers, type AgentSnapshot, type WaitingConversation } from '../src/domain/match';
import { message, policy, T0 } from './support/lifecycle-fixtures';

/**
 * Model-based test of the lifecycle: random sequences of messages, agent commands, presence changes,
 * clock ticks (timers) and match passes are applied to (a) the real lifecycle driven the way the
 * store drives it (decide + planOffers over loads counted from the conversations) and (b) a simple
 * reference model of who holds what. After every step the two must agree and the invariants hold;
 * at the end, once every pending offer has lapsed, each conversation is assigned, queued or resolved/closed.
 * Self-service (tier 0): some conversations open in self-service; the customer answers YES (resolved,
 * no agent), NO or anything else (queued), or the answer deadline passes (queued) — never a second
 * attempt, never an agent or a queue entry while it waits, and it leaves with its original waiting time.
 */

const AGENTS = ['a1', 'a2', 'a3'];
const SELF_SERVICE_WAIT_MS = 30_000;
const THREADS = ['t1', 't2', 't3', 't4'];

interface ModelConv {
  status: Conversation['status'];
  owner: string | null;
  /** agents that refused it since it last changed audience (tier change, transfer): never offered it again */
  declined: Set<string>;
  tiers: number[];
  tier: number;
}

type Cmd =
  | { c: 'message'; thread: number; text: 'hello' | 'SÍ' | 'no'; selfService: boolean }
  | { c: 'accept' | 'reject' | 'resolve' | 'escalate'; agent: number; thread: number }
  | { c: 'transfer'; agent: number; thread: number; to: number }
  | { c: 'presence'; agent: number; online: boolean }
  | { c: 'tick'; ms: number }
  | { c: 'match' };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ c: fc.constant('message' as const), thread: fc.nat(THREADS.length - 1), text: fc.constantFrom('hello' as const, 'SÍ' as const, 'no' as const), selfService: fc.boolean() }),
  },
  { weight: 4, arbitrary: fc.record({ c: fc.constantFrom('accept' as const, 'reject' as const, 'resolve' as const, 'escalate' as const), agent: fc.nat(AGENTS.length - 1), thread: fc.nat(THREADS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('transfer' as const), agent: fc.nat(AGENTS.length - 1), thread: fc.nat(THREADS.length - 1), to: fc.nat(AGENTS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('presence' as const), agent: fc.nat(AGENTS.length - 1), online: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ c: fc.constant('tick' as const), ms: fc.constantFrom(1_000, 25_000, 130_000, 4_000_000) }) },
  { weight: 3, arbitrary: fc.record({ c: fc.constant('match' as const) }) },
);

const agentsArb = fc.array(fc.record({ tiers: fc.subarray([1, 2, 3, 4, 5], { minLength: 1 }), chat: fc.integer({ min: 0, max: 2 }) }), {
  minLength: AGENTS.length,
  maxLength: AGENTS.length,
});

class World {
  now = T0.getTime();
  /** latest conversation per thread (the real one) */
  convs = new Map<string, Conversation>();
  model = new Map<string, ModelConv>(); // by conversation id
  online = new Set<string>(AGENTS);
  seq = 0;
  n = 0;
  /** self-service answers sent per conversation (never more than one) */
  selfServiceOffers = new Map<string, number>();
  constructor(readonly agents: { id: string; tiers: number[]; capacity: Record<string, number> }[]) {}

  get at(): Date {
    return new Date(this.now);
  }
  load(agentId: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.convs.values()) if (c.agentId === agentId && (c.status === 'offered' || c.status === 'assigned')) out[c.channel] = (out[c.channel] ?? 0) + 1;
    return out;
  }
  snapshot(id: string): AgentSnapshot {
    const a = this.agents.find((x) => x.id === id)!;
    return { id, tiers: a.tiers, skills: [], languages: [], capacity: a.capacity, load: this.load(id), idleSince: T0 };
  }
  /** applies a decision to the real state, checking it against the model's expectation */
  apply(d: Decision): void {
    const before = this.convs.get(d.conversation.threadKey);
    this.convs.set(d.conversation.threadKey, d.conversation);
    for (const e of d.events) if (e.type === 'conversation.self-service-offered') this.selfServiceOffers.set(e.subject.id, (this.selfServiceOffers.get(e.subject.id) ?? 0) + 1);
    // leaving self-service for the queue keeps the place of the first message
    if (before?.id === d.conversation.id && before.status === 'self-service' && d.conversation.status === 'queued') {
      expect(d.conversation.queue!.waitingSince).toEqual(d.conversation.openedAt);
      expect(d.conversation.queue!.slaDeadline).toEqual(new Date(d.conversation.openedAt.getTime() + policy.slaMsByTier[d.conversation.tier]!));
    }
    for (const o of d.offers) {
      // never offered to someone who refused it since it last changed audience
      const m = this.model.get(o.conversationId)!;
      expect(m.declined.has(o.agentId)).toBe(false);
    }
  }

  step(x: Cmd): void {
    const at = this.at;
    switch (x.c) {
      case 'message': {
        const thread = THREADS[x.thread]!;
        const latest = this.convs.get(thread) ?? null;
        const m = message(thread, ++this.seq, x.text === 'hello' ? {} : { text: x.text });
        const kind = arrivalKind(latest, at, policy);
        let current = latest;
        if (kind === 'close-then-open') {
          const closed = decide(latest, { kind: 'reopen-window-over', at }, policy);
          if (!closed.ok) throw new Error(closed.message);
          this.apply(closed);
          this.model.get(latest!.id)!.status = 'closed';
          current = closed.conversation;
        }
        const opening =
          kind === 'open' || kind === 'close-then-open'
            ? {
                conversation: openConversation(`c${++this.n}`, m, { tier: 1 + (this.seq % 3), category: 'x', priority: 50, skills: [] }, { attributes: {}, displayName: null }, at),
                ruleVersion: 1,
                matchedRules: [],
                ...(x.selfService ? { selfService: { setting: { categories: ['x'], waitMs: SELF_SERVICE_WAIT_MS }, articles: [{ id: 'kb-1', title: 'Reset', link: 'https://kb/1' }] } } : {}),
              }
            : undefined;
        const out = decide(current, { kind: 'message', at, message: m, ...(opening ? { opening } : {}) }, policy);
        if (!out.ok) throw new Error(`message refused: ${out.message}`);
        this.apply(out);
        if (opening) this.model.set(out.conversation.id, { status: x.selfService ? 'self-service' : 'queued', owner: null, declined: new Set(), tiers: [out.conversation.tier], tier: out.conversation.tier });
        else if (kind === 'join' && this.model.get(out.conversation.id)!.status === 'self-service')
          Object.assign(this.model.get(out.conversation.id)!, x.text === 'SÍ' ? { status: 'resolved', owner: null } : { status: 'queued', owner: null, tiers: [out.conversation.tier] });
        else if (kind === 'reopen') Object.assign(this.model.get(out.conversation.id)!, { status: 'queued', owner: null, declined: new Set(), tiers: [out.conversation.tier] });
        return;
      }
      case 'accept':
      case 'reject':
      case 'resolve':
      case 'escalate':
      case 'transfer': {
        const agentId = AGENTS[x.agent]!;
        const conv = this.convs.get(THREADS[x.thread]!) ?? null;
        const m = conv ? this.model.get(conv.id)! : undefined;
        const id = conv?.id ?? 'missing';
        const mine = (s: string) => !!m && m.status === s && m.owner === agentId;
        let input: Input;
        let allowed: boolean;
        if (x.c === 'accept') [input, allowed] = [{ kind: 'accept', at, conversationId: id, agentId }, mine('offered')];
        else if (x.c === 'reject') [input, allowed] = [{ kind: 'reject', at, conversationId: id, agentId }, mine('offered')];
        else if (x.c === 'resolve') [input, allowed] = [{ kind: 'resolve', at, conversationId: id, agentId }, mine('assigned')];
        else if (x.c === 'escalate') [input, allowed] = [{ kind: 'escalate', at, conversationId: id, agentId, note: 'tried' }, mine('assigned') && m!.tier < 5];
        else if (x.c === 'transfer') {
          const to = AGENTS[x.to]!;
          const t = this.snapshot(to);
          const room = (t.capacity.chat ?? 0) - (t.load.chat ?? 0) > 0;
          [input, allowed] = [
            { kind: 'transfer', at, conversationId: id, agentId, toAgentId: to, target: this.online.has(to) ? t : null },
            mine('assigned') && to !== agentId && this.online.has(to) && room,
          ];
        } else return;
        const out = decide(conv, input, policy);
        expect(out.ok).toBe(allowed);
        if (!out.ok) return;
        this.apply(out);
        if (x.c === 'accept') m!.status = 'assigned';
        else if (x.c === 'reject') Object.assign(m!, { status: 'queued', owner: null, tiers: [m!.tier] }), m!.declined.add(agentId);
        else if (x.c === 'resolve') Object.assign(m!, { status: 'resolved', owner: null });
        else if (x.c === 'escalate') Object.assign(m!, { status: 'queued', owner: null, declined: new Set(), tier: m!.tier + 1, tiers: [m!.tier + 1] });
        else if (x.c === 'transfer') Object.assign(m!, { status: 'offered', owner: AGENTS[x.to], declined: new Set() });
        return;
      }
      case 'presence': {
        const agentId = AGENTS[x.agent]!;
        if (x.online) this.online.add(agentId);
        else {
          this.online.delete(agentId);
          // going offline releases the agent's work, each conversation in its own decision
          for (const c of [...this.convs.values()]) {
            const out = decide(c, { kind: 'agent-released', at, agentId, reason: 'offline' }, policy);
            const m = this.model.get(c.id)!;
            expect(out.ok).toBe(m.owner === agentId && (m.status === 'offered' || m.status === 'assigned'));
            if (!out.ok) continue;
            this.apply(out);
            Object.assign(m, { status: 'queued', owner: null, tiers: [m.tier] });
          }
        }
        return;
      }
      case 'tick': {
        this.now += x.ms;
        const at2 = this.at;
        // the sweep: every due timer of every conversation
        for (const c of [...this.convs.values()]) {
          const m = this.model.get(c.id)!;
          const kinds: Input[] = [
            { kind: 'offer-expired', at: at2 },
            { kind: 'sla-breached', at: at2 },
            { kind: 'reopen-window-over', at: at2 },
            { kind: 'self-service-expired', at: at2 },
          ];
          for (const input of kinds) {
            const cur = this.convs.get(c.threadKey)!;
            const out = decide(cur, input, policy);
            if (!out.ok) continue;
            this.apply(out);
            if (input.kind === 'offer-expired') {
              m.declined.add(m.owner!);
              // back in its queue at its original place, with its own tier's audience again (widening starts over)
              Object.assign(m, { status: 'queued', owner: null, tiers: [m.tier] });
            } else if (input.kind === 'reopen-window-over') m.status = 'closed';
            else if (input.kind === 'self-service-expired') Object.assign(m, { status: 'queued', owner: null, tiers: [m.tier] });
            else m.tiers = out.conversation.queue!.tiers;
          }
        }
        return;
      }
      case 'match': {
        const queued = [...this.convs.values()].filter((c) => c.status === 'queued');
        const waiting: WaitingConversation[] = queued
          .map((c) => ({ conversationId: c.id, priority: c.priority, waitingSince: c.queue!.waitingSince, tiers: c.queue!.tiers, channel: c.channel, language: c.language, requiredSkills: c.requiredSkills, declined: c.declinedAgents, preferredAgentId: c.queue!.preferredAgentId }))
          .sort(compareWaiting);
        const agents = [...this.online].map((id) => this.snapshot(id));
        for (const p of planOffers(waiting, agents, false, at)) {
          const conv = queued.find((c) => c.id === p.conversationId)!;
          const m = this.model.get(conv.id)!;
          // the model's eligibility: online, serves one of the tiers, room, not declined
          expect(this.online.has(p.agent.id)).toBe(true);
          expect(this.agents.find((a) => a.id === p.agent.id)!.tiers.some((t) => m.tiers.includes(t))).toBe(true);
          const out = decide(conv, { kind: 'offer', at, agent: this.snapshot(p.agent.id), reason: 'match' }, policy);
          if (!out.ok) throw new Error(`planned offer refused: ${out.message}`);
          this.apply(out);
          Object.assign(m, { status: 'offered', owner: p.agent.id });
        }
        return;
      }
    }
  }

  /** Invariants after every step. */
  check(): void {
    for (const c of this.convs.values()) {
      const m = this.model.get(c.id)!;
      expect([c.id, c.status, c.agentId]).toEqual([c.id, m.status, m.owner]);
      for (const d of m.declined) expect(c.declinedAgents).toContain(d);
      if (c.status === 'queued') expect(c.queue?.tiers).toEqual(m.tiers);
      if (c.status === 'self-service') expect([c.agentId, c.queue, c.selfService?.state]).toEqual([null, null, 'offered']);
      expect(this.selfServiceOffers.get(c.id) ?? 0).toBeLessThanOrEqual(1);
    }
    // at most one live conversation per thread is the map itself; one owner at most is agentId; capacity:
    for (const a of this.agents) {
      const load = this.load(a.id);
      for (const [ch, n] of Object.entries(load)) expect(n).toBeLessThanOrEqual(a.capacity[ch] ?? 0);
    }
  }
}

describe('lifecycle against a reference model', () => {
  it('random sequences keep one owner, capacity, refusals, one self-service attempt, and end assigned, queued or resolved', () => {
    fc.assert(
      fc.property(agentsArb, fc.array(cmd, { minLength: 1, maxLength: 60 }), (specs, cmds) => {
        const w = new World(specs.map((s, i) => ({ id: AGENTS[i]!, tiers: s.tiers, capacity: { chat: s.chat } })));
        for (const x of cmds) {
          w.step(x);
          w.check();
        }
        // the end: every pending offer lapses (no new match): nothing is left offered
        w.step({ c: 'tick', ms: Math.max(policy.offerTimeoutMs, SELF_SERVICE_WAIT_MS) + 1 });
        w.check();
        for (const c of w.convs.values()) expect(['assigned', 'queued', 'resolved', 'closed']).toContain(c.status);
      }),
      { numRuns: Number(process.env.MODEL_RUNS ?? 300) },
    );
  });
});
