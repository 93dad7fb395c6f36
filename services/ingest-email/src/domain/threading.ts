import { isEmailThreadToken } from '@omni/ingest';

export interface ThreadingInput {
  /** this message's own Message-ID (normalised), if it has one */
  messageId?: string;
  /** In-Reply-To ids, normalised */
  inReplyTo: string[];
  /** References ids, normalised, oldest first */
  references: string[];
  /** every recipient address (To, Cc, envelope recipient): plus-address tokens are read from them */
  recipients: string[];
  /** plus-address details the provider already split off (Postmark MailboxHash) */
  mailboxHashes?: string[];
}

/** What the thread index knows: Message-ID → thread key, plus-address token → thread key. */
export interface KnownThreads {
  byMessageId: ReadonlyMap<string, string>;
  byToken: ReadonlyMap<string, string>;
}

export type ThreadVia = 'self' | 'references' | 'in-reply-to' | 'plus-token' | 'new';

export interface ThreadDecision {
  threadKey: string;
  via: ThreadVia;
}

/** The plus-address thread tokens among the recipients (support+t_abc…@example.com). */
export function plusTokens(input: Pick<ThreadingInput, 'recipients' | 'mailboxHashes'>): string[] {
  const out: string[] = [];
  for (const address of input.recipients) {
    const local = address.slice(0, address.lastIndexOf('@'));
    for (const detail of local.split('+').slice(1)) if (isEmailThreadToken(detail.toLowerCase())) out.push(detail.toLowerCase());
  }
  for (const h of input.mailboxHashes ?? []) if (isEmailThreadToken(h.toLowerCase())) out.push(h.toLowerCase());
  return [...new Set(out)];
}

/** Which ids and tokens to look up in the thread index for this message. */
export function lookupKeys(input: ThreadingInput): { messageIds: string[]; tokens: string[] } {
  const ids = [...(input.messageId ? [input.messageId] : []), ...input.references, ...input.inReplyTo];
  return { messageIds: [...new Set(ids)], tokens: plusTokens(input) };
}

/**
 * The thread of an inbound e-mail, in order of trust:
 * 1. its own Message-ID is already known (a provider retry, or the same mail via two routes);
 * 2. the first known id in References, oldest first (the root end of the conversation);
 * 3. a known In-Reply-To id (clients that send no References);
 * 4. a plus-address thread token in a recipient (a reply whose client dropped both headers);
 * 5. otherwise a new thread rooted at this message (`fallbackRoot` when it has no Message-ID).
 * Known ids map to the thread they were recorded with, so a reply to one of our outbound replies
 * joins that reply's thread.
 */
export function decideThread(input: ThreadingInput, known: KnownThreads, fallbackRoot: string): ThreadDecision {
  if (input.messageId) {
    const own = known.byMessageId.get(input.messageId);
    if (own) return { threadKey: own, via: 'self' };
  }
  for (const id of input.references) {
    const t = known.byMessageId.get(id);
    if (t) return { threadKey: t, via: 'references' };
  }
  for (const id of input.inReplyTo) {
    const t = known.byMessageId.get(id);
    if (t) return { threadKey: t, via: 'in-reply-to' };
  }
  for (const token of plusTokens(input)) {
    const t = known.byToken.get(token);
    if (t) return { threadKey: t, via: 'plus-token' };
  }
  return { threadKey: `email:${input.messageId ?? fallbackRoot}`, via: 'new' };
}
