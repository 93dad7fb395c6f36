import { Type } from '@sinclair/typebox';

/*
 * The parts of Meta's webhook payloads we read, from the documented field lists (Messenger
 * "messages"/"message_echoes"/"message_deliveries" events, Instagram messaging notifications,
 * WhatsApp Cloud API "messages" field). Meta adds fields over time, so objects stay open
 * (additionalProperties allowed); only what the mapping relies on is required.
 */

const Id = Type.String({ minLength: 1, maxLength: 256 });

const MessagingAttachment = Type.Object({
  type: Type.String({ maxLength: 64 }),
  payload: Type.Optional(Type.Object({ url: Type.Optional(Type.String({ maxLength: 4096 })) })),
});

/** One element of entry[].messaging[] (Messenger and Instagram share this shape). */
export const MessagingEvent = Type.Object({
  sender: Type.Object({ id: Id }),
  recipient: Type.Object({ id: Id }),
  timestamp: Type.Optional(Type.Number({ minimum: 0 })),
  message: Type.Optional(
    Type.Object({
      mid: Type.String({ minLength: 1, maxLength: 512 }),
      text: Type.Optional(Type.String({ maxLength: 100_000 })),
      is_echo: Type.Optional(Type.Boolean()),
      is_deleted: Type.Optional(Type.Boolean()),
      attachments: Type.Optional(Type.Array(MessagingAttachment, { maxItems: 100 })),
    }),
  ),
});

export const MessagingEntry = Type.Object({
  id: Id,
  time: Type.Optional(Type.Number()),
  messaging: Type.Optional(Type.Array(MessagingEvent, { maxItems: 1000 })),
  // not read: standby (another app owns the thread) and changes (feed/comments), only counted
  standby: Type.Optional(Type.Array(Type.Unknown())),
  changes: Type.Optional(Type.Array(Type.Unknown())),
});

const WaMedia = Type.Object({
  id: Type.Optional(Type.String({ maxLength: 256 })),
  mime_type: Type.Optional(Type.String({ maxLength: 256 })),
  caption: Type.Optional(Type.String({ maxLength: 100_000 })),
  filename: Type.Optional(Type.String({ maxLength: 512 })),
});

/** One element of value.messages[] of the WhatsApp Cloud API "messages" field. */
export const WaMessage = Type.Object({
  from: Type.String({ pattern: '^[0-9]{5,20}$' }),
  id: Type.String({ minLength: 1, maxLength: 512 }),
  timestamp: Type.String({ pattern: '^[0-9]{1,13}$' }),
  type: Type.String({ minLength: 1, maxLength: 64 }),
  text: Type.Optional(Type.Object({ body: Type.String({ maxLength: 100_000 }) })),
  image: Type.Optional(WaMedia),
  video: Type.Optional(WaMedia),
  audio: Type.Optional(WaMedia),
  document: Type.Optional(WaMedia),
  sticker: Type.Optional(WaMedia),
  button: Type.Optional(Type.Object({ text: Type.Optional(Type.String({ maxLength: 4096 })) })),
  interactive: Type.Optional(
    Type.Object({
      type: Type.Optional(Type.String()),
      button_reply: Type.Optional(Type.Object({ id: Type.Optional(Type.String()), title: Type.Optional(Type.String({ maxLength: 4096 })) })),
      list_reply: Type.Optional(Type.Object({ id: Type.Optional(Type.String()), title: Type.Optional(Type.String({ maxLength: 4096 })) })),
    }),
  ),
  reaction: Type.Optional(Type.Object({ emoji: Type.Optional(Type.String({ maxLength: 64 })), message_id: Type.Optional(Type.String()) })),
  location: Type.Optional(
    Type.Object({ latitude: Type.Optional(Type.Number()), longitude: Type.Optional(Type.Number()), name: Type.Optional(Type.String()), address: Type.Optional(Type.String()) }),
  ),
  context: Type.Optional(Type.Object({ id: Type.Optional(Type.String()), from: Type.Optional(Type.String()) })),
});

/** value of a change whose field is "messages". */
export const WaMessagesValue = Type.Object({
  messaging_product: Type.Optional(Type.Literal('whatsapp')),
  metadata: Type.Object({ phone_number_id: Id, display_phone_number: Type.Optional(Type.String({ maxLength: 32 })) }),
  contacts: Type.Optional(Type.Array(Type.Object({ wa_id: Type.String({ minLength: 1, maxLength: 32 }), profile: Type.Optional(Type.Object({ name: Type.Optional(Type.String({ maxLength: 256 })) })) }))),
  messages: Type.Optional(Type.Array(WaMessage, { maxItems: 1000 })),
  statuses: Type.Optional(Type.Array(Type.Object({}))),
});

export const WaEntry = Type.Object({
  id: Id,
  changes: Type.Array(Type.Object({ field: Type.String({ minLength: 1 }), value: Type.Object({}) }), { maxItems: 1000 }),
});

export const META_OBJECTS = ['page', 'instagram', 'whatsapp_business_account'] as const;
export type MetaObject = (typeof META_OBJECTS)[number];

/** The top level of every Meta webhook POST; the entries are checked per object type. */
export const MetaWebhookBody = Type.Object(
  {
    object: Type.String({ minLength: 1, description: `one of ${META_OBJECTS.join(', ')}` }),
    entry: Type.Array(Type.Object({ id: Type.Optional(Type.String()) }), { maxItems: 1000 }),
  },
  { $id: 'MetaWebhookBody', description: 'Messenger (object=page), Instagram (object=instagram) or WhatsApp Cloud (object=whatsapp_business_account) webhook' },
);
