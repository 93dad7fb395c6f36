import { deterministicMessageId, fitAttachment, InboundMessage, type Attachment } from '@omni/contracts';
import { badField } from '@omni/service';
import { stripQuotedHistory } from './quote-strip';

export type EmailProvider = 'postmark' | 'mailgun' | 'sendgrid' | 'mime';

export interface Mailbox {
  address: string;
  name?: string;
}

/** One inbound e-mail, whatever provider delivered it: what threading and the envelope need. */
export interface ParsedEmail {
  provider: EmailProvider;
  /** the provider's own id of this delivery (Postmark MessageID…), the fallback message id */
  providerId?: string;
  /** the RFC 5322 Message-ID, normalised (no angle brackets) */
  messageId?: string;
  inReplyTo: string[];
  references: string[];
  from: Mailbox;
  to: Mailbox[];
  cc: Mailbox[];
  /** envelope / original recipients, for plus-address thread tokens */
  recipients: string[];
  mailboxHashes?: string[];
  subject?: string;
  date?: Date;
  /** the full plain-text body */
  text: string;
  html?: string;
  /** the provider's own quote-stripped reply, when it gives one */
  strippedText?: string;
  attachments: Attachment[];
  /** provider metadata worth keeping (never credentials or signatures) */
  raw: Record<string, unknown>;
}

// Limits come from the contract, so the envelope never breaks it and follows it when it changes.
const TEXT_MAX = InboundMessage.properties.text.maxLength ?? 100_000;
const HTML_MAX = InboundMessage.properties.html.maxLength ?? 500_000;
const SUBJECT_MAX = InboundMessage.properties.subject.maxLength ?? 1024;
const ATTACHMENTS_MAX = InboundMessage.properties.attachments.maxItems ?? 100;
/** References kept in raw (threading has already used the whole chain before the envelope is built). */
const REFERENCES_KEPT = 50;
const MESSAGE_ID_MAX = 998; // RFC 5322 line length

/** Cuts a string to at most `max` UTF-16 units without splitting a surrogate pair. */
export function cutText(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/** A crude text rendering of HTML for HTML-only mail (the agent UI shows `html` when present). */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style|head)[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|li|tr|h[1-6]|blockquote)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** The id messageId is derived from: the Message-ID, else the provider's id (a retry repeats both). */
export function providerMessageIdOf(p: ParsedEmail, field: string): string {
  const id = p.messageId ?? p.providerId;
  if (!id) throw badField(field, 'the message has no Message-ID and the provider gave no id of its own');
  return id;
}

/**
 * The canonical envelope of an e-mail. `text` is the new part of the message (the provider's
 * stripped reply, or ours), the full body is kept in raw.fullText; attachments are metadata only.
 * Whatever is longer than the contract allows is cut (by code point) or, for HTML, left out — the
 * agent still gets a readable text — and said so in raw (`truncated`, `htmlOmitted`), so a big
 * e-mail is carried instead of refused (docs/provider-contracts.md, "Big e-mails").
 */
export function emailEnvelope(p: ParsedEmail, threadKey: string, now: Date, idField = 'body.Message-Id'): InboundMessage {
  const providerMessageId = providerMessageIdOf(p, idField);
  const htmlFits = p.html !== undefined && p.html.length <= HTML_MAX;
  const full = p.text.trim() ? p.text : p.html ? htmlToText(p.html) : '';
  const stripped = p.strippedText?.trim() ? p.strippedText.trim() : stripQuotedHistory(full);
  const from = p.from.address.toLowerCase();
  const to = p.to[0];
  const truncated: Record<string, number> = {};
  const cut = (name: string, value: string, max: number) => {
    if (value.length > max) truncated[name] = value.length;
    return cutText(value, max);
  };
  const references = p.references.length > REFERENCES_KEPT ? p.references.slice(-REFERENCES_KEPT) : p.references;
  if (references !== p.references) truncated.references = p.references.length;
  if (p.attachments.length > ATTACHMENTS_MAX) truncated.attachments = p.attachments.length;
  const text = cut('text', stripped, TEXT_MAX);
  const subject = p.subject !== undefined ? cut('subject', p.subject, SUBJECT_MAX) : undefined;
  const raw: Record<string, unknown> = {
    ...p.raw,
    ...(p.messageId ? { rfcMessageId: cutText(p.messageId, MESSAGE_ID_MAX) } : {}),
    ...(p.providerId ? { providerId: cutText(p.providerId, MESSAGE_ID_MAX) } : {}),
    ...(p.inReplyTo.length ? { inReplyTo: p.inReplyTo.slice(0, REFERENCES_KEPT).map((id) => cutText(id, MESSAGE_ID_MAX)) } : {}),
    ...(references.length ? { references: references.map((id) => cutText(id, MESSAGE_ID_MAX)) } : {}),
    ...(p.to.length > 1 ? { to: p.to.slice(0, ATTACHMENTS_MAX) } : {}),
    ...(p.cc.length ? { cc: p.cc.slice(0, ATTACHMENTS_MAX) } : {}),
    ...(full !== stripped ? { fullText: cut('fullText', full, TEXT_MAX) } : {}),
    ...(p.html !== undefined && !htmlFits
      ? { htmlOmitted: { chars: p.html.length, bytes: Buffer.byteLength(p.html), limit: HTML_MAX, reason: 'html part longer than the envelope carries; text is its plain rendering' } }
      : {}),
  };
  if (Object.keys(truncated).length) raw.truncated = truncated;
  const sentAt = p.date && !Number.isNaN(p.date.getTime()) ? p.date : now;
  return {
    schema: 'omni.inbound.v1',
    messageId: deterministicMessageId(p.provider, providerMessageId),
    channel: 'email',
    provider: p.provider,
    providerMessageId: cutText(providerMessageId, 512),
    threadKey: cutText(threadKey, 1024),
    from: { channel: 'email', address: cutText(from, 320), email: cutText(from, 320), ...(p.from.name ? { name: cutText(p.from.name, 256) } : {}) },
    ...(to ? { to: { channel: 'email', address: cutText(to.address.toLowerCase(), 320), ...(to.name ? { name: cutText(to.name, 256) } : {}) } } : {}),
    sentAt: sentAt.toISOString(),
    receivedAt: now.toISOString(),
    text,
    ...(subject !== undefined ? { subject } : {}),
    ...(htmlFits && p.html ? { html: p.html } : {}),
    ...(p.attachments.length ? { attachments: p.attachments.slice(0, ATTACHMENTS_MAX).map(fitAttachment) } : {}),
    kind: 'message',
    raw,
  };
}
