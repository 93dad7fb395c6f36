import { createHash } from 'node:crypto';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { badField } from '@omni/service';
import { messageIdList, normalizeMessageId } from '../domain/message-ids';
import type { EmailProvider, Mailbox, ParsedEmail } from '../domain/parsed-email';
import { unknownCharsetsIn } from '../domain/charsets';

function mailboxes(a: AddressObject | AddressObject[] | undefined): Mailbox[] {
  const list = Array.isArray(a) ? a : a ? [a] : [];
  return list
    .flatMap((o) => o.value.flatMap((v) => (v.group ? v.group : [v])))
    .filter((v) => v.address)
    .map((v) => ({ address: v.address!, ...(v.name ? { name: v.name } : {}) }));
}

function headerText(mail: ParsedMail, name: string): string | undefined {
  const line = mail.headerLines.find((h) => h.key === name.toLowerCase())?.line;
  return line ? line.slice(line.indexOf(':') + 1).trim() : undefined;
}

/**
 * A raw RFC 5322 message → ParsedEmail, with mailparser (MIME structure, encodings, charsets).
 * Attachment contents are parsed by mailparser but only their metadata is kept. Without a
 * Message-ID the id falls back to a hash of the raw bytes, so a re-post of the same bytes dedupes.
 */
export async function parseMime(source: Buffer | string, provider: EmailProvider, field: string): Promise<ParsedEmail> {
  let mail: ParsedMail;
  try {
    mail = await simpleParser(source, { skipImageLinks: true, skipTextToHtml: true, keepCidLinks: true } as Parameters<typeof simpleParser>[1]);
  } catch (err) {
    throw badField(field, `not a parseable MIME message: ${(err as Error).message}`);
  }
  const from = mailboxes(mail.from)[0];
  if (!from) throw badField(field, 'the message has no From address');
  const to = mailboxes(mail.to);
  const cc = mailboxes(mail.cc);
  const deliveredTo = headerText(mail, 'Delivered-To');
  return {
    provider,
    providerId: `sha256:${createHash('sha256').update(source).digest('hex')}`,
    messageId: normalizeMessageId(mail.messageId),
    inReplyTo: messageIdList(mail.inReplyTo),
    references: messageIdList(mail.references),
    from,
    to,
    cc,
    recipients: [...to, ...cc].map((m) => m.address).concat(deliveredTo ? [deliveredTo] : []),
    ...(mail.subject !== undefined ? { subject: mail.subject } : {}),
    ...(mail.date ? { date: mail.date } : {}),
    text: mail.text ?? '',
    ...(typeof mail.html === 'string' && mail.html ? { html: mail.html } : {}),
    attachments: mail.attachments.map((a) => ({
      ...(a.filename ? { name: a.filename } : {}),
      contentType: a.contentType,
      size: a.size,
      ...(a.contentId ? { contentId: a.contentId.replace(/^<|>$/g, '') } : {}),
    })),
    // mailparser decodes each part in its declared charset and falls back to UTF-8 for one it does
    // not know: the text is kept, and the unknown charsets are named so nobody trusts it blindly
    raw: (() => {
      const unknown = unknownCharsetsIn(source);
      return unknown.length ? { unknownCharsets: unknown } : {};
    })(),
  };
}
