import { deferToCommit } from '@omni/db';
import type { Conversation } from '../domain/conversation';
import { decide } from '../domain/lifecycle';
import { freeCapacity, planOffers, waitingOf, type AgentSnapshot, type PlannedOffer, type WaitingConversation } from '../domain/match';
import { availableOf, decisionRecord, type AgentView, type DecisionRecord } from '../domain/decision-record';
import { compareAged, stepAt, type PriorityAgeing, type WideningStep } from '../domain/preference';
import { saveWidening, wideningOf, wideningOfVersion } from '../store/widening';
import { estimateArrivals } from './wait-updates';
import type { RouterConfig } from '../config';
import { arrivalSnapshot, loadAgentViews, lockAgents, type StoredRules } from '../store/agents';
import { noticeLanguage, outOfHoursText } from '../domain/out-of-hours';
import { systemNotice } from './system-notice';
import { loadMatchableWithRules, type EligibilityFilter } from '../store/conversations';
import { clockOf, runRouting, type RouterCtx, type RoutingTx } from '../store/routing-tx';
import { activeHours, routingPolicy } from './policy';


/**
 * Offers queued conversations (locked by this transaction, in queue order) to the best free agents.
 * Planned greedily on a snapshot of the agents (domain planOffers); the planned agents are then
 * locked together (SKIP LOCKED) with their load re-read, and the plan is made again on what is
 * locked, for up to three rounds; the offers follow the last plan over locked agents only, each one
 * a lifecycle decision (which refuses a decliner or a full agent), so no agent can ever be filled
 * past capacity. With `keepTierOrder` a conversation left without an agent holds back the later ones of its tier.
 * `views` is every agent as read before planning: the matcher's pool is the available ones, and the
 * offers' decision records are made from all of them (no read of their own); `rules` are the stored
 * rules of the conversations not opened in this transaction.
 */
async function offerToAgents(
  tx: RoutingTx,
  waiting: Conversation[],
  views: AgentView[],
  rules: StoredRules,
  keepTierOrder: boolean,
  reasonOf: (c: Conversation) => string,
  at: Date,
  widening: Map<string, WideningStep[]>,
): Promise<number> {
  const policy = await routingPolicy(tx);
  // business hours: agents serve only the tiers open now, so a closed tier's queue waits (oldest
  // first at opening: the match pass after it opens takes the queue in order)
  const open = await openTiers(tx.client, at, tx.ctx.config.BUSINESS_HOURS_CACHE_MS);
  const snapshot = servingOpen(availableOf(views), open);
  // each conversation at the widening step in force now (docs/queue-intelligence.md)
  const steps = new Map(waiting.map((c) => [c.id, stepAt(widening.get(c.id), at.getTime() - c.queue!.waitingSince.getTime())]));
  const list = waiting.map((c) => withStep(waitingOf(c), steps.get(c.id)!));
  const locked = new Map<string, AgentSnapshot>();
  const unavailable = new Set<string>();
  for (let round = 0; round < 3; round++) {
    const agents = [...snapshot.filter((a) => !unavailable.has(a.id) && !locked.has(a.id)), ...locked.values()];
    const want = [...new Set(planOffers(list, agents, keepTierOrder, at).map((p) => p.agent.id))].filter((id) => !locked.has(id));
    if (want.length === 0) break;
    const got = servingOpen(await lockAgents(tx.client, want), open);
    for (const a of got) locked.set(a.id, a);
    for (const id of want) if (!locked.has(id)) unavailable.add(id);
  }
  // planned over locked agents only, with their load read under the lock: each pick is eligible as made
  const byId = new Map(waiting.map((c) => [c.id, c]));
  const plan = planOffers(list, [...locked.values()], keepTierOrder, at);
  const records = plan.length ? decisionRecords(tx, views, rules, plan, byId, steps, at) : new Map<string, DecisionRecord>();
  let made = 0;
  for (const p of plan) {
    const conv = byId.get(p.conversationId)!;
    const out = decide(conv, { kind: 'offer', at, agent: p.agent, reason: p.preferred ? 'previous agent of reopened conversation' : reasonOf(conv) }, policy);
    if (!out.ok) {
      tx.ctx.logger.error({ conversationId: conv.id, agentId: p.agent.id, refusal: out.message }, 'planned offer refused by the lifecycle');
      continue;
    }
    // why this agent: stored with the offer and sent in the offer frame (docs/queue-intelligence.md)
    const record = records.get(conv.id);
    if (record) {
      for (const f of out.frames) if (f.frame.type === 'offer' && f.frame.conversationId === conv.id) f.frame.decision = record;
      tx.recordDecision(conv.id, p.agent.id, at, record);
    }
    tx.apply(conv, out, at);
    made++;
  }
  return made;
}

