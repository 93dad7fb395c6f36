import Ajv from 'ajv';
import { Type, type Static } from '@sinclair/typebox';

/** What a visitor may send on the chat websocket. */
export const MessageFrame = Type.Object(
  {
    type: Type.Literal('message'),
    clientMessageId: Type.String({ minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' }),
    text: Type.String({ minLength: 1, maxLength: 20_000 }),
  },
  { additionalProperties: false },
);
export const ResumeFrame = Type.Object({ type: Type.Literal('resume'), lastSeq: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });
export const PingFrame = Type.Object({ type: Type.Literal('ping') }, { additionalProperties: false });
export type VisitorFrame = Static<typeof MessageFrame> | Static<typeof ResumeFrame> | Static<typeof PingFrame>;

/** What the server sends. */
export type ServerFrame =
  | { type: 'ready'; sessionId: string; visitorId: string; lastSeq: number }
  | { type: 'ack'; clientMessageId: string; messageId: string; duplicate: boolean }
  | { type: 'reply'; seq: number; outboundId: string; text: string; agentId: string; createdAt: string }
  | { type: 'pong' }
  /** the queued conversation's position and estimated wait (null: nobody who could answer is online), sent when it changes materially */
  | { type: 'wait'; conversationId: string; position: number; estimateMs: number | null; estimator: string; at: string }
  | { type: 'error'; code: string; message: string; field?: string; clientMessageId?: string };

export type FrameParse = { ok: true; frame: VisitorFrame } | { ok: false; code: 'VALIDATION'; message: string; field: string; clientMessageId?: string };

const ajv = new Ajv({ allErrors: false, strict: false });
const validators = { message: ajv.compile(MessageFrame), resume: ajv.compile(ResumeFrame), ping: ajv.compile(PingFrame) };

/** Parses and validates one text frame; a problem names the field so the widget can show it. */
export function parseVisitorFrame(data: string): FrameParse {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { ok: false, code: 'VALIDATION', message: 'frame is not valid JSON', field: 'frame' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, code: 'VALIDATION', message: 'frame must be a JSON object', field: 'frame' };
  const type = (value as { type?: unknown }).type;
  const cmid = (value as { clientMessageId?: unknown }).clientMessageId;
  const clientMessageId = typeof cmid === 'string' && cmid.length <= 128 ? { clientMessageId: cmid } : {};
  if (type !== 'message' && type !== 'resume' && type !== 'ping') {
    return { ok: false, code: 'VALIDATION', message: 'type must be one of message, resume, ping', field: 'type', ...clientMessageId };
  }
  const validate = validators[type];
  if (validate(value)) return { ok: true, frame: value as VisitorFrame };
  const e = validate.errors![0]!;
  const params = e.params as { missingProperty?: string; additionalProperty?: string };
  const field = params.missingProperty ?? params.additionalProperty ?? (e.instancePath.replace(/^\//, '').replace(/\//g, '.') || 'frame');
  return { ok: false, code: 'VALIDATION', message: `${field}: ${e.message ?? e.keyword}`, field, ...clientMessageId };
}
