import { Type } from '@sinclair/typebox';
import { AuthEnv } from '@omni/auth';
import { CommonEnv, loadConfig } from '@omni/config';

export const HistoryEnv = {
  ...CommonEnv,
  /** JWT_SECRET (the same key as the router's: it verifies their tokens and CSAT tokens), OIDC_*, METRICS_AUTH… (libs/auth) */
  ...AuthEnv,
  PORT: Type.Integer({ default: 8086 }),
  HISTORY_GROUP_ID: Type.String({ default: 'history', minLength: 1 }),
  /** a resolved conversation followed by another from the same customer within this many days is not a first-contact resolution */
  FCR_RECONTACT_DAYS: Type.Integer({ default: 7, minimum: 0, maximum: 365 }),
  /** partitions the timeline consumer works on at once (each a batch transaction) */
  HISTORY_PARTITIONS_CONCURRENTLY: Type.Integer({ default: 3, minimum: 1, maximum: 64 }),
  /**
   * the broker waits up to this long to fill HISTORY_FETCH_MIN_BYTES: fewer, larger batch transactions
   * under steady load; with less traffic than that, it is how often the consumer fetches (500: an idle
   * history fetches twice a second, not ten times — ~1.5 % of a core less, docs/architecture-router.md)
   */
  HISTORY_FETCH_MAX_WAIT_MS: Type.Integer({ default: 500, minimum: 0, maximum: 5000 }),
  HISTORY_FETCH_MIN_BYTES: Type.Integer({ default: 65536, minimum: 1 }),
  /** ISO 3166-1 alpha-2 region for phone numbers written without a country code ("ES"); empty: such numbers are never guessed */
  HISTORY_DEFAULT_PHONE_REGION: Type.String({ default: '', pattern: '^([A-Z]{2})?$' }),
  /** days message content (text, html, subject, attachments, raw) stays on the timeline; 0 = forever */
  HISTORY_CONTENT_RETENTION_DAYS: Type.Integer({ default: 0, minimum: 0 }),
  HISTORY_CONTENT_SWEEP_INTERVAL_MS: Type.Integer({ default: 3_600_000, minimum: 100 }),
  /** consumer group of omni.agents.v1 (presence, wrap-up: occupancy and utilisation); empty = HISTORY_GROUP_ID + "-agents" */
  HISTORY_AGENTS_GROUP_ID: Type.String({ default: '' }),
  /** the router's base URL: per-tier business hours for business-time KPIs (service token, scope business-hours:read) */
  ROUTER_URL: Type.String({ default: 'http://127.0.0.1:8085', pattern: '^https?://' }),
  ROUTER_TIMEOUT_MS: Type.Integer({ default: 1000, minimum: 50, maximum: 60_000 }),
  /** business-time figures are served only from calendars confirmed with the router this recently (also how often history checks) */
  BUSINESS_HOURS_MAX_AGE_MS: Type.Integer({ default: 60_000, minimum: 100 }),
  /** the knowledge service's base URL: article helped rate and recurring problems without an article in the KPIs */
  KNOWLEDGE_URL: Type.String({ default: 'http://127.0.0.1:8087', pattern: '^https?://' }),
  KNOWLEDGE_TIMEOUT_MS: Type.Integer({ default: 1000, minimum: 50, maximum: 60_000 }),
  /** default SLA targets per conversation (from its opening), judged in wall-clock and in business time */
  SLA_FIRST_RESPONSE_MS: Type.Integer({ default: 3_600_000, minimum: 1000 }),
  SLA_RESOLUTION_MS: Type.Integer({ default: 28_800_000, minimum: 1000 }),
};

/** Validated history configuration; throws naming the bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(HistoryEnv, env);
}
export type HistoryConfig = ReturnType<typeof readConfig>;
