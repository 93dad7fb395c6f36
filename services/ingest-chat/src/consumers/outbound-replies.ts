import type { Pool } from 'pg';
import type { OutboundMessage } from '@omni/contracts';
import type { Received } from '@omni/kafka';
import { sessionIdOfThread } from '../domain/chat-session';
import { storeReply, type StoreOutcome } from '../session-store';

/**
 * omni.outbound.v1 → replies of websocket sessions. Other chat threads (adapter-route chats) and
 * other channels are someone else's to deliver. Storing is idempotent on outboundId; the socket push
 * happens on the replica holding the socket, woken by the NOTIFY sent on commit.
 */
export async function handleOutboundReply(deps: { pool: Pool }, msg: Received<OutboundMessage>): Promise<StoreOutcome | 'not-websocket'> {
  const o = msg.value;
  if (o.channel !== 'chat') return 'not-websocket';
  const sessionId = sessionIdOfThread(o.threadKey);
  if (!sessionId) return 'not-websocket';
  return storeReply(deps.pool, sessionId, o);
}
