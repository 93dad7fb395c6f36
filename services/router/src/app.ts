import type { FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { cleanFreeform } from '@omni/contracts';
import { registerAuditRoute, type ServiceAuth } from '@omni/auth';
import type { Logger } from '@omni/logging';
import { createHttpApp, type Infra } from '@omni/service';
import type { AgentHub } from './agent-hub';
import { accountRoutes } from './routes/accounts';
import { adminAgentRoutes } from './routes/admin-agents';
import { presenceReasonRoutes } from './routes/admin-presence-reasons';
import { adminRuleRoutes } from './routes/admin-rules';
import { agentSocketRoutes } from './routes/agent-ws';
import { authRoutes } from './routes/auth';
import { conversationRoutes } from './routes/conversations';
import { ageingOf } from './routing/matching';
import { adminBusinessHoursRoutes } from './routes/admin-business-hours';
import { whyWaitingRoutes } from './routes/why-waiting';
import { deadLetterRoutes } from './routes/dead-letters';
import { supervisionRoutes } from './routes/supervision';
import { ReplayJobs } from './replay/jobs';
import { adminReplayRoutes } from './replay/routes';
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
  /** background replays (docs/replay.md); by default each runs `npm run replay`'s CLI as a child process with this process's environment */
  replayJobs?: ReplayJobs;
}

/** Largest agent console frame (docs/agent-protocol.md); a larger one closes the socket with 1009. */
export const AGENT_WS_MAX_FRAME_BYTES = 2 * 1024 * 1024;

/**
 * The router's HTTP app: sign-in and accounts, agents, rules, conversations, queues, supervision, dead letters,
 * the audit trail and the agent console websocket. Every route declares its roles (docs/access-control.md).
 */
export async function buildApp(deps: RouterAppDeps): Promise<FastifyInstance> {
  const app = await createHttpApp({ name: 'router', logger: deps.logger, readiness: deps.infra.readiness, description: 'Conversation routing: tiers, queues, agents', ...deps.auth });
  // The agent console's frame limit fits the largest valid command: a reply of 100,000 code points,
  // each of which JSON may escape to 12 bytes (a surrogate pair as two \uXXXX escapes), plus its
  // subject and ids. At 256 KiB a valid 100k-character reply closed the console with 1009.
  await app.register(websocket, { options: { maxPayload: AGENT_WS_MAX_FRAME_BYTES } });
  // Admin bodies (names, notes, skills, proficiency keys, replay configurations) are stored in text
  // and jsonb columns, which cannot hold NUL or an unpaired surrogate: cleaned to U+FFFD before
  // validation, as the contract's clean step does for every envelope (docs/input-rules.md). Ids in
  // paths keep their refusing patterns.
  app.addHook('preValidation', async (req) => {
    if (req.url.startsWith('/v1/admin/') && req.body !== null && typeof req.body === 'object') req.body = cleanFreeform(req.body).value;
  });
  await app.register(authRoutes, { pool: deps.infra.pool, session: deps.session, signInPerMinute: deps.signInPerMinute });
  await app.register(accountRoutes, { pool: deps.infra.pool });
  await app.register(conversationRoutes, { pool: deps.infra.pool, ageing: ageingOf(deps.ctx.config) });
  await app.register(adminAgentRoutes, { pool: deps.infra.pool, onChange: deps.ctx.kickMatcher, topics: deps.ctx.topics, onEvent: deps.ctx.kickRelay });
  // replay jobs and their reports are rows (router.replay_jobs); the rules and hours drafts wait for them
  // (the child replay reads the same database, topics and settings as this router: its config as env)
  const configEnv = Object.fromEntries(Object.entries(deps.ctx.config).flatMap(([k, v]) => (['string', 'number', 'boolean'].includes(typeof v) ? [[k, String(v)]] : [])));
  const replayJobs = deps.replayJobs ?? new ReplayJobs({ env: { ...process.env, ...configEnv }, pool: deps.infra.pool, staleMs: deps.ctx.config.REPLAY_JOB_STALE_MS });
  await app.register(adminRuleRoutes, { pool: deps.infra.pool, replayJobs });
  await app.register(whyWaitingRoutes, { pool: deps.infra.pool });
  await app.register(adminBusinessHoursRoutes, { pool: deps.infra.pool, replayJobs });
  await app.register(presenceReasonRoutes, { pool: deps.infra.pool });
  await app.register(deadLetterRoutes, { pool: deps.infra.pool });
  await app.register(supervisionRoutes, { ctx: deps.ctx });
  await app.register(agentSocketRoutes, { ctx: deps.ctx, hub: deps.hub });
  await app.register(adminReplayRoutes, { jobs: replayJobs });
  registerAuditRoute(app, deps.infra.pool, 'router');
  return app;
}
