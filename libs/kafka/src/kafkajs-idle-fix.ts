import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 keeps every broker connection's request queue on a 1 ms timer forever: after each
 * check, `scheduleCheckPendingRequests` schedules the next one at `throttledUntil - now`, which is
 * negative when the connection is not throttled, even with nothing pending (kafkajs issues #1556 and
 * #1704; the fix of pull request #1667 is not released, and kafkajs has had no release since 2.2.4).
 * An idle service with a few connections spent ~2.5 % of a core in that loop (measured: an idle
 * consumer and producer, 20 s). The replacement below schedules a check only when there is
 * something to check: requests pending (at the end of the throttle, or 10 ms as before) or a
 * throttle to wait out. Nothing is lost by not polling: a request pushed later either goes out at
 * once or is queued, and queuing schedules a check (`push`); a fulfilled request checks the queue
 * (`fulfillRequest`).
 *
 * Applied once per process, only to the version it was written for (2.2.4); another version is left
 * as it is and `kafkajsIdleFix` says so.
 */
const require_ = createRequire(__filename);
const CHECK_PENDING_REQUESTS_INTERVAL = 10;

interface RequestQueueLike {
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

function scheduleCheckPendingRequests(this: RequestQueueLike): void {
  if (this.throttleCheckTimeoutId) return;
  const untilUnthrottled = this.throttledUntil - Date.now();
  let scheduleAt: number;
  if (this.pending.length > 0) scheduleAt = untilUnthrottled > 0 ? untilUnthrottled : CHECK_PENDING_REQUESTS_INTERVAL;
  else if (untilUnthrottled > 0) scheduleAt = untilUnthrottled;
  else return; // nothing pending, no throttle: the next push or fulfilled request checks
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, scheduleAt);
}

function apply(): 'applied' | `skipped: ${string}` {
  const version = (require_('kafkajs/package.json') as { version: string }).version;
  if (version !== '2.2.4') return `skipped: kafkajs ${version}, written for 2.2.4`;
  const RequestQueue = require_('kafkajs/src/network/requestQueue') as { prototype: RequestQueueLike };
  RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  return 'applied';
}

/** Whether the fix is in force in this process ('applied') or why not. */
export const kafkajsIdleFix = apply();
