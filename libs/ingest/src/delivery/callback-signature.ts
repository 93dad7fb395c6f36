import { createHmac } from 'node:crypto';

/**
 * The signature header of a delivery callback: `v1=<hex HMAC-SHA256(secret, timestamp + "." + rawBody)>`.
 * Signing the timestamp with the body lets the receiver reject replays older than its max age.
 */
export function signCallback(secret: string, timestampSeconds: number, rawBody: string): string {
  return 'v1=' + createHmac('sha256', secret).update(`${timestampSeconds}.${rawBody}`).digest('hex');
}

/** The headers of one signed callback POST. */
export function callbackHeaders(secret: string, outboundId: string, rawBody: string, now = Date.now()): Record<string, string> {
  const ts = Math.floor(now / 1000);
  return {
    'content-type': 'application/json',
    'x-omni-timestamp': String(ts),
    'x-omni-signature': signCallback(secret, ts, rawBody),
    'idempotency-key': outboundId,
  };
}
