import { createHmac, timingSafeEqual } from 'node:crypto';

/** Mailgun's webhook signature: hex HMAC-SHA256 keyed with the signing key over timestamp + token. */
export function mailgunSignature(signingKey: string, timestamp: string, token: string): string {
  return createHmac('sha256', signingKey).update(timestamp + token).digest('hex');
}

/** Constant-time check of a presented signature (any length, any case of hex). */
export function validMailgunSignature(signingKey: string, timestamp: string, token: string, signature: string): boolean {
  const expected = Buffer.from(mailgunSignature(signingKey, timestamp, token), 'utf8');
  const presented = Buffer.from(signature.toLowerCase(), 'utf8');
  return expected.length === presented.length && timingSafeEqual(expected, presented);
}

export type Freshness = { ok: true } | { ok: false; check: 'stale timestamp' | 'timestamp in the future' | 'timestamp not a number' };

/**
 * Whether a signed timestamp (Unix seconds) is recent: older than maxAgeS is a replay of an old
 * request, more than skewS ahead of our clock is forged or a broken clock.
 */
export function mailgunFreshness(timestamp: string, nowMs: number, maxAgeS: number, skewS: number): Freshness {
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, check: 'timestamp not a number' };
  const ageS = nowMs / 1000 - Number(timestamp);
  if (ageS > maxAgeS) return { ok: false, check: 'stale timestamp' };
  if (ageS < -skewS) return { ok: false, check: 'timestamp in the future' };
  return { ok: true };
}
