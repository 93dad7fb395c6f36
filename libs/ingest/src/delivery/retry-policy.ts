/** What one delivery attempt came to, as the retry policy sees it. */
export type AttemptOutcome =
  | { kind: 'delivered'; providerMessageId?: string }
  | { kind: 'transient'; reason: string; retryAfterMs?: number }
  | { kind: 'permanent'; reason: string };

/** What to do after an attempt: the state change and the status event it implies. */
export type Decision =
  | { status: 'delivered'; providerMessageId?: string }
  | { status: 'retrying'; delayMs: number; reason: string }
  | { status: 'failed'; reason: string };

export interface RetryPolicy {
  maxAttempts: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
}

/**
 * Exponential backoff with full jitter (a uniform delay in [0, min(max, base·2^(attempt-1))]): replicas
 * and conversations retrying against the same adapter spread out instead of arriving in waves.
 */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.baseBackoffMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.floor(random() * ceiling);
}

/**
 * Retry-After as milliseconds from `now`: either delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
 * Undefined when absent or unparseable; a date in the past means "now" (0).
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

// 408 Request Timeout and 429 Too Many Requests say "later", every other 4xx says "never".
const RETRYABLE_4XX = new Set([408, 429]);

/** Classifies an HTTP answer from a delivery target. */
export function classifyResponse(status: number, retryAfter: string | null, now = Date.now()): AttemptOutcome {
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  const reason = `adapter answered HTTP ${status}`;
  if (status >= 500 || RETRYABLE_4XX.has(status)) {
    const retryAfterMs = parseRetryAfter(retryAfter, now);
    return retryAfterMs === undefined ? { kind: 'transient', reason } : { kind: 'transient', reason, retryAfterMs };
  }
  if (status >= 300 && status < 400) return { kind: 'permanent', reason: `${reason} (redirects are not followed; configure the final URL)` };
  return { kind: 'permanent', reason };
}

/** Classifies a request that got no HTTP answer (timeout, refused, reset, DNS): always transient. */
export function classifyNetworkError(err: unknown): AttemptOutcome {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return { kind: 'transient', reason: 'adapter did not answer in time' };
  const code = e?.cause?.code;
  return { kind: 'transient', reason: `adapter unreachable: ${code ?? e?.cause?.message ?? e?.message ?? 'network error'}` };
}

/**
 * The decision after attempt number `attempt` (1-based). A Retry-After is honoured as a floor on the
 * delay, even above the backoff ceiling: the adapter knows its own limits better than we do.
 */
export function decide(outcome: AttemptOutcome, attempt: number, policy: RetryPolicy, random: () => number = Math.random): Decision {
  if (outcome.kind === 'delivered') return outcome.providerMessageId ? { status: 'delivered', providerMessageId: outcome.providerMessageId } : { status: 'delivered' };
  if (outcome.kind === 'permanent') return { status: 'failed', reason: outcome.reason };
  if (attempt >= policy.maxAttempts) return { status: 'failed', reason: `gave up after ${attempt} attempts: ${outcome.reason}` };
  const delayMs = Math.max(outcome.retryAfterMs ?? 0, backoffDelayMs(attempt, policy, random));
  return { status: 'retrying', delayMs, reason: outcome.reason };
}
