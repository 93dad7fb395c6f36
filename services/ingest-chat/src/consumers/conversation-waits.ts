import type { Pool } from 'pg';
import { PG_INTEGER_MAX } from '@omni/db';
import type { ConversationEvent } from '@omni/contracts';
import type { Received } from '@omni/kafka';
import { sessionIdOfThread } from '../domain/chat-session';
import { storeWait } from '../wait-store';

/**
 * omni.conversations.v1 → the wait estimates of websocket chat sessions (docs/queue-intelligence.md):
 * the first one on conversation.queued (data.estimate), then each material change the router
 * announces (conversation.wait-updated, data.wait). Everything else, and other channels or
 * adapter-route chats, is skipped. Idempotent: a redelivered or older estimate changes nothing.
 */
export async function handleConversationWait(deps: { pool: Pool }, msg: Received<ConversationEvent>): Promise<'stored' | 'skipped'> {
  const e = msg.value;
  if (e.channel !== 'chat') return 'skipped';
  const raw = e.type === 'conversation.wait-updated' ? e.data?.wait : e.type === 'conversation.queued' ? e.data?.estimate : undefined;
  const wait = waitOf(raw);
  const sessionId = sessionIdOfThread(e.threadKey);
  if (!wait || !sessionId) return 'skipped';
  const stored = await storeWait(deps.pool, sessionId, { eventId: e.eventId, conversationId: e.conversationId, ...wait, at: e.occurredAt });
  return stored ? 'stored' : 'skipped';
}

/** The estimate's shape is the router's (freeform data in the contract): anything else is ignored. */
function waitOf(v: unknown): { position: number; estimateMs: number | null; estimator: string } | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { position, estimateMs, estimator } = v as Record<string, unknown>;
  if (!Number.isInteger(position) || (position as number) < 1 || (position as number) > PG_INTEGER_MAX) return undefined;
  if (estimateMs !== null && !(Number.isInteger(estimateMs) && (estimateMs as number) >= 0 && (estimateMs as number) < 2 ** 53)) return undefined;
  if (typeof estimator !== 'string' || estimator.length === 0 || estimator.length > 64 || estimator.includes('\u0000')) return undefined;
  return { position: position as number, estimateMs: estimateMs as number | null, estimator };
}
