import { Type } from '@sinclair/typebox';
import { loadConfig } from '@omni/config';
import { IngestEnv } from '@omni/ingest';

export const PhoneEnv = {
  ...IngestEnv,
  PORT: Type.Integer({ default: 8083 }),
};

/** Validated ingest-phone configuration; throws naming the bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(PhoneEnv, env);
}
export type PhoneConfig = ReturnType<typeof readConfig>;
