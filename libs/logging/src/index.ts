import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The one logger factory: JSON lines to stdout, service name on every line, and the usual
 * secret-bearing fields redacted so a misplaced log call cannot leak a key or signature.
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name: service,
    level,
    base: { service },
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
  });
}
