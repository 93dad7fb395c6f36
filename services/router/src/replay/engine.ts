import { derivedId } from '@omni/contracts';
import { TierHours } from '../domain/business-hours';
import { classifyArrival, compileRules } from '../domain/classify';
import type { Conversation } from '../domain/conversation';
import { agentPresence, agentTimedOut, arrivalKind, decide, openConversation, type AgentState, type Decision, type Input, type LifecyclePolicy, type Opening } from '../domain/lifecycle';
import { compareWaiting, freeCapacity, isEligible, planOffers, waitingOf, type AgentSnapshot, type WaitingConversation } from '../domain/match';
import { compareAged, stepAt, type PriorityAgeing, type WideningStep } from '../domain/preference';
import { endWrapUpEarly, expireWrapUp, startWrapUp, withWrapUp, type WrapUp } from '../domain/wrap-up';
import type { SelfServiceSetting } from '../domain/self-service';
import type { AgentBehaviour } from './behaviour';
import { Heap } from './heap';
import type { AgentProfile, DecisionEvent, RecordedInput, Recording, ReplayConfig } from './types';

/**
 * The replay engine: a discrete-event simulation on a virtual clock that feeds recorded inputs
 * (messages, presence and capacity changes) and the agent behaviour's actions (accept, reject,
 * resolve, escalate, transfer) and the timers (offer expiry, queue SLA, reopen window) through the
 * router's own pure code — classify, the lifecycle's decide(), the matcher's planOffers — exactly as
 * the live router orchestrates them (services/router/src/consumers/inbound.ts, routing/*), but on
 * in-memory state. Nothing here reads a clock or a random source: same recording, configuration
 * and behaviour → the same decisions.
 *
 * Event order at one instant (a total order, so equal-time inputs in any array order replay the
 * same): staffing (presence, capacity), then agent actions, then timers, then customer messages;
 * inside a phase, recorded inputs by their stable key (agent id / message id), generated events in
 * the order they were scheduled. When an instant's events are done, one match pass runs if any of
 * them freed capacity or added work (the live Matcher.kick()), in queue order over the online agents.
 */

const PHASE = { staffing: 0, agent: 1, timer: 2, message: 3, recordedOffer: 4 } as const;

type Ev =
  | { at: number; phase: number; key: string; seq: number; type: 'input'; input: RecordedInput }
  /** the start state's reconstruction: an offer the live router made, to the agent it chose */
  | { at: number; phase: number; key: string; seq: number; type: 'recorded-offer'; conversationId: string; agentId: string; reason: string }
  | { at: number; phase: number; key: string; seq: number; type: 'lifecycle'; conversationId: string; input: Input; source: 'agent' | 'timer' }
  /** a queued conversation reaches a widening step: a match pass (live: the sweep's pass while anything is queued) */
  | { at: number; phase: number; key: string; seq: number; type: 'step'; conversationId: string }
  /** an agent's wrap-up reaches its maximum: the slot is free (live: load counts wrap-ups until \`until\`) */
  | { at: number; phase: number; key: string; seq: number; type: 'wrap-up-over'; agentId: string };

function before(x: Ev, y: Ev): boolean {
  if (x.at !== y.at) return x.at < y.at;
  if (x.phase !== y.phase) return x.phase < y.phase;
  if (x.key !== y.key) return x.key < y.key;
  return x.seq < y.seq;
}

function inputKey(i: RecordedInput): { phase: number; key: string } {
  switch (i.kind) {
    case 'message':
      return { phase: PHASE.message, key: `m\u0000${i.order ?? ''}\u0000${i.message.messageId}` };
    case 'presence':
      return { phase: PHASE.staffing, key: `p\u0000${i.agentId}\u0000${i.presence}` };
    case 'capacity':
      return { phase: PHASE.staffing, key: `c\u0000${i.agentId}\u0000${JSON.stringify(Object.entries(i.capacity).sort())}` };
    case 'profile':
      return { phase: PHASE.staffing, key: `f\u0000${i.agentId}\u0000${JSON.stringify([i.tiers, i.skills, i.languages, Object.entries(i.capacity).sort(), i.proficiency ?? null])}` };
    case 'console':
      return { phase: PHASE.staffing, key: `k\u0000${i.agentId}\u0000${i.attached ? 1 : 0}` };
    case 'wrap-up-ended':
      return { phase: PHASE.agent, key: `w\u0000${i.agentId}\u0000${i.conversationId ?? ''}` };
  }
}

