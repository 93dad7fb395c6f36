import type { ConversationEvent } from '@omni/contracts';

/** What the knowledge service keeps of a conversation: enough for the helped rate and volumes per category. */
export interface ConversationOutcome {
  id: string;
  category: string | null;
  language: string | null;
  channel: string;
  status: string;
  openedAt: string | null;
  resolvedAt: string | null;
  escalations: number;
  lastEscalatedAt: string | null;
  updatedAt: string;
}

/**
 * Folds one omni.conversations.v1 event into the conversation's outcome (pure; the consumer applies
 * each event once, in partition order, which is the conversation's order).
 * - escalated/overflowed to a higher tier count as escalations (the helped rate's "without escalation");
 * - resolved sets resolvedAt; reopened clears it (a reopened case was not resolved yet).
 */
export function applyEvent(prev: ConversationOutcome | undefined, e: ConversationEvent): ConversationOutcome {
  const o: ConversationOutcome = prev
    ? { ...prev }
    : { id: e.conversationId, category: null, language: null, channel: e.channel, status: 'open', openedAt: null, resolvedAt: null, escalations: 0, lastEscalatedAt: null, updatedAt: e.occurredAt };
  if (e.category) o.category = e.category;
  if (e.language) o.language = e.language;
  o.updatedAt = e.occurredAt;
  switch (e.type) {
    case 'conversation.opened':
      o.openedAt ??= e.occurredAt;
      o.status = 'open';
      break;
    case 'conversation.escalated':
      o.escalations += 1;
      o.lastEscalatedAt = e.occurredAt;
      break;
    case 'conversation.overflowed':
      if (e.fromTier !== undefined && e.tier > e.fromTier) {
        o.escalations += 1;
        o.lastEscalatedAt = e.occurredAt;
      }
      break;
    case 'conversation.resolved':
      o.status = 'resolved';
      o.resolvedAt = e.occurredAt;
      break;
    case 'conversation.reopened':
      o.status = 'open';
      o.resolvedAt = null;
      break;
    case 'conversation.closed':
      o.status = 'closed';
      break;
    default:
      break;
  }
  o.openedAt ??= e.occurredAt;
  return o;
}

/** Whether an article used at `usedAt` helped: the conversation was then resolved with no escalation after the use. */
export function helped(o: Pick<ConversationOutcome, 'resolvedAt' | 'lastEscalatedAt'>, usedAt: string): boolean {
  if (!o.resolvedAt) return false;
  const used = Date.parse(usedAt);
  if (Date.parse(o.resolvedAt) < used) return false;
  return !o.lastEscalatedAt || Date.parse(o.lastEscalatedAt) < used;
}
