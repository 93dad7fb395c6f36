import Ajv, { type ValidateFunction } from 'ajv';
import type { Static, TSchema } from '@sinclair/typebox';
import { deterministicMessageId, fitAttachment, InboundMessage, isStorable, problemsOf, type Attachment } from '@omni/contracts';
import { MessagingEntry, MessagingEvent, MetaWebhookBody, META_OBJECTS, WaContactProfile, WaEntry, WaMessage, WaMessagesValue, type MetaObject } from './meta-schemas';

/** A payload problem naming the field (`body.entry.0.messaging.1.sender.id`). */
export class MetaPayloadError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** One part of a delivery that could not be turned into a message: refused alone, dead-lettered. */
export interface MetaRefusal {
  field: string;
  reason: string;
  /** the refused element as Meta sent it (a message, an entry, or the whole body) */
  value: unknown;
}

const ajv = new Ajv({ allErrors: false, strict: false });
const compiled = new Map<TSchema, ValidateFunction>();

/** The first problem of `value` against `schema` as a MetaPayloadError, or undefined when it fits. */
function problemOf(schema: TSchema, value: unknown, at: string): MetaPayloadError | undefined {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(schema, fn);
  }
  if (fn(value)) return undefined;
  const e = fn.errors![0]!;
  const missing = (e.params as { missingProperty?: string }).missingProperty;
  return new MetaPayloadError(at + e.instancePath.replace(/\//g, '.') + (missing ? `.${missing}` : ''), e.message ?? e.keyword);
}

export const META_PROVIDERS: Record<MetaObject, string> = {
  page: 'meta-messenger',
  instagram: 'meta-instagram',
  whatsapp_business_account: 'meta-whatsapp',
};

export interface MetaMapping {
  envelopes: InboundMessage[];
  /** events that are deliberately not customer messages (echoes, deliveries, reads, statuses…) */
  ignored: number;
  /** messages (or entries, or the whole body) that could not be read, each with the field and why */
  refused: MetaRefusal[];
}

/**
 * Turns one verified Meta webhook body into one canonical envelope per customer message. Echoes of
 * our own sends, delivery/read receipts and WhatsApp statuses produce nothing (`ignored`). Each
 * message is read on its own: one that cannot be identified or does not satisfy the contract is
 * listed in `refused` with the field and reason, and the others of the delivery still go through.
 */
export function metaEnvelopes(body: unknown, now = new Date()): MetaMapping {
  const out: MetaMapping = { envelopes: [], ignored: 0, refused: [] };
  const top = problemOf(MetaWebhookBody, body, 'body');
  if (top) return { ...out, refused: [{ field: top.field, reason: top.reason, value: body }] };
  const b = body as Static<typeof MetaWebhookBody>;
  const object = b.object as MetaObject;
  if (!META_OBJECTS.includes(object))
    return { ...out, refused: [{ field: 'body.object', reason: `unsupported object '${b.object}', expected one of ${META_OBJECTS.join(', ')}`, value: body }] };
  b.entry.forEach((entry, i) => {
    if (object === 'whatsapp_business_account') whatsappEntry(entry, `body.entry.${i}`, now, out);
    else messagingEntry(object, entry, `body.entry.${i}`, now, out);
  });
  return out;
}

/** Adds the envelope, or refuses it when it does not satisfy the contract (naming the field). */
function push(out: MetaMapping, envelope: InboundMessage, at: string, value: unknown): void {
  // ids and addresses are stored and indexed as they are: one PostgreSQL cannot store refuses the message
  for (const [name, v] of [['providerMessageId', envelope.providerMessageId], ['threadKey', envelope.threadKey], ['from.address', envelope.from.address], ['to.address', envelope.to?.address ?? '']] as const)
    if (!isStorable(v)) {
      out.refused.push({ field: at, reason: `${name} holds NUL or an unpaired surrogate, which cannot be stored`, value });
      return;
    }
  const problems = problemsOf(InboundMessage, envelope);
  if (problems.length === 0) out.envelopes.push(envelope);
  else out.refused.push({ field: at, reason: `envelope does not satisfy omni.inbound.v1: ${problems.join('; ')}`, value });
}

/** Meta documents messaging timestamps in milliseconds; accept seconds too rather than dating a message 1970. */
function toIso(ts: number | string | undefined, now: Date): string {
  if (ts === undefined) return now.toISOString();
  const n = Number(ts);
  if (!Number.isFinite(n) || n <= 0 || n > 8.64e15) return now.toISOString();
  return new Date(n < 1e12 ? n * 1000 : n).toISOString();
}

// Messenger/Instagram attachment types are coarse ("image", "video"…), not MIME types.
const COARSE_MIME: Record<string, string> = { image: 'image/*', video: 'video/*', audio: 'audio/*', file: 'application/octet-stream' };
const LABEL: Record<string, string> = {
  image: 'Image',
  video: 'Video',
  audio: 'Audio',
  file: 'File',
  sticker: 'Sticker',
  document: 'Document',
  story_mention: 'Story mention',
  ig_reel: 'Reel',
  reel: 'Reel',
  ig_post: 'Post',
};
const label = (type: string) => LABEL[type] ?? `${type.charAt(0).toUpperCase()}${type.slice(1)}`;
const HTTP_URL = /^https?:\/\//i;

type MessagingAttachmentIn = NonNullable<NonNullable<Static<typeof MessagingEvent>['message']>['attachments']>[number];

/** A readable line for an attachment, so a message made only of attachments is never empty. */
function messagingAttachmentLine(a: MessagingAttachmentIn): string {
  const p = a.payload ?? undefined;
  const title = p?.title ?? a.title;
  const url = p?.url ?? a.url ?? a.URL;
  if (a.type === 'location') {
    const c = p?.coordinates;
    return `Location: ${[title, c?.lat !== undefined && c?.long !== undefined ? `${c.lat}, ${c.long}` : undefined].filter(Boolean).join(' — ') || 'shared'}`;
  }
  if (a.type === 'fallback' || a.type === 'share' || a.type === 'template') return `Shared link: ${[title, url].filter(Boolean).join(' — ') || '(no preview)'}`;
  if (p?.sticker_id !== undefined || a.type === 'sticker') return 'Sticker';
  return `${label(a.type)}${title ? `: ${title}` : ''}`;
}

function messagingEntry(object: 'page' | 'instagram', entry: unknown, at: string, now: Date, out: MetaMapping): void {
  const bad = problemOf(MessagingEntry, entry, at);
  if (bad) {
    out.refused.push({ field: bad.field, reason: bad.reason, value: entry });
    return;
  }
  const e = entry as Static<typeof MessagingEntry>;
  const channel: 'messenger' | 'instagram' = object === 'page' ? 'messenger' : 'instagram';
  const provider = META_PROVIDERS[object];
  out.ignored += (e.standby?.length ?? 0) + (e.changes?.length ?? 0);
  (e.messaging ?? []).forEach((raw, j) => {
    const where = `${at}.messaging.${j}`;
    const invalid = problemOf(MessagingEvent, raw, where);
    if (invalid) {
      out.refused.push({ field: invalid.field, reason: invalid.reason, value: raw });
      return;
    }
    const ev = raw as Static<typeof MessagingEvent>;
    const accountId = ev.recipient.id;
    const customerId = ev.sender.id;
    const base = {
      schema: 'omni.inbound.v1' as const,
      channel,
      provider,
      threadKey: `${channel}:${accountId}:${customerId}`,
      from: { channel, address: customerId },
      to: { channel, address: accountId },
      sentAt: toIso(ev.timestamp, now),
      receivedAt: now.toISOString(),
      kind: 'message' as const,
    };
    const m = ev.message;
    if (m) {
      // echoes of what the page itself sent, and deleted messages, are not inbound customer messages
      if (m.is_echo || m.is_deleted) {
        out.ignored++;
        return;
      }
      const list = m.attachments ?? [];
      const attachments: Attachment[] = list.map((a) => {
        const url = a.payload?.url ?? a.url ?? a.URL;
        return fitAttachment({
          name: a.type,
          ...(COARSE_MIME[a.type] ? { contentType: COARSE_MIME[a.type] } : {}),
          ...(url && HTTP_URL.test(url) ? { url } : {}),
        });
      });
      const lines = list.map(messagingAttachmentLine);
      const text = m.text?.trim() ? m.text : m.sticker_id !== undefined ? 'Sticker' : lines.length ? lines.join('\n') : m.is_unsupported ? 'Unsupported message: open it in the Meta inbox' : '(empty message)';
      push(
        out,
        {
          ...base,
          messageId: deterministicMessageId(provider, m.mid),
          providerMessageId: m.mid,
          text,
          ...(attachments.length ? { attachments: attachments.slice(0, 100) } : {}),
          raw: {
            object,
            entryId: e.id,
            type: list.length ? 'attachments' : m.is_unsupported ? 'unsupported' : 'text',
            ...(list.length ? { attachmentTypes: list.map((a) => a.type) } : {}),
            ...(m.quick_reply?.payload ? { quickReplyPayload: m.quick_reply.payload } : {}),
            ...(m.reply_to?.mid ? { inReplyTo: m.reply_to.mid } : {}),
          },
        },
        where,
        raw,
      );
      return;
    }
    if (ev.postback) {
      // a tapped button: the mid identifies it when Meta gives one, else sender + time
      const id = ev.postback.mid ?? `postback:${customerId}:${ev.timestamp ?? ''}:${ev.postback.payload ?? ''}`;
      push(
        out,
        {
          ...base,
          messageId: deterministicMessageId(provider, id),
          providerMessageId: id.slice(0, 512),
          text: `Tapped: ${ev.postback.title ?? ev.postback.payload ?? 'a button'}`,
          raw: { object, entryId: e.id, type: 'postback', ...(ev.postback.payload ? { payload: ev.postback.payload } : {}) },
        },
        where,
        raw,
      );
      return;
    }
    if (ev.reaction) {
      const r = ev.reaction;
      const removed = r.action === 'unreact';
      const id = `${r.mid}:reaction:${customerId}:${r.action ?? 'react'}:${ev.timestamp ?? ''}`;
      push(
        out,
        {
          ...base,
          messageId: deterministicMessageId(provider, id),
          providerMessageId: id.slice(0, 512),
          text: removed ? `Reaction removed from message ${r.mid}` : `Reaction ${r.emoji ?? r.reaction ?? ''} to message ${r.mid}`.replace(/\s+/g, ' '),
          raw: { object, entryId: e.id, type: 'reaction', reactedTo: r.mid, ...(r.reaction ? { reaction: r.reaction } : {}), action: r.action ?? 'react' },
        },
        where,
        raw,
      );
      return;
    }
    // deliveries, reads, referrals, optins… are not customer messages
    out.ignored++;
  });
}

type WaMessageIn = Static<typeof WaMessage>;

/** The agent-facing text of a WhatsApp message: its text, caption, choice, or a readable summary. */
export function whatsappText(msg: WaMessageIn): string {
  if (msg.text?.body.trim()) return msg.text.body;
  const media = msg.image ?? msg.video ?? msg.document ?? msg.audio ?? msg.sticker;
  if (media?.caption?.trim()) return media.caption;
  if (msg.button?.text) return msg.button.text;
  const reply = msg.interactive?.button_reply ?? msg.interactive?.list_reply;
  if (reply?.title) return [reply.title, msg.interactive?.list_reply?.description].filter(Boolean).join(' — ');
  if (msg.interactive?.nfm_reply) return `Form reply: ${msg.interactive.nfm_reply.body ?? msg.interactive.nfm_reply.name ?? 'submitted'}`;
  if (msg.reaction) return msg.reaction.emoji ? `Reaction ${msg.reaction.emoji} to message ${msg.reaction.message_id ?? ''}`.trim() : `Reaction removed from message ${msg.reaction.message_id ?? ''}`.trim();
  if (msg.location) {
    const l = msg.location;
    const coords = l.latitude !== undefined && l.longitude !== undefined ? `${l.latitude}, ${l.longitude}` : undefined;
    return `Location: ${[l.name, l.address, coords].filter(Boolean).join(' — ') || 'shared'}`;
  }
  if (msg.contacts?.length)
    return msg.contacts
      .map((c) => `Contact: ${[c.name?.formatted_name ?? [c.name?.first_name, c.name?.last_name].filter(Boolean).join(' '), ...(c.phones ?? []).map((p) => p.phone), ...(c.emails ?? []).map((m) => m.email)].filter(Boolean).join(' — ')}`)
      .join('\n');
  if (msg.order) return `Order: ${msg.order.product_items?.length ?? 0} item(s)${msg.order.text ? ` — ${msg.order.text}` : ''}`;
  if (media) return `${label(msg.type)}${media.filename ? `: ${media.filename}` : ''}`;
  if (msg.type === 'unsupported' || msg.type === 'unknown' || msg.errors?.length) {
    const why = msg.errors?.map((er) => er.error_data?.details ?? er.message ?? er.title).filter(Boolean).join('; ');
    return `Unsupported message${why ? ` (${why})` : ''}: open it in WhatsApp`;
  }
  return `(${msg.type} message)`;
}

function whatsappEntry(entry: unknown, at: string, now: Date, out: MetaMapping): void {
  const bad = problemOf(WaEntry, entry, at);
  if (bad) {
    out.refused.push({ field: bad.field, reason: bad.reason, value: entry });
    return;
  }
  const e = entry as Static<typeof WaEntry>;
  e.changes.forEach((change, c) => {
    // other fields (account_update, message_template_status_update…) are not customer messages
    if (change.field !== 'messages') {
      out.ignored++;
      return;
    }
    const vAt = `${at}.changes.${c}.value`;
    const badValue = problemOf(WaMessagesValue, change.value, vAt);
    if (badValue) {
      out.refused.push({ field: badValue.field, reason: badValue.reason, value: change.value });
      return;
    }
    const value = change.value as Static<typeof WaMessagesValue>;
    out.ignored += value.statuses?.length ?? 0;
    const phoneNumberId = value.metadata.phone_number_id;
    const names = new Map<string, string | undefined>();
    for (const ct of value.contacts ?? []) if (!problemOf(WaContactProfile, ct, '')) names.set((ct as Static<typeof WaContactProfile>).wa_id, (ct as Static<typeof WaContactProfile>).profile?.name);
    (value.messages ?? []).forEach((raw, k) => {
      const where = `${vAt}.messages.${k}`;
      const invalid = problemOf(WaMessage, raw, where);
      if (invalid) {
        out.refused.push({ field: invalid.field, reason: invalid.reason, value: raw });
        return;
      }
      const msg = raw as WaMessageIn;
      // "system" messages (a customer changed number) are notices, not something to answer
      if (msg.type === 'system') {
        out.ignored++;
        return;
      }
      const media = msg.image ?? msg.video ?? msg.document ?? msg.audio ?? msg.sticker;
      const name = names.get(msg.from);
      push(
        out,
        {
          schema: 'omni.inbound.v1',
          messageId: deterministicMessageId('meta-whatsapp', msg.id),
          channel: 'whatsapp',
          provider: 'meta-whatsapp',
          providerMessageId: msg.id,
          threadKey: `whatsapp:${phoneNumberId}:${msg.from}`,
          // wa_id is the number without "+": the E.164 form lets history link WhatsApp to voice/SMS
          from: { channel: 'whatsapp', address: msg.from, ...(name ? { name } : {}), ...(msg.from.length <= 15 ? { phone: `+${msg.from}` } : {}) },
          to: { channel: 'whatsapp', address: phoneNumberId, ...(value.metadata.display_phone_number ? { name: value.metadata.display_phone_number } : {}) },
          sentAt: toIso(msg.timestamp, now),
          receivedAt: now.toISOString(),
          text: whatsappText(msg),
          kind: 'message',
          // WhatsApp gives a media id to fetch from the Graph API, not a URL: kept as contentId
          ...(media ? { attachments: [fitAttachment({ name: media.filename ?? msg.type, ...(media.mime_type ? { contentType: media.mime_type } : {}), ...(media.id ? { contentId: media.id } : {}) })] } : {}),
          raw: {
            object: 'whatsapp_business_account',
            wabaId: e.id,
            type: msg.type,
            ...(msg.context?.id ? { inReplyTo: msg.context.id } : {}),
            ...(msg.location ? { location: msg.location } : {}),
            ...(msg.reaction?.message_id ? { reactedTo: msg.reaction.message_id } : {}),
            ...(msg.button?.payload ? { buttonPayload: msg.button.payload } : {}),
            ...(msg.interactive ? { interactiveType: msg.interactive.type } : {}),
            ...(msg.errors?.length ? { errors: msg.errors.slice(0, 10) } : {}),
          },
        },
        where,
        raw,
      );
    });
  });
}
