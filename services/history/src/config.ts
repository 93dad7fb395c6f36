import { Type } from '@sinclair/typebox';
import { CommonEnv, loadConfig } from '@omni/config';

export const HistoryEnv = {
  ...CommonEnv,
  PORT: Type.Integer({ default: 8086 }),
  HISTORY_GROUP_ID: Type.String({ default: 'history', minLength: 1 }),
};

/** Validated history configuration; throws naming the bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(HistoryEnv, env);
}
export type HistoryConfig = ReturnType<typeof readConfig>;
