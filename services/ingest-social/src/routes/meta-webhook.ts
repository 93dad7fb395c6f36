import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { acceptInbound, type IngestDeps } from '@omni/ingest';
import { AppError, badField } from '@omni/service';
import { checkMetaSignature } from '../domain/meta-signature';
import { metaEnvelopes, MetaPayloadError } from '../domain/meta-envelopes';
import { MetaWebhookBody } from '../domain/meta-schemas';

export interface MetaWebhookOptions {
  verifyToken: string;
  appSecret: string;
}

const VerifyQuery = Type.Object({
  'hub.mode': Type.String({ description: 'always "subscribe"' }),
  'hub.verify_token': Type.String({ description: 'the token configured in the Meta app dashboard (META_VERIFY_TOKEN)' }),
  'hub.challenge': Type.String({ maxLength: 1024 }),
});

const MetaAccepted = Type.Object(
  { status: Type.Literal('ok'), accepted: Type.Integer(), duplicate: Type.Integer(), ignored: Type.Integer(), messageIds: Type.Array(Type.String()) },
  { $id: 'MetaAccepted' },
);

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
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw.toString('utf8'));
        } catch (err) {
          ingest.metrics.rejected.inc({ ...SOCIAL, reason: 'malformed' });
          throw badField('body', `invalid JSON: ${(err as Error).message}`);
        }
        let mapped;
        try {
          mapped = metaEnvelopes(parsed);
        } catch (err) {
          if (!(err instanceof MetaPayloadError)) throw err;
          ingest.metrics.rejected.inc({ ...SOCIAL, reason: 'malformed' });
          throw badField(err.field, err.reason);
        }
        // 200 only once every envelope of the batch is acked: a 503 makes Meta redeliver the whole
        // batch, and the ones already published come back as duplicates.
        const results = await acceptInbound(ingest, mapped.envelopes);
        const accepted = results.filter((r) => r.status === 'accepted').length;
        return reply.status(200).send({ status: 'ok', accepted, duplicate: results.length - accepted, ignored: mapped.ignored, messageIds: results.map((r) => r.messageId) });
      },
    );
  });
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
