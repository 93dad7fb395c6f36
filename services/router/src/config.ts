import { Type } from '@sinclair/typebox';
import { CommonEnv, loadConfig } from '@omni/config';

export const RouterEnv = {
  ...CommonEnv,
  PORT: Type.Integer({ default: 8085 }),
  ROUTER_GROUP_ID: Type.String({ default: 'router', minLength: 1 }),
};

/** Validated router configuration; throws naming the bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(RouterEnv, env);
}
export type RouterConfig = ReturnType<typeof readConfig>;
