import type { IngestAppDeps } from '@omni/ingest';
import type { PhoneConfig } from './config';
import { buildApp } from './app';

/** Builds ingest-phone from its config and connected infrastructure (called by main.ts and tests). */
export async function start(_config: PhoneConfig, deps: IngestAppDeps) {
  return buildApp(deps);
}
