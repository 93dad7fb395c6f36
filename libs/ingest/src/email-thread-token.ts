import { createHash } from 'node:crypto';

/**
 * The plus-address token of an e-mail thread (support+t_<hex>@example.com). Deterministic, so the
 * outbound side can put it in Reply-To without a lookup; ingest-email maps it back to the thread
 * through ingest.email_thread_tokens when a reply arrives without In-Reply-To / References.
 */
export function emailThreadToken(threadKey: string): string {
  return `t_${createHash('sha256').update(threadKey).digest('hex').slice(0, 20)}`;
}

/** True when a plus-address detail (the part after '+') has the shape of a thread token. */
export function isEmailThreadToken(detail: string): boolean {
  return /^t_[0-9a-f]{20}$/.test(detail);
}

/** `local+detail@domain` with the thread token of the thread, for Reply-To of agent replies. */
export function plusAddressFor(mailbox: string, threadKey: string): string {
  const at = mailbox.lastIndexOf('@');
  if (at <= 0) throw new Error('mailbox must be local@domain');
  const local = mailbox.slice(0, at).split('+')[0];
  return `${local}+${emailThreadToken(threadKey)}${mailbox.slice(at)}`;
}
