import { Type, type Static } from '@sinclair/typebox';
import { CHANNELS } from './channels';

const Channel = Type.Union(CHANNELS.map((c) => Type.Literal(c)));
const DateTime = Type.String({ format: 'date-time' });
const NonEmpty = (maxLength = 512) => Type.String({ minLength: 1, maxLength });

export const Party = Type.Object(
  {
    channel: Channel,
    address: NonEmpty(320),
    name: Type.Optional(Type.String({ maxLength: 256 })),
    /** contact details the channel itself supplied (e.g. the e-mail a chat visitor typed in) */
    email: Type.Optional(Type.String({ maxLength: 320 })),
    phone: Type.Optional(Type.String({ maxLength: 32 })),
  },
  { additionalProperties: false },
);
export type Party = Static<typeof Party>;

export const Attachment = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 512 })),
    contentType: Type.Optional(Type.String({ maxLength: 256 })),
    size: Type.Optional(Type.Integer({ minimum: 0 })),
    url: Type.Optional(Type.String({ maxLength: 4096 })),
    contentId: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type Attachment = Static<typeof Attachment>;

/** omni.inbound.v1 — one customer message, whatever channel it came on. Key: threadKey. */
export const InboundMessage = Type.Object(
  {
    schema: Type.Literal('omni.inbound.v1'),
    messageId: NonEmpty(128),
    channel: Channel,
    provider: NonEmpty(64),
    providerMessageId: NonEmpty(512),
    threadKey: NonEmpty(1024),
    from: Party,
    to: Type.Optional(Party),
    sentAt: DateTime,
    receivedAt: DateTime,
    text: Type.String({ maxLength: 100_000 }),
    subject: Type.Optional(Type.String({ maxLength: 1024 })),
    html: Type.Optional(Type.String({ maxLength: 500_000 })),
    attachments: Type.Optional(Type.Array(Attachment, { maxItems: 100 })),
    language: Type.Optional(Type.String({ minLength: 2, maxLength: 16 })),
    kind: Type.Optional(Type.Union([Type.Literal('message'), Type.Literal('callback-request'), Type.Literal('voicemail')])),
    raw: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { $id: 'omni.inbound.v1', additionalProperties: false },
);
export type InboundMessage = Static<typeof InboundMessage>;

export const CONVERSATION_EVENT_TYPES = [
  'conversation.opened',
  'conversation.message',
  'conversation.classified',
  'conversation.queued',
  'conversation.offered',
  'conversation.accepted',
  'conversation.rejected',
  'conversation.offer-expired',
  'conversation.assigned',
  'conversation.escalated',
  'conversation.transferred',
  'conversation.overflowed',
  'conversation.requeued',
  'conversation.resolved',
  'conversation.reopened',
  'conversation.closed',
] as const;
export type ConversationEventType = (typeof CONVERSATION_EVENT_TYPES)[number];

export const Actor = Type.Object(
  {
    type: Type.Union([Type.Literal('system'), Type.Literal('agent'), Type.Literal('admin'), Type.Literal('customer')]),
    id: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type Actor = Static<typeof Actor>;

/** omni.conversations.v1 — every routing state change. Key: conversationId. */
export const ConversationEvent = Type.Object(
  {
    schema: Type.Literal('omni.conversations.v1'),
    eventId: NonEmpty(128),
    type: Type.Union(CONVERSATION_EVENT_TYPES.map((t) => Type.Literal(t))),
    conversationId: NonEmpty(128),
    occurredAt: DateTime,
    actor: Actor,
    reason: Type.Optional(Type.String({ maxLength: 2048 })),
    channel: Channel,
    threadKey: NonEmpty(1024),
    customer: Party,
    tier: Type.Integer({ minimum: 1, maximum: 5 }),
    fromTier: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
    category: Type.Optional(Type.String({ maxLength: 128 })),
    priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    language: Type.Optional(Type.String({ maxLength: 16 })),
    agentId: Type.Optional(Type.String({ maxLength: 128 })),
    toAgentId: Type.Optional(Type.String({ maxLength: 128 })),
    messageId: Type.Optional(Type.String({ maxLength: 128 })),
    handoffNote: Type.Optional(Type.String({ maxLength: 10_000 })),
    data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** on conversation.resolved: the signed, single-use, expiring token the channel sends the customer to answer CSAT (POST /v1/csat on history) */
    csatToken: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  },
  { $id: 'omni.conversations.v1', additionalProperties: false },
);
export type ConversationEvent = Static<typeof ConversationEvent>;

/** omni.outbound.v1 — an agent reply to deliver on the conversation's channel. Key: conversationId. */
export const OutboundMessage = Type.Object(
  {
    schema: Type.Literal('omni.outbound.v1'),
    outboundId: NonEmpty(128),
    conversationId: NonEmpty(128),
    channel: Channel,
    threadKey: NonEmpty(1024),
    to: Party,
    agentId: NonEmpty(128),
    text: Type.String({ minLength: 1, maxLength: 100_000 }),
    subject: Type.Optional(Type.String({ maxLength: 1024 })),
    inReplyToMessageId: Type.Optional(Type.String({ maxLength: 128 })),
    createdAt: DateTime,
    raw: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { $id: 'omni.outbound.v1', additionalProperties: false },
);
export type OutboundMessage = Static<typeof OutboundMessage>;

/** omni.delivery.v1 — the outcome of one delivery attempt of an outbound message. Key: conversationId. */
export const DeliveryStatus = Type.Object(
  {
    schema: Type.Literal('omni.delivery.v1'),
    eventId: NonEmpty(128),
    outboundId: NonEmpty(128),
    conversationId: NonEmpty(128),
    channel: Channel,
    to: Party,
    status: Type.Union([Type.Literal('delivered'), Type.Literal('retrying'), Type.Literal('failed'), Type.Literal('callback-task')]),
    attempt: Type.Integer({ minimum: 0 }),
    occurredAt: DateTime,
    reason: Type.Optional(Type.String({ maxLength: 2048 })),
    providerMessageId: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { $id: 'omni.delivery.v1', additionalProperties: false },
);
export type DeliveryStatus = Static<typeof DeliveryStatus>;

/** omni.customers.v1 (compacted) — the current view of one customer. Key: customerId. */
export const CustomerRecord = Type.Object(
  {
    schema: Type.Literal('omni.customers.v1'),
    customerId: NonEmpty(128),
    version: Type.Integer({ minimum: 0 }),
    displayName: Type.Optional(Type.String({ maxLength: 256 })),
    identities: Type.Array(Type.Object({ channel: Channel, address: NonEmpty(320) }, { additionalProperties: false })),
    attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    mergedInto: Type.Optional(Type.String({ maxLength: 128 })),
    updatedAt: DateTime,
  },
  { $id: 'omni.customers.v1', additionalProperties: false },
);
export type CustomerRecord = Static<typeof CustomerRecord>;

/** omni.dlq.v1 — a message a consumer could not process, with where it came from and why. */
export const DeadLetter = Type.Object(
  {
    schema: Type.Literal('omni.dlq.v1'),
    source: Type.Object({ topic: Type.String(), partition: Type.Integer(), offset: Type.String(), groupId: Type.String() }, { additionalProperties: false }),
    reason: Type.String({ maxLength: 4096 }),
    key: Type.Union([Type.String(), Type.Null()]),
    value: Type.Union([Type.String(), Type.Null()]),
    failedAt: DateTime,
  },
  { $id: 'omni.dlq.v1', additionalProperties: false },
);
export type DeadLetter = Static<typeof DeadLetter>;

/** Every envelope schema by its $id (the outbox stores the id, the relay validates with the schema). */
export const SCHEMAS_BY_ID = {
  'omni.inbound.v1': InboundMessage,
  'omni.conversations.v1': ConversationEvent,
  'omni.outbound.v1': OutboundMessage,
  'omni.delivery.v1': DeliveryStatus,
  'omni.customers.v1': CustomerRecord,
  'omni.dlq.v1': DeadLetter,
} as const;
export type SchemaId = keyof typeof SCHEMAS_BY_ID;
