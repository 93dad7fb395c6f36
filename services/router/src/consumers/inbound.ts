import { derivedId, type InboundMessage } from '@omni/contracts';
import { batchWrites } from '@omni/db';
import type { Received } from '@omni/kafka';
import { classifyArrival } from '../domain/classify';
import { isLive, type Conversation } from '../domain/conversation';
import { arrivalKind, decide, openConversation, type Opening } from '../domain/lifecycle';
import { prefetchKnowledge, type AskKnowledge, type Prefetched } from '../routing/knowledge-prefetch';
import { offerOnArrival } from '../routing/matching';
import { routingPolicy } from '../routing/policy';
import { claimEventIds, classificationInputs, loadThreads, withParticipants, type CustomerInputs } from '../store/conversations';
import { withSelfService } from '../store/conversation-knowledge';
import { RECENT_SHOWN } from '../domain/offer-context';
import type { RuleCache } from '../store/rule-store';
import { clockOf, runRouting, type RouterCtx, type RoutingTx } from '../store/routing-tx';

export interface InboundDeps {
  ctx: RouterCtx;
  rules: RuleCache;
  /** the knowledge service (KNOWLEDGE_URL): absent = no suggestions, no self-service */
  ask?: AskKnowledge;
}

/**
 * Handles a fetched batch of one partition: up to `txMax` messages per routing transaction, in
 * order (a thread's messages always share a partition). Set-based statements per transaction, not
 * per message: the idempotency rows, the threads' conversations, classification inputs, inserts,
 * and the arrival offers. A redelivered batch changes nothing (processed_events); a batch that fails
 * is retried message by message by the consumer, so one bad message cannot hold the others back.
 */
export async function handleInboundBatch(deps: InboundDeps, msgs: Received<InboundMessage>[], txMax = 100): Promise<void> {
  for (let i = 0; i < msgs.length; i += txMax) {
    const chunk = msgs.slice(i, i + txMax).map((m) => m.value);
    // knowledge is asked before the transaction: no lock is held while waiting on HTTP
    const known = deps.ask ? await prefetchKnowledge({ pool: deps.ctx.pool, rules: deps.rules, ask: deps.ask }, chunk, clockOf(deps.ctx)) : undefined;
    await runRouting(deps.ctx, (tx) => routeMessages(tx, deps, chunk, known));
  }
}

type ActiveRules = Awaited<ReturnType<RuleCache['active']>>;
type ClassificationInput = Pick<CustomerInputs, 'attributes' | 'display_name' | 'n'>;

/**
 * Routes messages in one transaction, in order: load (each thread's latest conversation, locked;
 * collaborators; classification inputs) → decide each message with the lifecycle (join, reopen,
 * or close and open a new classified one) → offer what was queued here (offerOnArrival) → the
 * transaction saves all of it at flush.
 */
async function routeMessages(tx: RoutingTx, deps: InboundDeps, batch: InboundMessage[], known?: Map<string, Prefetched>): Promise<void> {
  const policy = await routingPolicy(tx);
  const at = clockOf(deps.ctx);
  // the idempotency claim and the threads' conversations (locked) in one round trip: the threads of
  // the whole batch are read behind the claim (same order, same locks as one after the other); a
  // redelivered message's thread is then only locked to no purpose until this transaction ends
  // (answers come in order: if the claim failed, its error is the one Promise.all rejects with)
  batchWrites(tx.client);
  const [pending, loaded] = await Promise.all([claimEventIds(tx.client, batch.map((m) => m.messageId)), loadThreads(tx.client, [...new Set(batch.map((m) => m.threadKey))])]);
  // first occurrence of each id not seen before (a redelivery or a repeat in the batch is a no-op)
  const todo = batch.filter((m) => pending.delete(m.messageId));
  const threads = new Set(todo.map((m) => m.threadKey));
  const current = new Map([...loaded].filter(([k]) => threads.has(k)));
  if (todo.length === 0) return;

  await withParticipants(tx.client, [...current.values()].filter(isLive));
  await withSelfService(tx.client, [...current.values()]);
  // Classification inputs for every customer that may open a conversation here, in one read.
  const openers = [...new Set(todo.filter((m) => !isLive(current.get(m.threadKey))).map((m) => `${m.from.channel}:${m.from.address}`))];
  // …with the active rule version (an edit applies from the next transaction on); the rules themselves are cached per version
  const { inputs, ruleVersion } = await classificationInputs(tx.client, openers, at, RECENT_SHOWN);
  for (const [key, input] of inputs) tx.knowRecent(key, input.recent);
  let rules: ActiveRules | undefined;
  const activeRules = async () => (rules ??= ruleVersion !== undefined ? await deps.rules.ofVersion(tx.client, ruleVersion) : await deps.rules.active(tx.client));

  const queuedHere = new Set<string>(); // threads whose conversation this transaction queued
  for (const m of todo) {
    let latest = current.get(m.threadKey) ?? null;
    const kind = arrivalKind(latest, at, policy);
    if (kind === 'close-then-open') {
      // past the window (the sweep had not closed it yet): closed now, then a new one opens
      const closed = decide(latest, { kind: 'reopen-window-over', at }, policy);
      if (!closed.ok) throw new Error(closed.message);
      latest = tx.apply(latest, closed, at);
    }
    const opening = kind === 'open' || kind === 'close-then-open' ? open(await activeRules(), m, inputs.get(`${m.from.channel}:${m.from.address}`), at, known?.get(m.messageId)) : undefined;
    const out = decide(latest, { kind: 'message', at, message: m, ...(opening ? { opening } : {}) }, policy);
    if (!out.ok) throw new Error(out.message);
    const conv = tx.apply(opening ? null : latest, out, at, opening ? { rule: { id: opening.matchedRules.at(-1) ?? null, version: opening.ruleVersion } } : {});
    tx.recordMessage(m.messageId, conv.id, m.receivedAt);
    const fetched = opening && known?.get(m.messageId);
    if (fetched) tx.suggestions.set(conv.id, fetched.suggestions);
    current.set(m.threadKey, conv);
    // a reply that routes a self-service conversation queues it here too (arrival offer, outside-hours notice)
    if (kind !== 'join' || (latest?.status === 'self-service' && conv.status === 'queued')) queuedHere.add(m.threadKey);
  }
  // offered in their latest state (a later message of the batch may have joined them)
  const queued = [...queuedHere].map((k) => current.get(k)!).filter((c): c is Conversation => c.status === 'queued');
  await offerOnArrival(tx, queued, at);
}

/** Classifies a thread's first message into the conversation it opens. */
function open(rules: ActiveRules, m: InboundMessage, input: ClassificationInput | undefined, at: Date, known: Prefetched | undefined): Opening {
  const attributes = input?.attributes ?? {};
  const c = classifyArrival(rules.compiled, m, attributes, input?.n ?? 0);
  const conversation = openConversation(derivedId('conv', m.messageId), m, c, { attributes, displayName: input?.display_name ?? null }, at);
  return {
    conversation,
    ruleVersion: rules.version,
    matchedRules: c.matched,
    // the lifecycle decides whether it applies (category enabled, not a VIP, articles found)
    ...(known ? { selfService: { setting: rules.selfService, articles: known.selfService } } : {}),
  };
}