const withStep = (w: WaitingConversation, s: ReturnType<typeof stepAt>): WaitingConversation => (s.index < 0 ? w : { ...w, step: s.step });

/** Priority ageing from the configuration (undefined: off). */
export function ageingOf(c: RouterConfig): PriorityAgeing | undefined {
  return c.PRIORITY_AGEING_POINTS_PER_MINUTE > 0 ? { pointsPerMinute: c.PRIORITY_AGEING_POINTS_PER_MINUTE, maxPriority: c.PRIORITY_AGEING_MAX } : undefined;
}

/**
 * The widening steps of conversations queued in this transaction: a conversation opened here takes
 * those of the rule that classified it (recorded in router.queue_widening, so later match passes and
 * their SQL prefilter apply them); a reopened one keeps those it had.
 */
async function recordWidening(tx: RoutingTx, queued: Conversation[]): Promise<Map<string, WideningStep[]>> {
  const out = await wideningOf(tx.client, queued.filter((c) => !tx.ruleOf(c.id)).map((c) => c.id));
  const fresh: { conversationId: string; steps: WideningStep[] }[] = [];
  for (const c of queued) {
    const rule = tx.ruleOf(c.id);
    if (!rule?.id) continue;
    const steps = (await wideningOfVersion(tx.client, rule.version)).get(rule.id);
    if (steps?.length) fresh.push({ conversationId: c.id, steps });
  }
  // read back only by later transactions: it leaves with the next statement or the COMMIT
  await deferToCommit(tx.client, () => saveWidening(tx.client, fresh));
  for (const f of fresh) out.set(f.conversationId, f.steps);
  return out;
}

/** The tiers open at `at` (routing/policy.ts activeHours). */
async function openTiers(client: RoutingTx['client'] | RouterCtx['pool'], at: Date, cacheMs: number): Promise<(tier: number) => boolean> {
  const hours = await activeHours(client, cacheMs);
  return (tier) => hours.isOpen(tier, at);
}

/**
 * Outside business hours the customer is told, once per conversation queued (opened or reopened)
 * while its tier is closed, when the team is back — in their language (es/en), through the normal
 * outbound path like an agent reply (the sender is `system:business-hours`). Also called by the
 * sweep for self-service conversations it routes (routing/timers.ts expireSelfService).
 */
export async function answerOutsideHours(tx: RoutingTx, queued: Conversation[], at: Date): Promise<void> {
  const hours = await activeHours(tx.client, tx.ctx.config.BUSINESS_HOURS_CACHE_MS);
  for (const c of queued) {
    const cal = hours.calendar(c.tier);
    if (!cal || cal.isOpen(at)) continue;
    systemNotice(tx, c, 'system:business-hours', outOfHoursText(cal.nextOpening(at), cal.cal.timeZone, noticeLanguage(c.language)), at);
  }
}
const servingOpen = (agents: AgentSnapshot[], open: (tier: number) => boolean): AgentSnapshot[] =>
  agents.map((a) => (a.tiers.every(open) ? a : { ...a, tiers: a.tiers.filter(open) })).filter((a) => a.tiers.length > 0);

/**
 * The decision record of each planned offer, over every agent (offline and away ones included, so
 * each loser has its reason) as the plan saw them: the load of an agent picked earlier in the same
 * plan counts that pick, and each winner is recorded with its load read under its lock.
 */