interface SimAgent {
  profile: AgentProfile;
  state: AgentState;
  /** a console attached (offers go only to online agents with one) */
  attached: boolean;
  load: Record<string, number>;
  idleSince: number;
  /** the match pass number from which this agent may take more than before (came online, freed capacity, more capacity) */
  freedEpoch: number;
  held: Set<string>;
  /** after-contact work in progress (domain/wrap-up.ts): each keeps a slot of its channel until it ends */
  wrapUps: WrapUp[];
  /** time with at least one conversation assigned, and slot-time, for occupancy */
  assignedMs: number;
  onlineMs: number;
  onlineSince: number | null;
  slotMs: number;
  slotsBusy: number;
  slotsSince: number;
}

/** What the report needs of a conversation besides its decisions. */
export interface ConversationRecord {
  id: string;
  threadKey: string;
  channel: string;
  customerKey: string | null;
  openedAt: number;
  openingTier: number;
  category: string;
  priority: number;
  language: string | null;
  ruleVersion: number;
  matchedRules: string[];
}

export interface AgentUsage {
  id: string;
  onlineMs: number;
  /** slot-milliseconds with a conversation assigned */
  busySlotMs: number;
  /** slot-milliseconds online (capacity × online time) */
  slotMs: number;
}

export interface Refused {
  at: number;
  conversationId: string;
  kind: string;
  source: 'agent' | 'timer' | 'message';
  code: string;
  message: string;
}

export interface ReplayResult {
  config: string;
  from: number;
  to: number;
  decisions: DecisionEvent[];
  conversations: Map<string, ConversationRecord>;
  agents: AgentUsage[];
  /** agent actions the lifecycle refused (e.g. an answer after the offer lapsed), with why */
  refused: Refused[];
  behaviour: { recorded: number; modelled: number };
  events: number;
}

const held = (c: Conversation | null | undefined): string | null => (c && (c.status === 'offered' || c.status === 'assigned') ? c.agentId : null);


