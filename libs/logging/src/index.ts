import pino, { type Logger } from 'pino';
import { context, isSpanContextValid, trace } from '@opentelemetry/api';

export type { Logger };

/**
 * The one logger factory: JSON lines to stdout, service name on every line, and the usual
 * secret-bearing fields redacted so a misplaced log call cannot leak a key or signature.
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name: service,
    level,
    base: { service },
    mixin: traceFields,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'req.headers["x-twilio-signature"]',
        'req.headers["x-hub-signature-256"]',
        'req.headers.cookie',
        '*.password',
        '*.secret',
        '*.token',
        '*.apiKey',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * trace_id and span_id of the active span on every log line written inside a traced operation, so
 * a log line leads to its trace. Without a trace SDK the API's context is always empty: one lookup.
 * (A new object each time: pino merges the line's own fields into what the mixin returns.)
 */
function traceFields(): object {
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const sc = span.spanContext();
  return isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}
