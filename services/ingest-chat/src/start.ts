import type { IngestAppDeps } from '@omni/ingest';
import type { ChatConfig } from './config';
import { buildApp } from './app';

/** Builds ingest-chat from its config and connected infrastructure (called by main.ts and tests). */
export async function start(_config: ChatConfig, deps: IngestAppDeps) {
  return buildApp(deps);
}
