import type { FastifyInstance, FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import { isStorable } from '@omni/contracts';
import { acceptInbound, AcceptedBody, countRejections, markRejection, type IngestDeps } from '@omni/ingest';
import { AppError, badField } from '@omni/service';
import { validTwilioSignature, type TwilioParams } from '../domain/twilio-signature';
import { missedCallEnvelope, param, smsEnvelope, voicemailEnvelope } from '../domain/twilio-envelopes';
import { EMPTY_TWIML, voicemailTwiml } from '../domain/twiml';
import { toE164 } from '../domain/e164';
import { PG_INTEGER_MAX } from '@omni/db';
import { findCall, findVoicemail, markVoicemailPublished, recordCall, recordVoicemail } from '../voicemails';

export interface TwilioSettings {
  authToken: string;
  /** public base URL Twilio calls, without trailing slash */
  publicUrl: string;
  greeting: string;
  language: string;
  maxLengthS: number;
}

const SID = /^[A-Za-z]{2}[A-Za-z0-9]{1,62}$/;
const SID_PARAMS = ['CallSid', 'RecordingSid', 'MessageSid', 'AccountSid', 'TranscriptionSid', 'MessagingServiceSid'];

/** Twilio adds parameters without notice, so bodies are open objects; only what we use is required. */
const form = (required: string[], props: Record<string, object> = {}) => ({
  type: 'object',
  required,
  additionalProperties: true,
  properties: Object.fromEntries([...required.map((r) => [r, { type: 'string', minLength: 1 }]), ...Object.entries(props)]),
});
const Str = { type: 'string' };
const TwimlBody = { type: 'string', description: 'TwiML (text/xml)' };
const errors = { '4xx': { $ref: 'ErrorBody#' }, 503: { $ref: 'ErrorBody#' } };
const Ignored = { type: 'object', properties: { status: { type: 'string', enum: ['ignored'] }, reason: Str } };

/**
 * Twilio webhooks (form-encoded, X-Twilio-Signature). The signature is checked in preValidation, so
 * an unsigned request is rejected before anything about its body is said, and nothing is published.
 */
export async function registerTwilioRoutes(app: FastifyInstance, deps: IngestDeps, s: TwilioSettings): Promise<void> {
  await app.register(async (scope) => {
    await scope.register(formbody);
    const base = s.publicUrl.replace(/\/+$/, '');
    const urlOf = (path: string) => `${base}${path}`;

    countRejections(scope, deps.metrics, (req) => ({ channel: req.url.startsWith('/v1/phone/twilio/sms') ? 'sms' : 'phone', provider: 'twilio' }));
    scope.addHook('preValidation', async (req: FastifyRequest) => {
      const reject = (code: 'UNAUTHORIZED' | 'FORBIDDEN' | 'UNSUPPORTED_MEDIA_TYPE', reason: string, message: string) => {
        markRejection(req, reason);
        return new AppError(code, message);
      };
      if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded'))
        throw reject('UNSUPPORTED_MEDIA_TYPE', 'content-type', 'Twilio webhooks are application/x-www-form-urlencoded');
      const signature = req.headers['x-twilio-signature'];
      if (typeof signature !== 'string' || !signature) throw reject('UNAUTHORIZED', 'missing-signature', 'missing X-Twilio-Signature header');
      // Twilio signs the URL it called: our public base URL + the path and query as received
      if (!validTwilioSignature(s.authToken, signature, urlOf(req.url), (req.body ?? {}) as TwilioParams))
        throw reject('FORBIDDEN', 'bad-signature', 'X-Twilio-Signature does not match the request');
      // what is stored or used as an id must be what Twilio documents (SIDs: two letters and
      // letters/digits; recording URLs: http(s)), so nothing unstorable is written or published
      const body = (req.body ?? {}) as TwilioParams;
      for (const name of SID_PARAMS) {
        const v = param(body, name);
        if (v !== undefined && v !== '' && !SID.test(v)) throw badField(`body.${name}`, 'must be a Twilio SID (two letters and up to 62 letters or digits)');
      }
      const recordingUrl = param(body, 'RecordingUrl');
      if (recordingUrl !== undefined && recordingUrl !== '' && !(/^https?:\/\/[^\s\u0000]+$/i.test(recordingUrl) && recordingUrl.length <= 2048 && isStorable(recordingUrl)))
        throw badField('body.RecordingUrl', 'must be an http(s) URL of at most 2048 characters');
    });

    scope.post<{ Body: TwilioParams }>(
      '/v1/phone/twilio/voice',
      {
        schema: {
          summary: 'Twilio inbound call: answers with TwiML (greeting + voicemail with transcription)',
          body: form(['CallSid'], { From: Str, To: Str, CallStatus: Str, Direction: Str }),
          response: { 200: TwimlBody, ...errors },
        },
      },
      async (req, reply) => {
        // No envelope for a ringing call: its outcome (voicemail or missed call) is the message.
        // The caller's number is remembered because the recording callback does not carry it.
        await recordCall(deps.pool, param(req.body, 'CallSid')!, toE164(param(req.body, 'From')), toE164(param(req.body, 'To')));
        return reply
          .type('text/xml; charset=utf-8')
          .send(
            voicemailTwiml({
              greeting: s.greeting,
              language: s.language,
              maxLengthS: s.maxLengthS,
              transcribeCallbackUrl: urlOf('/v1/phone/twilio/transcription'),
              recordingStatusCallbackUrl: urlOf('/v1/phone/twilio/recording'),
            }),
          );
      },
    );

    scope.post<{ Body: TwilioParams }>(
      '/v1/phone/twilio/status',
      {
        schema: {
          summary: 'Twilio call status callback: a missed call becomes a callback-request message',
          body: form(['CallSid', 'CallStatus'], { From: Str, To: Str }),
          response: { 200: { anyOf: [AcceptedBody, Ignored] }, 202: AcceptedBody, ...errors },
        },
      },
      async (req, reply) => {
        // a missed call from a withheld number cannot be called back: nothing to ask an agent for
        if (!toE164(param(req.body, 'From')) && /^(no-answer|busy|failed|canceled)$/.test(param(req.body, 'CallStatus') ?? ''))
          return reply.status(200).send({ status: 'ignored', reason: 'caller number withheld, no call-back possible' });
        const envelope = missedCallEnvelope(req.body, new Date());
        if (!envelope) return reply.status(200).send({ status: 'ignored', reason: `call status ${param(req.body, 'CallStatus')} is not a missed call` });
        const [r] = await acceptInbound(deps, [envelope]);
        return reply.status(r!.status === 'accepted' ? 202 : 200).send(r);
      },
    );

    scope.post<{ Body: TwilioParams }>(
      '/v1/phone/twilio/recording',
      {
        schema: {
          summary: 'Twilio recording status callback: stores the voicemail until its transcript arrives',
          body: form(['CallSid', 'RecordingSid'], { RecordingUrl: Str, RecordingDuration: Str, RecordingStatus: Str }),
          response: { 200: { type: 'object', properties: { status: { type: 'string', enum: ['stored', 'ignored'] }, recordingSid: Str } }, ...errors },
        },
      },
      async (req, reply) => {
        const b = req.body;
        const status = param(b, 'RecordingStatus') ?? 'completed';
        if (status !== 'completed') return reply.send({ status: 'ignored', recordingSid: param(b, 'RecordingSid') });
        const duration = Number(param(b, 'RecordingDuration'));
        await recordVoicemail(deps.pool, {
          recordingSid: param(b, 'RecordingSid')!,
          callSid: param(b, 'CallSid')!,
          ...(param(b, 'RecordingUrl') ? { recordingUrl: param(b, 'RecordingUrl') } : {}),
          // a duration the column (ingest.phone_voicemails.duration_s, an integer) cannot hold is dropped like a malformed one
          ...(Number.isInteger(duration) && duration >= 0 && duration <= PG_INTEGER_MAX ? { durationS: duration } : {}),
        });
        return reply.send({ status: 'stored', recordingSid: param(b, 'RecordingSid') });
      },
    );

    scope.post<{ Body: TwilioParams }>(
      '/v1/phone/twilio/transcription',
      {
        schema: {
          summary: 'Twilio transcription callback: the voicemail message, transcript as its text',
          body: form(['CallSid', 'RecordingSid', 'TranscriptionStatus'], { TranscriptionText: Str, RecordingUrl: Str, From: Str, To: Str }),
          response: { 200: AcceptedBody, 202: AcceptedBody, ...errors },
        },
      },
      async (req, reply) => {
        const b = req.body;
        const callSid = param(b, 'CallSid')!;
        const recordingSid = param(b, 'RecordingSid')!;
        const [call, stored] = await Promise.all([findCall(deps.pool, callSid), findVoicemail(deps.pool, recordingSid)]);
        const from = toE164(param(b, 'From')) ?? call?.from_number ?? 'anonymous';
        const to = toE164(param(b, 'To')) ?? call?.to_number ?? undefined;
        const recordingUrl = param(b, 'RecordingUrl') ?? stored?.recording_url ?? undefined;
        const completed = param(b, 'TranscriptionStatus') === 'completed';
        const envelope = voicemailEnvelope({
          recordingSid,
          callSid,
          from,
          ...(to ? { to } : {}),
          ...(recordingUrl ? { recordingUrl } : {}),
          ...(stored?.duration_s != null ? { durationS: stored.duration_s } : {}),
          ...(completed ? { transcript: param(b, 'TranscriptionText') ?? '' } : {}),
          transcriptionStatus: param(b, 'TranscriptionStatus')!,
          receivedAt: new Date(),
          ...(call ? { startedAt: call.started_at } : {}),
        });
        const [r] = await acceptInbound(deps, [envelope]);
        await markVoicemailPublished(deps.pool, recordingSid, callSid);
        return reply.status(r!.status === 'accepted' ? 202 : 200).send(r);
      },
    );

    scope.post<{ Body: TwilioParams }>(
      '/v1/phone/twilio/sms',
      {
        schema: {
          summary: 'Twilio inbound SMS/MMS: answers empty TwiML',
          body: form(['MessageSid', 'From'], { To: Str, Body: Str, NumMedia: Str }),
          response: { 200: TwimlBody, ...errors },
        },
      },
      async (req, reply) => {
        await acceptInbound(deps, [smsEnvelope(req.body, new Date())]);
        return reply.type('text/xml; charset=utf-8').send(EMPTY_TWIML);
      },
    );
  });
}
