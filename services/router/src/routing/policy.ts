import { slaByTier, type RouterConfig } from '../config';
import type { LifecyclePolicy } from '../domain/lifecycle';

/** The lifecycle's parameters from the router's configuration. */
export function policyOf(c: RouterConfig): LifecyclePolicy {
  return {
    offerTimeoutMs: c.OFFER_TIMEOUT_MS,
    reopenWindowMs: c.REOPEN_WINDOW_MS,
    slaMsByTier: slaByTier(c),
    overflowMode: c.OVERFLOW_MODE,
    maxConsecutiveOfferTimeouts: c.MAX_CONSECUTIVE_OFFER_TIMEOUTS,
  };
}
