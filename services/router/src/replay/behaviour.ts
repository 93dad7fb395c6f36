import type { Conversation } from '../domain/conversation';
import type { BehaviourDefaults, DecisionEvent } from './types';

/**
 * How agents answer offers and handle work in replay. Replay cannot ask an agent, so an agent's
 * actions are taken from the recording when the (conversation, agent) pair was recorded, and from a
 * documented model otherwise (docs/replay.md "agent model").
 */
export type OfferResponse = { kind: 'accept'; delayMs: number } | { kind: 'reject'; delayMs: number; reason?: string } | { kind: 'none' };

export type Handling =
  | { kind: 'resolve'; durationMs: number; reason?: string }
  | { kind: 'escalate'; durationMs: number; toTier: number; note: string }
  | { kind: 'transfer'; durationMs: number; toTier?: number; toAgentId?: string; note?: string }
  /** the agent never finished it (went offline; the recorded presence change releases it) */
  | { kind: 'none' };

export interface OfferContext {
  conversation: Conversation;
  agentId: string;
  at: number;
  /** how many offers of this conversation this agent had before (0: the first) */
  nth: number;
}

export interface AgentBehaviour {
  onOffer(ctx: OfferContext): OfferResponse;
  onAssigned(ctx: OfferContext): Handling;
  /** where each answer came from, for the report */
  readonly stats: { recorded: number; modelled: number };
}

export const DEFAULT_BEHAVIOUR: BehaviourDefaults = { acceptDelayMs: 5000, handlingMs: 8 * 60_000 };

const pair = (conversationId: string, agentId: string) => `${conversationId}\u0000${agentId}`;

