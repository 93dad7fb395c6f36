import { Type } from '@sinclair/typebox';

/*
 * The parts of Meta's webhook payloads we read, from the documented field lists (Messenger
 * "messages", "messaging_postbacks", "message_reactions", "message_echoes"… events, Instagram
 * messaging notifications, WhatsApp Cloud API "messages" field). Meta adds fields and types over
 * time, so objects stay open (additionalProperties allowed) and only what identifies a message is
 * required: a message we cannot identify is refused on its own (dead-lettered), never its batch.
 */

const Id = Type.String({ minLength: 1, maxLength: 256 });
const Str = (maxLength = 4096) => Type.String({ maxLength });
const Nullable = <T extends ReturnType<typeof Type.Object>>(t: T) => Type.Union([t, Type.Null()]);

/** Messenger/Instagram attachment: `payload` is null for some types (fallback, unsupported). */
const MessagingAttachment = Type.Object({
  type: Type.String({ minLength: 1, maxLength: 64 }),
  payload: Type.Optional(
    Nullable(
      Type.Object({
        url: Type.Optional(Str()),
        title: Type.Optional(Str()),
        sticker_id: Type.Optional(Type.Union([Type.Number(), Type.String({ maxLength: 64 })])),
        coordinates: Type.Optional(Type.Object({ lat: Type.Optional(Type.Number()), long: Type.Optional(Type.Number()) })),
      }),
    ),
  ),
  // fallback (shared link) attachments may carry these beside the payload
  title: Type.Optional(Str()),
  url: Type.Optional(Str()),
  URL: Type.Optional(Str()),
});

const Message = Type.Object({
  mid: Type.String({ minLength: 1, maxLength: 512 }),
  text: Type.Optional(Type.String({ maxLength: 100_000 })),
  is_echo: Type.Optional(Type.Boolean()),
  is_deleted: Type.Optional(Type.Boolean()),
  is_unsupported: Type.Optional(Type.Boolean()),
  sticker_id: Type.Optional(Type.Union([Type.Number(), Type.String({ maxLength: 64 })])),
  quick_reply: Type.Optional(Type.Object({ payload: Type.Optional(Str()) })),
  reply_to: Type.Optional(Type.Object({ mid: Type.Optional(Str(512)) })),
  attachments: Type.Optional(Type.Array(MessagingAttachment, { maxItems: 100 })),
});

/** One element of entry[].messaging[] (Messenger and Instagram share this shape). */
export const MessagingEvent = Type.Object({
  sender: Type.Object({ id: Id }),
  recipient: Type.Object({ id: Id }),
  timestamp: Type.Optional(Type.Number({ minimum: 0 })),
  message: Type.Optional(Message),
  postback: Type.Optional(Type.Object({ mid: Type.Optional(Str(512)), title: Type.Optional(Str()), payload: Type.Optional(Str()) })),
  reaction: Type.Optional(
    Type.Object({ mid: Type.String({ minLength: 1, maxLength: 512 }), action: Type.Optional(Str(32)), emoji: Type.Optional(Str(64)), reaction: Type.Optional(Str(64)) }),
  ),
});

export const MessagingEntry = Type.Object({
  id: Id,
  time: Type.Optional(Type.Number()),
  messaging: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 1000 })),
  // not read: standby (another app owns the thread) and changes (feed/comments), only counted
  standby: Type.Optional(Type.Array(Type.Unknown())),
  changes: Type.Optional(Type.Array(Type.Unknown())),
});

const WaMedia = Type.Object({
  id: Type.Optional(Str(256)),
  mime_type: Type.Optional(Str(256)),
  caption: Type.Optional(Type.String({ maxLength: 100_000 })),
  filename: Type.Optional(Str(512)),
  animated: Type.Optional(Type.Boolean()),
});

const WaContact = Type.Object({
  name: Type.Optional(Type.Object({ formatted_name: Type.Optional(Str()), first_name: Type.Optional(Str()), last_name: Type.Optional(Str()) })),
  phones: Type.Optional(Type.Array(Type.Object({ phone: Type.Optional(Str(64)), wa_id: Type.Optional(Str(64)), type: Type.Optional(Str(64)) }), { maxItems: 100 })),
  emails: Type.Optional(Type.Array(Type.Object({ email: Type.Optional(Str(320)), type: Type.Optional(Str(64)) }), { maxItems: 100 })),
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
  button: Type.Optional(Type.Object({ text: Type.Optional(Str()), payload: Type.Optional(Str()) })),
  interactive: Type.Optional(
    Type.Object({
      type: Type.Optional(Str(64)),
      button_reply: Type.Optional(Type.Object({ id: Type.Optional(Str()), title: Type.Optional(Str()) })),
      list_reply: Type.Optional(Type.Object({ id: Type.Optional(Str()), title: Type.Optional(Str()), description: Type.Optional(Str()) })),
      nfm_reply: Type.Optional(Type.Object({ name: Type.Optional(Str()), body: Type.Optional(Str()), response_json: Type.Optional(Type.String({ maxLength: 100_000 })) })),
    }),
  ),
  reaction: Type.Optional(Type.Object({ emoji: Type.Optional(Str(64)), message_id: Type.Optional(Str(512)) })),
  location: Type.Optional(
    Type.Object({ latitude: Type.Optional(Type.Number()), longitude: Type.Optional(Type.Number()), name: Type.Optional(Str()), address: Type.Optional(Str()), url: Type.Optional(Str()) }),
  ),
  contacts: Type.Optional(Type.Array(WaContact, { maxItems: 100 })),
  order: Type.Optional(Type.Object({ catalog_id: Type.Optional(Str(256)), text: Type.Optional(Str()), product_items: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 1000 })) })),
  errors: Type.Optional(Type.Array(Type.Object({ code: Type.Optional(Type.Number()), title: Type.Optional(Str()), message: Type.Optional(Str()), error_data: Type.Optional(Type.Object({ details: Type.Optional(Str()) })) }), { maxItems: 100 })),
  context: Type.Optional(Type.Object({ id: Type.Optional(Str(512)), from: Type.Optional(Str(64)) })),
});

/** value of a change whose field is "messages" (messages, statuses and errors may be mixed). */
export const WaMessagesValue = Type.Object({
  messaging_product: Type.Optional(Type.String({ maxLength: 64 })),
  metadata: Type.Object({ phone_number_id: Id, display_phone_number: Type.Optional(Type.String({ maxLength: 32 })) }),
  contacts: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 1000 })),
  messages: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 1000 })),
  statuses: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 1000 })),
});

export const WaContactProfile = Type.Object({ wa_id: Type.String({ minLength: 1, maxLength: 32 }), profile: Type.Optional(Type.Object({ name: Type.Optional(Type.String({ maxLength: 256 })) })) });

export const WaEntry = Type.Object({
  id: Id,
  changes: Type.Array(Type.Object({ field: Type.String({ minLength: 1, maxLength: 256 }), value: Type.Unknown() }), { maxItems: 1000 }),
});

export const META_OBJECTS = ['page', 'instagram', 'whatsapp_business_account'] as const;
export type MetaObject = (typeof META_OBJECTS)[number];

/** The top level of every Meta webhook POST; the entries are checked one by one. */
export const MetaWebhookBody = Type.Object(
  {
    object: Type.String({ minLength: 1, maxLength: 64, description: `one of ${META_OBJECTS.join(', ')}` }),
    entry: Type.Array(Type.Unknown(), { maxItems: 1000 }),
  },
  { $id: 'MetaWebhookBody', description: 'Messenger (object=page), Instagram (object=instagram) or WhatsApp Cloud (object=whatsapp_business_account) webhook' },
);
