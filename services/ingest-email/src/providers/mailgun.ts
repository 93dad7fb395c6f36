import { parseAddressHeader } from 'mailparser';
import type { Attachment } from '@omni/contracts';
import { badField } from '@omni/service';
import { messageIdList, normalizeMessageId } from '../domain/message-ids';
import type { Mailbox, ParsedEmail } from '../domain/parsed-email';
import { field, jsonField, uploadedAttachments, type FormFields } from './form-fields';

function addresses(text: string | undefined): Mailbox[] {
  if (!text) return [];
  return parseAddressHeader(text).value.filter((a) => a.address).map((a) => ({ address: a.address!, ...(a.name ? { name: a.name } : {}) }));
}

/** A header of the original message: Mailgun posts them as fields and again in message-headers. */
function header(b: FormFields, name: string, headers: [string, string][]): string | undefined {
  return field(b, name) ?? headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

/** Mailgun route (forward / store-and-notify) fields → ParsedEmail. */
export function parseMailgun(b: FormFields): ParsedEmail {
  const headerList = jsonField<unknown>(b, 'message-headers') ?? [];
  if (!Array.isArray(headerList)) throw badField('body.message-headers', 'must be a JSON array of [name, value] pairs');
  // pairs of strings only: anything else in the list is not a header we can read
  const headers = headerList.filter((h): h is [string, string] => Array.isArray(h) && typeof h[0] === 'string' && typeof h[1] === 'string');
  const fromText = field(b, 'from') ?? header(b, 'From', headers) ?? field(b, 'sender');
  const from = addresses(fromText)[0] ?? (field(b, 'sender') ? { address: field(b, 'sender')! } : undefined);
  if (!from) throw badField('body.from', 'is required (an address)');
  const to = addresses(header(b, 'To', headers));
  const cc = addresses(header(b, 'Cc', headers));
  const recipient = field(b, 'recipient');
  // forward mode uploads attachment-1..N; store-and-notify gives a JSON list with URLs instead
  const storedList = jsonField<unknown>(b, 'attachments') ?? [];
  if (!Array.isArray(storedList)) throw badField('body.attachments', 'must be a JSON array of attachment objects');
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const stored = storedList
    .filter((a): a is Record<string, unknown> => typeof a === 'object' && a !== null && !Array.isArray(a))
    .map((a): Attachment => {
      const [name, contentType, url] = [str(a.name), str(a['content-type']), str(a.url)];
      return { ...(name ? { name } : {}), ...(contentType ? { contentType } : {}), ...(Number.isSafeInteger(a.size) && (a.size as number) >= 0 ? { size: a.size as number } : {}), ...(url ? { url } : {}) };
    });
  const contentIds = jsonField<unknown>(b, 'content-id-map');
  const cidOf = new Map(
    Object.entries(contentIds && typeof contentIds === 'object' && !Array.isArray(contentIds) ? contentIds : {})
      .filter((e): e is [string, string] => typeof e[1] === 'string')
      .map(([cid, fieldName]) => [fieldName, cid.replace(/^<|>$/g, '')]),
  );
  const uploaded = uploadedAttachments(b, /^attachment-\d+$/).map((u) => (cidOf.has(u.field) ? { ...u.attachment, contentId: cidOf.get(u.field)! } : u.attachment));
  const dateText = header(b, 'Date', headers);
  const date = dateText ? new Date(dateText) : field(b, 'timestamp') ? new Date(Number(field(b, 'timestamp')) * 1000) : undefined;
  return {
    provider: 'mailgun',
    ...(field(b, 'token') ? { providerId: `token:${field(b, 'token')}` } : {}),
    messageId: normalizeMessageId(header(b, 'Message-Id', headers)),
    inReplyTo: messageIdList(header(b, 'In-Reply-To', headers)),
    references: messageIdList(header(b, 'References', headers)),
    from,
    to,
    cc,
    recipients: [...to, ...cc].map((m) => m.address).concat(recipient ? recipient.split(',').map((r) => r.trim()) : []),
    ...(field(b, 'subject') !== undefined ? { subject: field(b, 'subject') } : {}),
    ...(date && !Number.isNaN(date.getTime()) ? { date } : {}),
    text: field(b, 'body-plain') ?? '',
    ...(field(b, 'body-html') ? { html: field(b, 'body-html') } : {}),
    ...(field(b, 'stripped-text') ? { strippedText: field(b, 'stripped-text') } : {}),
    attachments: [...uploaded, ...stored],
    raw: {
      ...(recipient ? { recipient } : {}),
      ...(field(b, 'sender') ? { sender: field(b, 'sender') } : {}),
      ...(field(b, 'stripped-signature') ? { strippedSignature: field(b, 'stripped-signature') } : {}),
      ...(header(b, 'X-Mailgun-Spf', headers) ? { spf: header(b, 'X-Mailgun-Spf', headers) } : {}),
      ...(header(b, 'X-Mailgun-Sscore', headers) ? { spamScore: header(b, 'X-Mailgun-Sscore', headers) } : {}),
    },
  };
}
