import { slaByTier, type RouterConfig } from '../config';
import type { TierHours } from '../domain/business-hours';
import type { LifecyclePolicy } from '../domain/lifecycle';
import { HoursCache } from '../store/business-hours-store';
import type { RouterCtx, RoutingTx } from '../store/routing-tx';

/** The lifecycle's parameters from the router's configuration (and the business hours in force, when known). */
export function policyOf(c: RouterConfig, hours?: TierHours): LifecyclePolicy {
  return {
    offerTimeoutMs: c.OFFER_TIMEOUT_MS,
    reopenWindowMs: c.REOPEN_WINDOW_MS,
    slaMsByTier: slaByTier(c),
    overflowMode: c.OVERFLOW_MODE,
    maxConsecutiveOfferTimeouts: c.MAX_CONSECUTIVE_OFFER_TIMEOUTS,
    ...(hours ? { hours } : {}),
  };
}

const hoursCache = new HoursCache();
let hoursRead: { at: number; hours: TierHours } | undefined;

/**
 * The active business hours (their version re-checked after BUSINESS_HOURS_CACHE_MS: an edit applies
 * within that). A per-replica cache of configuration, read on the wall clock; decisions take `at`.
 */
export async function activeHours(client: RoutingTx['client'] | RouterCtx['pool'], cacheMs: number): Promise<TierHours> {
  if (!hoursRead || Date.now() - hoursRead.at >= cacheMs) hoursRead = { at: Date.now(), hours: (await hoursCache.active(client)).hours };
  return hoursRead.hours;
}

/** The policy a routing transaction decides with: the configuration and the business hours in force (queue SLAs in business time). */
export async function routingPolicy(tx: RoutingTx): Promise<LifecyclePolicy> {
  return policyOf(tx.ctx.config, await activeHours(tx.client, tx.ctx.config.BUSINESS_HOURS_CACHE_MS));
}
