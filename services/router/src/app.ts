import type { FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { registerAuditRoute, type ServiceAuth } from '@omni/auth';
import type { Logger } from '@omni/logging';
import { createHttpApp, type Infra } from '@omni/service';
import type { AgentHub } from './agent-hub';
import { accountRoutes } from './routes/accounts';
import { adminAgentRoutes } from './routes/admin-agents';
import { adminRuleRoutes } from './routes/admin-rules';
import { agentSocketRoutes } from './routes/agent-ws';
import { authRoutes } from './routes/auth';
import { conversationRoutes } from './routes/conversations';
import { deadLetterRoutes } from './routes/dead-letters';
import { supervisionRoutes } from './routes/supervision';
import type { SessionSettings } from './store/accounts';
import type { RouterCtx } from './store/routing-tx';

export interface RouterAppDeps {
  infra: Pick<Infra, 'pool' | 'readiness'>;
  logger: Logger;
  ctx: RouterCtx;
  hub: AgentHub;
  auth: ServiceAuth['http'];
  session: SessionSettings;
  signInPerMinute: number;
}

/**
 * The router's HTTP app: sign-in and accounts, agents, rules, conversations, queues, supervision, dead letters,
 * the audit trail and the agent console websocket. Every route declares its roles (docs/access-control.md).
 */
export async function buildApp(deps: RouterAppDeps): Promise<FastifyInstance> {
  const app = await createHttpApp({ name: 'router', logger: deps.logger, readiness: deps.infra.readiness, description: 'Conversation routing: tiers, queues, agents', ...deps.auth });
  await app.register(websocket, { options: { maxPayload: 256 * 1024 } });
  await app.register(authRoutes, { pool: deps.infra.pool, session: deps.session, signInPerMinute: deps.signInPerMinute });
  await app.register(accountRoutes, { pool: deps.infra.pool });
  await app.register(conversationRoutes, { pool: deps.infra.pool });
  await app.register(adminAgentRoutes, { pool: deps.infra.pool, onChange: deps.ctx.kickMatcher });
  await app.register(adminRuleRoutes, { pool: deps.infra.pool });
  await app.register(deadLetterRoutes, { pool: deps.infra.pool });
  await app.register(supervisionRoutes, { ctx: deps.ctx });
  await app.register(agentSocketRoutes, { ctx: deps.ctx, hub: deps.hub });
  registerAuditRoute(app, deps.infra.pool, 'router');
  return app;
}
