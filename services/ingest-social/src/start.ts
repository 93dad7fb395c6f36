import type { IngestAppDeps } from '@omni/ingest';
import type { SocialConfig } from './config';
import { buildApp } from './app';

/** Builds ingest-social from its config and connected infrastructure (called by main.ts and tests). */
export async function start(config: SocialConfig, deps: IngestAppDeps) {
  return buildApp(deps, { verifyToken: config.META_VERIFY_TOKEN, appSecret: config.META_APP_SECRET, bodyLimit: config.META_BODY_LIMIT_BYTES });
}
