import { createHash } from 'node:crypto';
import { parseAddressHeader } from 'mailparser';
import { badField } from '@omni/service';
import { messageIdList, normalizeMessageId } from '../domain/message-ids';
import type { Mailbox, ParsedEmail } from '../domain/parsed-email';
import { field, jsonField, uploadedAttachments, type FormFields } from './form-fields';
import { parseMime } from './mime';

/** Unfolds a raw header block ("Name: value" lines, continuation lines indented) into pairs. */
export function parseHeaderBlock(block: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of block.replace(/\r\n?/g, '\n').split('\n')) {
    if (/^[ \t]/.test(line) && out.length) out[out.length - 1]![1] += ` ${line.trim()}`;
    else {
      const i = line.indexOf(':');
      if (i > 0) out.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
    }
  }
  return out;
}

function addresses(text: string | undefined): Mailbox[] {
  if (!text) return [];
  return parseAddressHeader(text).value.filter((a) => a.address).map((a) => ({ address: a.address!, ...(a.name ? { name: a.name } : {}) }));
}

interface Envelope {
  to?: string[];
  from?: string;
}

function sendgridRaw(b: FormFields, envelope: Envelope | undefined): Record<string, unknown> {
  return {
    ...(envelope ? { envelope } : {}),
    ...(field(b, 'spam_score') ? { spamScore: field(b, 'spam_score') } : {}),
    ...(field(b, 'SPF') ? { spf: field(b, 'SPF') } : {}),
    ...(field(b, 'dkim') ? { dkim: field(b, 'dkim') } : {}),
    ...(field(b, 'sender_ip') ? { senderIp: field(b, 'sender_ip') } : {}),
  };
}

/**
 * SendGrid Inbound Parse → ParsedEmail. Raw mode posts the whole message in `email` (parsed here
 * with mailparser); parsed mode posts the parts (text, html, headers, attachmentN files).
 */
export async function parseSendgrid(b: FormFields, unknownCharsets?: Record<string, string>): Promise<ParsedEmail> {
  const envelope = jsonField<Envelope>(b, 'envelope');
  const envelopeTo = Array.isArray(envelope?.to) ? envelope.to.filter((t): t is string => typeof t === 'string') : [];
  const rawEmail = field(b, 'email');
  if (rawEmail !== undefined) {
    // the raw message's bytes (the field was read as latin1): mailparser decodes each part's charset
    const bytes = /[^\u0000-\u00ff]/.test(rawEmail) ? Buffer.from(rawEmail, 'utf8') : Buffer.from(rawEmail, 'latin1');
    const parsed = await parseMime(bytes, 'sendgrid', 'body.email');
    return { ...parsed, recipients: [...parsed.recipients, ...envelopeTo], raw: { ...parsed.raw, ...sendgridRaw(b, envelope), mode: 'raw' } };
  }
  const headers = parseHeaderBlock(field(b, 'headers') ?? '');
  const header = (name: string) => headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
  const from = addresses(field(b, 'from') ?? header('From'))[0];
  if (!from) throw badField('body.from', 'is required (an address)');
  const to = addresses(field(b, 'to') ?? header('To'));
  const cc = addresses(field(b, 'cc') ?? header('Cc'));
  const infoValue = jsonField<unknown>(b, 'attachment-info');
  const info = (infoValue && typeof infoValue === 'object' && !Array.isArray(infoValue) ? infoValue : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const attachments = uploadedAttachments(b, /^attachment\d+$/).map(({ field: name, attachment }) => {
    const entry = info[name];
    const e = (entry && typeof entry === 'object' ? entry : {}) as Record<string, unknown>;
    const i = { filename: str(e.filename), name: str(e.name), type: str(e.type), 'content-id': str(e['content-id']) };
    return {
      ...attachment,
      ...(i?.filename || i?.name ? { name: i.filename ?? i.name } : {}),
      ...(i?.type ? { contentType: i.type } : {}),
      ...(i?.['content-id'] ? { contentId: i['content-id'].replace(/^<|>$/g, '') } : {}),
    };
  });
  const dateText = header('Date');
  const date = dateText ? new Date(dateText) : undefined;
  const text = field(b, 'text');
  // Inbound Parse has no id of its own: without a Message-ID, a hash of what was posted stands in
  const digest = createHash('sha256');
  for (const name of ['headers', 'from', 'to', 'subject', 'text', 'html']) digest.update(field(b, name) ?? '').update('\u0000');
  return {
    provider: 'sendgrid',
    providerId: `sha256:${digest.digest('hex')}`,
    messageId: normalizeMessageId(header('Message-ID')),
    inReplyTo: messageIdList(header('In-Reply-To')),
    references: messageIdList(header('References')),
    from,
    to,
    cc,
    recipients: [...to, ...cc].map((m) => m.address).concat(envelopeTo),
    ...(field(b, 'subject') !== undefined ? { subject: field(b, 'subject') } : {}),
    ...(date && !Number.isNaN(date.getTime()) ? { date } : {}),
    text: text ?? '',
    ...(field(b, 'html') ? { html: field(b, 'html') } : {}),
    attachments,
    raw: { ...sendgridRaw(b, envelope), mode: 'parsed', ...(field(b, 'charsets') ? { charsets: field(b, 'charsets')!.slice(0, 1024) } : {}), ...(unknownCharsets ? { unknownCharsets } : {}) },
  };
}
