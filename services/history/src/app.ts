import type { FastifyInstance } from 'fastify';
import type { TopicNames } from '@omni/contracts';
import type { OutboxRelay } from '@omni/kafka';
import { registerAuditRoute, type ServiceAuth } from '@omni/auth';
import type { Logger } from '@omni/logging';
import { createHttpApp, type Infra } from '@omni/service';
import { customerRoutes } from './routes/customers';
import { mergeRoutes } from './routes/merges';
import { conversationRoutes } from './routes/conversations';
import { kpiRoutes, type KpiRouteOptions } from './routes/kpis';
import { erasureRoutes } from './routes/erasure';
import type { ErasureDeps } from './store/erasure';

export interface HistoryAppDeps {
  infra: Pick<Infra, 'pool' | 'readiness'> & { topics: Pick<TopicNames, 'customers' | 'erasures'> };
  logger: Logger;
  relay?: Pick<OutboxRelay, 'kick'>;
  recontactDays: number;
  /** SLA targets, the router's calendars, the knowledge KPIs (each optional: absent = that part unavailable) */
  kpis?: Pick<KpiRouteOptions, 'calendars' | 'knowledge'> & { sla?: KpiRouteOptions['sla'] };
  auth: ServiceAuth['http'];
  /** the HS256 key in use (derives the CSAT token key) */
  jwtSecret: string;
  /** publishes tombstones on the compacted customers topic (erasure); absent = no erase route */
  tombstone?: ErasureDeps['tombstone'];
}

/** The history service's HTTP app: customers, merges, the unified timeline, transcripts, KPIs, CSAT, the audit trail (roles per route: docs/access-control.md). */
export async function buildApp(deps: HistoryAppDeps): Promise<FastifyInstance> {
  const app = await createHttpApp({ name: 'history', logger: deps.logger, readiness: deps.infra.readiness, description: 'Customers, unified timeline, KPIs', ...deps.auth });
  const routeDeps = { pool: deps.infra.pool, customersTopic: deps.infra.topics.customers, ...(deps.relay ? { relay: deps.relay } : {}) };
  await app.register(customerRoutes, routeDeps);
  await app.register(mergeRoutes, routeDeps);
  await app.register(conversationRoutes, { pool: deps.infra.pool, jwtSecret: deps.jwtSecret });
  await app.register(kpiRoutes, { pool: deps.infra.pool, recontactDays: deps.recontactDays, sla: { firstResponseMs: 3_600_000, resolutionMs: 28_800_000 }, ...deps.kpis });
  if (deps.tombstone)
    await app.register(erasureRoutes, {
      pool: deps.infra.pool,
      customersTopic: deps.infra.topics.customers,
      erasuresTopic: deps.infra.topics.erasures,
      tombstone: deps.tombstone,
      ...(deps.relay ? { kickRelay: () => deps.relay!.kick() } : {}),
    });
  registerAuditRoute(app, deps.infra.pool, 'history');
  return app;
}
