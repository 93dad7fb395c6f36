import { Type, type Static } from '@sinclair/typebox';
import { CHANNELS } from './channels';
import type { FreeformBounds } from './storable';

const Channel = Type.Union(CHANNELS.map((c) => Type.Literal(c)));
const DateTime = Type.String({ format: 'date-time' });
/**
 * An identifier-like string (ids, thread keys, addresses, provider ids): refused when PostgreSQL
 * cannot store it, limited in code points and, where it lands in an index, in UTF-8 bytes (a btree
 * entry holds at most 2704 bytes).
 */
const Key = (maxLength: number, maxBytes = maxLength * 4, minLength = 0) => Type.String({ ...(minLength ? { minLength } : {}), maxLength, maxBytes, storable: 'refuse' });
const NonEmpty = (maxLength = 512, maxBytes = maxLength * 4) => Key(maxLength, maxBytes, 1);
/** Customer or agent text (message text, subject, html, names, reasons): cleaned, never refused for its characters. */
const Text = (maxLength: number, minLength = 0) => Type.String({ ...(minLength ? { minLength } : {}), maxLength, storable: 'clean' });
/** An open JSON field (`raw`, `data`, `attributes`): bounded depth, count and size, checked without recursion. */
const Freeform = (bounds: FreeformBounds) => Type.Record(Type.String(), Type.Unknown(), { freeform: bounds });

/** Every limit of the contract, declared once (code points; bytes where an index stores the value). */
export const LIMITS = {
  id: { maxLength: 128 },
  provider: { maxLength: 64 },
  providerMessageId: { maxLength: 512, maxBytes: 2048 },
  threadKey: { maxLength: 1024, maxBytes: 2048 },
  address: { maxLength: 320, maxBytes: 1024 },
  name: { maxLength: 256 },
  phone: { maxLength: 32 },
  text: { maxLength: 100_000 },
  subject: { maxLength: 1024 },
  html: { maxLength: 500_000 },
  language: { maxLength: 16 },
  attachments: { maxItems: 100 },
  attachmentName: { maxLength: 512 },
  contentType: { maxLength: 256 },
  url: { maxLength: 4096 },
  reason: { maxLength: 2048 },
  handoffNote: { maxLength: 10_000 },
  raw: { maxDepth: 32, maxNodes: 20_000, maxBytes: 1_048_576 },
  data: { maxDepth: 16, maxNodes: 5_000, maxBytes: 262_144 },
} as const;

export const Party = Type.Object(
  {
    channel: Channel,
    address: NonEmpty(LIMITS.address.maxLength, LIMITS.address.maxBytes),
    name: Type.Optional(Text(LIMITS.name.maxLength)),
    /** contact details the channel itself supplied (e.g. the e-mail a chat visitor typed in) */
    email: Type.Optional(Key(LIMITS.address.maxLength, LIMITS.address.maxBytes)),
    phone: Type.Optional(Key(LIMITS.phone.maxLength)),
  },
  { additionalProperties: false },
);
export type Party = Static<typeof Party>;

export const Attachment = Type.Object(
  {
    name: Type.Optional(Text(LIMITS.attachmentName.maxLength)),
    contentType: Type.Optional(Key(LIMITS.contentType.maxLength)),
    size: Type.Optional(Type.Integer({ minimum: 0 })),
    url: Type.Optional(Key(LIMITS.url.maxLength)),
    contentId: Type.Optional(Key(512)),
  },
  { additionalProperties: false },
);
export type Attachment = Static<typeof Attachment>;

