import { deterministicMessageId, type Attachment, type InboundMessage } from '@omni/contracts';
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

const TEXT_MAX = 100_000;
const HTML_MAX = 500_000;

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
 */
export function emailEnvelope(p: ParsedEmail, threadKey: string, now: Date, idField = 'body.Message-Id'): InboundMessage {
  const providerMessageId = providerMessageIdOf(p, idField);
  const full = p.text.trim() ? p.text : p.html ? htmlToText(p.html) : '';
  const stripped = p.strippedText?.trim() ? p.strippedText.trim() : stripQuotedHistory(full);
  const from = p.from.address.toLowerCase();
  const to = p.to[0];
  const raw: Record<string, unknown> = {
    ...p.raw,
    ...(p.messageId ? { rfcMessageId: p.messageId } : {}),
    ...(p.providerId ? { providerId: p.providerId } : {}),
    ...(p.inReplyTo.length ? { inReplyTo: p.inReplyTo } : {}),
    ...(p.references.length ? { references: p.references } : {}),
    ...(p.to.length > 1 ? { to: p.to } : {}),
    ...(p.cc.length ? { cc: p.cc } : {}),
    ...(full !== stripped ? { fullText: full.slice(0, TEXT_MAX) } : {}),
    ...(p.html && p.html.length > HTML_MAX ? { htmlDropped: `html body of ${p.html.length} chars exceeds ${HTML_MAX}` } : {}),
  };
  const sentAt = p.date && !Number.isNaN(p.date.getTime()) ? p.date : now;
  return {
    schema: 'omni.inbound.v1',
    messageId: deterministicMessageId(p.provider, providerMessageId),
    channel: 'email',
    provider: p.provider,
    providerMessageId: providerMessageId.slice(0, 512),
    threadKey: threadKey.slice(0, 1024),
    from: { channel: 'email', address: from.slice(0, 320), email: from.slice(0, 320), ...(p.from.name ? { name: p.from.name.slice(0, 256) } : {}) },
    ...(to ? { to: { channel: 'email', address: to.address.toLowerCase().slice(0, 320), ...(to.name ? { name: to.name.slice(0, 256) } : {}) } } : {}),
    sentAt: sentAt.toISOString(),
    receivedAt: now.toISOString(),
    text: stripped.slice(0, TEXT_MAX),
    ...(p.subject !== undefined ? { subject: p.subject.slice(0, 1024) } : {}),
    ...(p.html && p.html.length <= HTML_MAX ? { html: p.html } : {}),
    ...(p.attachments.length ? { attachments: p.attachments.slice(0, 100) } : {}),
    kind: 'message',
    raw,
  };
}
