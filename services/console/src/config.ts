import { Type } from '@sinclair/typebox';
import { AuthEnv } from '@omni/auth';
import { CommonEnv, loadConfig } from '@omni/config';

export const ConsoleEnv = {
  // the settings every service shares (the console uses neither Kafka nor PostgreSQL, but reads the
  // same ConfigMap / compose block as the others, so they are known, unused variables here)
  ...CommonEnv,
  /** JWT_SECRET (the router's: the wallboard stream checks a supervisor token before polling for it), OIDC_*, METRICS_AUTH… (libs/auth) */
  ...AuthEnv,
  PORT: Type.Integer({ default: 8088 }),
  /** where the browser's /router/* and /history/* requests (and the agent websocket) are forwarded */
  ROUTER_URL: Type.String({ default: 'http://127.0.0.1:8085', pattern: '^https?://' }),
  HISTORY_URL: Type.String({ default: 'http://127.0.0.1:8086', pattern: '^https?://' }),
  /** where the browser's /knowledge/* requests go (suggestions, canned replies, drafts from solved cases) */
  KNOWLEDGE_URL: Type.String({ default: 'http://127.0.0.1:8087', pattern: '^https?://' }),
  /** the built web app (vite); built on start when missing or older than services/console/web */
  CONSOLE_DIST_DIR: Type.String({ default: '' }),
  /** how often the wallboard stream polls queues and agents for a connected supervisor */
  WALLBOARD_POLL_MS: Type.Integer({ default: 2000, minimum: 100, maximum: 60000 }),
  /** how often it recomputes today's KPIs and recurring problems (heavier queries on history) */
  WALLBOARD_KPI_POLL_MS: Type.Integer({ default: 15000, minimum: 500, maximum: 600000 }),
};

/** Validated console configuration; throws naming the bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(ConsoleEnv, env);
}
export type ConsoleConfig = ReturnType<typeof readConfig>;
