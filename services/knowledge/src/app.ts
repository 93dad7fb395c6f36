import type { FastifyInstance } from 'fastify';
import type { ServiceAuth } from '@omni/auth';
import type { Logger } from '@omni/logging';
import { createHttpApp, type Infra } from '@omni/service';
import type { HistoryClient } from './history-client';
import { articleRoutes } from './routes/articles';
import { cannedReplyRoutes } from './routes/canned-replies';
import { kpiRoutes } from './routes/kpis';
import { suggestionRoutes } from './routes/suggestions';

export interface KnowledgeAppDeps {
  infra: Pick<Infra, 'pool' | 'readiness'>;
  logger: Logger;
  auth: ServiceAuth['http'];
  history: HistoryClient;
  /** ARTICLE_LINK_TEMPLATE with {id} */
  articleLinkTemplate: string;
}

/** The knowledge service's HTTP app: articles, search, suggestions, canned replies, KPIs (roles per route: docs/access-control.md). */
export async function buildApp(deps: KnowledgeAppDeps): Promise<FastifyInstance> {
  const app = await createHttpApp({ name: 'knowledge', logger: deps.logger, readiness: deps.infra.readiness, description: 'Knowledge base, suggestions, canned replies', ...deps.auth });
  const articleLink = (id: string) => deps.articleLinkTemplate.replace('{id}', encodeURIComponent(id));
  const pool = deps.infra.pool;
  await app.register(articleRoutes, { pool, history: deps.history, articleLink });
  await app.register(suggestionRoutes, { pool, articleLink });
  await app.register(cannedReplyRoutes, { pool, articleLink });
  await app.register(kpiRoutes, { pool });
  return app;
}
