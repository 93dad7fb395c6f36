import Fastify, { LogController, type FastifyInstance, type FastifyError, type FastifyBaseLogger, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import AjvCompiler from '@fastify/ajv-compiler';
import { addContractKeywords, ContractError } from '@omni/contracts';
import { Registry, collectDefaultMetrics, Counter, Histogram } from 'prom-client';
import type { Logger } from '@omni/logging';
import { AppError, ERROR_STATUS, type FieldProblem } from './errors';
import { isDatabaseUnavailable } from '@omni/db';
import { installHttpTracing } from '@omni/tracing';

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

const strictCompilers = AjvCompiler();
const looseCompilers = AjvCompiler();

/** How much of an oversized body is read and thrown away so the client can read the 413 (see below). */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;
const DRAIN_LIMIT_MS = 10_000;

/**
 * Reads and discards the rest of a request body (up to a bound). A server that answers 413 and
 * closes while the client is still sending makes the kernel reset the connection, and the client sees
 * ECONNRESET instead of the 413 (the usual "lingering close" problem); a client that finishes sending
 * first reads the answer. Bounded in bytes and time so it cannot be used to hold a connection.
 */
function drainBody(req: Pick<FastifyRequest, 'raw'>): Promise<void> {
  const raw = req.raw;
  if (raw.complete || raw.destroyed || raw.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', done);
      raw.off('error', done);
      raw.off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > DRAIN_LIMIT_BYTES) done();
    };
    const timer = setTimeout(done, DRAIN_LIMIT_MS);
    raw.on('data', onData);
    raw.on('end', done);
    raw.on('error', done);
    raw.on('close', done);
    raw.resume();
  });
}

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
    ajv: { customOptions: { allErrors: true, removeAdditional: false, coerceTypes: 'array', useDefaults: true }, plugins: [addContractKeywords as never] },
    // No type coercion of bodies: `adapterMessageId: true` is a 400, not the string "true" (which made
    // two unrelated messages collide). Query strings, params and headers are text by nature and keep
    // ajv's coercion (`?limit=20` → 20). One compiler per kind, from fastify's own ajv compiler.
    schemaController: {
      compilersFactory: {
        buildValidator: ((externalSchemas: never, options: { customOptions?: Record<string, unknown> }) => {
          const text = looseCompilers(externalSchemas, options as never);
          const bodies = strictCompilers(externalSchemas, { ...options, customOptions: { ...options.customOptions, coerceTypes: false } } as never);
          return (route: { httpPart?: string }) => (route.httpPart === 'body' ? bodies : text)(route as never);
        }) as never,
      },
    },
  });
  // a span per request when OTEL_* started tracing (before any route, so every handler is wrapped)
  installHttpTracing(app);
  const registry = new Registry();
  registry.setDefaultLabels({ service: opts.name });
  // event-loop lag sampled every 100 ms, not prom-client's default 10 ms: a 10 ms timer alone costs an
  // idle process ~0.35 % of a core (measured, 20 s idle: 0.49 % vs 0.19 %); the lag percentiles stay meaningful
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
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
    if (err instanceof ContractError) {
      // the input passed the route's schema but the envelope made of it breaks the contract (a limit
      // the route does not repeat): still the caller's input, so a 400 naming the envelope field
      const fields = err.problems.map((p) => {
        const [path, ...rest] = p.split(': ');
        return { field: `envelope${(path ?? '').replace(/\//g, '.')}`.replace(/\.$/, ''), reason: rest.join(': ') || p };
      });
      return reply.status(400).send({ error: 'VALIDATION', message: fields.map((f) => `${f.field}: ${f.reason}`).join('; '), fields });
    }
    if ((fe as { code?: string }).code === 'KAFKA_REJECTED') {
      const tooLarge = (fe as unknown as { tooLarge?: boolean }).tooLarge === true;
      req.log.error({ err: fe.message }, 'kafka refused the record');
      return tooLarge
        ? reply.status(413).send({ error: 'PAYLOAD_TOO_LARGE', message: 'the message is larger than the broker accepts' })
        : reply.status(422).send({ error: 'UNPROCESSABLE', message: 'the broker refused the message' });
    }
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return drainBody(req as unknown as Pick<FastifyRequest, 'raw'>).then(() => reply.status(413).send({ error: 'PAYLOAD_TOO_LARGE', message: 'request body exceeds the size limit' }));
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
    if (isDatabaseUnavailable(fe)) {
      // PostgreSQL restarting or unreachable: infrastructure, not a bug; the caller retries
      req.log.warn({ err: fe.message }, 'database unavailable');
      reply.header('retry-after', '5');
      return reply.status(503).send({ error: 'UNAVAILABLE', message: 'database unavailable, retry later' });
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
