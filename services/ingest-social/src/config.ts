import { Type } from '@sinclair/typebox';
import { loadConfig } from '@omni/config';
import { IngestEnv } from '@omni/ingest';

export const SocialEnv = {
  ...IngestEnv,
  PORT: Type.Integer({ default: 8084 }),
};

/** Validated ingest-social configuration; throws naming the bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(SocialEnv, env);
}
export type SocialConfig = ReturnType<typeof readConfig>;