function median(xs: number[] | undefined): number | undefined {
  if (!xs || xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[(s.length - 1) >> 1];
}

/**
 * Agent behaviour learned from recorded decisions (omni.conversations.v1 of the window):
 * - an offer to an agent the recording offered the same conversation to gets the recorded answer
 *   (accept/reject after the recorded delay, or no answer), the n-th offer the n-th answer;
 * - otherwise the agent accepts after its own median recorded answer time (else everyone's, else the default);
 * - an assignment the recording had (same conversation, same agent, n-th time) ends as recorded
 *   (resolve, escalate with its note, transfer) after the recorded handling time;
 * - otherwise the handling time is the agent's median for the category, else the category's median,
 *   else everyone's median, else the default; the outcome is the recorded escalation out of the
 *   conversation's current tier if the recording had one, else a resolve.
 */
export class RecordedBehaviour implements AgentBehaviour {
  readonly stats = { recorded: 0, modelled: 0 };
  private readonly responses = new Map<string, OfferResponse[]>();
  private readonly handlings = new Map<string, Handling[]>();
  private readonly escalations = new Map<string, { fromTier: number; toTier: number; note: string }[]>();
  private readonly acceptByAgent = new Map<string, number[]>();
  private readonly acceptAll: number[] = [];
  private readonly byAgentCategory = new Map<string, number[]>();
  private readonly byCategory = new Map<string, number[]>();
  private readonly all: number[] = [];
  private readonly medians = new Map<string, number | undefined>();

  constructor(
    decisions: DecisionEvent[],
    private readonly defaults: BehaviourDefaults = DEFAULT_BEHAVIOUR,
  ) {
    const byConv = new Map<string, DecisionEvent[]>();
    for (const d of decisions) {
      let l = byConv.get(d.conversationId);
      if (!l) byConv.set(d.conversationId, (l = []));
      l.push(d);
    }
    for (const [id, evs] of byConv) this.learn(id, evs);
  }

  private push<V>(m: Map<string, V[]>, k: string, v: V): void {
    const l = m.get(k);
    if (l) l.push(v);
    else m.set(k, [v]);
  }

  private learn(id: string, evs: DecisionEvent[]): void {
    let offered: { agentId: string; at: number } | undefined;
    let holder: { agentId: string; at: number; category: string } | undefined;
    const handled = (agentId: string, at: number, h: Handling, category: string) => {
      this.push(this.handlings, pair(id, agentId), h);
      if (h.kind !== 'none') {
        const d = at - holder!.at;
        this.push(this.byAgentCategory, pair(agentId, category), d);
        this.push(this.byCategory, category, d);
        this.all.push(d);
      }
      holder = undefined;
    };
    for (const e of evs) {
      switch (e.type) {
        case 'conversation.offered':
          if (e.agentId) offered = { agentId: e.agentId, at: e.at };
          break;
        case 'conversation.accepted':
          if (offered && e.agentId === offered.agentId) {
            this.push(this.responses, pair(id, e.agentId), { kind: 'accept', delayMs: e.at - offered.at });
            this.push(this.acceptByAgent, e.agentId, e.at - offered.at);
            this.acceptAll.push(e.at - offered.at);
            holder = { agentId: e.agentId, at: e.at, category: e.category ?? 'general' };
          }
          offered = undefined;
          break;
        case 'conversation.rejected':
          if (offered && e.agentId === offered.agentId)
            this.push(this.responses, pair(id, e.agentId), { kind: 'reject', delayMs: e.at - offered.at, ...(e.reason ? { reason: e.reason } : {}) });
          offered = undefined;
          break;
        case 'conversation.offer-expired':
          if (offered && e.agentId === offered.agentId) this.push(this.responses, pair(id, e.agentId), { kind: 'none' });
          offered = undefined;
          break;
        case 'conversation.resolved':
          if (holder && e.agentId === holder.agentId) handled(holder.agentId, e.at, { kind: 'resolve', durationMs: e.at - holder.at, ...(e.reason ? { reason: e.reason } : {}) }, holder.category);
          break;
        case 'conversation.escalated':
        case 'conversation.transferred': {
          if (!holder || e.agentId !== holder.agentId) break;
          const h = holder;
          if (e.type === 'conversation.escalated' && e.fromTier !== undefined) {
            this.push(this.escalations, id, { fromTier: e.fromTier, toTier: e.tier, note: e.handoffNote ?? 'escalated' });
            handled(h.agentId, e.at, { kind: 'escalate', durationMs: e.at - h.at, toTier: e.tier, note: e.handoffNote ?? 'escalated' }, h.category);
          } else if (e.toAgentId) {
            handled(h.agentId, e.at, { kind: 'transfer', durationMs: e.at - h.at, toAgentId: e.toAgentId, ...(e.handoffNote ? { note: e.handoffNote } : {}) }, h.category);
            offered = { agentId: e.toAgentId, at: e.at };
          } else handled(h.agentId, e.at, { kind: 'transfer', durationMs: e.at - h.at, toTier: e.tier, ...(e.handoffNote ? { note: e.handoffNote } : {}) }, h.category);
          break;
        }
        case 'conversation.requeued':
          // released (agent offline) while offered or assigned: the presence change is a recorded input
          if (holder) handled(holder.agentId, e.at, { kind: 'none' }, holder.category);
          if (offered) this.push(this.responses, pair(id, offered.agentId), { kind: 'none' });
          offered = undefined;
          break;
      }
    }
    // the window ended before the answer or the outcome: nothing happens inside the window
    if (offered) this.push(this.responses, pair(id, offered.agentId), { kind: 'none' });
    if (holder) this.push(this.handlings, pair(id, holder.agentId), { kind: 'none' });
  }

  private med(key: string, xs: number[] | undefined): number | undefined {
    if (!this.medians.has(key)) this.medians.set(key, median(xs));
    return this.medians.get(key);
  }

  onOffer(ctx: OfferContext): OfferResponse {
    const r = this.responses.get(pair(ctx.conversation.id, ctx.agentId))?.[ctx.nth];
    if (r) {
      this.stats.recorded++;
      return r;
    }
    this.stats.modelled++;
    const d = this.med(`a\u0000${ctx.agentId}`, this.acceptByAgent.get(ctx.agentId)) ?? this.med('a*', this.acceptAll) ?? this.defaults.acceptDelayMs;
    return { kind: 'accept', delayMs: d };
  }

  onAssigned(ctx: OfferContext): Handling {
    const c = ctx.conversation;
    const h = this.handlings.get(pair(c.id, ctx.agentId))?.[ctx.nth];
    if (h) {
      this.stats.recorded++;
      return h;
    }
    this.stats.modelled++;
    const k = pair(ctx.agentId, c.category);
    const durationMs = this.med(`h\u0000${k}`, this.byAgentCategory.get(k)) ?? this.med(`c\u0000${c.category}`, this.byCategory.get(c.category)) ?? this.med('h*', this.all) ?? this.defaults.handlingMs;
    const esc = this.escalations.get(c.id)?.find((e) => e.fromTier === c.tier && e.toTier > c.tier);
    return esc ? { kind: 'escalate', durationMs, toTier: esc.toTier, note: esc.note } : { kind: 'resolve', durationMs };
  }
}
