import type { IngestAppDeps } from '@omni/ingest';
import type { EmailConfig } from './config';
import { buildApp } from './app';

/** Builds ingest-email from its config and connected infrastructure (called by main.ts and tests). */
export async function start(_config: EmailConfig, deps: IngestAppDeps) {
  return buildApp(deps);
}
