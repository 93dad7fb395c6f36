import { Type } from '@sinclair/typebox';
import { loadConfig } from '@omni/config';
import { IngestEnv } from '@omni/ingest';

export const SocialEnv = {
  ...IngestEnv,
  PORT: Type.Integer({ default: 8084 }),
  META_VERIFY_TOKEN: Type.String({ default: '', description: 'hub.verify_token configured in the Meta app dashboard' }),
  META_APP_SECRET: Type.String({ default: '', description: 'Meta app secret: key of the X-Hub-Signature-256 HMAC; empty disables the Meta routes' }),
  // Meta batches up to 1000 updates per POST (messages up to a few KB each): BODY_LIMIT_BYTES (1 MiB)
  // would refuse real batches, and Meta retries a 413 like any other non-200
  META_BODY_LIMIT_BYTES: Type.Integer({ default: 8 * 1024 * 1024, minimum: 1024, description: 'largest Meta webhook POST' }),
};

/** Validated ingest-social configuration; throws naming the bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(SocialEnv, env);
}
export type SocialConfig = ReturnType<typeof readConfig>;
