import { Type } from '@sinclair/typebox';
import { loadConfig } from '@omni/config';
import { IngestEnv } from '@omni/ingest';

export const SocialEnv = {
  ...IngestEnv,
  PORT: Type.Integer({ default: 8084 }),
  META_VERIFY_TOKEN: Type.String({ default: '', description: 'hub.verify_token configured in the Meta app dashboard' }),
  META_APP_SECRET: Type.String({ default: '', description: 'Meta app secret: key of the X-Hub-Signature-256 HMAC; empty disables the Meta routes' }),
};

/** Validated ingest-social configuration; throws naming the bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(SocialEnv, env);
}
export type SocialConfig = ReturnType<typeof readConfig>;
