import { backoffDelayMs, classifyNetworkError, classifyResponse, decide, parseRetryAfter } from '../src/delivery/retry-policy';

const policy = { maxAttempts: 5, baseBackoffMs: 100, maxBackoffMs: 1000 };

describe('delivery retry policy', () => {
  it.each([
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 800],
    [5, 1000],
    [40, 1000],
  ])('attempt %i backs off with full jitter below %i ms', (attempt, ceiling) => {
    expect(backoffDelayMs(attempt, policy, () => 0)).toBe(0);
    expect(backoffDelayMs(attempt, policy, () => 0.999999)).toBe(ceiling - 1);
    expect(backoffDelayMs(attempt, policy, () => 0.5)).toBe(Math.floor(ceiling / 2));
  });

  it.each([
    ['120', 120_000],
    ['0', 0],
    [' 3 ', 3000],
    ['Wed, 21 Oct 2015 07:28:10 GMT', 10_000],
    ['Wed, 21 Oct 2015 07:27:00 GMT', 0],
    ['soon', undefined],
    ['', undefined],
    [null, undefined],
  ])('Retry-After %p is %p ms', (value, ms) => {
    expect(parseRetryAfter(value, Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(ms);
  });

  it.each([
    [200, 'delivered'],
    [202, 'delivered'],
    [204, 'delivered'],
    [301, 'permanent'],
    [400, 'permanent'],
    [401, 'permanent'],
    [404, 'permanent'],
    [409, 'permanent'],
    [422, 'permanent'],
    [408, 'transient'],
    [429, 'transient'],
    [500, 'transient'],
    [502, 'transient'],
    [503, 'transient'],
    [504, 'transient'],
  ])('HTTP %i is %s', (status, kind) => {
    expect(classifyResponse(status, null).kind).toBe(kind);
  });

  it('keeps the Retry-After of a 429 or 503', () => {
    expect(classifyResponse(429, '2')).toEqual({ kind: 'transient', reason: 'adapter answered HTTP 429', retryAfterMs: 2000 });
    expect(classifyResponse(503, '1')).toMatchObject({ retryAfterMs: 1000 });
  });

  it('treats timeouts and refused connections as transient', () => {
    const timeout = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
    expect(classifyNetworkError(timeout)).toEqual({ kind: 'transient', reason: 'adapter did not answer in time' });
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    expect(classifyNetworkError(refused)).toEqual({ kind: 'transient', reason: 'adapter unreachable: ECONNREFUSED' });
  });

  it('decides: delivered, retry with backoff, Retry-After as a floor above the ceiling, give up, permanent', () => {
    expect(decide({ kind: 'delivered', providerMessageId: 'SM1' }, 1, policy)).toEqual({ status: 'delivered', providerMessageId: 'SM1' });
    expect(decide({ kind: 'transient', reason: 'x' }, 2, policy, () => 0.5)).toEqual({ status: 'retrying', delayMs: 100, reason: 'x' });
    expect(decide({ kind: 'transient', reason: 'x', retryAfterMs: 5000 }, 1, policy, () => 0.5)).toEqual({ status: 'retrying', delayMs: 5000, reason: 'x' });
    expect(decide({ kind: 'transient', reason: 'x' }, 5, policy)).toEqual({ status: 'failed', reason: 'gave up after 5 attempts: x' });
    expect(decide({ kind: 'permanent', reason: 'HTTP 400' }, 1, policy)).toEqual({ status: 'failed', reason: 'HTTP 400' });
  });
});
