import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { CHANNELS, KIND_CHANNELS, LIMITS, deterministicMessageId, type ChannelKind, type InboundMessage } from '@omni/contracts';
import { badField } from '@omni/service';
import { acceptInbound, type IngestDeps } from './accept-inbound';
import { authenticateAdapter } from './api-key';

/**
 * The generic adapter format (docs/adapter-api.md): the canonical envelope fields plus the adapter's
 * own message id. Any provider we do not speak natively posts this through a small adapter.
 */
// Identifier-like fields are refused when PostgreSQL cannot store them (NUL, lone surrogates) and
// are limited in bytes where an index keeps them; text-like fields are accepted as sent and cleaned
// by the contract (docs/input-rules.md). Limits come from the contract (LIMITS), less the
// "<channel>:" the thread key gets.
const key = (maxLength: number, maxBytes = maxLength * 4, extra: Record<string, unknown> = {}) =>
  Type.String({ minLength: 1, maxLength, maxBytes, storable: 'refuse', ...extra });
const THREAD_PREFIX_MAX = 'messenger:'.length;

/**
 * The generic adapter format (docs/adapter-api.md): the canonical envelope fields plus the adapter's
 * own message id. Any provider we do not speak natively posts this through a small adapter.
 */
export const AdapterMessage = Type.Object(
  {
    adapterMessageId: key(LIMITS.providerMessageId.maxLength, LIMITS.providerMessageId.maxBytes, { description: 'the adapter/provider id of this message; retries must reuse it' }),
    channel: Type.Union(CHANNELS.map((c) => Type.Literal(c))),
    threadKey: key(LIMITS.threadKey.maxLength - THREAD_PREFIX_MAX, LIMITS.threadKey.maxBytes - THREAD_PREFIX_MAX, {
      description: 'conversation thread within the channel: chat session id, caller number, page+sender id…',
    }),
    from: Type.Object(
      {
        address: key(LIMITS.address.maxLength, LIMITS.address.maxBytes),
        name: Type.Optional(Type.String({ maxLength: LIMITS.name.maxLength })),
        email: Type.Optional(key(LIMITS.address.maxLength, LIMITS.address.maxBytes, { format: 'email' })),
        phone: Type.Optional(Type.String({ maxLength: LIMITS.phone.maxLength, pattern: '^\\+[1-9][0-9]{6,14}$' })),
      },
      { additionalProperties: false },
    ),
    to: Type.Optional(
      Type.Object(
        { address: key(LIMITS.address.maxLength, LIMITS.address.maxBytes), name: Type.Optional(Type.String({ maxLength: LIMITS.name.maxLength })) },
        { additionalProperties: false },
      ),
    ),
    text: Type.String({ maxLength: LIMITS.text.maxLength }),
    sentAt: Type.Optional(Type.String({ format: 'date-time' })),
    subject: Type.Optional(Type.String({ maxLength: LIMITS.subject.maxLength })),
    html: Type.Optional(Type.String({ maxLength: LIMITS.html.maxLength })),
    language: Type.Optional(key(LIMITS.language.maxLength, undefined, { minLength: 2 })),
    attachments: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.Optional(Type.String({ maxLength: LIMITS.attachmentName.maxLength })),
            contentType: Type.Optional(key(LIMITS.contentType.maxLength)),
            size: Type.Optional(Type.Integer({ minimum: 0 })),
            url: Type.Optional(key(LIMITS.url.maxLength, undefined, { format: 'uri' })),
          },
          { additionalProperties: false },
        ),
        { maxItems: LIMITS.attachments.maxItems },
      ),
    ),
    raw: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { freeform: { ...LIMITS.raw, cleanedLater: true } })),
  },
  { $id: 'AdapterMessage', additionalProperties: false },
);
export type AdapterMessage = Static<typeof AdapterMessage>;

export const AcceptedBody = Type.Object(
  { status: Type.Union([Type.Literal('accepted'), Type.Literal('duplicate')]), messageId: Type.String() },
  { $id: 'AcceptedBody' },
);

/** Turns an adapter post into the canonical envelope. */
export function envelopeFromAdapter(adapterId: string, body: AdapterMessage, now = new Date()): InboundMessage {
  const provider = `adapter:${adapterId}`;
  return {
    schema: 'omni.inbound.v1',
    messageId: deterministicMessageId(provider, body.adapterMessageId),
    channel: body.channel,
    provider,
    providerMessageId: body.adapterMessageId,
    threadKey: `${body.channel}:${body.threadKey}`,
    from: { channel: body.channel, ...body.from },
    ...(body.to ? { to: { channel: body.channel, ...body.to } } : {}),
    sentAt: body.sentAt ?? now.toISOString(),
    receivedAt: now.toISOString(),
    text: body.text,
    ...(body.subject !== undefined ? { subject: body.subject } : {}),
    ...(body.html !== undefined ? { html: body.html } : {}),
    ...(body.language ? { language: body.language } : {}),
    ...(body.attachments ? { attachments: body.attachments } : {}),
    ...(body.raw ? { raw: body.raw } : {}),
  };
}

/** Registers `POST /v1/<kind>/messages` for a channel kind. */
export function registerAdapterRoute(app: FastifyInstance, deps: IngestDeps, kind: ChannelKind, apiKeys: Map<string, string>): void {
  const allowed = KIND_CHANNELS[kind];
  const adapterOf = new WeakMap<object, string>();
  app.post<{ Body: AdapterMessage }>(
    `/v1/${kind}/messages`,
    {
      // authenticate before the body is parsed or validated: no key, no work
      onRequest: async (req) => void adapterOf.set(req, authenticateAdapter(req, apiKeys)),
      schema: {
        summary: `Post one ${kind} message from a channel adapter`,
        headers: { type: 'object', properties: { 'x-api-key': { type: 'string' } } },
        body: AdapterMessage,
        response: { 200: AcceptedBody, 202: AcceptedBody, '4xx': { $ref: 'ErrorBody#' }, 503: { $ref: 'ErrorBody#' } },
      },
    },
    async (req, reply) => {
      const adapterId = adapterOf.get(req)!;
      if (!allowed.includes(req.body.channel)) throw badField('body.channel', `must be one of ${allowed.join(', ')} on this service`);
      const [result] = await acceptInbound(deps, [envelopeFromAdapter(adapterId, req.body)]);
      return reply.status(result!.status === 'accepted' ? 202 : 200).send(result);
    },
  );
}
