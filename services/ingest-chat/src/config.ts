import { Type } from '@sinclair/typebox';
import { loadConfig } from '@omni/config';
import { IngestEnv } from '@omni/ingest';

export const ChatEnv = {
  ...IngestEnv,
  PORT: Type.Integer({ default: 8081 }),
};

/** Validated ingest-chat configuration; throws naming the bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(ChatEnv, env);
}
export type ChatConfig = ReturnType<typeof readConfig>;
