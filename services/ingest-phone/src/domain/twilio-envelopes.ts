import { deterministicMessageId, fitAttachment, type Attachment, type InboundMessage } from '@omni/contracts';
import { badField } from '@omni/service';
import { toE164 } from './e164';
import type { TwilioParams } from './twilio-signature';

const PROVIDER = 'twilio';

/** One string value of a Twilio parameter (the first one if it was repeated). */
export function param(p: TwilioParams, name: string): string | undefined {
  const v = p[name];
  return Array.isArray(v) ? v[0] : v;
}

function requiredParam(p: TwilioParams, name: string): string {
  const v = param(p, name);
  if (!v) throw badField(`body.${name}`, 'is required');
  return v;
}

function requiredNumber(p: TwilioParams, name: string): string {
  const raw = requiredParam(p, name);
  const n = toE164(raw);
  if (!n) throw badField(`body.${name}`, 'must be a phone number in E.164 form (+<country><number>)');
  return n;
}

/** Twilio metadata worth keeping; never the auth token or signature. */
function rawOf(p: TwilioParams, names: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of names) {
    const v = param(p, n);
    if (v !== undefined && v !== '') out[n] = v;
  }
  return out;
}

const CALL_META = ['AccountSid', 'CallSid', 'CallStatus', 'Direction', 'CallerName', 'FromCity', 'FromState', 'FromCountry', 'ForwardedFrom'];

/** Twilio sends at most 10 media per message (NumMedia, MediaUrl0..9 / MediaContentType0..9). */
const MAX_MEDIA = 10;

/**
 * The agent-facing text of an inbound message: its Body, else a readable summary of what it
 * carries (media, a shared location, a tapped button) — never an empty message.
 */
export function smsText(p: TwilioParams, attachments: Attachment[]): string {
  const body = param(p, 'Body');
  if (body?.trim()) return body;
  const lat = param(p, 'Latitude');
  const long = param(p, 'Longitude');
  if (lat && long) return `Location: ${[param(p, 'Label'), param(p, 'Address'), `${lat}, ${long}`].filter(Boolean).join(' — ')}`;
  const button = param(p, 'ButtonText') ?? param(p, 'ButtonPayload');
  if (button) return `Tapped: ${button}`;
  if (attachments.length) {
    const types = attachments.map((a) => a.contentType ?? 'file');
    return `${attachments.length === 1 ? 'Attachment' : `${attachments.length} attachments`}: ${types.join(', ')}`;
  }
  return '(empty message)';
}

/** Inbound SMS/MMS → one `sms` envelope; media URLs become attachments. Thread = the sender's number. */
export function smsEnvelope(p: TwilioParams, now: Date): InboundMessage {
  const sid = requiredParam(p, 'MessageSid');
  if (!/^[A-Za-z]{2}[A-Za-z0-9]{1,62}$/.test(sid)) throw badField('body.MessageSid', 'must be a Twilio SID (two letters and up to 62 letters or digits)');
  const from = requiredNumber(p, 'From');
  const to = toE164(param(p, 'To'));
  const declared = Number(param(p, 'NumMedia') ?? '0');
  if (!Number.isInteger(declared) || declared < 0) throw badField('body.NumMedia', 'must be a non-negative integer');
  // NumMedia says how many MediaUrlN/MediaContentTypeN pairs follow; read those that are there
  const attachments: Attachment[] = [];
  const missing: number[] = [];
  for (let i = 0; i < Math.min(declared, MAX_MEDIA); i++) {
    const url = param(p, `MediaUrl${i}`);
    if (!url || !/^https?:\/\//i.test(url) || url.length > 4096) {
      missing.push(i);
      continue;
    }
    const contentType = param(p, `MediaContentType${i}`);
    attachments.push(fitAttachment({ name: `media-${i}`, url, ...(contentType ? { contentType } : {}) }));
  }
  return {
    schema: 'omni.inbound.v1',
    messageId: deterministicMessageId(PROVIDER, sid),
    channel: 'sms',
    provider: PROVIDER,
    providerMessageId: sid,
    threadKey: `sms:${from}`,
    from: { channel: 'sms', address: from, phone: from, ...(param(p, 'ProfileName') ? { name: param(p, 'ProfileName')!.slice(0, 256) } : {}) },
    ...(to ? { to: { channel: 'sms', address: to, phone: to } } : {}),
    // Twilio's SMS webhook carries no timestamp: the time we received it is the best we have
    sentAt: now.toISOString(),
    receivedAt: now.toISOString(),
    text: smsText(p, attachments).slice(0, 100_000),
    kind: 'message',
    ...(attachments.length ? { attachments } : {}),
    raw: {
      ...rawOf(p, ['AccountSid', 'MessagingServiceSid', 'NumSegments', 'NumMedia', 'FromCity', 'FromState', 'FromCountry', 'SmsStatus', 'Latitude', 'Longitude', 'Address', 'Label', 'ButtonPayload', 'WaId']),
      ...(missing.length || declared > MAX_MEDIA ? { mediaMissing: { declared, missing, read: attachments.length } } : {}),
    },
  };
}

