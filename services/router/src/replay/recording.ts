import { ConfigResourceTypes, type Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import type { TopicNames } from '@omni/contracts';
import { withTransaction } from '@omni/db';
import type { Logger } from '@omni/logging';
import { slaByTier, type RouterConfig } from '../config';
import { ageingOf } from '../routing/matching';
import { recordLifecycleSettings, type LifecycleSettings } from '../store/replay-recordings';

/**
 * What a starting router records for replay (docs/replay.md "What is recorded"): the lifecycle
 * settings it runs with (a new version when they changed), and a check that the topics replay reads
 * keep their records at least REPLAY_HORIZON_DAYS (a shorter retention.ms is logged: replay cannot
 * reach further back than the topics do).
 */

/** The lifecycle settings of a router configuration, as recorded. */
export function lifecycleSettingsOf(c: RouterConfig): LifecycleSettings {
  return {
    offerTimeoutMs: c.OFFER_TIMEOUT_MS,
    reopenWindowMs: c.REOPEN_WINDOW_MS,
    slaMsByTier: Object.fromEntries(Object.entries(slaByTier(c)).map(([t, v]) => [t, v])),
    overflowMode: c.OVERFLOW_MODE,
    maxConsecutiveOfferTimeouts: c.MAX_CONSECUTIVE_OFFER_TIMEOUTS,
    wrapUpMs: c.WRAP_UP_MS,
    disconnectGraceMs: c.DISCONNECT_GRACE_MS,
    priorityAgeing: ageingOf(c) ?? null,
  };
}

export async function recordStartupSettings(pool: Pool, config: RouterConfig, logger: Logger): Promise<void> {
  const v = await withTransaction(pool, (c) => recordLifecycleSettings(c, lifecycleSettingsOf(config), `router start (${process.pid})`));
  if (v.created) logger.info({ version: v.version }, 'lifecycle settings changed: recorded as a new version for replay');
}

/** The topics whose retention.ms is below the horizon (retention.ms -1 = forever). */
export async function shortRetention(kafka: Kafka, topics: Pick<TopicNames, 'inbound' | 'conversations' | 'agents'>, horizonDays: number): Promise<{ topic: string; retentionMs: number }[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const names = [topics.inbound, topics.conversations, topics.agents];
    const res = await admin.describeConfigs({ includeSynonyms: false, resources: names.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['retention.ms'] })) });
    const horizonMs = horizonDays * 86_400_000;
    return res.resources.flatMap((r) => {
      const v = Number(r.configEntries.find((e) => e.configName === 'retention.ms')?.configValue ?? '-1');
      return Number.isFinite(v) && v >= 0 && v < horizonMs ? [{ topic: r.resourceName, retentionMs: v }] : [];
    });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export async function checkRetention(kafka: Kafka, topics: TopicNames, horizonDays: number, logger: Logger): Promise<void> {
  try {
    for (const t of await shortRetention(kafka, topics, horizonDays))
      logger.warn({ topic: t.topic, retentionMs: t.retentionMs, horizonDays }, 'topic retention is shorter than REPLAY_HORIZON_DAYS: replay cannot reach that far back (raise retention.ms)');
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'could not read topic retention for the replay horizon check');
  }
}
