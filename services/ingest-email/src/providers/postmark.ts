import { Type, type Static } from '@sinclair/typebox';
import { parseAddressHeader } from 'mailparser';
import { badField } from '@omni/service';
import { isStorable } from '@omni/contracts';
import { messageIdList, normalizeMessageId } from '../domain/message-ids';
import type { Mailbox, ParsedEmail } from '../domain/parsed-email';

const Recipient = Type.Object({ Email: Type.String(), Name: Type.Optional(Type.String()), MailboxHash: Type.Optional(Type.String()) });

/** Postmark's inbound webhook JSON: the fields we read; Postmark may add more, so others pass. */
export const PostmarkInbound = Type.Object(
  {
    From: Type.String({ minLength: 3 }),
    FromName: Type.Optional(Type.String()),
    FromFull: Type.Optional(Recipient),
    To: Type.Optional(Type.String()),
    ToFull: Type.Optional(Type.Array(Recipient)),
    Cc: Type.Optional(Type.String()),
    CcFull: Type.Optional(Type.Array(Recipient)),
    OriginalRecipient: Type.Optional(Type.String()),
    ReplyTo: Type.Optional(Type.String()),
    Subject: Type.Optional(Type.String()),
    MessageID: Type.String({ minLength: 1, maxLength: 512 }),
    MessageStream: Type.Optional(Type.String()),
    Date: Type.Optional(Type.String()),
    MailboxHash: Type.Optional(Type.String()),
    Tag: Type.Optional(Type.String()),
    TextBody: Type.Optional(Type.String()),
    HtmlBody: Type.Optional(Type.String()),
    StrippedTextReply: Type.Optional(Type.String()),
    Headers: Type.Optional(Type.Array(Type.Object({ Name: Type.String(), Value: Type.String() }))),
    Attachments: Type.Optional(
      Type.Array(
        Type.Object({
          Name: Type.Optional(Type.String()),
          ContentType: Type.Optional(Type.String()),
          ContentLength: Type.Optional(Type.Integer({ minimum: 0 })),
          ContentID: Type.Optional(Type.String()),
          Content: Type.Optional(Type.String()),
        }),
        { maxItems: 100 },
      ),
    ),
  },
  { $id: 'PostmarkInbound' },
);
export type PostmarkInbound = Static<typeof PostmarkInbound>;

const header = (b: PostmarkInbound, name: string) => b.Headers?.find((h) => h.Name.toLowerCase() === name.toLowerCase())?.Value;

function mailboxes(full: { Email: string; Name?: string }[] | undefined, text: string | undefined): Mailbox[] {
  if (full?.length) return full.filter((r) => r.Email).map((r) => ({ address: r.Email, ...(r.Name ? { name: r.Name } : {}) }));
  if (!text) return [];
  return parseAddressHeader(text).value.filter((a) => a.address).map((a) => ({ address: a.address!, ...(a.name ? { name: a.name } : {}) }));
}

/** Postmark JSON → ParsedEmail. Postmark's MessageID is its own id; the RFC one is in Headers. */
export function parsePostmark(b: PostmarkInbound): ParsedEmail {
  if (!isStorable(b.MessageID)) throw badField('body.MessageID', 'holds NUL or an unpaired surrogate, which cannot be stored');
  const from = b.FromFull?.Email ? { address: b.FromFull.Email, name: b.FromFull.Name || b.FromName } : mailboxes(undefined, b.From)[0];
  if (!from?.address) throw badField('body.From', 'has no e-mail address');
  const to = mailboxes(b.ToFull, b.To);
  const cc = mailboxes(b.CcFull, b.Cc);
  const date = b.Date ? new Date(b.Date) : undefined;
  const hashes = [b.MailboxHash, ...(b.ToFull ?? []).map((r) => r.MailboxHash), ...(b.CcFull ?? []).map((r) => r.MailboxHash)].filter((h): h is string => Boolean(h));
  return {
    provider: 'postmark',
    providerId: b.MessageID,
    messageId: normalizeMessageId(header(b, 'Message-ID')),
    inReplyTo: messageIdList(header(b, 'In-Reply-To')),
    references: messageIdList(header(b, 'References')),
    from: { address: from.address, ...(from.name ? { name: from.name } : {}) },
    to,
    cc,
    recipients: [...to, ...cc].map((m) => m.address).concat(b.OriginalRecipient ? [b.OriginalRecipient] : []),
    mailboxHashes: hashes,
    ...(b.Subject !== undefined ? { subject: b.Subject } : {}),
    ...(date && !Number.isNaN(date.getTime()) ? { date } : {}),
    text: b.TextBody ?? '',
    ...(b.HtmlBody ? { html: b.HtmlBody } : {}),
    ...(b.StrippedTextReply ? { strippedText: b.StrippedTextReply } : {}),
    attachments: (b.Attachments ?? []).map((a) => ({
      ...(a.Name ? { name: a.Name } : {}),
      ...(a.ContentType ? { contentType: a.ContentType } : {}),
      // ContentLength is the decoded size; the base64 Content is dropped here and never reaches Kafka
      ...(a.ContentLength !== undefined ? { size: a.ContentLength } : a.Content ? { size: Math.floor((a.Content.length * 3) / 4) } : {}),
      ...(a.ContentID ? { contentId: a.ContentID } : {}),
    })),
    raw: {
      ...(b.MessageStream ? { messageStream: b.MessageStream } : {}),
      ...(b.Tag ? { tag: b.Tag } : {}),
      ...(b.OriginalRecipient ? { originalRecipient: b.OriginalRecipient } : {}),
      ...(header(b, 'X-Spam-Status') ? { spamStatus: header(b, 'X-Spam-Status') } : {}),
      ...(header(b, 'X-Spam-Score') ? { spamScore: header(b, 'X-Spam-Score') } : {}),
    },
  };
}
