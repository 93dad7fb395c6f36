import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { CHANNELS, KIND_CHANNELS, deterministicMessageId, type ChannelKind, type InboundMessage } from '@omni/contracts';
import { badField } from '@omni/service';
import { acceptInbound, type IngestDeps } from './accept-inbound';
import { authenticateAdapter } from './api-key';

/**
 * The generic adapter format (docs/adapter-api.md): the canonical envelope fields plus the adapter's
 * own message id. Any provider we do not speak natively posts this through a small adapter.
 */
export const AdapterMessage = Type.Object(
  {
    adapterMessageId: Type.String({ minLength: 1, maxLength: 512, description: 'the adapter/provider id of this message; retries must reuse it' }),
    channel: Type.Union(CHANNELS.map((c) => Type.Literal(c))),
    threadKey: Type.String({ minLength: 1, maxLength: 900, description: 'conversation thread within the channel: chat session id, caller number, page+sender id…' }),
    from: Type.Object(
      {
        address: Type.String({ minLength: 1, maxLength: 320 }),
        name: Type.Optional(Type.String({ maxLength: 256 })),
        email: Type.Optional(Type.String({ maxLength: 320, format: 'email' })),
        phone: Type.Optional(Type.String({ maxLength: 32, pattern: '^\\+[1-9][0-9]{6,14}$' })),
      },
      { additionalProperties: false },
    ),
    to: Type.Optional(Type.Object({ address: Type.String({ minLength: 1, maxLength: 320 }), name: Type.Optional(Type.String({ maxLength: 256 })) }, { additionalProperties: false })),
    text: Type.String({ maxLength: 100_000 }),
    sentAt: Type.Optional(Type.String({ format: 'date-time' })),
    subject: Type.Optional(Type.String({ maxLength: 1024 })),
    html: Type.Optional(Type.String({ maxLength: 500_000 })),
    language: Type.Optional(Type.String({ minLength: 2, maxLength: 16 })),
    attachments: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.Optional(Type.String({ maxLength: 512 })),
            contentType: Type.Optional(Type.String({ maxLength: 256 })),
            size: Type.Optional(Type.Integer({ minimum: 0 })),
            url: Type.Optional(Type.String({ maxLength: 4096, format: 'uri' })),
          },
          { additionalProperties: false },
        ),
        { maxItems: 100 },
      ),
    ),
    raw: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
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
