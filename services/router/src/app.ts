import type { FastifyInstance } from 'fastify';
import type { Logger } from '@omni/logging';
import { createHttpApp, type Infra } from '@omni/service';
import { conversationRoutes } from './routes/conversations';

export interface RouterAppDeps {
  infra: Pick<Infra, 'pool' | 'readiness'>;
  logger: Logger;
}

/** The router's HTTP app (admin REST; the agent websocket joins it later). */
export async function buildApp(deps: RouterAppDeps): Promise<FastifyInstance> {
  const app = await createHttpApp({ name: 'router', logger: deps.logger, readiness: deps.infra.readiness, description: 'Conversation routing: tiers, queues, agents' });
  await app.register(conversationRoutes, { pool: deps.infra.pool });
  return app;
}
