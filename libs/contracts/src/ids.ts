import { createHash, randomUUID } from 'node:crypto';

/**
 * Deterministic message id from provider + provider message id: a provider retrying the same
 * webhook yields the same id, so every consumer can drop the copy.
 */
export function deterministicMessageId(provider: string, providerMessageId: string): string {
  const h = createHash('sha256').update(provider).update('\u0000').update(providerMessageId).digest('hex');
  return `msg_${h.slice(0, 32)}`;
}

/** A deterministic id for any derived event (e.g. "opened" caused by a given message). */
export function derivedId(prefix: string, ...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\u0000');
  return `${prefix}_${h.digest('hex').slice(0, 32)}`;
}

/** A fresh random id with a readable prefix. */
export function newId(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '')}`;
}
