import type { FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import type { Logger } from '@omni/logging';
import { createHttpApp, type Infra } from '@omni/service';
import type { AgentHub } from './agent-hub';
import { registerJwt } from './auth/jwt-auth';
import { adminAgentRoutes } from './routes/admin-agents';
import { adminRuleRoutes } from './routes/admin-rules';
import { agentSocketRoutes } from './routes/agent-ws';
import { conversationRoutes } from './routes/conversations';
import { deadLetterRoutes } from './routes/dead-letters';
import type { RouterCtx } from './store/routing-tx';

export interface RouterAppDeps {
  infra: Pick<Infra, 'pool' | 'readiness'>;
  logger: Logger;
  ctx: RouterCtx;
  hub: AgentHub;
  jwtSecret: string;
}

/** The router's HTTP app: admin REST (agents, rules, conversations, queues, dead letters) and the agent console websocket. */
export async function buildApp(deps: RouterAppDeps): Promise<FastifyInstance> {
  const app = await createHttpApp({ name: 'router', logger: deps.logger, readiness: deps.infra.readiness, description: 'Conversation routing: tiers, queues, agents' });
  await registerJwt(app, deps.jwtSecret);
  await app.register(websocket, { options: { maxPayload: 256 * 1024 } });
  await app.register(conversationRoutes, { pool: deps.infra.pool });
  await app.register(adminAgentRoutes, { pool: deps.infra.pool, onChange: deps.ctx.kickMatcher });
  await app.register(adminRuleRoutes, { pool: deps.infra.pool });
  await app.register(deadLetterRoutes, { pool: deps.infra.pool });
  await app.register(agentSocketRoutes, { ctx: deps.ctx, hub: deps.hub });
  return app;
}
