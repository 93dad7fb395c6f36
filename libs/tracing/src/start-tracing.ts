/**
 * Starting the OpenTelemetry trace SDK, only when the standard OTEL_* variables ask for it.
 *
 * Everything else in the project talks to `@opentelemetry/api` only. Without a registered SDK the
 * API is a no-op, and the hooks in libs/kafka and libs/service check `tracingActive()` first, so a
 * service that was not asked to trace does not even build a span object. The SDK packages are
 * required here lazily, so they are not loaded at all then.
 */
let active = false;

/** True once startTracing registered an SDK in this process (the hooks skip all work otherwise). */
export function tracingActive(): boolean {
  return active;
}

/**
 * Whether the environment asks for traces: an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or OTEL_TRACES_EXPORTER=otlp|console, unless
 * OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. (The spec's default exporter is otlp, but
 * a service that nobody pointed anywhere should not try to send spans to localhost:4318.)
 */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  const exporters = exportersOf(env);
  if (exporters.includes('none')) return false;
  if (exporters.length > 0) return true;
  return !!(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

function exportersOf(env: NodeJS.ProcessEnv): string[] {
  return (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

export interface Tracing {
  /** Exports the spans ended so far. */
  forceFlush: () => Promise<void>;
  /** Ends the SDK: exports the spans still buffered (bounded by the exporter timeout). */
  shutdown: () => Promise<void>;
}

let started: Tracing | undefined;

/**
 * Registers the trace SDK for this process if `tracingRequested()`: a NodeTracerProvider (sampler
 * from OTEL_TRACES_SAMPLER, default parent-based always-on), a batch processor (OTEL_BSP_*) with the
 * OTLP/HTTP JSON exporter (OTEL_EXPORTER_OTLP_* endpoint, headers, timeout) or the console exporter,
 * W3C trace-context propagation, AsyncLocalStorage context, and spans for websocket frames.
 * `service.name` is the service's own name unless OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES say
 * otherwise. Returns undefined (and loads nothing) when tracing was not requested.
 */
export function startTracing(serviceName: string, opts: { exporter?: import('@opentelemetry/sdk-trace-base').SpanExporter } = {}): Tracing | undefined {
  if (started) return started;
  // the SDK reads its settings (endpoint, headers, batch sizes, sampler) from process.env itself
  const env = process.env;
  if (!tracingRequested(env)) return undefined;
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node') as typeof import('@opentelemetry/sdk-trace-node');
  const { BatchSpanProcessor, ConsoleSpanExporter } = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { defaultResource, detectResources, envDetector, resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const exporters = exportersOf(env);
  // (tests pass their own exporter: the OTLP one cannot send from inside a jest sandbox)
  const processors = opts.exporter
    ? [new BatchSpanProcessor(opts.exporter)]
    : (exporters.length ? exporters : ['otlp']).map((name) => (name === 'console' ? new BatchSpanProcessor(new ConsoleSpanExporter()) : new BatchSpanProcessor(new OTLPTraceExporter())));
  // later resources win: the env (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) over the service's name
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': serviceName, 'service.namespace': 'omni', 'process.pid': process.pid }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: processors });
  provider.register();
  patchWebSocket();
  active = true;
  started = {
    forceFlush: () => provider.forceFlush(),
    shutdown: async () => {
      active = false;
      started = undefined;
      await provider.shutdown().catch(() => undefined);
    },
  };
  return started;
}

/**
 * Websocket frames (agent consoles on the router, chat visitors on ingest-chat): `ws` has no
 * OpenTelemetry instrumentation, so its prototype is wrapped once, only when tracing started.
 * - a frame sent inside a traced operation (an offer, a customer message to an agent, a reply to a
 *   visitor) gets a `ws send <type>` span in that trace, so the trace shows when the frame left;
 * - a frame received (an agent's accept or reply, a visitor's message) starts a trace of its own
 *   (`ws receive <type>`), active while the listeners run, so what the command publishes or writes
 *   to an outbox continues it.
 */
function patchWebSocket(): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  let WebSocket: { prototype: object };
  try {
    WebSocket = require('ws');
  } catch {
    return;
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
  const proto = WebSocket.prototype as { send: (...args: unknown[]) => void; emit: (event: string | symbol, ...args: unknown[]) => boolean; __omniTraced?: boolean };
  if (proto.__omniTraced) return;
  const tracer = api.trace.getTracer('@omni/tracing');
  const frameType = (data: unknown): string => {
    const text = typeof data === 'string' ? data.slice(0, 200) : Buffer.isBuffer(data) ? data.subarray(0, 200).toString() : '';
    return /"type"\s*:\s*"([^"]{1,40})"/.exec(text)?.[1] ?? 'unknown';
  };
  const send = proto.send;
  proto.send = function tracedSend(this: unknown, data: unknown, ...rest: unknown[]) {
    // the operation's span may have ended already (the frame goes out after its commit): what
    // matters is that the frame belongs to a sampled trace
    const sc = api.trace.getSpanContext(api.context.active());
    if (!sc || !api.isSpanContextValid(sc) || !(sc.traceFlags & api.TraceFlags.SAMPLED)) return send.call(this, data, ...rest);
    const type = frameType(data);
    const span = tracer.startSpan(`ws send ${type}`, { kind: api.SpanKind.PRODUCER, attributes: { 'omni.frame.type': type, 'network.protocol.name': 'websocket' } });
    try {
      return send.call(this, data, ...rest);
    } finally {
      span.end();
    }
  };
  const emit = proto.emit;
  proto.emit = function tracedEmit(this: unknown, event: string | symbol, ...args: unknown[]) {
    if (event !== 'message') return emit.call(this, event, ...args);
    const type = frameType(args[0]);
    const span = tracer.startSpan(`ws receive ${type}`, { kind: api.SpanKind.CONSUMER, attributes: { 'omni.frame.type': type, 'network.protocol.name': 'websocket' } }, api.ROOT_CONTEXT);
    try {
      return api.context.with(api.trace.setSpan(api.ROOT_CONTEXT, span), () => emit.call(this, event, ...args));
    } finally {
      span.end();
    }
  };
  proto.__omniTraced = true;
}
