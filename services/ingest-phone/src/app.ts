import type { FastifyInstance } from 'fastify';
import { buildIngestApp, type IngestAppDeps } from '@omni/ingest';

/** The ingest-phone HTTP app; tests build it with real infrastructure and call it over HTTP. */
export async function buildApp(deps: IngestAppDeps): Promise<{ app: FastifyInstance }> {
  return buildIngestApp('phone', deps);
}
