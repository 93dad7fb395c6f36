import type { Pool } from 'pg';
import { derivedId } from '@omni/contracts';
import { withTransaction } from '@omni/db';
import { AppError } from '@omni/service';
import { lockKeys } from './link-customers';
import { loadConversation, refreshConversations } from './conversations';

export interface CsatRecorded {
  conversationId: string;
  eventId: string;
  score: number;
  comment: string | null;
  submittedAt: string;
}

/**
 * Records a CSAT answer as a timeline event (id derived from the conversation, so at most one can
 * exist) and re-projects the conversation. Only after resolution, once per conversation.
 */
export async function recordCsat(pool: Pool, conversationId: string, score: number, comment: string | undefined, now = new Date()): Promise<CsatRecorded> {
  return withTransaction(pool, async (client) => {
    // the same lock the consumer takes before projecting, so a concurrent reopen is seen or waits
    await lockKeys(client, [`conv:${conversationId}`]);
    const c = await loadConversation(client, conversationId);
    if (!c) throw new AppError('NOT_FOUND', `conversation ${conversationId} not found`, [{ field: 'params.id', reason: 'unknown conversation' }]);
    if (c.csatScore !== null) throw new AppError('CONFLICT', `conversation ${conversationId} already has a CSAT answer`, [{ field: 'params.id', reason: 'already rated' }]);
    if (!c.resolvedAt) throw new AppError('CONFLICT', `conversation ${conversationId} is not resolved (status ${c.status}); CSAT is asked after resolution`, [{ field: 'params.id', reason: 'not resolved' }]);
    const eventId = derivedId('csat', conversationId);
    const submittedAt = now.toISOString();
    const payload = { type: 'csat.submitted', conversationId, score, ...(comment ? { comment } : {}), submittedAt };
    const ins = await client.query(
      `INSERT INTO history.timeline (event_id, customer_id, occurred_at, kind, channel, conversation_id, thread_key, tier, agent_id, source_topic, payload)
       VALUES ($1::text, $2::text, $3::timestamptz, 'csat.submitted', $4::text, $5::text, $6::text, $7::int, NULL, 'api', $8::jsonb)
       ON CONFLICT (event_id) DO NOTHING`,
      [eventId, c.customerId, submittedAt, c.channel, conversationId, c.threadKey, c.resolvedTier, JSON.stringify(payload)],
    );
    if (ins.rowCount === 0) throw new AppError('CONFLICT', `conversation ${conversationId} already has a CSAT answer`, [{ field: 'params.id', reason: 'already rated' }]);
    await refreshConversations(client, [conversationId]);
    return { conversationId, eventId, score, comment: comment ?? null, submittedAt };
  });
}
