import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serviceAuth } from '@omni/auth';
import type { Logger } from '@omni/logging';
import { buildApp } from './app';
import { DEFAULT_DIST, ensureBuilt } from './build';
import type { ConsoleConfig } from './config';

/** Builds the web app if needed, then serves it (main.ts, tests and the bench). */
export async function start(config: ConsoleConfig, logger: Logger) {
  const auth = serviceAuth(config, logger);
  const log = (m: string) => logger.info(m);
  // A read-only install (the container image runs as a user who cannot write to /app) builds into
  // the temporary folder instead.
  const distDir =
    config.CONSOLE_DIST_DIR ||
    (await ensureBuilt(DEFAULT_DIST, log).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EACCES' && err.code !== 'EROFS' && err.code !== 'EPERM') throw err;
      return ensureBuilt(join(tmpdir(), 'omni-console-dist'), log);
    }));
  const app = await buildApp({ logger, auth: auth.http, routerUrl: config.ROUTER_URL, historyUrl: config.HISTORY_URL, knowledgeUrl: config.KNOWLEDGE_URL, distDir, pollMs: config.WALLBOARD_POLL_MS, kpiPollMs: config.WALLBOARD_KPI_POLL_MS });
  const url = await app.listen({ port: config.PORT, host: config.HOST });
  logger.info(`console listening on ${url}`);
  return { app, url, close: () => app.close() };
}
