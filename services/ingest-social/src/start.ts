import type { IngestAppDeps } from '@omni/ingest';
import type { SocialConfig } from './config';
import { buildApp } from './app';

/** Builds ingest-social from its config and connected infrastructure (called by main.ts and tests). */
export async function start(_config: SocialConfig, deps: IngestAppDeps) {
  return buildApp(deps);
}
