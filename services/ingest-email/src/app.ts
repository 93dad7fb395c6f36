import { declareRouteAuth, publicRoute } from '@omni/auth';
import type { FastifyInstance } from 'fastify';
import { buildIngestApp, type IngestAppDeps, type IngestDeps } from '@omni/ingest';
import { registerInboundEmailRoutes, type EmailRouteSettings } from './routes/inbound-email';

/** The ingest-email HTTP app; tests build it with real infrastructure and call it over HTTP. */
export async function buildApp(deps: IngestAppDeps, settings: Omit<EmailRouteSettings, 'apiKeys'>): Promise<{ app: FastifyInstance; ingest: IngestDeps }> {
  return buildIngestApp('email', deps, async (app, ingest) => {
    await app.register(async (scope) => {
      declareRouteAuth(scope, publicRoute('email provider webhook: basic auth, Mailgun signature or adapter API key checked by the routes'));
      await registerInboundEmailRoutes(scope, ingest, { ...settings, apiKeys: deps.apiKeys });
    });
  });
}
