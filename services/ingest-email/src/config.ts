import { Type } from '@sinclair/typebox';
import { loadConfig } from '@omni/config';
import { IngestEnv } from '@omni/ingest';

export const EmailEnv = {
  ...IngestEnv,
  PORT: Type.Integer({ default: 8082 }),
};

/** Validated ingest-email configuration; throws naming the bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(EmailEnv, env);
}
export type EmailConfig = ReturnType<typeof readConfig>;
