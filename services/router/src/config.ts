import { Type } from '@sinclair/typebox';
import { AuthEnv } from '@omni/auth';
import { CommonEnv, loadConfig } from '@omni/config';
import { RouterContentRetentionEnv } from './store/content-retention';

const Ms = (def: number, min = 1) => Type.Integer({ default: def, minimum: min });

export const RouterEnv = {
  ...CommonEnv,
  /** JWT_SECRET (HS256 key of every access token; empty = random per process, dev only), OIDC_*, METRICS_AUTH… (libs/auth) */
  ...AuthEnv,
  PORT: Type.Integer({ default: 8085 }),
  ROUTER_GROUP_ID: Type.String({ default: 'router', minLength: 1 }),
  /** access token lifetime: short, because a signed-out person keeps a valid access token until it expires */
  ACCESS_TOKEN_TTL_S: Type.Integer({ default: 900, minimum: 30, maximum: 86_400 }),
  /** refresh token lifetime (each refresh issues the next one) */
  REFRESH_TOKEN_TTL_S: Type.Integer({ default: 7 * 86_400, minimum: 60 }),
  /** failed sign-ins in a row that lock an account, and for how long */
  SIGNIN_MAX_FAILURES: Type.Integer({ default: 5, minimum: 1, maximum: 100 }),
  SIGNIN_LOCKOUT_MS: Ms(15 * 60_000, 1_000),
  /** sign-in attempts per IP per minute on one replica */
  SIGNIN_RATE_LIMIT_PER_MINUTE: Type.Integer({ default: 20, minimum: 1 }),
  /** how long the CSAT token issued on resolve stays valid */
  CSAT_TOKEN_TTL_S: Type.Integer({ default: 14 * 86_400, minimum: 60 }),
  /** how long an agent has to accept an offer */
  OFFER_TIMEOUT_MS: Ms(20_000, 100),
  /** after-contact work after resolve: the agent keeps that conversation's slot this long (0: none; docs/queue-intelligence.md) */
  WRAP_UP_MS: Ms(0, 0),
  /** priority ageing in queue order (0: off): a queued conversation gains this many priority points per minute waited … */
  PRIORITY_AGEING_POINTS_PER_MINUTE: Type.Number({ default: 0, minimum: 0, maximum: 60_000 }),
  /** … never beyond this (and never lowered): old low-priority work overtakes fresh high-priority work, nothing starves */
  PRIORITY_AGEING_MAX: Type.Integer({ default: 100, minimum: 0, maximum: 100 }),
  /** how often a replica re-estimates the waits of queued conversations and announces material changes (0: wait estimates off, none at queueing either; docs/queue-intelligence.md) */
  WAIT_UPDATE_INTERVAL_MS: Type.Integer({ default: 2000, minimum: 0 }),
  /** at most one conversation.wait-updated per conversation per this interval (reaching the head of the queue excepted) */
  WAIT_UPDATE_MIN_INTERVAL_MS: Type.Integer({ default: 5000, minimum: 0 }),
  /** async channels (SMS, WhatsApp, Messenger, Instagram, email) get one message when the estimate first exceeds this … */
  WAIT_NOTICE_THRESHOLD_MS: Type.Integer({ default: 600_000, minimum: 1000 }),
  /** … and one more only if it later reaches this multiple of the one announced (and grew by at least the threshold); never more */
  WAIT_NOTICE_GROW_FACTOR: Type.Number({ default: 2, minimum: 1.1, maximum: 100 }),
  /** how long a replica reuses the active business hours before checking their version again (an edit applies within this) */
  BUSINESS_HOURS_CACHE_MS: Ms(1000, 0),
  /** offers timing out in a row before the agent is set away */
  MAX_CONSECUTIVE_OFFER_TIMEOUTS: Type.Integer({ default: 2, minimum: 1 }),
  /** how often every replica sweeps deadlines (offers, SLA, disconnects, reopen window) */
  SWEEP_INTERVAL_MS: Ms(1_000, 10),
  /** a console gone this long loses its offered and assigned conversations back to the queue */
  DISCONNECT_GRACE_MS: Ms(30_000, 10),
  /** websocket ping period; a console that misses a pong is dropped (then the grace period runs) */
  WS_PING_INTERVAL_MS: Ms(15_000, 100),
  /** a message this soon after resolve reopens the conversation; later, a new one starts */
  REOPEN_WINDOW_MS: Ms(24 * 3600_000, 0),
  QUEUE_SLA_MS_TIER_1: Ms(120_000),
  QUEUE_SLA_MS_TIER_2: Ms(300_000),
  QUEUE_SLA_MS_TIER_3: Ms(600_000),
  QUEUE_SLA_MS_TIER_4: Ms(900_000),
  QUEUE_SLA_MS_TIER_5: Ms(1_800_000),
  /** what a queue SLA breach does: widen to agents of the next tier too, or move it one tier up */
  OVERFLOW_MODE: Type.Union([Type.Literal('widen'), Type.Literal('escalate')], { default: 'widen' }),
  /** queue entries (that a free agent could take) one match pass locks and offers; 50 → 200 took bench:router at 1,000 msg/s from ~254 to ~377 assignments/s */
  MATCH_BATCH_SIZE: Type.Integer({ default: 200, minimum: 1, maximum: 1000 }),
  /** match passes run concurrently per process (each offer is its own locked transaction) */
  MATCH_WORKERS: Type.Integer({ default: 2, minimum: 1, maximum: 32 }),
  /** inbound partitions processed concurrently by this replica */
  INBOUND_CONCURRENCY: Type.Integer({ default: 6, minimum: 1, maximum: 64 }),
  /** inbound messages of one fetched partition batch routed per transaction (set-based statements) */
  INBOUND_TX_MAX: Type.Integer({ default: 100, minimum: 1, maximum: 1000 }),
  /** connections in the router's Postgres pool (consumers, matcher, sweeper, every agent console share it) */
  PG_POOL_MAX: Type.Integer({ default: 20, minimum: 2, maximum: 500 }),
  /** days a processed message/event id is remembered (idempotency); keep above the topics' retention and DEDUPE_RETENTION_DAYS; 0 = forever */
  PROCESSED_EVENTS_RETENTION_DAYS: Type.Integer({ default: 60, minimum: 0 }),
  PROCESSED_EVENTS_SWEEP_INTERVAL_MS: Ms(3_600_000, 100),
  /** the knowledge service (docs/knowledge.md): suggestions on every offer and self-service answers; empty = neither */
  KNOWLEDGE_URL: Type.String({ default: '' }),
  /** how long a batch of opening messages waits for knowledge before routing without it */
  KNOWLEDGE_TIMEOUT_MS: Ms(300, 10),
  /** consume omni.customers.v1 into router.customer_profiles (VIP and other attributes) */
  CUSTOMERS_GROUP_ID: Type.String({ default: '' }),
  ...RouterContentRetentionEnv,
  /** days back replay must reach: the recordings are kept at least this long, and a topic retention below it is logged at start-up (docs/replay.md) */
  REPLAY_HORIZON_DAYS: Type.Integer({ default: 7, minimum: 1, maximum: 3650 }),
  /** a running replay job not refreshed this long belongs to a router that is gone: it is marked failed */
  REPLAY_JOB_STALE_MS: Ms(30_000, 1_000),
};

/** Validated router configuration; throws naming the bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(RouterEnv, env);
}
export type RouterConfig = ReturnType<typeof readConfig>;

/** Queue SLA per tier (index = tier). */
export function slaByTier(c: RouterConfig): Record<number, number> {
  return { 1: c.QUEUE_SLA_MS_TIER_1, 2: c.QUEUE_SLA_MS_TIER_2, 3: c.QUEUE_SLA_MS_TIER_3, 4: c.QUEUE_SLA_MS_TIER_4, 5: c.QUEUE_SLA_MS_TIER_5 };
}