/** Call outcomes that mean nobody (not even our voicemail) took the call. */
export const MISSED_CALL_STATUSES = ['no-answer', 'busy', 'failed', 'canceled'] as const;

/**
 * Call status callback → a `callback-request` envelope for a missed call, or undefined when the
 * status is not a missed call (a completed call reached the voicemail, whose recording becomes its
 * own message). Id = CallSid, so Twilio's retries of the same status collapse into one.
 */
export function missedCallEnvelope(p: TwilioParams, now: Date): InboundMessage | undefined {
  const status = requiredParam(p, 'CallStatus');
  if (!(MISSED_CALL_STATUSES as readonly string[]).includes(status)) return undefined;
  const callSid = requiredParam(p, 'CallSid');
  const from = requiredNumber(p, 'From');
  const to = toE164(param(p, 'To'));
  const providerMessageId = `${callSid}:missed`;
  const ts = param(p, 'Timestamp');
  const sentAt = ts && !Number.isNaN(Date.parse(ts)) ? new Date(ts).toISOString() : now.toISOString();
  return {
    schema: 'omni.inbound.v1',
    messageId: deterministicMessageId(PROVIDER, providerMessageId),
    channel: 'phone',
    provider: PROVIDER,
    providerMessageId,
    threadKey: `phone:${from}`,
    from: { channel: 'phone', address: from, phone: from },
    ...(to ? { to: { channel: 'phone', address: to, phone: to } } : {}),
    sentAt,
    receivedAt: now.toISOString(),
    text: `Missed call from ${from} (${status}), please call back`,
    kind: 'callback-request',
    raw: rawOf(p, [...CALL_META, 'CallDuration', 'SipResponseCode']),
  };
}

export interface VoicemailInput {
  recordingSid: string;
  callSid: string;
  from: string;
  to?: string;
  recordingUrl?: string;
  durationS?: number;
  /** undefined: no transcript (transcription failed or never came) */
  transcript?: string;
  transcriptionStatus?: string;
  receivedAt: Date;
  startedAt?: Date;
}

/**
 * The one `voicemail` message of a recording. Its id is derived from the RecordingSid alone, so the
 * recording callback, the transcription callback and the no-transcript fallback can never produce
 * two messages for one voicemail: whichever publishes first wins, later ones are duplicates.
 */
export function voicemailEnvelope(v: VoicemailInput): InboundMessage {
  const providerMessageId = `${v.recordingSid}:voicemail`;
  const text = v.transcript?.trim()
    ? v.transcript.trim()
    : `Voicemail from ${v.from}${v.durationS !== undefined ? ` (${v.durationS} s)` : ''}, no transcript available: listen to the recording`;
  return {
    schema: 'omni.inbound.v1',
    messageId: deterministicMessageId(PROVIDER, providerMessageId),
    channel: 'phone',
    provider: PROVIDER,
    providerMessageId,
    threadKey: `phone:${v.from}`,
    from: { channel: 'phone', address: v.from, phone: v.from },
    ...(v.to ? { to: { channel: 'phone', address: v.to, phone: v.to } } : {}),
    sentAt: (v.startedAt ?? v.receivedAt).toISOString(),
    receivedAt: v.receivedAt.toISOString(),
    text,
    kind: 'voicemail',
    ...(v.recordingUrl ? { attachments: [{ name: `voicemail-${v.recordingSid}`, contentType: 'audio/mpeg', url: `${v.recordingUrl}.mp3` }] } : {}),
    raw: {
      CallSid: v.callSid,
      RecordingSid: v.recordingSid,
      ...(v.recordingUrl ? { RecordingUrl: v.recordingUrl } : {}),
      ...(v.durationS !== undefined ? { RecordingDuration: v.durationS } : {}),
      ...(v.transcriptionStatus ? { TranscriptionStatus: v.transcriptionStatus } : {}),
      transcribed: Boolean(v.transcript?.trim()),
    },
  };
}
