/**
 * Spans and W3C trace-context propagation for the Kafka hops (libs/kafka calls these). Every
 * function returns at once, without building anything, when tracing did not start.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapGetter } from '@opentelemetry/api';
import { tracingActive } from './start-tracing';

/** Kafka record headers as kafkajs gives them (values are Buffers when read, strings when written). */
export type KafkaHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

const kafkaGetter: TextMapGetter<KafkaHeaders> = {
  keys: (carrier) => Object.keys(carrier ?? {}),
  get: (carrier, key) => {
    const v = carrier?.[key];
    const one = Array.isArray(v) ? v[0] : v;
    return one === undefined ? undefined : one.toString();
  },
};

const tracer = () => trace.getTracer('@omni/kafka');

/** The W3C headers (`traceparent`, `tracestate`) of the active context, or undefined if there is none. */
export function activeTraceHeaders(ctx: Context = context.active()): Record<string, string> | undefined {
  if (!tracingActive()) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent ? carrier : undefined;
}

/** The context W3C headers (from a Kafka record, an outbox row) continue. */
export function contextFrom(carrier: KafkaHeaders | Record<string, string> | undefined | null, base: Context = ROOT_CONTEXT): Context {
  return carrier ? propagation.extract(base, carrier, kafkaGetter as TextMapGetter<unknown>) : base;
}

/**
 * A producer span for one publish() call (under the active context) and the headers that carry it
 * into the records; undefined when tracing is off.
 */
export function startSendSpan(topics: string[], records: number): { span: Span; headers: Record<string, string> } | undefined {
  if (!tracingActive()) return undefined;
  const names = [...new Set(topics)];
  const span = tracer().startSpan(`send ${names.join(' ')}`, {
    kind: SpanKind.PRODUCER,
    attributes: { 'messaging.system': 'kafka', 'messaging.operation.type': 'send', 'messaging.destination.name': names.join(','), 'messaging.batch.message_count': records },
  });
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), headers);
  return { span, headers };
}

/** A consumer span for one received record, a child of the context in its headers. */
export function startProcessSpan(m: { topic: string; partition: number; offset: string; groupId: string; headers?: KafkaHeaders }): Span | undefined {
  if (!tracingActive()) return undefined;
  return tracer().startSpan(
    `process ${m.topic}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'process',
        'messaging.destination.name': m.topic,
        'messaging.destination.partition.id': String(m.partition),
        'messaging.kafka.offset': Number(m.offset),
        'messaging.consumer.group.name': m.groupId,
      },
    },
    contextFrom(m.headers),
  );
}

/**
 * The span a handler of several records runs in: linked to each record's span (the work of a batch
 * cannot be split between the records' traces, so it gets its own trace with links to them).
 */
export function startBatchSpan(topic: string, groupId: string, spans: Span[]): Span {
  return tracer().startSpan(
    `process ${topic} batch`,
    {
      kind: SpanKind.CONSUMER,
      links: spans.map((s) => ({ context: s.spanContext() })),
      attributes: { 'messaging.system': 'kafka', 'messaging.operation.type': 'process', 'messaging.destination.name': topic, 'messaging.consumer.group.name': groupId, 'messaging.batch.message_count': spans.length },
    },
    ROOT_CONTEXT,
  );
}

/** An internal span (e.g. the outbox wait), child of `parent`, optionally starting in the past. */
export function startInternalSpan(name: string, parent: Context, startTime?: Date, attributes: Record<string, string | number> = {}): Span | undefined {
  if (!tracingActive()) return undefined;
  return tracer().startSpan(name, { kind: SpanKind.INTERNAL, attributes, ...(startTime ? { startTime } : {}) }, parent);
}

/** Runs fn with the span active (fn alone when there is no span). */
export function withSpan<T>(span: Span | undefined, fn: () => T): T {
  return span ? context.with(trace.setSpan(context.active(), span), fn) : fn();
}

/** Ends the span, marking it failed with the error if there is one. */
export function endSpan(span: Span | undefined, err?: unknown): void {
  if (!span) return;
  if (err !== undefined) {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
  }
  span.end();
}

/** Ends the span when the promise settles (failed if it rejects); returns the promise. */
export function endWith<T>(span: Span | undefined, p: Promise<T>): Promise<T> {
  if (!span) return p;
  return p.then(
    (v) => {
      endSpan(span);
      return v;
    },
    (err: unknown) => {
      endSpan(span, err);
      throw err;
    },
  );
}
