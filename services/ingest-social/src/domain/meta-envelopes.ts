import Ajv, { type ValidateFunction } from 'ajv';
import type { Static, TSchema } from '@sinclair/typebox';
import { deterministicMessageId, type Attachment, type InboundMessage } from '@omni/contracts';
import { MessagingEntry, MetaWebhookBody, META_OBJECTS, WaEntry, WaMessagesValue, type MetaObject, MessagingEvent, WaMessage } from './meta-schemas';

/** A payload problem naming the field (`body.entry.0.messaging.1.sender.id`). */
export class MetaPayloadError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

const ajv = new Ajv({ allErrors: false, strict: false });
const compiled = new Map<TSchema, ValidateFunction>();

function assertShape<S extends TSchema>(schema: S, value: unknown, at: string): asserts value is Static<S> {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(schema, fn);
  }
  if (fn(value)) return;
  const e = fn.errors![0]!;
  const missing = (e.params as { missingProperty?: string }).missingProperty;
  const path = at + e.instancePath.replace(/\//g, '.') + (missing ? `.${missing}` : '');
  throw new MetaPayloadError(path, e.message ?? e.keyword);
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
}

/**
 * Turns one verified Meta webhook body into one canonical envelope per customer message. Echoes of
 * our own sends, delivery/read receipts and WhatsApp statuses produce nothing. Throws
 * MetaPayloadError naming the first malformed field; nothing of a malformed batch is published.
 */
export function metaEnvelopes(body: unknown, now = new Date()): MetaMapping {
  assertShape(MetaWebhookBody, body, 'body');
  const object = body.object as MetaObject;
  if (!META_OBJECTS.includes(object)) throw new MetaPayloadError('body.object', `unsupported object '${body.object.slice(0, 64)}', expected one of ${META_OBJECTS.join(', ')}`);
  const out: MetaMapping = { envelopes: [], ignored: 0 };
  body.entry.forEach((entry, i) => {
    if (object === 'whatsapp_business_account') whatsappEntry(entry, `body.entry.${i}`, now, out);
    else messagingEntry(object, entry, `body.entry.${i}`, now, out);
  });
  return out;
}

/** Meta documents messaging timestamps in milliseconds; accept seconds too rather than dating a message 1970. */
function toIso(ts: number | string | undefined, now: Date): string {
  if (ts === undefined) return now.toISOString();
  const n = Number(ts);
  if (!Number.isFinite(n) || n <= 0) return now.toISOString();
  return new Date(n < 1e12 ? n * 1000 : n).toISOString();
}

// Messenger/Instagram attachment types are coarse ("image", "video"…), not MIME types.
const COARSE_MIME: Record<string, string> = { image: 'image/*', video: 'video/*', audio: 'audio/*', file: 'application/octet-stream' };

function messagingEntry(object: 'page' | 'instagram', entry: unknown, at: string, now: Date, out: MetaMapping): void {
  assertShape(MessagingEntry, entry, at);
  const channel = object === 'page' ? 'messenger' : 'instagram';
  const provider = META_PROVIDERS[object];
  out.ignored += (entry.standby?.length ?? 0) + (entry.changes?.length ?? 0);
  (entry.messaging ?? []).forEach((ev: Static<typeof MessagingEvent>) => {
    const m = ev.message;
    // deliveries, reads, reactions, postbacks and echoes of what the page itself sent are not inbound customer messages
    if (!m || m.is_echo || m.is_deleted) {
      out.ignored++;
      return;
    }
    const accountId = ev.recipient.id;
    const customerId = ev.sender.id;
    const attachments: Attachment[] = (m.attachments ?? []).map((a) => ({
      name: a.type,
      ...(COARSE_MIME[a.type] ? { contentType: COARSE_MIME[a.type] } : {}),
      ...(a.payload?.url ? { url: a.payload.url } : {}),
    }));
    out.envelopes.push({
      schema: 'omni.inbound.v1',
      messageId: deterministicMessageId(provider, m.mid),
      channel,
      provider,
      providerMessageId: m.mid,
      threadKey: `${channel}:${accountId}:${customerId}`,
      from: { channel, address: customerId },
      to: { channel, address: accountId },
      sentAt: toIso(ev.timestamp, now),
      receivedAt: now.toISOString(),
      text: m.text ?? '',
      ...(attachments.length ? { attachments } : {}),
      raw: { object, entryId: entry.id, ...(m.attachments?.length ? { attachmentTypes: m.attachments.map((a) => a.type) } : {}) },
    });
  });
}

function whatsappText(msg: Static<typeof WaMessage>): string {
  if (msg.text) return msg.text.body;
  const media = msg.image ?? msg.video ?? msg.document ?? msg.audio ?? msg.sticker;
  if (media?.caption) return media.caption;
  if (msg.button?.text) return msg.button.text;
  const reply = msg.interactive?.button_reply ?? msg.interactive?.list_reply;
  if (reply?.title) return reply.title;
  if (msg.reaction?.emoji) return msg.reaction.emoji;
  if (msg.location) return [msg.location.name, msg.location.address].filter(Boolean).join(', ');
  return '';
}

function whatsappEntry(entry: unknown, at: string, now: Date, out: MetaMapping): void {
  assertShape(WaEntry, entry, at);
  entry.changes.forEach((change, c) => {
    // other fields (account_update, message_template_status_update…) are not customer messages
    if (change.field !== 'messages') {
      out.ignored++;
      return;
    }
    const value: unknown = change.value;
    assertShape(WaMessagesValue, value, `${at}.changes.${c}.value`);
    out.ignored += value.statuses?.length ?? 0;
    const phoneNumberId = value.metadata.phone_number_id;
    const names = new Map((value.contacts ?? []).map((ct) => [ct.wa_id, ct.profile?.name]));
    for (const msg of value.messages ?? []) {
      // "system" messages (a customer changed number) are notices, not something to answer
      if (msg.type === 'system') {
        out.ignored++;
        continue;
      }
      const media = msg.image ?? msg.video ?? msg.document ?? msg.audio ?? msg.sticker;
      const name = names.get(msg.from);
      out.envelopes.push({
        schema: 'omni.inbound.v1',
        messageId: deterministicMessageId('meta-whatsapp', msg.id),
        channel: 'whatsapp',
        provider: 'meta-whatsapp',
        providerMessageId: msg.id,
        threadKey: `whatsapp:${phoneNumberId}:${msg.from}`,
        // wa_id is the number without "+": the E.164 form lets history link WhatsApp to voice/SMS
        from: { channel: 'whatsapp', address: msg.from, ...(name ? { name } : {}), phone: `+${msg.from}` },
        to: { channel: 'whatsapp', address: phoneNumberId, ...(value.metadata.display_phone_number ? { name: value.metadata.display_phone_number } : {}) },
        sentAt: toIso(msg.timestamp, now),
        receivedAt: now.toISOString(),
        text: whatsappText(msg),
        // WhatsApp gives a media id to fetch from the Graph API, not a URL: kept as contentId
        ...(media ? { attachments: [{ ...(media.filename ? { name: media.filename } : { name: msg.type }), ...(media.mime_type ? { contentType: media.mime_type } : {}), ...(media.id ? { contentId: media.id } : {}) }] } : {}),
        raw: { object: 'whatsapp_business_account', wabaId: entry.id, type: msg.type, ...(msg.context?.id ? { inReplyTo: msg.context.id } : {}) },
      });
    }
  });
}
