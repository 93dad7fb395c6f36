import type { IngestAppDeps } from '@omni/ingest';
import { runPeriodically } from '@omni/service';
import type { EmailConfig } from './config';
import { buildApp } from './app';
import { pruneTokens } from './mailgun-tokens';

/** Builds ingest-email from its config and connected infrastructure (called by main.ts and tests). */
export async function start(config: EmailConfig, deps: IngestAppDeps) {
  const { app } = await buildApp(deps, {
    bodyLimit: config.EMAIL_BODY_LIMIT_BYTES,
    maxAttachments: config.EMAIL_MAX_ATTACHMENTS,
    postmarkBasicAuth: config.POSTMARK_BASIC_AUTH,
    sendgridBasicAuth: config.SENDGRID_BASIC_AUTH,
    mailgunSigningKey: config.MAILGUN_SIGNING_KEY,
    mailgunMaxAgeS: config.MAILGUN_MAX_AGE_S,
    mailgunClockSkewS: config.MAILGUN_CLOCK_SKEW_S,
  });
  // used Mailgun tokens are only needed while Mailgun may still retry; prune hourly
  const prune = runPeriodically(
    3600_000,
    () => pruneTokens(deps.infra.pool, config.MAILGUN_TOKEN_RETENTION_S),
    (err) => deps.logger.warn({ err: err.message }, 'mailgun token prune failed'),
  );
  return { app, close: prune.stop };
}
