import type { Conversation } from '../domain/conversation';
import { decide } from '../domain/lifecycle';
import { compareWaiting, freeCapacity, planOffers, type AgentSnapshot, type WaitingConversation } from '../domain/match';
import { arrivalSnapshot, availableAgents, lockAgents } from '../store/agents';
import { loadMatchable, type EligibilityFilter } from '../store/conversations';
import { runRouting, type RouterCtx, type RoutingTx } from '../store/routing-tx';
import { policyOf } from './policy';

/** A queued conversation (its queue entry set) as the matcher sees it. */
export function waitingOf(c: Conversation): WaitingConversation {
  const q = c.queue!;
  return {
    conversationId: c.id,
    priority: q.priority,
    waitingSince: q.waitingSince,
    tiers: q.tiers,
    channel: c.channel,
    language: c.language,
    requiredSkills: c.requiredSkills,
    declined: c.declinedAgents,
    preferredAgentId: q.preferredAgentId,
  };
}

/**
 * Offers queued conversations (locked by this transaction, in queue order) to the best free agents.
 * Planned greedily on a snapshot of the agents (domain planOffers); the planned agents are then
 * locked together (SKIP LOCKED) with their load re-read, and the plan is made again on what is
 * locked, for up to three rounds; the offers follow the last plan over locked agents only, each one
 * a lifecycle decision (which refuses a decliner or a full agent), so no agent can ever be filled
 * past capacity. With `keepTierOrder` a conversation left without an agent holds back the later ones of its tier.
 */
async function offerToAgents(tx: RoutingTx, waiting: Conversation[], snapshot: AgentSnapshot[], keepTierOrder: boolean, reasonOf: (c: Conversation) => string, at: Date): Promise<number> {
  const policy = policyOf(tx.ctx.config);
  const list = waiting.map(waitingOf);
  const locked = new Map<string, AgentSnapshot>();
  const unavailable = new Set<string>();
  for (let round = 0; round < 3; round++) {
    const agents = [...snapshot.filter((a) => !unavailable.has(a.id) && !locked.has(a.id)), ...locked.values()];
    const want = [...new Set(planOffers(list, agents, keepTierOrder, at).map((p) => p.agent.id))].filter((id) => !locked.has(id));
    if (want.length === 0) break;
    const got = await lockAgents(tx.client, want);
    for (const a of got) locked.set(a.id, a);
    for (const id of want) if (!locked.has(id)) unavailable.add(id);
  }
  // planned over locked agents only, with their load read under the lock: each pick is eligible as made
  const byId = new Map(waiting.map((c) => [c.id, c]));
  let made = 0;
  for (const p of planOffers(list, [...locked.values()], keepTierOrder, at)) {
    const conv = byId.get(p.conversationId)!;
    const out = decide(conv, { kind: 'offer', at, agent: p.agent, reason: p.preferred ? 'previous agent of reopened conversation' : reasonOf(conv) }, policy);
    if (!out.ok) {
      tx.ctx.logger.error({ conversationId: conv.id, agentId: p.agent.id, refusal: out.message }, 'planned offer refused by the lifecycle');
      continue;
    }
    tx.apply(conv, out, at);
    made++;
  }
  return made;
}

/**
 * Arrival fast path, inside the transaction that just queued these conversations (their current
 * state): for each tier nobody else is waiting in (so queue order cannot be jumped), offer them
 * right away, in queue order, to the best free agents. Whatever is left stays queued for the
 * matcher, kicked after commit. Saves a match transaction per conversation on the hot path.
 */
export async function offerOnArrival(tx: RoutingTx, queued: Conversation[], at: Date): Promise<void> {
  if (queued.length === 0) return;
  const { backlog, agents } = await arrivalSnapshot(tx.client, [...new Set(queued.map((c) => c.tier))], queued.map((c) => c.id));
  const waiting = queued.filter((c) => !backlog.has(c.tier)).sort((a, b) => compareWaiting(waitingOf(a), waitingOf(b)));
  const offered = waiting.length ? await offerToAgents(tx, waiting, agents, true, (c) => `tier ${c.tier} immediate match`, at) : 0;
  tx.needsMatch = offered < queued.length;
}

/**
 * One match pass, one transaction: the available agents, then, in queue order, the first
 * MATCH_BATCH_SIZE entries one of them could take (store loadMatchable: SKIP LOCKED, entries nobody
 * online can take passed over so they cannot starve those behind them), then offers in queue order.
 * Returns the number of offers made.
 */
export async function matchOnce(ctx: RouterCtx): Promise<number> {
  const agents = await availableAgents(ctx.pool);
  if (agents.length === 0) return 0;
  const filters: EligibilityFilter[] = agents.map((a) => ({
    id: a.id,
    tiers: a.tiers,
    skills: a.skills,
    languages: a.languages,
    channels: Object.keys(a.capacity).filter((ch) => freeCapacity(a, ch) > 0),
  }));
  return runRouting(ctx, async (tx) => {
    const at = new Date();
    const waiting = await loadMatchable(tx.client, filters, ctx.config.MATCH_BATCH_SIZE);
    if (waiting.length === 0) return 0;
    // the locked rows come in queue order; the matcher skips entries nobody free can take
    return offerToAgents(tx, waiting, agents, false, (c) => `tier ${c.tier} queue match`, at);
  });
}

/**
 * Runs match passes on demand with up to `workers` passes in flight per process (like extra
 * replicas: they lock disjoint entries and agents with SKIP LOCKED). kick() is cheap and
 * coalescing: a kick while all workers are busy schedules one more round.
 */
export class Matcher {
  private active = 0;
  private again = false;
  private stopped = false;
  private readonly runs = new Set<Promise<void>>();

  constructor(
    private readonly ctx: () => RouterCtx,
    private readonly workers = 1,
  ) {}

  kick(): void {
    if (this.stopped) return;
    if (this.active >= this.workers) {
      this.again = true;
      return;
    }
    this.active++;
    let run: Promise<void> | undefined = undefined;
    run = (async () => {
      try {
        do {
          this.again = false;
          while (!this.stopped && (await matchOnce(this.ctx())) > 0);
        } while (this.again && !this.stopped);
      } catch (err) {
        this.ctx().logger.warn({ err }, 'match pass failed; the next sweep retries');
      } finally {
        this.active--;
        if (run) this.runs.delete(run);
      }
    })();
    if (this.active > 0) this.runs.add(run);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.runs]);
  }
}
