import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import multipart, { type MultipartFile } from '@fastify/multipart';
import { authenticateAdapter, countRejections, markRejection, markRejectionIfUnset, type IngestDeps } from '@omni/ingest';
import { AppError } from '@omni/service';
import { checkBasicAuth } from '../basic-auth';
import { acceptEmail } from '../email-intake';
import { mailgunFreshness, validMailgunSignature } from '../domain/mailgun-signature';
import { normalizeMessageId } from '../domain/message-ids';
import { claimToken, priorTokenUse } from '../mailgun-tokens';
import { decodeAs, knownCharset } from '../domain/charsets';
import { field, type FormFields, type UploadedFile } from '../providers/form-fields';
import { parseMailgun } from '../providers/mailgun';
import { parseMime } from '../providers/mime';
import { parsePostmark, PostmarkInbound } from '../providers/postmark';
import { parseSendgrid } from '../providers/sendgrid';

export interface EmailRouteSettings {
  bodyLimit: number;
  maxAttachments: number;
  postmarkBasicAuth: string;
  sendgridBasicAuth: string;
  mailgunSigningKey: string;
  mailgunMaxAgeS: number;
  mailgunClockSkewS: number;
  apiKeys: Map<string, string>;
}

const EmailAccepted = {
  $id: 'EmailAccepted',
  type: 'object',
  required: ['status', 'messageId', 'threadKey'],
  properties: { status: { type: 'string', enum: ['accepted', 'duplicate'] }, messageId: { type: 'string' }, threadKey: { type: 'string' } },
} as const;
const responses = { 200: { $ref: 'EmailAccepted#' }, 202: { $ref: 'EmailAccepted#' }, '4xx': { $ref: 'ErrorBody#' }, 503: { $ref: 'ErrorBody#' } };
const S = { type: 'string' };

/** Documented form fields; providers add others, so the bodies stay open. */
const MailgunForm = {
  type: 'object',
  additionalProperties: true,
  properties: Object.fromEntries(
    ['recipient', 'sender', 'from', 'subject', 'body-plain', 'body-html', 'stripped-text', 'Message-Id', 'In-Reply-To', 'References', 'message-headers', 'attachment-count', 'timestamp', 'token', 'signature'].map((n) => [n, S]),
  ),
};
const SendgridForm = {
  type: 'object',
  additionalProperties: true,
  properties: Object.fromEntries(['from', 'to', 'cc', 'subject', 'text', 'html', 'headers', 'envelope', 'charsets', 'attachments', 'attachment-info', 'email', 'spam_score', 'SPF', 'dkim'].map((n) => [n, S])),
};

const PERMANENT_REFUSALS: Record<number, string> = { 400: 'malformed', 413: 'too-large', 415: 'content-type' };

/**
 * Postmark stops retrying only on 403 and Mailgun only on 406; any other refusal status is retried
 * for hours (docs/provider-contracts.md). A refusal that no retry can change (malformed, too large,
 * wrong content type) is therefore answered with that status, the body keeping our error code and
 * naming the field; 401 (credentials) and 503 (broker) stay retryable on purpose.
 */
export function refuseWith(status: 403 | 406, provider: string) {
  return async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const reason = PERMANENT_REFUSALS[reply.statusCode];
    if (!reason) return payload;
    markRejectionIfUnset(req, reason);
    const original = reply.statusCode;
    reply.code(status);
    if (typeof payload !== 'string') return payload;
    try {
      const body = JSON.parse(payload) as { message?: string };
      body.message = `${body.message ?? ''} (status ${status} instead of ${original}: ${provider} does not retry ${status})`;
      return JSON.stringify(body);
    } catch {
      return payload;
    }
  };
}

