/**
 * The kafkajs request-queue fix (src/kafkajs-idle-fix.ts) on kafkajs' own RequestQueue: no timer
 * when there is nothing to check, a timer as before when requests wait or a throttle runs.
 */
import { createRequire } from 'node:module';
import { kafkajsIdleFix } from '@omni/kafka';

const require_ = createRequire(__filename);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const RequestQueue = require_('kafkajs/src/network/requestQueue') as any;
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const queue = () => new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 30000, enforceRequestTimeout: false, clientId: 't', broker: 'b', logger: quiet });

describe('kafkajs request-queue idle fix', () => {
  it('is applied to the kafkajs this project pins', () => {
    expect(kafkajsIdleFix).toBe('applied');
  });

  it('an idle, unthrottled queue schedules no check (kafkajs 2.2.4 re-armed a 1 ms timer here forever)', () => {
    const q = queue();
    q.checkPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('a request waiting behind a full in-flight window is checked again in 10 ms', () => {
    const q = queue();
    q.inflight.set(1, {});
    q.pending.push({ correlationId: 2 });
    q.checkPendingRequests();
    expect(q.pending).toHaveLength(1);
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    clearTimeout(q.throttleCheckTimeoutId);
  });

  it('a throttled queue is checked when the throttle ends, pending or not', () => {
    for (const pending of [[], [{ correlationId: 3 }]]) {
      const q = queue();
      q.pending.push(...pending);
      q.throttledUntil = Date.now() + 60_000;
      q.checkPendingRequests();
      expect(q.throttleCheckTimeoutId).not.toBeNull();
      expect(q.pending).toHaveLength(pending.length);
      clearTimeout(q.throttleCheckTimeoutId);
    }
  });
});
