import type { Pool } from 'pg';
import type { ConversationEvent } from '@omni/contracts';
import type { Received } from '@omni/kafka';
import { applyConversationEvents } from '../store/conversations';

/**
 * omni.conversations.v1 → knowledge.conversations (outcomes for the helped rate, volumes per
 * category). One transaction per fetched batch, idempotent by event id; the consumer commits the
 * offsets only after it returns.
 */
export async function handleConversationBatch(deps: { pool: Pool }, batch: Received<ConversationEvent>[]): Promise<void> {
  await applyConversationEvents(
    deps.pool,
    batch.map((m) => m.value),
  );
}
