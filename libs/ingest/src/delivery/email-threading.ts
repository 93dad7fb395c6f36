import { createHash } from 'node:crypto';

/** The headers an adapter needs to send a correctly threaded email reply. */
export interface EmailThreadHeaders {
  messageId: string;
  inReplyTo?: string;
  references: string[];
  replyTo?: string;
}

/** `<id>` form of a Message-ID, whichever form it was stored in. */
export function bracketed(messageId: string): string {
  const id = messageId.trim();
  return id.startsWith('<') && id.endsWith('>') ? id : `<${id}>`;
}

/** The Message-ID of a reply: deterministic from the outbound id, so a redelivered event gets the same one. */
export function replyMessageId(outboundId: string, domain: string): string {
  const h = createHash('sha256').update(outboundId).digest('hex').slice(0, 24);
  return `<out-${h}@${domain}>`;
}

/**
 * Threading headers from the thread's known Message-IDs (oldest first): In-Reply-To names the latest,
 * References lists them all root first (RFC 5322 §3.6.4), bounded so a long thread stays a sane header.
 */
export function threadHeaders(messageId: string, threadIdsOldestFirst: string[], replyTo?: string, maxReferences = 30): EmailThreadHeaders {
  const ids = [...new Set(threadIdsOldestFirst.map(bracketed))].filter((id) => id !== messageId);
  // keep the root and the most recent ones when the thread is long
  const references = ids.length <= maxReferences ? ids : [ids[0]!, ...ids.slice(ids.length - (maxReferences - 1))];
  const last = ids[ids.length - 1];
  return { messageId, ...(last ? { inReplyTo: last } : {}), references, ...(replyTo ? { replyTo } : {}) };
}