/** omni.inbound.v1 — one customer message, whatever channel it came on. Key: threadKey. */
export const InboundMessage = Type.Object(
  {
    schema: Type.Literal('omni.inbound.v1'),
    messageId: NonEmpty(LIMITS.id.maxLength),
    channel: Channel,
    provider: NonEmpty(LIMITS.provider.maxLength),
    providerMessageId: NonEmpty(LIMITS.providerMessageId.maxLength, LIMITS.providerMessageId.maxBytes),
    threadKey: NonEmpty(LIMITS.threadKey.maxLength, LIMITS.threadKey.maxBytes),
    from: Party,
    to: Type.Optional(Party),
    sentAt: DateTime,
    receivedAt: DateTime,
    text: Text(LIMITS.text.maxLength),
    subject: Type.Optional(Text(LIMITS.subject.maxLength)),
    html: Type.Optional(Text(LIMITS.html.maxLength)),
    attachments: Type.Optional(Type.Array(Attachment, { maxItems: LIMITS.attachments.maxItems })),
    language: Type.Optional(Key(LIMITS.language.maxLength, undefined, 2)),
    kind: Type.Optional(Type.Union([Type.Literal('message'), Type.Literal('callback-request'), Type.Literal('voicemail')])),
    raw: Type.Optional(Freeform(LIMITS.raw)),
    /** JSON pointers of the fields whose NUL or unpaired surrogates were replaced by U+FFFD (e.g. "/text") */
    cleaned: Type.Optional(Type.Array(Type.String({ maxLength: 1024, storable: 'clean' }), { maxItems: 256 })),
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
  /** tier 0: the customer got an automatic answer with articles and "did this solve it?" (data.articleIds) */
  'conversation.self-service-offered',
  /** a queued conversation's position or estimated wait changed materially (data.wait: {position, estimateMs, estimator}) */
  'conversation.wait-updated',
] as const;
export type ConversationEventType = (typeof CONVERSATION_EVENT_TYPES)[number];

export const Actor = Type.Object(
  {
    type: Type.Union([Type.Literal('system'), Type.Literal('agent'), Type.Literal('admin'), Type.Literal('customer')]),
    /** an agent or admin id, or a customer's address (so as long as an address) */
    id: Type.Optional(Key(LIMITS.address.maxLength, LIMITS.address.maxBytes)),
  },
  { additionalProperties: false },
);
export type Actor = Static<typeof Actor>;

/** omni.conversations.v1 — every routing state change. Key: conversationId. */
export const ConversationEvent = Type.Object(
  {
    schema: Type.Literal('omni.conversations.v1'),
    eventId: NonEmpty(LIMITS.id.maxLength),
    type: Type.Union(CONVERSATION_EVENT_TYPES.map((t) => Type.Literal(t))),
    conversationId: NonEmpty(LIMITS.id.maxLength),
    occurredAt: DateTime,
    actor: Actor,
    reason: Type.Optional(Text(LIMITS.reason.maxLength)),
    channel: Channel,
    threadKey: NonEmpty(LIMITS.threadKey.maxLength, LIMITS.threadKey.maxBytes),
    customer: Party,
    tier: Type.Integer({ minimum: 1, maximum: 5 }),
    fromTier: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
    category: Type.Optional(Key(128)),
    priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    language: Type.Optional(Key(LIMITS.language.maxLength)),
    agentId: Type.Optional(Key(LIMITS.id.maxLength)),
    toAgentId: Type.Optional(Key(LIMITS.id.maxLength)),
    messageId: Type.Optional(Key(LIMITS.id.maxLength)),
    handoffNote: Type.Optional(Text(LIMITS.handoffNote.maxLength)),
    data: Type.Optional(Freeform(LIMITS.data)),
    /** on conversation.resolved: the signed, single-use, expiring token the channel sends the customer to answer CSAT (POST /v1/conversations/:id/csat on history) */
    csatToken: Type.Optional(Key(2048, 2048, 1)),
  },
  { $id: 'omni.conversations.v1', additionalProperties: false },
);
export type ConversationEvent = Static<typeof ConversationEvent>;

/** omni.outbound.v1 — an agent reply to deliver on the conversation's channel. Key: conversationId. */
export const OutboundMessage = Type.Object(
  {
    schema: Type.Literal('omni.outbound.v1'),
    outboundId: NonEmpty(LIMITS.id.maxLength),
    conversationId: NonEmpty(LIMITS.id.maxLength),
    channel: Channel,
    threadKey: NonEmpty(LIMITS.threadKey.maxLength, LIMITS.threadKey.maxBytes),
    to: Party,
    agentId: NonEmpty(LIMITS.id.maxLength),
    text: Text(LIMITS.text.maxLength, 1),
    subject: Type.Optional(Text(LIMITS.subject.maxLength)),
    inReplyToMessageId: Type.Optional(Key(LIMITS.id.maxLength)),
    createdAt: DateTime,
    raw: Type.Optional(Freeform(LIMITS.raw)),
  },
  { $id: 'omni.outbound.v1', additionalProperties: false },
);
export type OutboundMessage = Static<typeof OutboundMessage>;

/** omni.delivery.v1 — the outcome of one delivery attempt of an outbound message. Key: conversationId. */
export const DeliveryStatus = Type.Object(
  {
    schema: Type.Literal('omni.delivery.v1'),
    eventId: NonEmpty(LIMITS.id.maxLength),
    outboundId: NonEmpty(LIMITS.id.maxLength),
    conversationId: NonEmpty(LIMITS.id.maxLength),
    channel: Channel,
    to: Party,
    status: Type.Union([Type.Literal('delivered'), Type.Literal('retrying'), Type.Literal('failed'), Type.Literal('callback-task')]),
    attempt: Type.Integer({ minimum: 0 }),
    occurredAt: DateTime,
    reason: Type.Optional(Text(LIMITS.reason.maxLength)),
    providerMessageId: Type.Optional(Key(LIMITS.providerMessageId.maxLength, LIMITS.providerMessageId.maxBytes)),
  },
  { $id: 'omni.delivery.v1', additionalProperties: false },
);
export type DeliveryStatus = Static<typeof DeliveryStatus>;

/** omni.customers.v1 (compacted) — the current view of one customer. Key: customerId. */
export const CustomerRecord = Type.Object(
  {
    schema: Type.Literal('omni.customers.v1'),
    customerId: NonEmpty(LIMITS.id.maxLength),
    version: Type.Integer({ minimum: 0 }),
    displayName: Type.Optional(Text(LIMITS.name.maxLength)),
    identities: Type.Array(
      Type.Object({ channel: Channel, address: NonEmpty(LIMITS.address.maxLength, LIMITS.address.maxBytes) }, { additionalProperties: false }),
    ),
    attributes: Type.Optional(Freeform(LIMITS.data)),
    mergedInto: Type.Optional(Key(LIMITS.id.maxLength)),
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
    reason: Text(4096),
    key: Type.Union([Text(LIMITS.threadKey.maxLength * 4), Type.Null()]),
    value: Type.Union([Text(16 * 1024 * 1024), Type.Null()]),
    failedAt: DateTime,
  },
  { $id: 'omni.dlq.v1', additionalProperties: false },
);
export type DeadLetter = Static<typeof DeadLetter>;

/** Conversation ids and thread keys one omni.erasures.v1 record carries at most (a larger erasure is sent in parts). */
export const ERASURE_PART_MAX = 2000;
/** Customer ids and identities one omni.erasures.v1 record carries at most. */
export const ERASURE_IDS_MAX = 1000;

/**
 * omni.erasures.v1 — history erased a person (right to be forgotten); every other service removes or
 * anonymises what it holds of them. It names the person the only way the others can find their rows:
 * customer ids, every channel address history knew for them (read before history deleted them),
 * their conversations and thread keys. An erasure too large for one record is sent in `parts`
 * records, each list split across them; each part is a complete instruction on its own (every
 * service acts on what a part names, so the parts together erase everything). Key: erasureId. Not compacted: the records hold addresses until
 * the topic's retention removes them (docs/access-control.md).
 */
export const ErasureEvent = Type.Object(
  {
    schema: Type.Literal('omni.erasures.v1'),
    erasureId: NonEmpty(LIMITS.id.maxLength),
    part: Type.Integer({ minimum: 0, maximum: 9999 }),
    parts: Type.Integer({ minimum: 1, maximum: 10000 }),
    customerIds: Type.Array(NonEmpty(LIMITS.id.maxLength), { minItems: 1, maxItems: ERASURE_IDS_MAX }),
    identities: Type.Array(
      Type.Object({ channel: Channel, address: NonEmpty(LIMITS.address.maxLength, LIMITS.address.maxBytes) }, { additionalProperties: false }),
      { maxItems: ERASURE_IDS_MAX },
    ),
    conversationIds: Type.Array(NonEmpty(LIMITS.id.maxLength), { maxItems: ERASURE_PART_MAX }),
    threadKeys: Type.Array(NonEmpty(LIMITS.threadKey.maxLength, LIMITS.threadKey.maxBytes), { maxItems: ERASURE_PART_MAX }),
    requestedAt: DateTime,
  },
  { $id: 'omni.erasures.v1', additionalProperties: false },
);
export type ErasureEvent = Static<typeof ErasureEvent>;

/** What the schema cannot say about an erasure record (checked by every consumer before any step). */
export function erasureEventProblems(e: ErasureEvent): string[] {
  return e.part < e.parts ? [] : [`part ${e.part} is not below parts ${e.parts}`];
}

export const AGENT_EVENT_TYPES = [
  /** presence changed (online / away with a reason / offline); capacity and tiers as they now are */
  'agent.presence',
  /** after-contact work began for a resolved conversation (conversationId) */
  'agent.wrap-up-started',
  /** after-contact work ended: by the agent, or at the configured maximum (reason) */
  'agent.wrap-up-ended',
  /** the agent's profile changed (capacity, tiers, skills, languages, proficiency) through the admin API */
  'agent.profile-changed',
] as const;
export type AgentEventType = (typeof AGENT_EVENT_TYPES)[number];

/**
 * omni.agents.v1 — agent state over time (presence with its reason, wrap-up, profile changes), for
 * occupancy and utilisation KPIs and for replay. Key: agentId.
 */
export const AgentEvent = Type.Object(
  {
    schema: Type.Literal('omni.agents.v1'),
    eventId: NonEmpty(LIMITS.id.maxLength),
    type: Type.Union(AGENT_EVENT_TYPES.map((t) => Type.Literal(t))),
    agentId: NonEmpty(LIMITS.id.maxLength),
    occurredAt: DateTime,
    actor: Actor,
    presence: Type.Optional(Type.Union([Type.Literal('online'), Type.Literal('away'), Type.Literal('offline')])),
    /** the away reason (admin-configured: break, training, meeting…) or why wrap-up ended */
    reason: Type.Optional(Text(LIMITS.reason.maxLength)),
    capacity: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    tiers: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 5 }), { maxItems: 5 })),
    conversationId: Type.Optional(Key(LIMITS.id.maxLength)),
    data: Type.Optional(Freeform(LIMITS.data)),
  },
  { $id: 'omni.agents.v1', additionalProperties: false },
);
export type AgentEvent = Static<typeof AgentEvent>;

/** Every envelope schema by its $id (the outbox stores the id, the relay validates with the schema). */
export const SCHEMAS_BY_ID = {
  'omni.inbound.v1': InboundMessage,
  'omni.conversations.v1': ConversationEvent,
  'omni.outbound.v1': OutboundMessage,
  'omni.delivery.v1': DeliveryStatus,
  'omni.customers.v1': CustomerRecord,
  'omni.dlq.v1': DeadLetter,
  'omni.erasures.v1': ErasureEvent,
  'omni.agents.v1': AgentEvent,
} as const;
export type SchemaId = keyof typeof SCHEMAS_BY_ID;
