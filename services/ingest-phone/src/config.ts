import { Type } from '@sinclair/typebox';
import { loadConfig } from '@omni/config';
import { IngestEnv } from '@omni/ingest';

export const PhoneEnv = {
  ...IngestEnv,
  PORT: Type.Integer({ default: 8083 }),
  TWILIO_AUTH_TOKEN: Type.String({ minLength: 1, description: 'HMAC key of X-Twilio-Signature (the account auth token)' }),
  TWILIO_PUBLIC_URL: Type.String({
    pattern: '^https?://[^/?#]+(/[^?#]*)?$',
    description: 'public base URL Twilio calls (scheme://host[:port][/prefix]); route path and query are appended',
  }),
  VOICEMAIL_GREETING: Type.String({ default: 'Thank you for calling support. Please leave a message after the tone and we will call you back.', maxLength: 1000 }),
  VOICEMAIL_LANGUAGE: Type.String({ default: 'en-US' }),
  VOICEMAIL_MAX_LENGTH_S: Type.Integer({ default: 120, minimum: 1, maximum: 14400 }),
  VOICEMAIL_TRANSCRIPT_WAIT_S: Type.Integer({ default: 900, minimum: 0, description: 'publish a voicemail without transcript after this long' }),
  VOICEMAIL_SWEEP_INTERVAL_MS: Type.Integer({ default: 30000, minimum: 50 }),
};

/** Validated ingest-phone configuration; throws naming the bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(PhoneEnv, env);
}
export type PhoneConfig = ReturnType<typeof readConfig>;
