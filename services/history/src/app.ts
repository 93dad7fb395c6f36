import type { FastifyInstance } from 'fastify';
import type { Logger } from '@omni/logging';
import { createHttpApp, type Infra } from '@omni/service';
import { customerRoutes } from './routes/customers';

export interface HistoryAppDeps {
  infra: Pick<Infra, 'pool' | 'readiness'>;
  logger: Logger;
}

/** The history service's HTTP app: customers and their unified timeline. */
export async function buildApp(deps: HistoryAppDeps): Promise<FastifyInstance> {
  const app = await createHttpApp({ name: 'history', logger: deps.logger, readiness: deps.infra.readiness, description: 'Customers, unified timeline, KPIs' });
  await app.register(customerRoutes, { pool: deps.infra.pool });
  return app;
}
