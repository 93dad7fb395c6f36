import { systemNotice } from './system-notice';
import type { RouterConfig } from '../config';
import type { Conversation } from '../domain/conversation';
import type { AgentView } from '../domain/decision-record';
import { deferToCommit } from '@omni/db';
import { waitingOf } from '../domain/match';
import { noticeLanguage, waitNoticeText } from '../domain/out-of-hours';
import { compareAged, stepAt, type WideningStep } from '../domain/preference';
import { ageingOf } from './matching';
import { asyncNotice, DEFAULT_UPDATE_POLICY, isMaterial, type Announced, type AsyncNoticePolicy, type AsyncNoticeState, type UpdatePolicy, type WaitEstimate } from '../domain/wait-estimate';
import { estimateWaits, ESTIMATOR, type EstimateTarget } from '../store/wait-estimates';
import { lockStillQueued, lockWaiting, recordFirstEstimates, saveNotices } from '../store/wait-notices';
import { wideningOf } from '../store/widening';
import { clockOf, runRouting, type RouterCtx, type RoutingTx } from '../store/routing-tx';

/**
 * Wait estimates told to customers (docs/queue-intelligence.md): the first estimate on the
 * conversation.queued event of a conversation's first queueing; conversation.wait-updated when the
 * position or estimate moves materially (domain/wait-estimate.ts isMaterial; the chat visitor's
 * websocket gets a `wait` frame from it, through ingest-chat); on async channels one automatic
 * message past WAIT_NOTICE_THRESHOLD_MS and one more only if it grows by WAIT_NOTICE_GROW_FACTOR.
 */

/** Channels where the customer is not watching a live widget: a wait message goes out through the outbox. */
export const ASYNC_CHANNELS: ReadonlySet<string> = new Set(['sms', 'whatsapp', 'messenger', 'instagram', 'email']);
/** The sender of the automatic wait messages (history counts no `system:` sender as a first response). */
export const WAIT_NOTICE_SENDER = 'system:wait-estimate' as const;

const updatePolicy = (c: RouterConfig): UpdatePolicy => ({ ...DEFAULT_UPDATE_POLICY, minIntervalMs: c.WAIT_UPDATE_MIN_INTERVAL_MS });
const asyncPolicy = (c: RouterConfig): AsyncNoticePolicy => ({ thresholdMs: c.WAIT_NOTICE_THRESHOLD_MS, growFactor: c.WAIT_NOTICE_GROW_FACTOR });
const wireWait = (e: WaitEstimate) => ({ position: e.position, estimateMs: e.estimateMs, estimator: ESTIMATOR });

function target(c: Conversation, steps: WideningStep[] | undefined, at: Date): EstimateTarget {
  const w = waitingOf(c);
  const s = stepAt(steps, at.getTime() - w.waitingSince.getTime());
  return { ...w, ...(s.index >= 0 ? { step: s.step } : {}), tier: c.tier };
}

/**
 * The estimate given when conversations are first queued (opened in this transaction): put on
 * their conversation.queued event as data.estimate and stored as the first one announced. Arrivals
 * of the same transaction count for each other's position.
 */
export async function estimateArrivals(tx: RoutingTx, queued: Conversation[], widening: Map<string, WideningStep[]>, at: Date, views: AgentView[]): Promise<void> {
  // WAIT_UPDATE_INTERVAL_MS=0 turns wait estimates off altogether (two statements per arrival transaction saved)
  const fresh = tx.ctx.config.WAIT_UPDATE_INTERVAL_MS > 0 ? queued.filter((c) => tx.ruleOf(c.id)) : [];
  if (!fresh.length) return;
  const targets = fresh.map((c) => target(c, widening.get(c.id), at));
  const ageing = ageingOf(tx.ctx.config);
  const ahead = new Map<string, number>();
  for (const t of targets) ahead.set(t.conversationId, targets.filter((o) => o !== t && o.tiers.some((x) => t.tiers.includes(x)) && compareAged(o, t, at, ageing) < 0).length);
  const estimates = await estimateWaits(tx.client, targets, { at, ageing }, ahead, views);
  const rows: { conversationId: string; position: number; estimateMs: number | null; at: Date }[] = [];
  for (const [id, e] of estimates) {
    tx.annotateEvent(id, 'conversation.queued', { estimate: wireWait(e) });
    rows.push({ conversationId: id, position: e.position, estimateMs: e.estimateMs, at });
  }
  // a write nothing here reads back: it leaves with the transaction's next statement or its COMMIT
  await deferToCommit(tx.client, () => recordFirstEstimates(tx.client, rows));
}

/**
 * One pass over the queued conversations whose customer was told an estimate (up to `limit`, in
 * queue order; replicas share them with SKIP LOCKED): re-estimate, announce what moved materially
 * (conversation.wait-updated), send the async wait messages due. Returns the announcements made.
 */
export async function announceWaits(ctx: RouterCtx, limit = 500): Promise<number> {
  return runRouting(ctx, async (tx) => {
    const at = clockOf(ctx);
    const waiting = await lockWaiting(tx.client, limit);
    if (!waiting.length) return 0;
    const widening = await wideningOf(tx.client, waiting.map((w) => w.conversation.id));
    const estimates = await estimateWaits(tx.client, waiting.map((w) => target(w.conversation, widening.get(w.conversation.id), at)), { at, ageing: ageingOf(ctx.config) });
    const policy = updatePolicy(ctx.config);
    // what is due, decided on the unlocked read…
    const due = waiting.flatMap((w) => {
      const e = estimates.get(w.conversation.id);
      if (!e) return [];
      const material = isMaterial(w.announced, e, at.getTime(), policy);
      const r = ASYNC_CHANNELS.has(w.conversation.channel) && e.estimateMs !== null ? asyncNotice(w.async, e.estimateMs, asyncPolicy(ctx.config)) : undefined;
      return material || r?.send ? [{ w, e, material, notice: r?.send ? r : undefined }] : [];
    });
    // …then said only of conversations still queued, their queue entries locked to commit: a match
    // pass holding one is offering it (skipped here, its entry then gone), and one that comes after
    // skips it (kicked again after this commit), so an announcement never follows the offer on the topic
    const still = due.length ? await lockStillQueued(tx.client, due.map((d) => d.w.conversation.id)) : new Set<string>();
    if (still.size) tx.needsMatch = true;
    const saved: { conversationId: string; announced: Announced; async: AsyncNoticeState }[] = [];
    let n = 0;
    for (const { w, e, material, notice } of due) {
      const c = w.conversation;
      if (!still.has(c.id)) continue;
      let announced = w.announced;
      if (material) {
        tx.conversationEvent(c, 'conversation.wait-updated', { type: 'system' }, `position ${e.position}`, { data: { wait: wireWait(e) } });
        announced = { position: e.position, estimateMs: e.estimateMs, at: at.getTime() };
        n++;
      }
      if (notice?.send && e.estimateMs !== null) systemNotice(tx, c, WAIT_NOTICE_SENDER, waitNoticeText(notice.send, e.estimateMs, noticeLanguage(c.language)), at);
      saved.push({ conversationId: c.id, announced, async: notice ? notice.state : w.async });
    }
    await saveNotices(tx.client, saved);
    return n;
  });
}
