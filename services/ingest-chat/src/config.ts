import { Type } from '@sinclair/typebox';
import { assertProductionSecrets } from '@omni/auth';
import { loadConfig } from '@omni/config';
import { IngestEnv } from '@omni/ingest';

/** Used when CHAT_SESSION_SECRET is not set: fine on a laptop, never in production (a warning is logged). */
export const DEV_CHAT_SESSION_SECRET = 'dev-only-chat-session-secret-change-me';

export const ChatEnv = {
  ...IngestEnv,
  PORT: Type.Integer({ default: 8081 }),
  CHAT_SESSION_SECRET: Type.String({ minLength: 16, default: DEV_CHAT_SESSION_SECRET, description: 'HS256 key of the visitor session tokens (≥ 16 chars)' }),
  CHAT_SESSION_TTL_S: Type.Integer({ minimum: 60, default: 86400, description: 'lifetime of a chat session and its token' }),
  CHAT_WS_GROUP_ID: Type.String({ minLength: 1, default: 'ingest-chat-ws', description: 'consumer group reading omni.outbound.v1 for websocket sessions' }),
  CHAT_WAIT_GROUP_ID: Type.String({ minLength: 1, default: 'ingest-chat-waits', description: 'consumer group reading omni.conversations.v1 for the wait estimates sent to visitors' }),
  CHAT_WS_MAX_FRAME_BYTES: Type.Integer({ minimum: 1024, default: 64 * 1024 }),
  CHAT_WS_PING_MS: Type.Integer({ minimum: 500, default: 30000, description: 'websocket ping interval; a socket silent for two rounds is terminated' }),
};

/** Validated ingest-chat configuration; throws naming the bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(ChatEnv, env);
  // production mode (NODE_ENV=production or OMNI_PRODUCTION) refuses the development default or a short key
  assertProductionSecrets({ CHAT_SESSION_SECRET: config.CHAT_SESSION_SECRET }, env);
  return config;
}
export type ChatConfig = ReturnType<typeof readConfig>;
