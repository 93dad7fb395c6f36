import type { FastifyInstance } from 'fastify';
import { declareRouteAuth, publicRoute } from '@omni/auth';
import { buildIngestApp, type IngestAppDeps } from '@omni/ingest';
import { registerMetaWebhook, type MetaWebhookOptions } from './routes/meta-webhook';

/** The ingest-social HTTP app; tests build it with real infrastructure and call it over HTTP. */
export async function buildApp(deps: IngestAppDeps, meta?: MetaWebhookOptions): Promise<{ app: FastifyInstance }> {
  return buildIngestApp('social', deps, async (app, ingest) => {
    // Without an app secret no Meta POST could be verified: leave the routes out (404) rather than accept unsigned traffic.
    if (meta?.appSecret)
      await app.register(async (scope) => {
        declareRouteAuth(scope, publicRoute('Meta webhook: hub.verify_token / X-Hub-Signature-256 checked by the routes'));
        await registerMetaWebhook(scope, ingest, meta);
      });
    else deps.logger.warn('META_APP_SECRET not set: Meta webhook routes disabled');
  });
}
