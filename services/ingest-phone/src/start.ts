import type { IngestAppDeps } from '@omni/ingest';
import { runPeriodically } from '@omni/service';
import type { PhoneConfig } from './config';
import { buildApp } from './app';
import { publishOverdueVoicemails } from './voicemails';

/** Builds ingest-phone from its config and connected infrastructure (called by main.ts and tests). */
export async function start(config: PhoneConfig, deps: IngestAppDeps) {
  const { app, ingest } = await buildApp(deps, {
    authToken: config.TWILIO_AUTH_TOKEN,
    publicUrl: config.TWILIO_PUBLIC_URL,
    greeting: config.VOICEMAIL_GREETING,
    language: config.VOICEMAIL_LANGUAGE,
    maxLengthS: config.VOICEMAIL_MAX_LENGTH_S,
  });
  // Voicemails whose transcript never came are published without one; the deadline lives in
  // Postgres, so any replica's sweep picks them up, also after a restart.
  const sweep = runPeriodically(
    config.VOICEMAIL_SWEEP_INTERVAL_MS,
    () => publishOverdueVoicemails(ingest, config.VOICEMAIL_TRANSCRIPT_WAIT_S),
    (err) => deps.logger.warn({ err: err.message }, 'voicemail sweep failed, retrying next tick'),
  );
  return { app, close: sweep.stop };
}
