import { Type } from '@sinclair/typebox';
import { AuthEnv } from '@omni/auth';
import { CommonEnv, loadConfig } from '@omni/config';

export const KnowledgeEnv = {
  ...CommonEnv,
  /** JWT_SECRET (the same key as the router's and history's), OIDC_*, METRICS_AUTH… (libs/auth) */
  ...AuthEnv,
  PORT: Type.Integer({ default: 8087 }),
  /** consumer group of omni.conversations.v1 (outcomes for the helped rate, volumes per category) */
  KNOWLEDGE_GROUP_ID: Type.String({ default: 'knowledge', minLength: 1 }),
  /** history's base URL: POST /v1/articles/from-conversation/:id reads the transcript there */
  HISTORY_URL: Type.String({ default: 'http://127.0.0.1:8086', pattern: '^https?://' }),
  HISTORY_TIMEOUT_MS: Type.Integer({ default: 5000, minimum: 100 }),
  /** how an article link in a canned reply or a suggestion is written; {id} is replaced */
  ARTICLE_LINK_TEMPLATE: Type.String({ default: 'https://help.example.com/articles/{id}', minLength: 1 }),
  /** insert the built-in tier-1 articles (es, en) at start-up if they are missing */
  KNOWLEDGE_SEED: Type.Boolean({ default: true }),
};

/** Validated knowledge configuration; throws naming the bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(KnowledgeEnv, env);
}
export type KnowledgeConfig = ReturnType<typeof readConfig>;