const isForm = (req: FastifyRequest) => String(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');

/**
 * The provider-native inbound e-mail routes. They live in their own scope so the form, multipart
 * and raw-MIME parsers (and their size limits) apply to them only.
 */
export async function registerInboundEmailRoutes(app: FastifyInstance, deps: IngestDeps, s: EmailRouteSettings): Promise<void> {
  app.addSchema(EmailAccepted);
  await app.register(async (scope) => {
    await scope.register(formbody, { bodyLimit: s.bodyLimit });
    await scope.register(multipart, {
      attachFieldsToBody: 'keyValues',
      // fields are read as latin1 (one char per byte, lossless) and decoded afterwards in the charset
      // the provider declares (SendGrid's `charsets` field; UTF-8 otherwise), see redecodeFields
      defCharset: 'latin1',
      limits: { fileSize: s.bodyLimit, fieldSize: s.bodyLimit, files: s.maxAttachments, fields: 500, parts: 1000 },
      // Attachments never reach Kafka: drain each upload, keep its name, type and size.
      onFile: async (part: MultipartFile) => {
        let size = 0;
        for await (const chunk of part.file) size += (chunk as Buffer).length;
        const meta: UploadedFile = { file: true, size, ...(part.filename ? { filename: part.filename } : {}), ...(part.mimetype ? { contentType: part.mimetype } : {}) };
        (part as unknown as { value: unknown }).value = meta;
      },
    });
    scope.removeContentTypeParser('text/plain');
    scope.addContentTypeParser(['message/rfc822', 'text/plain'], { parseAs: 'buffer', bodyLimit: s.bodyLimit }, (_req, body, done) => done(null, body));

    // a declared oversized body is refused before a byte of it is read
    scope.addHook('onRequest', async (req) => {
      const length = Number(req.headers['content-length'] ?? 0);
      if (length > s.bodyLimit) throw new AppError('PAYLOAD_TOO_LARGE', `request body of ${length} bytes exceeds ${s.bodyLimit}`);
    });
    // Marks a request whose body the form/multipart parsers have read: an error before this mark
    // comes from reading the body (no boundary, a truncated part…), i.e. a malformed request.
    // Registered after the multipart plugin, so its preValidation hook runs after the parser's.
    const bodyRead = new WeakSet<object>();
    scope.addHook('preValidation', async (req) => {
      bodyRead.add(req);
      if (req.isMultipart() && req.body && typeof req.body === 'object') redecodeFields(req, req.body as FormFields);
    });
    // the parsers' own errors, in our closed set of codes; everything else goes to the app's handler
    scope.setErrorHandler((err: FastifyError, req) => {
      if (err instanceof AppError) throw err;
      if (err.statusCode === 413 || err.code === 'FST_REQ_FILE_TOO_LARGE') throw new AppError('PAYLOAD_TOO_LARGE', `request too large: ${err.message}`);
      if (err.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') throw new AppError('UNSUPPORTED_MEDIA_TYPE', err.message);
      if (err.code === 'FST_INVALID_JSON_FIELD_ERROR' || err.code === 'FST_PROTO_VIOLATION') throw new AppError('VALIDATION', `body: ${err.message}`, [{ field: 'body', reason: err.message }]);
      // busboy's "Multipart: Boundary not found", "Unexpected end of multipart data"… are plain Errors
      if (!bodyRead.has(req) && !err.validation && (err.statusCode === undefined || err.statusCode < 500) && (req.isMultipart() || isForm(req)))
        throw new AppError('VALIDATION', `body: malformed ${req.isMultipart() ? 'multipart/form-data' : 'form'} body: ${err.message}`, [{ field: 'body', reason: err.message }]);
      throw err;
    });

    countRejections(scope, deps.metrics, (req) => ({ channel: 'email', provider: /\/inbound\/([a-z]+)/.exec(req.url)?.[1] ?? 'unknown' }));
    const reject = (req: FastifyRequest, code: 'UNAUTHORIZED' | 'FORBIDDEN' | 'UNSUPPORTED_MEDIA_TYPE' | 'UNAVAILABLE', reason: string, message: string) => {
      markRejection(req, reason);
      return new AppError(code, message);
    };
    const basicAuth = (provider: string, expected: string, variable: string) => async (req: FastifyRequest) => {
      if (!expected) throw reject(req, 'UNAVAILABLE', 'not-configured', `${provider} inbound is not configured (${variable})`);
      const result = checkBasicAuth(req.headers.authorization, expected);
      // 401 (not 403) so that Postmark keeps retrying after a credentials fix; Postmark stops on 403
      if (result !== 'ok') throw reject(req, 'UNAUTHORIZED', `${result}-credentials`, result === 'missing' ? 'missing HTTP basic auth credentials' : 'wrong HTTP basic auth credentials');
    };

    scope.post<{ Body: PostmarkInbound }>(
      '/v1/email/inbound/postmark',
      {
        bodyLimit: s.bodyLimit,
        onRequest: basicAuth('postmark', s.postmarkBasicAuth, 'POSTMARK_BASIC_AUTH'),
        onSend: refuseWith(403, 'Postmark'),
        preValidation: async (req) => {
          if (!String(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/json'))
            throw reject(req, 'UNSUPPORTED_MEDIA_TYPE', 'content-type', 'Postmark inbound webhooks are application/json');
        },
        schema: { summary: 'Postmark inbound webhook (JSON, HTTP basic auth)', body: PostmarkInbound, response: responses },
      },
      async (req, reply) => {
        const r = await acceptEmail(deps, parsePostmark(req.body), 'body.MessageID');
        // Postmark counts only 200 as delivered: 202 would make it retry every message
        return reply.status(200).send(r);
      },
    );

    scope.post<{ Body: FormFields }>(
      '/v1/email/inbound/mailgun',
      {
        bodyLimit: s.bodyLimit,
        onSend: refuseWith(406, 'Mailgun'),
        // multipart bodies are parsed in the plugin's preValidation hook, which runs before this one
        preValidation: async (req) => {
          if (!isForm(req) && !req.isMultipart()) throw reject(req, 'UNSUPPORTED_MEDIA_TYPE', 'content-type', 'Mailgun posts application/x-www-form-urlencoded or multipart/form-data');
          if (!s.mailgunSigningKey) throw reject(req, 'UNAVAILABLE', 'not-configured', 'mailgun inbound is not configured (MAILGUN_SIGNING_KEY)');
          await verifyMailgun(req, req.body ?? {});
        },
        schema: { summary: 'Mailgun route webhook (form or multipart, HMAC-SHA256 signature)', consumes: ['application/x-www-form-urlencoded', 'multipart/form-data'], body: MailgunForm, response: responses },
      },
      async (req, reply) => {
        const r = await acceptEmail(deps, parseMailgun(req.body), 'body.Message-Id');
        // Mailgun counts only 200 as delivered: 202 would make it retry every message
        return reply.status(200).send(r);
      },
    );

    /**
     * Order of the Mailgun checks, so that replays are refused and Mailgun's own retries are not:
     * 1. the HMAC over timestamp+token (nothing else is trusted before it);
     * 2. the token: already used with the same Message-Id → Mailgun retrying a delivery we may not
     *    have acked, let through whatever its age (dedupe answers it as a duplicate if it was
     *    published); used with another Message-Id → 403 replayed token;
     * 3. a first-use token must be fresh (not older than MAILGUN_MAX_AGE_S, not in the future);
     * 4. the token is recorded with its Message-Id before anything is published.
     * Replaying a captured request thus yields at most a duplicate, never a second message.
     */
    async function verifyMailgun(req: FastifyRequest, b: FormFields): Promise<void> {
      const [timestamp, token, signature] = [field(b, 'timestamp'), field(b, 'token'), field(b, 'signature')];
      const missing = Object.entries({ timestamp, token, signature }).filter(([, v]) => !v).map(([k]) => k);
      if (missing.length) {
        markRejection(req, 'missing-signature');
        throw new AppError('UNAUTHORIZED', `missing Mailgun signature field(s): ${missing.join(', ')}`, missing.map((m) => ({ field: `body.${m}`, reason: 'is required' })));
      }
      if (!validMailgunSignature(s.mailgunSigningKey, timestamp!, token!, signature!)) throw reject(req, 'FORBIDDEN', 'bad-signature', 'signature mismatch: HMAC-SHA256 of timestamp+token does not match');
      const messageKey = normalizeMessageId(field(b, 'Message-Id')) ?? messageIdFromHeaders(b) ?? '';
      let use = await priorTokenUse(deps.pool, token!, messageKey);
      if (use === 'first-use') {
        const fresh = mailgunFreshness(timestamp!, Date.now(), s.mailgunMaxAgeS, s.mailgunClockSkewS);
        if (!fresh.ok) throw reject(req, 'FORBIDDEN', fresh.check.replace(/ /g, '-'), `${fresh.check}: timestamp ${timestamp} is outside the accepted window`);
        use = await claimToken(deps.pool, token!, messageKey, Number(timestamp));
      }
      if (use === 'replayed') throw reject(req, 'FORBIDDEN', 'replayed-token', 'replayed token: this token was already used for another message');
    }

    scope.post<{ Body: FormFields }>(
      '/v1/email/inbound/sendgrid',
      {
        bodyLimit: s.bodyLimit,
        onRequest: basicAuth('sendgrid', s.sendgridBasicAuth, 'SENDGRID_BASIC_AUTH'),
        preValidation: async (req) => {
          if (!req.isMultipart()) throw reject(req, 'UNSUPPORTED_MEDIA_TYPE', 'content-type', 'SendGrid Inbound Parse posts multipart/form-data');
        },
        schema: { summary: 'SendGrid Inbound Parse (multipart, parsed or raw mode, HTTP basic auth)', consumes: ['multipart/form-data'], body: SendgridForm, response: responses },
      },
      async (req, reply) => {
        const parsed = await parseSendgrid(req.body, unknownCharsets.get(req));
        const r = await acceptEmail(deps, parsed, parsed.raw.mode === 'raw' ? 'body.email' : 'body.headers');
        return reply.status(r.status === 'accepted' ? 202 : 200).send(r);
      },
    );

    const mimeAdapter = new WeakMap<object, string>();
    scope.post<{ Body: Buffer }>(
      '/v1/email/inbound/mime',
      {
        bodyLimit: s.bodyLimit,
        onRequest: async (req) => void mimeAdapter.set(req, authenticateAdapter(req, s.apiKeys)),
        preValidation: async (req) => {
          if (!Buffer.isBuffer(req.body)) throw reject(req, 'UNSUPPORTED_MEDIA_TYPE', 'content-type', 'post the raw message as message/rfc822 or text/plain');
          if (req.body.length === 0) throw new AppError('VALIDATION', 'body: empty message', [{ field: 'body', reason: 'is empty' }]);
        },
        schema: {
          summary: 'A raw RFC 5322 message (message/rfc822 or text/plain), API-key auth',
          consumes: ['message/rfc822', 'text/plain'],
          headers: { type: 'object', properties: { 'x-api-key': S } },
          response: responses,
        },
      },
      async (req, reply) => {
        const parsed = await parseMime(req.body, 'mime', 'body');
        parsed.raw = { ...parsed.raw, adapter: mimeAdapter.get(req) };
        const r = await acceptEmail(deps, parsed, 'body');
        return reply.status(r.status === 'accepted' ? 202 : 200).send(r);
      },
    );
  });
}

const unknownCharsets = new WeakMap<object, Record<string, string>>();

/**
 * Decodes each multipart text field (read as latin1 bytes) in its declared charset: SendGrid says
 * it per field in `charsets` (e.g. {"text":"iso-8859-1","subject":"UTF-8"}), Mailgun posts UTF-8.
 * SendGrid's raw `email` field stays bytes (as latin1) for mailparser, which honours each MIME
 * part's charset. A field a part already declared its own charset for (decoded by busboy, so it
 * holds characters above U+00FF) is kept. An unknown charset is decoded as UTF-8 and remembered.
 */
function redecodeFields(req: FastifyRequest, body: FormFields): void {
  let declared: Record<string, unknown> = {};
  if (/\/sendgrid$/.test(req.routeOptions.url ?? '') && typeof body.charsets === 'string') {
    try {
      const parsed: unknown = JSON.parse(body.charsets);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) declared = parsed as Record<string, unknown>;
    } catch {
      // a charsets field that is not JSON: every field is read as UTF-8
    }
  }
  const unknown: Record<string, string> = {};
  // eslint-disable-next-line no-control-regex
  const bytesOnly = (v: string) => !/[^\u0000-\u00ff]/.test(v);
  const decode = (name: string, v: string) => {
    const cs = typeof declared[name] === 'string' ? (declared[name] as string) : undefined;
    if (cs && !knownCharset(cs)) unknown[name] = cs.slice(0, 64);
    return bytesOnly(v) ? decodeAs(Buffer.from(v, 'latin1'), cs) : v;
  };
  for (const [name, v] of Object.entries(body)) {
    if (name === 'email' && /\/sendgrid$/.test(req.routeOptions.url ?? '')) continue;
    if (typeof v === 'string') body[name] = decode(name, v);
    else if (Array.isArray(v)) body[name] = (v as unknown[]).map((x) => (typeof x === 'string' ? decode(name, x) : x)) as FormFields[string];
  }
  if (Object.keys(unknown).length) unknownCharsets.set(req, unknown);
}

function messageIdFromHeaders(b: FormFields): string | undefined {
  try {
    const headers = JSON.parse(field(b, 'message-headers') ?? '[]') as [string, string][];
    return normalizeMessageId(headers.find(([n]) => n.toLowerCase() === 'message-id')?.[1]);
  } catch {
    return undefined;
  }
}
