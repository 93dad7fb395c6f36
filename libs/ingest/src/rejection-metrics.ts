import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IngestMetrics } from './ingest-metrics';

const reasons = new WeakMap<object, string>();

/** Names why a request is being rejected (e.g. 'bad-signature'), for the rejected counter. */
export function markRejection(req: FastifyRequest, reason: string): void {
  reasons.set(req, reason);
}

/** Names the reason unless a more precise one was already marked. */
export function markRejectionIfUnset(req: FastifyRequest, reason: string): void {
  if (!reasons.has(req)) reasons.set(req, reason);
}

const BY_STATUS: Record<number, string> = { 400: 'malformed', 401: 'unauthenticated', 403: 'forbidden', 404: 'not-found', 413: 'too-large', 415: 'content-type', 503: 'unavailable' };

/**
 * Counts every 4xx/503 answer of the routes in this scope in ingest_messages_rejected_total, with
 * the reason a hook marked or one derived from the status, so no rejection path goes uncounted.
 */
export function countRejections(scope: FastifyInstance, metrics: IngestMetrics, labels: (req: FastifyRequest) => { channel: string; provider: string }): void {
  scope.addHook('onResponse', async (req, reply) => {
    const status = reply.statusCode;
    if ((status >= 400 && status < 500) || status === 503) metrics.rejected.inc({ ...labels(req), reason: reasons.get(req) ?? BY_STATUS[status] ?? `http-${status}` });
  });
}
