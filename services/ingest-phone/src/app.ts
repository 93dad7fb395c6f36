import type { FastifyInstance } from 'fastify';
import { buildIngestApp, type IngestAppDeps, type IngestDeps } from '@omni/ingest';
import { registerTwilioRoutes, type TwilioSettings } from './routes/twilio';

/** The ingest-phone HTTP app; tests build it with real infrastructure and call it over HTTP. */
export async function buildApp(deps: IngestAppDeps, twilio: TwilioSettings): Promise<{ app: FastifyInstance; ingest: IngestDeps }> {
  return buildIngestApp('phone', deps, (app, ingest) => registerTwilioRoutes(app, ingest, twilio));
}
