import type { FastifyInstance } from 'fastify';
import { declareRouteAuth, publicRoute } from '@omni/auth';
import { buildIngestApp, type IngestAppDeps, type IngestDeps } from '@omni/ingest';
import { registerTwilioRoutes, type TwilioSettings } from './routes/twilio';

/** The ingest-phone HTTP app; tests build it with real infrastructure and call it over HTTP. */
export async function buildApp(deps: IngestAppDeps, twilio: TwilioSettings): Promise<{ app: FastifyInstance; ingest: IngestDeps }> {
  return buildIngestApp('phone', deps, async (app, ingest) => {
    await app.register(async (scope) => {
      declareRouteAuth(scope, publicRoute('Twilio webhook: X-Twilio-Signature checked by the routes'));
      await registerTwilioRoutes(scope, ingest, twilio);
    });
  });
}
