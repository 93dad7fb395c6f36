import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { DeadLetter } from '@omni/contracts';
import { acceptInbound, type IngestDeps } from '@omni/ingest';
import { AppError, badField } from '@omni/service';
import { checkMetaSignature } from '../domain/meta-signature';
import { metaEnvelopes, type MetaRefusal } from '../domain/meta-envelopes';
import { MetaWebhookBody } from '../domain/meta-schemas';

export interface MetaWebhookOptions {
  verifyToken: string;
  appSecret: string;
  /** largest POST body (bytes); BODY_LIMIT_BYTES when not given */
  bodyLimit?: number;
}

const VerifyQuery = Type.Object({
  'hub.mode': Type.String({ description: 'always "subscribe"' }),
  'hub.verify_token': Type.String({ description: 'the token configured in the Meta app dashboard (META_VERIFY_TOKEN)' }),
  'hub.challenge': Type.String({ maxLength: 1024 }),
});

const MetaAccepted = Type.Object(
  {
    status: Type.Literal('ok'),
    accepted: Type.Integer(),
    duplicate: Type.Integer(),
    ignored: Type.Integer(),
    messageIds: Type.Array(Type.String()),
    refused: Type.Array(Type.Object({ field: Type.String(), reason: Type.String() }), { description: 'messages that could not be read, each dead-lettered on omni.dlq.v1' }),
  },
  { $id: 'MetaAccepted' },
);

/** Where a refused part of a Meta delivery is said to come from on omni.dlq.v1 (it never was on a topic). */
const DLQ_SOURCE = { topic: 'http:POST /v1/social/meta', partition: 0, groupId: 'ingest-social' };
const DLQ_VALUE_MAX = 1024 * 1024;

const SOCIAL = { channel: 'social', provider: 'meta' };

/**
 * Meta webhooks (Messenger, Instagram, WhatsApp Cloud). Registered in its own encapsulated context so
 * the raw-body JSON parser applies to this route only; the adapter route keeps fastify's parser.
 */
