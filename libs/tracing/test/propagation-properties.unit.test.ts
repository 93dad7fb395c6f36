/**
 * The trace context comes from outside at three boundaries: a caller's `traceparent`/`tracestate`
 * HTTP headers, Kafka record headers (anyone who can produce to a topic), and the `$trace` key of an
 * outbox row. Whatever arrives there, the request is answered as without tracing, nothing throws,
 * and a span either continues a well-formed sampled context or starts a new trace. The SDK is real
 * (startTracing) with an in-memory exporter: the OTLP/HTTP exporter does not send from inside a jest
 * sandbox (test/tracing.int.test.ts covers it with the services as processes).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import { contextFrom, installHttpTracing, startTracing, tracingActive, type Tracing } from '@omni/tracing';
import { splitOutboxTrace, OUTBOX_TRACE_KEY } from '@omni/kafka';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { hostileString } from '../../../test/support/hostile-arbitraries';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 150);
const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const nonZero = (n: number) => hex(n).filter((s) => /[1-9a-f]/.test(s));
/** a well-formed, sampled W3C traceparent */
const validParent = fc.tuple(nonZero(32), nonZero(16)).map(([t, s]) => ({ header: `00-${t}-${s}-01`, traceId: t, spanId: s }));
/** header values an HTTP client can send: printable ASCII, near-misses of the format, hostile text made header-safe */
const headerSafe = (s: string) => s.replace(/[^\x20-\x7e\t]/g, '?');
const garbage = fc.oneof(
  fc.string({ maxLength: 120 }).map(headerSafe),
  hostileString.map((s) => headerSafe(s).slice(0, 2000)),
  validParent.map((p) => p.header.replace(/^00/, 'ff')),
  validParent.map((p) => p.header.slice(0, -3)),
  validParent.map((p) => `00-${'0'.repeat(32)}-${p.spanId}-01`),
  validParent.map((p) => `00-${p.traceId}-${'0'.repeat(16)}-01`),
  validParent.map((p) => p.header.toUpperCase().replace(/^00/, '00')),
);

describe('trace context from outside', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing | undefined;
  let app: FastifyInstance;
  let url: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    process.env.OTEL_TRACES_EXPORTER = 'otlp';
    tracing = startTracing('properties', { exporter });
    expect(tracingActive()).toBe(true);
    app = Fastify();
    installHttpTracing(app);
    app.get('/echo/:i', async (req) => ({ i: (req.params as { i: string }).i, traced: isSpanContextValid(trace.getSpanContext(context.active()) ?? { traceId: '', spanId: '', traceFlags: 0 }) }));
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await app?.close();
    await tracing?.shutdown();
    trace.disable();
    context.disable();
    process.env = saved;
  });

  it('answers every request as usual; a valid sampled traceparent is continued, anything else starts a new trace', async () => {
    const sent = new Map<string, { kind: 'valid'; traceId: string; spanId: string } | { kind: 'garbage' }>();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(validParent.map((p) => ({ kind: 'valid' as const, ...p })), garbage.map((g) => ({ kind: 'garbage' as const, header: g }))), fc.option(fc.string({ maxLength: 60 }).map(headerSafe)), async (tp, state) => {
        const i = String(++n);
        const res = await fetch(`${url}/echo/${i}`, { headers: { traceparent: tp.header, ...(state !== null ? { tracestate: state } : {}) } });
        expect(res.status).toBe(200);
        // the handler ran inside the request's span
        expect(await res.json()).toEqual({ i, traced: true });
        sent.set(`/echo/${i}`, tp.kind === 'valid' ? { kind: 'valid', traceId: tp.traceId, spanId: tp.spanId } : { kind: 'garbage' });
      }),
      { numRuns: RUNS },
    );
    await tracing!.forceFlush();
    const spans = new Map(exporter.getFinishedSpans().map((s) => [String(s.attributes['url.path']), s]));
    expect(spans.size).toBe(sent.size);
    for (const [path, expected] of sent) {
      const span = spans.get(path)!;
      expect(span.spanContext().traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
      expect(span.spanContext().spanId).toMatch(/^(?!0{16})[0-9a-f]{16}$/);
      expect(span.attributes['http.response.status_code']).toBe(200);
      if (expected.kind === 'valid') {
        expect(span.spanContext().traceId).toBe(expected.traceId);
        expect(span.parentSpanContext?.spanId).toBe(expected.spanId);
      } else expect(span.parentSpanContext).toBeUndefined();
    }
  });

  it('reads any Kafka headers without throwing, giving a valid context or none', () => {
    const value = fc.oneof(fc.string({ maxLength: 80 }), hostileString.map((s) => s.slice(0, 500)), fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)), validParent.map((p) => p.header));
    const headers = fc.dictionary(fc.oneof(fc.constantFrom('traceparent', 'tracestate', 'baggage'), fc.string({ maxLength: 12 })), fc.oneof(value, fc.array(value, { maxLength: 3 }), fc.constant(undefined)), { maxKeys: 5 });
    fc.assert(
      fc.property(headers, fc.option(validParent), (h, parent) => {
        const carrier = parent ? { ...h, traceparent: Buffer.from(parent.header) } : h;
        const sc = trace.getSpanContext(contextFrom(carrier as never));
        if (sc) expect(isSpanContextValid(sc)).toBe(true);
        if (parent) expect(sc).toMatchObject({ traceId: parent.traceId, spanId: parent.spanId, isRemote: true });
      }),
      { numRuns: RUNS * 4 },
    );
  });

  it("takes the trace out of any outbox row value and leaves the envelope's fields as they were", () => {
    const rowValue = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.tuple(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }), fc.oneof(fc.jsonValue({ maxDepth: 2 }), validParent.map((p) => ({ traceparent: p.header })))).map(([o, t]) => ({ ...o, [OUTBOX_TRACE_KEY]: t })),
    );
    fc.assert(
      fc.property(rowValue, (v) => {
        const { value, trace: carrier } = splitOutboxTrace(v);
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
          const { [OUTBOX_TRACE_KEY]: _dropped, ...rest } = v as Record<string, unknown>;
          expect(value).toEqual(rest);
        } else expect(value).toEqual(v);
        const sc = trace.getSpanContext(contextFrom(carrier));
        if (sc) expect(isSpanContextValid(sc)).toBe(true);
      }),
      { numRuns: RUNS * 4 },
    );
  });
});