export function agentsFor(recorded: AgentProfile[], cfg: ReplayConfig): AgentProfile[] {
  const remove = new Set(cfg.agents?.remove ?? []);
  const out = recorded.filter((a) => !remove.has(a.id)).map((a) => ({ ...a, ...(cfg.agents?.override?.[a.id] ?? {}), id: a.id }));
  for (const a of cfg.agents?.add ?? []) if (!out.some((o) => o.id === a.id)) out.push(a);
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Replays a recording with a configuration. `exhaustiveMatch` turns off the match pass's shortcuts
 * (leaving out conversations nobody free can take, remembering those found so): the reference the
 * tests compare the fast path with.
 */
export function replay(
  rec: Recording,
  cfg: ReplayConfig,
  behaviour: AgentBehaviour,
  opts: { until?: number; exhaustiveMatch?: boolean; reportFrom?: number; recordedStart?: boolean; onProgress?: (p: { at: number; events: number }) => void } = {},
): ReplayResult {
  const reportFrom = opts.reportFrom ?? rec.from;
  return new Simulation(rec, cfg, behaviour, opts.exhaustiveMatch ?? false, opts.onProgress, opts.recordedStart ? reportFrom : -Infinity).run(opts.until ?? rec.to, reportFrom);
}

class Simulation {
  private readonly heap = new Heap<Ev>(before);
  private seq = 0;
  private now: number;
  private readonly rulesAt: { from: number; version: number; compiled: ReturnType<typeof compileRules>; widening: Map<string, WideningStep[]>; selfService: SelfServiceSetting | null }[];
  /** the widening steps a conversation took from the rule that classified it when first queued (live: router.queue_widening) */
  private readonly widening = new Map<string, WideningStep[]>();
  private readonly convs = new Map<string, Conversation>();
  private readonly threads = new Map<string, string>();
  private readonly byCustomer = new Map<string, string[]>();
  private readonly queued = new Set<string>();
  private readonly agents = new Map<string, SimAgent>();
  private readonly offerCounts = new Map<string, number>();
  private readonly assignCounts = new Map<string, number>();
  private readonly decisions: DecisionEvent[] = [];
  private readonly records = new Map<string, ConversationRecord>();
  private readonly refused: Refused[] = [];
  private matchWanted = false;
  /** match passes so far; a queued conversation no free agent could take at pass n is only re-checked against agents freed since */
  private epoch = 0;
  private readonly unmatchable = new Map<string, { conv: Conversation; epoch: number }>();
  private events = 0;
  private readonly escalationWindowMs: number;
  /** lifecycle settings and business hours by time (a version takes effect at its `from`) */
  private readonly policies: { from: number; policy: LifecyclePolicy; ageing?: PriorityAgeing | undefined; wrapUpMs?: number | undefined }[];
  private readonly hoursAt: { from: number; hours: TierHours | null }[];
  /** while rebuilding the start state: the conversations the recording opened (a message of an older one is not replayed) */
  private readonly openedBeforeStart = new Set<string>();

  constructor(
    private readonly rec: Recording,
    private readonly cfg: ReplayConfig,
    private readonly behaviour: AgentBehaviour,
    private readonly exhaustive: boolean,
    private readonly onProgress?: (p: { at: number; events: number }) => void,
    /**
     * Before this time the state is rebuilt from the recording rather than decided: offers go where the
     * live router sent them, at their recorded time (the conversations queued, offered and assigned
     * and the agents' load and idle order at the window start are then what they were live).
     */
    private readonly recordedUntil = -Infinity,
  ) {
    this.now = rec.from;
    const stepsOf = (rules: ReplayConfig['rules']) => new Map(rules.flatMap((r) => (r.id && r.then.widening?.length ? [[r.id, r.then.widening] as const] : [])));
    this.rulesAt = [
      { from: -Infinity, version: cfg.ruleVersion, compiled: compileRules(cfg.rules), widening: stepsOf(cfg.rules), selfService: cfg.selfService ?? null },
      ...(cfg.ruleTimeline ?? [])
        .map((t) => ({ from: t.from, version: t.version, compiled: compileRules(t.rules), widening: stepsOf(t.rules), selfService: t.selfService ?? null }))
        .sort((a, b) => a.from - b.from),
    ];
    this.escalationWindowMs = (cfg.recentEscalationDays ?? 30) * 86_400_000;
    this.policies = [{ from: -Infinity, policy: cfg.policy, ageing: cfg.ageing, wrapUpMs: cfg.wrapUpMs }, ...(cfg.policyTimeline ?? []).slice().sort((a, b) => a.from - b.from)];
    const hours = (h: ReplayConfig['hours']) => (h && Object.keys(h.tiers).length ? new TierHours(h) : null);
    this.hoursAt = [{ from: -Infinity, hours: hours(cfg.hours) }, ...(cfg.hoursTimeline ?? []).map((t) => ({ from: t.from, hours: hours(t.hours) })).sort((a, b) => a.from - b.from)];
    for (const p of agentsFor(rec.agents, cfg)) {
      const online = p.presence === 'online';
      this.agents.set(p.id, {
        profile: { ...p, capacity: { ...p.capacity } },
        state: { id: p.id, presence: p.presence, consecutiveTimeouts: 0 },
        attached: p.attached ?? true,
        load: {},
        idleSince: p.idleSince ?? rec.from,
        freedEpoch: 0,
        held: new Set(),
        wrapUps: [],
        assignedMs: 0,
        onlineMs: 0,
        onlineSince: online ? rec.from : null,
        slotMs: 0,
        slotsBusy: 0,
        slotsSince: rec.from,
      });
    }
    for (const i of rec.inputs) {
      const k = inputKey(i);
      this.heap.push({ at: i.at, ...k, seq: this.seq++, type: 'input', input: i });
    }
    for (const d of rec.decisions) if (d.type === 'conversation.opened' && d.at < recordedUntil) this.openedBeforeStart.add(d.conversationId);
    for (const d of rec.decisions)
      if (d.type === 'conversation.offered' && d.agentId && d.at < recordedUntil)
        this.heap.push({ at: d.at, phase: PHASE.recordedOffer, key: `${d.conversationId}\u0000${d.agentId}`, seq: this.seq++, type: 'recorded-offer', conversationId: d.conversationId, agentId: d.agentId, reason: d.reason ?? 'recorded offer' });
  }

  /**
   * Runs to `until`. With `reportFrom` after the recording's start, the time before it is a warm-up
   * (state at the window start rebuilt by replaying from a quiet point): occupancy counts from it,
   * and the report covers the conversations opened from it on.
   */
  run(until: number, reportFrom: number): ReplayResult {
    this.matchWanted = true;
    let warm = reportFrom > this.now;
    for (;;) {
      if (warm && (this.heap.peek()?.at ?? Infinity) >= reportFrom) {
        warm = false;
        this.match();
        this.advance(reportFrom);
        for (const a of this.agents.values()) {
          this.accrue(a);
          a.assignedMs = 0;
          a.slotMs = 0;
          a.onlineMs = 0;
          if (a.onlineSince !== null) a.onlineSince = reportFrom;
        }
      }
      let e = this.heap.peek();
      if (!e || e.at > until || e.at > this.now) {
        // the instant is over: one match pass over everything it changed (live: the inbound
        // transaction's arrival offers over its whole batch, or the pass its commit kicked)
        this.match();
        e = this.heap.peek();
        if (!e || e.at > until) break;
      }
      this.heap.pop();
      this.advance(e.at);
      if (++this.events % 20_000 === 0) this.onProgress?.({ at: this.now, events: this.events });
      if (e.type === 'input') this.onInput(e.input);
      else if (e.type === 'recorded-offer') this.onRecordedOffer(e);
      else if (e.type === 'step') {
        if (this.queued.has(e.conversationId)) this.matchWanted = true;
      } else if (e.type === 'wrap-up-over') this.endWrapUps(e.agentId, (list) => expireWrapUp(list, new Date(this.now)).list);
      else this.onLifecycle(e.conversationId, e.input, e.source);
    }
    this.advance(Math.max(until, this.now));
    for (const a of this.agents.values()) this.accrue(a);
    const agents = [...this.agents.values()].map((a) => ({ id: a.profile.id, onlineMs: a.onlineMs + (a.onlineSince !== null ? this.now - a.onlineSince : 0), busySlotMs: a.assignedMs, slotMs: a.slotMs }));
    return {
      config: this.cfg.name,
      from: reportFrom,
      to: until,
      decisions: this.decisions,
      conversations: this.records,
      agents,
      refused: this.refused,
      behaviour: { ...this.behaviour.stats },
      events: this.events,
    };
  }

  /** the lifecycle settings in force now (the recorded version, or the proposal's) */
  /** The lifecycle settings in force, with the business hours in force (queue SLAs in business time, as live: routing/policy.ts). */
  private get policy(): LifecyclePolicy {
    const p = atNow(this.policies, this.now).policy;
    const hours = atNow(this.hoursAt, this.now).hours;
    return hours ? { ...p, hours } : p;
  }

  /** an agent's load as the matcher and the lifecycle see it: conversations held plus wrap-ups running (live: store/agents.ts); not a copy when none run */
  private loadOf(a: SimAgent): Record<string, number> {
    return a.wrapUps.length ? withWrapUp({ load: a.load }, a.wrapUps, new Date(this.now)).load : a.load;
  }

  /** Replaces an agent's wrap-up list; slots it no longer holds are free for a match pass. */
  private endWrapUps(agentId: string, next: (list: WrapUp[]) => WrapUp[]): void {
    const a = this.agents.get(agentId);
    if (!a) return;
    const list = next(a.wrapUps);
    if (list.length === a.wrapUps.length) return;
    a.wrapUps = list;
    a.freedEpoch = this.epoch + 1;
    this.matchWanted = true;
  }

  /** live (routing/agent-commands.ts resolve): the resolving agent keeps the conversation's slot for WRAP_UP_MS */
  private startWrapUp(agentId: string, c: Conversation): void {
    const a = this.agents.get(agentId);
    const ms = atNow(this.policies, this.now).wrapUpMs ?? 0;
    if (!a || ms <= 0) return;
    a.wrapUps = startWrapUp(a.wrapUps, c.id, c.channel, new Date(this.now), { maxMsByChannel: { [c.channel]: ms } });
    this.heap.push({ at: this.now + ms, phase: PHASE.timer, key: `u\u0000${agentId}`, seq: this.seq++, type: 'wrap-up-over', agentId });
  }

  /** priority ageing in force now (recorded with the lifecycle settings; undefined: off) */
  private get ageing(): PriorityAgeing | undefined {
    return atNow(this.policies, this.now).ageing;
  }

  /** moves the virtual clock (agents' occupancy accrues lazily, see accrue) */
  private advance(t: number): void {
    if (t > this.now) this.now = t;
  }

  /** Accrues an agent's busy and online slot-time up to now: called before anything that changes them. */
  private accrue(a: SimAgent): void {
    const dt = this.now - a.slotsSince;
    if (dt <= 0) return;
    a.assignedMs += a.slotsBusy * dt;
    if (a.state.presence === 'online') a.slotMs += totalCapacity(a.profile.capacity) * dt;
    a.slotsSince = this.now;
  }

  private schedule(at: number, phase: number, conversationId: string, input: Input, source: 'agent' | 'timer'): void {
    this.heap.push({ at, phase, key: '', seq: this.seq++, type: 'lifecycle', conversationId, input, source });
  }

  private onInput(i: RecordedInput): void {
    switch (i.kind) {
      case 'message':
        return this.onMessage(i);
      case 'capacity': {
        const a = this.agents.get(i.agentId);
        if (!a || this.cfg.agents?.override?.[i.agentId]?.capacity) return; // a proposed capacity overrides the recorded changes
        this.accrue(a);
        a.profile.capacity = { ...i.capacity };
        a.freedEpoch = this.epoch + 1;
        this.matchWanted = true;
        return;
      }
      case 'profile': {
        const a = this.agents.get(i.agentId);
        if (!a) return;
        // fields the proposal names for this agent override the recorded versions
        const o = this.cfg.agents?.override?.[i.agentId] ?? {};
        this.accrue(a);
        a.profile = { ...a.profile, tiers: o.tiers ?? i.tiers, skills: o.skills ?? i.skills, languages: o.languages ?? i.languages, capacity: { ...(o.capacity ?? i.capacity) }, proficiency: o.proficiency ?? i.proficiency };
        a.freedEpoch = this.epoch + 1;
        this.matchWanted = true;
        return;
      }
      case 'wrap-up-ended':
        // the agent ended after-contact work early (console end-wrap-up); nothing to end in this configuration: no effect
        return this.endWrapUps(i.agentId, (list) => {
          const out = endWrapUpEarly(list, new Date(this.now), i.conversationId);
          return out.ok ? out.list : list;
        });
      case 'console': {
        const a = this.agents.get(i.agentId);
        if (!a) return;
        a.attached = i.attached;
        if (i.attached) {
          a.freedEpoch = this.epoch + 1;
          this.matchWanted = true;
        }
        return;
      }
      case 'presence': {
        const a = this.agents.get(i.agentId);
        if (!a) return;
        this.accrue(a);
        const p = agentPresence(a.state, i.presence, 'recorded presence');
        if (a.state.presence === 'online' && p.agent.presence !== 'online' && a.onlineSince !== null) {
          a.onlineMs += this.now - a.onlineSince;
          a.onlineSince = null;
        } else if (a.state.presence !== 'online' && p.agent.presence === 'online') a.onlineSince = this.now;
        a.state = p.agent;
        if (p.agent.presence === 'online') a.freedEpoch = this.epoch + 1;
        if (p.cameOnline) a.idleSince = this.now; // agentConnected: an agent who was offline starts its idle time now
        if (p.releaseWork)
          for (const id of [...a.held].sort()) {
            const out = decide(this.convs.get(id)!, { kind: 'agent-released', at: new Date(this.now), agentId: a.profile.id, reason: 'agent offline' }, this.policy);
            if (out.ok) this.apply(this.convs.get(id)!, out);
          }
        if (p.wantsMatch) this.matchWanted = true;
        return;
      }
    }
  }

  private onMessage(i: Extract<RecordedInput, { kind: 'message' }>): void {
    const m = i.message;
    const at = new Date(this.now);
    const policy = this.policy;
    let latest = this.convs.get(this.threads.get(m.threadKey) ?? '') ?? null;
    const kind = arrivalKind(latest, at, policy);
    if (kind === 'close-then-open') {
      const closed = decide(latest, { kind: 'reopen-window-over', at }, policy);
      if (closed.ok) latest = this.apply(latest, closed);
    }
    let opening: Opening | undefined;
    let widening: WideningStep[] | undefined;
    // rebuilding the start state: a message of a conversation opened before the point rebuilding starts
    // from would open one the recording does not have (it held no agent at the window start: left out)
    if (this.now < this.recordedUntil && (kind === 'open' || kind === 'close-then-open') && !this.openedBeforeStart.has(derivedId('conv', m.messageId))) {
      this.refused.push({ at: this.now, conversationId: derivedId('conv', m.messageId), kind: 'message', source: 'message', code: 'BEFORE_START', message: 'a message of a conversation opened before the start state was rebuilt from (left out)' });
      return;
    }
    if (kind === 'open' || kind === 'close-then-open') {
      const attributes = i.customer?.attributes ?? {};
      const customerKey = `${m.from.channel}:${m.from.address}`;
      // the rule version active at this instant (live: read once per inbound transaction)
      let rules = this.rulesAt[0]!;
      for (const r of this.rulesAt) if (r.from <= this.now) rules = r;
      const c = classifyArrival(rules.compiled, m, attributes, (i.customer?.recentEscalations ?? 0) + this.recentEscalations(customerKey));
      const conversation = openConversation(derivedId('conv', m.messageId), m, c, { attributes, displayName: i.customer?.displayName ?? null }, at);
      // self-service: the setting of this rule version and the tier-0 answer knowledge gave live (recorded, never asked again)
      const articles = (i.selfServiceArticles ?? []).map((id) => ({ id, title: id, link: '' }));
      opening = { conversation, ruleVersion: rules.version, matchedRules: c.matched, selfService: { setting: rules.selfService, articles } };
      widening = c.matched.length ? rules.widening.get(c.matched.at(-1)!) : undefined;
      this.records.set(conversation.id, {
        id: conversation.id,
        threadKey: m.threadKey,
        channel: m.channel,
        customerKey: conversation.customerKey,
        openedAt: this.now,
        openingTier: c.tier,
        category: c.category,
        priority: conversation.priority,
        language: conversation.language,
        ruleVersion: rules.version,
        matchedRules: c.matched,
      });
    }
    const out = decide(opening ? null : latest, { kind: 'message', at, message: m, ...(opening ? { opening } : {}) }, policy);
    if (!out.ok) {
      this.refused.push({ at: this.now, conversationId: latest?.id ?? '', kind: 'message', source: 'message', code: out.code, message: out.message });
      return;
    }
    // live (routing/matching.ts recordWidening): the steps of the rule recorded as classifying it (the last matched
    // one), copied when the opening queues it; one routed later from self-service has none
    if (widening && out.conversation.status === 'queued') this.widening.set(out.conversation.id, widening);
    this.apply(opening ? null : latest, out);
  }

  /** the customer's escalations over its conversations opened in the last 30 days (live: classificationInputs) */
  private recentEscalations(customerKey: string): number {
    let n = 0;
    for (const id of this.byCustomer.get(customerKey) ?? []) {
      const c = this.convs.get(id)!;
      if (c.openedAt.getTime() > this.now - this.escalationWindowMs) n += c.escalations;
    }
    return n;
  }

  private onLifecycle(conversationId: string, input: Input, source: 'agent' | 'timer'): void {
    const conv = this.convs.get(conversationId) ?? null;
    let i = input;
    if (i.kind === 'transfer' && i.toAgentId) {
      const t = this.agents.get(i.toAgentId);
      i = { ...i, target: t && t.state.presence === 'online' && t.attached ? { id: t.profile.id, capacity: t.profile.capacity, load: { ...this.loadOf(t) } } : null };
    }
    const out = decide(conv, i, this.policy);
    if (!out.ok) {
      // a stale timer is normal (the deadline moved); an agent action that no longer applies is a difference to report
      if (source === 'agent') this.refused.push({ at: this.now, conversationId, kind: i.kind, source, code: out.code, message: out.message });
      // an assignee whose escalation or transfer is refused here (e.g. the target agent is not online in this
      // configuration) finishes the conversation instead of holding it forever
      if (source === 'agent' && (i.kind === 'escalate' || i.kind === 'transfer')) {
        const fallback = decide(conv, { kind: 'resolve', at: i.at, conversationId, agentId: i.agentId, reason: `${i.kind} refused in replay (${out.code}): resolved instead` }, this.policy);
        if (fallback.ok) this.startWrapUp(i.agentId, this.apply(conv, fallback));
      }
      return;
    }
    const c = this.apply(conv, out);
    if (source === 'agent' && i.kind === 'resolve') this.startWrapUp(i.agentId, c);
  }

  /** An offer the live router made before the window (start state): the same agent, through decide(). */
  private onRecordedOffer(e: Extract<Ev, { type: 'recorded-offer' }>): void {
    const conv = this.convs.get(e.conversationId) ?? null;
    const a = this.agents.get(e.agentId);
    const out = a && conv ? decide(conv, { kind: 'offer', at: new Date(this.now), agent: { id: a.profile.id, capacity: a.profile.capacity, load: { ...this.loadOf(a) } }, reason: e.reason }, this.policy) : undefined;
    if (out?.ok) this.apply(conv, out);
    else this.refused.push({ at: this.now, conversationId: e.conversationId, kind: 'offer', source: 'agent', code: out && !out.ok ? out.code : 'UNKNOWN', message: out && !out.ok ? out.message : 'recorded offer to an unknown conversation or agent (start state)' });
  }

  private setLoad(agentId: string, channel: string, delta: number): void {
    const a = this.agents.get(agentId);
    if (!a) return;
    a.load[channel] = (a.load[channel] ?? 0) + delta;
    if (delta < 0) a.freedEpoch = this.epoch + 1;
  }

  /** Applies a decision to the in-memory state (what store/conversation-save.ts does in SQL) and schedules what follows. */
  private apply(prev: Conversation | null, d: Decision): Conversation {
    const c = d.conversation;
    const at = this.now;
    const was = held(prev);
    const is = held(c);
    if (was !== is) {
      if (was) {
        this.setLoad(was, c.channel, -1);
        this.agents.get(was)?.held.delete(c.id);
      }
      if (is) {
        this.setLoad(is, c.channel, +1);
        this.agents.get(is)?.held.add(c.id);
      }
    }
    // occupancy: assigned slots
    const wasAssigned = prev?.status === 'assigned' ? prev.agentId : null;
    const isAssigned = c.status === 'assigned' ? c.agentId : null;
    if (wasAssigned !== isAssigned) {
      const wa = wasAssigned ? this.agents.get(wasAssigned) : undefined;
      if (wa) {
        this.accrue(wa);
        wa.slotsBusy--;
      }
      const ia = isAssigned ? this.agents.get(isAssigned) : undefined;
      if (ia) {
        this.accrue(ia);
        ia.slotsBusy++;
      }
    }
    if (!prev) {
      this.threads.set(c.threadKey, c.id);
      if (c.customerKey) {
        const l = this.byCustomer.get(c.customerKey);
        if (l) l.push(c.id);
        else this.byCustomer.set(c.customerKey, [c.id]);
      }
    }
    this.convs.set(c.id, c);
    if (c.status === 'queued') this.queued.add(c.id);
    else {
      this.queued.delete(c.id);
      this.unmatchable.delete(c.id);
    }

    for (const e of d.events) {
      const x = e.extra;
      const agentId = x.agentId ?? e.subject.agentId ?? undefined;
      this.decisions.push({
        conversationId: c.id,
        type: e.type,
        at,
        ...(agentId ? { agentId } : {}),
        ...(x.toAgentId ? { toAgentId: x.toAgentId } : {}),
        tier: e.subject.tier,
        ...(x.fromTier !== undefined ? { fromTier: x.fromTier } : {}),
        category: e.subject.category,
        ...(e.reason !== undefined ? { reason: e.reason } : {}),
        ...(x.handoffNote ? { handoffNote: x.handoffNote } : {}),
      });
    }
    for (const ef of d.agents) {
      const a = this.agents.get(ef.agentId);
      if (!a) continue;
      if (ef.idleSince) a.idleSince = ef.idleSince.getTime();
      if (ef.resetTimeouts) a.state = { ...a.state, consecutiveTimeouts: 0 };
      if (ef.offerLapsed) {
        this.accrue(a);
        const wasOnline = a.state.presence === 'online';
        a.state = agentTimedOut(a.state, this.policy).agent;
        if (wasOnline && a.state.presence !== 'online' && a.onlineSince !== null) {
          a.onlineMs += at - a.onlineSince;
          a.onlineSince = null;
        }
      }
    }
    for (const o of d.offers) {
      const k = `${o.conversationId}\u0000${o.agentId}`;
      const nth = this.offerCounts.get(k) ?? 0;
      this.offerCounts.set(k, nth + 1);
      this.schedule(o.deadline.getTime() + 1, PHASE.timer, c.id, { kind: 'offer-expired', at: new Date(o.deadline.getTime() + 1) }, 'timer');
      const r = this.behaviour.onOffer({ conversation: c, agentId: o.agentId, at, nth });
      if (r.kind === 'accept') this.schedule(at + r.delayMs, PHASE.agent, c.id, { kind: 'accept', at: new Date(at + r.delayMs), conversationId: c.id, agentId: o.agentId }, 'agent');
      else if (r.kind === 'reject')
        this.schedule(at + r.delayMs, PHASE.agent, c.id, { kind: 'reject', at: new Date(at + r.delayMs), conversationId: c.id, agentId: o.agentId, ...(r.reason ? { reason: r.reason } : {}) }, 'agent');
    }
    if (c.status === 'assigned' && prev?.status !== 'assigned' && c.agentId) this.handle(c, c.agentId);
    const q = c.queue;
    const steps = this.widening.get(c.id);
    if (steps && c.status === 'queued' && q && q.waitingSince.getTime() !== prev?.queue?.waitingSince.getTime())
      for (const s of steps) {
        const t = q.waitingSince.getTime() + s.afterMs;
        if (t > at) this.heap.push({ at: t, phase: PHASE.timer, key: `w\u0000${c.id}`, seq: this.seq++, type: 'step', conversationId: c.id });
      }
    if (c.status === 'queued' && q?.slaDeadline && q.slaDeadline.getTime() !== prev?.queue?.slaDeadline?.getTime()) {
      const t = q.slaDeadline.getTime() + 1;
      this.schedule(t, PHASE.timer, c.id, { kind: 'sla-breached', at: new Date(t) }, 'timer');
    }
    // the self-service answer's deadline (live: the sweep's self-service-expired once it passed)
    const ss = c.selfService;
    if (c.status === 'self-service' && ss?.state === 'offered' && prev?.status !== 'self-service') this.schedule(ss.deadline.getTime(), PHASE.timer, c.id, { kind: 'self-service-expired', at: ss.deadline }, 'timer');
    if (c.status === 'resolved' && c.resolvedAt && prev?.status !== 'resolved') {
      const t = c.resolvedAt.getTime() + this.policy.reopenWindowMs + 1;
      this.schedule(t, PHASE.timer, c.id, { kind: 'reopen-window-over', at: new Date(t) }, 'timer');
    }
    if (d.wantsMatch) this.matchWanted = true;
    return c;
  }

  /** The assignee's handling (recorded or modelled) becomes a future agent action. */
  private handle(c: Conversation, agentId: string): void {
    const k = `${c.id}\u0000${agentId}`;
    const nth = this.assignCounts.get(k) ?? 0;
    this.assignCounts.set(k, nth + 1);
    const h = this.behaviour.onAssigned({ conversation: c, agentId, at: this.now, nth });
    if (h.kind === 'none') return;
    const t = this.now + h.durationMs;
    const base = { at: new Date(t), conversationId: c.id, agentId };
    const input: Input =
      h.kind === 'resolve'
        ? { kind: 'resolve', ...base, ...(h.reason ? { reason: h.reason } : {}) }
        : h.kind === 'escalate'
          ? h.toTier > c.tier
            ? { kind: 'escalate', ...base, toTier: h.toTier, note: h.note }
            : { kind: 'resolve', ...base } // already at or above the tier the recording escalated to
          : { kind: 'transfer', ...base, ...(h.toAgentId ? { toAgentId: h.toAgentId } : {}), ...(h.toTier !== undefined ? { toTier: h.toTier } : {}), ...(h.note ? { note: h.note } : {}) };
    this.schedule(t, PHASE.agent, c.id, input, 'agent');
  }

  /** One match pass (live: Matcher.kick → matchOnce / offerOnArrival): queue order, best free agent each. */
  private match(): void {
    // rebuilding the start state: the recorded offers decide (the pass runs once the window starts)
    if (this.now < this.recordedUntil) return;
    if (!this.matchWanted) return;
    this.matchWanted = false;
    if (this.queued.size === 0) return;
    const epoch = ++this.epoch;
    const free: (AgentSnapshot & { freedEpoch: number })[] = [];
    // live: only online agents with a console attached, serving the tiers open now (business hours)
    const hours = atNow(this.hoursAt, this.now).hours;
    const openNow = new Map<number, boolean>();
    const isOpen = (t: number) => openNow.get(t) ?? (openNow.set(t, hours!.isOpen(t, new Date(this.now))), openNow.get(t)!);
    for (const a of this.agents.values()) {
      if (a.state.presence !== 'online' || !a.attached) continue;
      const p = a.profile;
      const tiers = hours ? p.tiers.filter(isOpen) : p.tiers;
      if (tiers.length === 0) continue;
      let room = false;
      const load = this.loadOf(a);
      for (const ch in p.capacity) if ((p.capacity[ch] ?? 0) - (load[ch] ?? 0) > 0) room = true;
      if (!room) continue;
      free.push({ id: p.id, tiers, skills: p.skills, languages: p.languages, capacity: p.capacity, load, ...(p.proficiency ? { proficiency: p.proficiency } : {}), idleSince: new Date(a.idleSince), freedEpoch: a.freedEpoch });
    }
    if (free.length === 0) return;
    // A conversation no free agent is eligible for now cannot get one during the pass either (loads only
    // grow while planning), and planOffers without keepTierOrder passes it over: leaving it out is exact.
    // One found unmatchable at an earlier pass, unchanged since, is only checked against agents freed since.
    const waiting: WaitingConversation[] = [];
    for (const id of this.queued) {
      const c = this.convs.get(id)!;
      // at the widening step in force now (live: offerToAgents' stepAt/withStep)
      const steps = this.widening.get(id);
      const s = steps ? stepAt(steps, this.now - c.queue!.waitingSince.getTime()) : undefined;
      const w = s && s.index >= 0 ? { ...waitingOf(c), step: s.step } : waitingOf(c);
      if (this.exhaustive || w.step) {
        waiting.push(w);
        continue;
      }
      const seen = this.unmatchable.get(id);
      const since = seen && seen.conv === c ? seen.epoch : -1;
      if (free.some((a) => a.freedEpoch > since && isEligible(a, w))) waiting.push(w);
      else this.unmatchable.set(id, { conv: c, epoch });
    }
    if (waiting.length === 0) return;
    const at = new Date(this.now);
    const ageing = this.ageing;
    // without ageing the aged order is compareWaiting's (the same keys), which the hot path keeps cheap
    waiting.sort(ageing ? (x, y) => compareAged(x, y, at, ageing) : compareWaiting);
    for (const p of planOffers(waiting, free, false, at)) {
      const conv = this.convs.get(p.conversationId)!;
      const a = this.agents.get(p.agent.id)!;
      const agent = { id: a.profile.id, capacity: a.profile.capacity, load: { ...this.loadOf(a) } };
      const out = decide(conv, { kind: 'offer', at, agent, reason: p.preferred ? 'previous agent of reopened conversation' : `tier ${conv.tier} queue match` }, this.policy);
      if (out.ok) this.apply(conv, out);
    }
  }
}

function totalCapacity(c: Record<string, number>): number {
  let n = 0;
  for (const v of Object.values(c)) n += v;
  return n;
}

/** The entry of a time-ordered timeline in force at `t` (the first is in force from -Infinity). */
function atNow<T extends { from: number }>(timeline: T[], t: number): T {
  let cur = timeline[0]!;
  for (const x of timeline) {
    if (x.from > t) break;
    cur = x;
  }
  return cur;
}