function decisionRecords(
  tx: RoutingTx,
  agents: AgentView[],
  rules: StoredRules,
  plan: PlannedOffer[],
  byId: Map<string, Conversation>,
  steps: Map<string, ReturnType<typeof stepAt>>,
  at: Date,
): Map<string, DecisionRecord> {
  const pool = new Map(agents.map((a) => [a.id, { ...a, load: { ...a.load } }]));
  const out = new Map<string, DecisionRecord>();
  for (const p of plan) {
    const conv = byId.get(p.conversationId)!;
    // the winner as it was locked and planned (its load read under the lock)
    const winner = pool.get(p.agent.id);
    if (winner) winner.load = { ...p.agent.load };
    const opened = tx.ruleOf(conv.id);
    const rule = opened ? { ruleId: opened.id, ruleVersion: opened.version } : rules.get(conv.id);
    out.set(
      conv.id,
      decisionRecord([...pool.values()], waitingOf(conv), {
        at,
        step: steps.get(conv.id)!,
        ruleVersion: rule?.ruleVersion ?? null,
        matchedRules: rule?.ruleId ? [rule.ruleId] : [],
        winnerId: p.agent.id,
      }),
    );
    if (winner) winner.load[conv.channel] = (winner.load[conv.channel] ?? 0) + 1;
  }
  return out;
}

/**
 * Arrival fast path, inside the transaction that just queued these conversations (their current
 * state): for each tier nobody else is waiting in (so queue order cannot be jumped), offer them
 * right away, in queue order, to the best free agents. Whatever is left stays queued for the
 * matcher, kicked after commit. Saves a match transaction per conversation on the hot path.
 */
export async function offerOnArrival(tx: RoutingTx, queued: Conversation[], at: Date): Promise<void> {
  if (queued.length === 0) return;
  await answerOutsideHours(tx, queued, at);
  const widening = await recordWidening(tx, queued);
  const { backlog, agents, rules } = await arrivalSnapshot(tx.client, [...new Set(queued.map((c) => c.tier))], queued.map((c) => c.id));
  // the estimate given when first queued: on conversation.queued, kept for the estimate-error KPI
  await estimateArrivals(tx, queued, widening, at, agents);
  const ageing = ageingOf(tx.ctx.config);
  const waiting = queued.filter((c) => !backlog.has(c.tier)).sort((a, b) => compareAged(waitingOf(a), waitingOf(b), at, ageing));
  const offered = waiting.length ? await offerToAgents(tx, waiting, agents, rules, true, (c) => `tier ${c.tier} immediate match`, at, widening) : 0;
  tx.needsMatch = offered < queued.length;
}

/**
 * One match pass, one transaction: the available agents, then, in queue order, the first
 * MATCH_BATCH_SIZE entries one of them could take (store loadMatchable: SKIP LOCKED, entries nobody
 * online can take passed over so they cannot starve those behind them), then offers in queue order.
 * Returns the number of offers made.
 */
export async function matchOnce(ctx: RouterCtx): Promise<number> {
  // closed tiers' entries must not fill the pass's window (they would starve the open ones behind them)
  const views = await loadAgentViews(ctx.pool);
  const agents = servingOpen(availableOf(views), await openTiers(ctx.pool, clockOf(ctx), ctx.config.BUSINESS_HOURS_CACHE_MS));
  if (agents.length === 0) return 0;
  const filters: EligibilityFilter[] = agents.map((a) => ({
    id: a.id,
    tiers: a.tiers,
    skills: a.skills,
    languages: a.languages,
    channels: Object.keys(a.capacity).filter((ch) => freeCapacity(a, ch) > 0),
  }));
  return runRouting(ctx, async (tx) => {
    const at = clockOf(ctx);
    const { conversations: waiting, rules } = await loadMatchableWithRules(tx.client, filters, ctx.config.MATCH_BATCH_SIZE, true, { at, ageing: ageingOf(ctx.config) });
    if (waiting.length === 0) return 0;
    // the locked rows come in queue order; the matcher skips entries nobody free can take
    return offerToAgents(tx, waiting, views, rules, false, (c) => `tier ${c.tier} queue match`, at, await wideningOf(tx.client, waiting.map((c) => c.id)));
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
