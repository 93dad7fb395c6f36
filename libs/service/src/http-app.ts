import Fastify, { LogController, type FastifyInstance, type FastifyError, type FastifyBaseLogger } from 'fastify';
import swagger from '@fastify/swagger';
import { Registry, collectDefaultMetrics, Counter, Histogram } from 'prom-client';
import type { Logger } from '@omni/logging';
import { AppError, ERROR_STATUS, type FieldProblem } from './errors';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

export interface HttpAppOptions {
  name: string;
  logger: Logger;
  readiness?: ReadinessCheck[];
  bodyLimit?: number;
  /** OpenAPI info for @fastify/swagger */
  description?: string;
  /**
   * Installed before any route is added (libs/auth's routeGuard): it must refuse a route registered
   * without a `config.auth` declaration, so an undeclared route fails closed at start-up.
   */
  guard: (app: FastifyInstance) => Promise<void> | void;
  /** who may read /metrics and /openapi.json (route `config.auth` declarations; default public) */
  metricsAuth?: unknown;
  openapiAuth?: unknown;
  /** fastify trustProxy: addresses/CIDRs of the proxies whose X-Forwarded-For gives the client IP (per-IP limits, audit origin) */
  trustProxy?: string[];
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry;
  }
}

const ErrorBody = {
  $id: 'ErrorBody',
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', enum: Object.keys(ERROR_STATUS) },
    message: { type: 'string' },
    fields: { type: 'array', items: { type: 'object', required: ['field', 'reason'], properties: { field: { type: 'string' }, reason: { type: 'string' } } } },
  },
} as const;

/**
 * The fastify instance every service starts from: one error handler with a closed set of codes,
 * /healthz (process alive), /readyz (dependencies answer), /metrics (Prometheus), /openapi.json.
 */
export async function createHttpApp(opts: HttpAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger as unknown as FastifyBaseLogger,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    trustProxy: opts.trustProxy ?? false,
    // per-request info logs would print every webhook URL at info level; metrics cover traffic
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { allErrors: true, removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  });
  const registry = new Registry();
  registry.setDefaultLabels({ service: opts.name });
  collectDefaultMetrics({ register: registry });
  app.decorate('metrics', registry);
  await opts.guard(app);
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    latency.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  app.addSchema(ErrorBody);
  await app.register(swagger, { openapi: { info: { title: opts.name, version: '1', description: opts.description } } });

  app.setErrorHandler((err: FastifyError | AppError, req, reply) => {
    if (err instanceof AppError) {
      if (err.retryAfterSeconds) reply.header('retry-after', String(err.retryAfterSeconds));
      return reply.status(err.status).send({ error: err.code, message: err.message, ...(err.fields ? { fields: err.fields } : {}) });
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      const fields: FieldProblem[] = fe.validation.map((v) => {
        const missing = (v.params as { missingProperty?: string }).missingProperty;
        const extra = (v.params as { additionalProperty?: string }).additionalProperty;
        const base = `${fe.validationContext ?? 'body'}${v.instancePath.replace(/\//g, '.')}`;
        return { field: missing ? `${base}.${missing}` : extra ? `${base}.${extra}` : base, reason: v.message ?? v.keyword };
      });
      return reply.status(400).send({ error: 'VALIDATION', message: fields.map((f) => `${f.field}: ${f.reason}`).join('; '), fields });
    }
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return reply.status(413).send({ error: 'PAYLOAD_TOO_LARGE', message: 'request body exceeds the size limit' });
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return reply.status(415).send({ error: 'UNSUPPORTED_MEDIA_TYPE', message: `unsupported content-type ${req.headers['content-type'] ?? '(none)'}` });
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return reply.status(400).send({ error: 'VALIDATION', message: `body: ${fe.message}`, fields: [{ field: 'body', reason: fe.message }] });
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.status(fe.statusCode).send({ error: fe.statusCode === 404 ? 'NOT_FOUND' : 'VALIDATION', message: fe.message });
    }
    if ((fe as { code?: string }).code === 'KAFKA_UNAVAILABLE') {
      req.log.warn({ err: fe.message }, 'kafka unavailable');
      reply.header('retry-after', '5');
      return reply.status(503).send({ error: 'UNAVAILABLE', message: 'message broker unavailable, retry later' });
    }
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send({ error: 'INTERNAL', message: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` }));

  const open = { auth: { public: 'liveness and readiness probes' } as never };
  app.get('/healthz', { schema: { hide: true }, config: open }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true }, config: open }, async (_req, reply) => {
    const results: Record<string, string> = {};
    let ok = true;
    await Promise.all(
      (opts.readiness ?? []).map(async (c) => {
        try {
          await c.check();
          results[c.name] = 'ok';
        } catch (err) {
          ok = false;
          results[c.name] = (err as Error).message;
        }
      }),
    );
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not-ready', checks: results });
  });
  app.get('/metrics', { schema: { hide: true }, config: { auth: (opts.metricsAuth ?? { public: 'Prometheus scrape (METRICS_AUTH restricts it)' }) as never } }, async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  app.get('/openapi.json', { schema: { hide: true }, config: { auth: (opts.openapiAuth ?? { public: 'API description (OPENAPI_AUTH restricts it)' }) as never } }, async () => app.swagger());
  return app;
}
