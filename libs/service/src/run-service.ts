import closeWithGrace from 'close-with-grace';
import type { Logger } from '@omni/logging';
import { startTracing } from '@omni/tracing';

export interface Running {
  /** Closes consumers first, then the HTTP server, producer and pools. */
  close: () => Promise<void>;
}

/**
 * Entry-point wrapper for main.ts: starts the service, and on SIGTERM/SIGINT closes it once within
 * the grace period. A start-up failure (bad config, unreachable broker or database) ends the process
 * with exit code 1 and one log line naming the problem.
 */
export async function runService(name: string, logger: Logger, graceMs: number, start: () => Promise<Running>): Promise<void> {
  // OpenTelemetry only when the OTEL_* variables ask for it (before anything creates spans)
  const tracing = startTracing(name);
  if (tracing) logger.info({ endpoint: process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT, exporter: process.env.OTEL_TRACES_EXPORTER ?? 'otlp' }, 'tracing on: spans exported over OTLP');
  let running: Running;
  try {
    running = await start();
  } catch (err) {
    logger.fatal({ service: name }, `${name} failed to start: ${(err as Error).message}`);
    // flush pino before exiting
    logger.flush?.();
    setTimeout(() => process.exit(1), 50);
    return;
  }
  closeWithGrace({ delay: graceMs }, async ({ signal, err }) => {
    if (err) logger.error({ err }, `${name} shutting down after error`);
    else logger.info({ signal }, `${name} shutting down`);
    await running.close();
    await tracing?.shutdown();
  });
}