export async function registerMetaWebhook(parent: FastifyInstance, ingest: IngestDeps, opts: MetaWebhookOptions): Promise<void> {
  await parent.register(async (app) => {
    // The signature covers the exact bytes: keep the Buffer and parse only after verifying it.
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    app.get<{ Querystring: { 'hub.mode': string; 'hub.verify_token': string; 'hub.challenge': string } }>(
      '/v1/social/meta',
      {
        schema: {
          summary: 'Meta webhook verification handshake',
          querystring: VerifyQuery,
          response: { 200: { type: 'string', description: 'hub.challenge echoed as text/plain' }, '4xx': { $ref: 'ErrorBody#' } },
        },
      },
      async (req, reply) => {
        if (req.query['hub.mode'] !== 'subscribe') throw badField('query.hub.mode', 'must be "subscribe"');
        if (!opts.verifyToken || !safeEqual(req.query['hub.verify_token'], opts.verifyToken)) {
          ingest.metrics.rejected.inc({ ...SOCIAL, reason: 'verify-token' });
          throw new AppError('FORBIDDEN', 'hub.verify_token does not match');
        }
        return reply.type('text/plain; charset=utf-8').send(req.query['hub.challenge']);
      },
    );

    app.post(
      '/v1/social/meta',
      {
        ...(opts.bodyLimit ? { bodyLimit: opts.bodyLimit } : {}),
        schema: {
          summary: 'Meta webhook events (object page | instagram | whatsapp_business_account), signed with X-Hub-Signature-256',
          headers: { type: 'object', properties: { 'x-hub-signature-256': { type: 'string', description: 'sha256=<hex HMAC-SHA256 of the raw body with the app secret>' } } },
          body: MetaWebhookBody,
          response: { 200: MetaAccepted, '4xx': { $ref: 'ErrorBody#' }, 503: { $ref: 'ErrorBody#' } },
        },
        // The body schema documents the payload; it is checked in the handler once the signature
        // is known good, so an unsigned body never reaches the validator.
        validatorCompiler: () => () => true,
      },
      async (req, reply) => {
        // only the raw-body JSON parser above yields a Buffer; text/plain etc. would arrive as strings
        if (!Buffer.isBuffer(req.body)) throw new AppError('UNSUPPORTED_MEDIA_TYPE', `unsupported content-type ${req.headers['content-type'] ?? '(none)'}, expected application/json`);
        const raw = req.body;
        const sig = checkMetaSignature(raw, req.headers['x-hub-signature-256'], opts.appSecret);
        if (sig !== 'ok') {
          ingest.metrics.rejected.inc({ ...SOCIAL, reason: `signature-${sig}` });
          if (sig === 'missing') throw new AppError('UNAUTHORIZED', 'missing X-Hub-Signature-256 header', [{ field: 'headers.x-hub-signature-256', reason: 'required' }]);
          throw new AppError('FORBIDDEN', 'X-Hub-Signature-256 does not match the body', [{ field: 'headers.x-hub-signature-256', reason: 'signature mismatch' }]);
        }
        // Signed, so it is Meta's: from here on the answer is 200 (or 503 while Kafka is down).
        // Meta retries any other answer for up to 36 hours (7 days on WhatsApp) and may disable the
        // webhook, which would hold back every valid message behind one it will never send better.
        let parsed: unknown;
        let unreadable: MetaRefusal | undefined;
        try {
          parsed = JSON.parse(raw.toString('utf8'));
        } catch (err) {
          unreadable = { field: 'body', reason: `invalid JSON: ${(err as Error).message}`, value: raw.toString('utf8') };
        }
        const mapped = unreadable ? { envelopes: [], ignored: 0, refused: [unreadable] } : metaEnvelopes(parsed);
        // each refused message is dead-lettered (with the reason) before the 200, so none is lost
        if (mapped.refused.length) await deadLetter(ingest, req.log, mapped.refused);
        // 200 only once every envelope of the batch is acked: a 503 makes Meta redeliver the whole
        // batch, and the ones already published come back as duplicates.
        const results = await acceptInbound(ingest, mapped.envelopes);
        const accepted = results.filter((r) => r.status === 'accepted').length;
        return reply.status(200).send({
          status: 'ok',
          accepted,
          duplicate: results.length - accepted,
          ignored: mapped.ignored,
          messageIds: results.map((r) => r.messageId),
          refused: mapped.refused.map(({ field, reason }) => ({ field, reason })),
        });
      },
    );
  });
}

/** Puts each refused part on omni.dlq.v1 with its reason, counts and logs it. */
async function deadLetter(ingest: IngestDeps, log: FastifyBaseLogger, refused: MetaRefusal[]): Promise<void> {
  const failedAt = new Date().toISOString();
  const records = refused.map((r) => {
    // JSON text (an unreadable body becomes a JSON string): escapes NUL and lone surrogates
    const text = JSON.stringify(r.value) ?? 'null';
    const value: DeadLetter = {
      schema: 'omni.dlq.v1',
      source: { ...DLQ_SOURCE, offset: r.field.slice(0, 512) },
      reason: `refused by ingest-social: ${r.field}: ${r.reason}`.slice(0, 4000),
      key: null,
      value: text.length > DLQ_VALUE_MAX ? text.slice(0, DLQ_VALUE_MAX) : text,
      failedAt,
    };
    return { topic: ingest.topics.dlq, key: `meta:${createHash('sha256').update(text).digest('hex').slice(0, 32)}`, value, schema: DeadLetter };
  });
  await ingest.publisher.publish(records);
  for (const r of refused) {
    ingest.metrics.rejected.inc({ ...SOCIAL, reason: 'refused-message' });
    log.warn({ field: r.field, reason: r.reason }, 'meta message refused, dead-lettered');
  }
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
