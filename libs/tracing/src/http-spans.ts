import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { tracingActive } from './start-tracing';

const kSpan = Symbol('omni.trace.span');
const kContext = Symbol('omni.trace.context');
type Traced = FastifyRequest & { [kSpan]?: Span; [kContext]?: Context };

/**
 * A server span per HTTP request (continuing a `traceparent` header), active in the route handler
 * so what the handler publishes to Kafka and logs carries the trace. Call before any route is added;
 * does nothing when tracing did not start. Websocket upgrades get no request span (it would last as
 * long as the socket); the frames sent inside a traced operation get their own spans.
 */
export function installHttpTracing(app: FastifyInstance): void {
  if (!tracingActive()) return;
  const tracer = trace.getTracer('@omni/service');
  // The handler runs after the body was read, outside the onRequest hook's async context, so each
  // handler is entered in the request's context explicitly.
  app.addHook('onRoute', (route: RouteOptions) => {
    const handler = route.handler;
    route.handler = function tracedHandler(this: unknown, req, reply) {
      const ctx = (req as Traced)[kContext];
      return ctx ? context.with(ctx, () => handler.call(this as never, req, reply)) : handler.call(this as never, req, reply);
    };
  });
  app.addHook('onRequest', (req, _reply, done) => {
    if (req.headers.upgrade) return done();
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const route = req.routeOptions.url;
    const span = tracer.startSpan(
      `${req.method} ${route ?? 'unmatched'}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': req.method, 'url.path': req.url.split('?')[0] ?? '', ...(route ? { 'http.route': route } : {}) },
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    (req as Traced)[kSpan] = span;
    (req as Traced)[kContext] = ctx;
    context.with(ctx, done);
  });
  app.addHook('onError', (req, _reply, err, done) => {
    (req as Traced)[kSpan]?.recordException(err);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    const span = (req as Traced)[kSpan];
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}
