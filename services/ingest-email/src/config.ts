import { Type } from '@sinclair/typebox';
import { loadConfig } from '@omni/config';
import { IngestEnv } from '@omni/ingest';

const credentials = (what: string) => Type.String({ default: '', pattern: '^$|^[^:]+:.+$', description: `${what} as user:pass; empty = route answers 503 not configured` });

export const EmailEnv = {
  ...IngestEnv,
  PORT: Type.Integer({ default: 8082 }),
  EMAIL_BODY_LIMIT_BYTES: Type.Integer({ default: 25 * 1024 * 1024, minimum: 1024, description: 'largest provider post (JSON, form, multipart or raw MIME)' }),
  EMAIL_MAX_ATTACHMENTS: Type.Integer({ default: 50, minimum: 0, maximum: 100 }),
  POSTMARK_BASIC_AUTH: credentials('HTTP basic auth of the Postmark inbound webhook URL'),
  SENDGRID_BASIC_AUTH: credentials('HTTP basic auth of the SendGrid Inbound Parse URL'),
  MAILGUN_SIGNING_KEY: Type.String({ default: '', description: 'Mailgun HTTP webhook signing key; empty = route answers 503 not configured' }),
  MAILGUN_MAX_AGE_S: Type.Integer({ default: 300, minimum: 1 }),
  MAILGUN_CLOCK_SKEW_S: Type.Integer({ default: 30, minimum: 0 }),
  MAILGUN_TOKEN_RETENTION_S: Type.Integer({ default: 2 * 24 * 3600, minimum: 60, description: 'how long used tokens are kept (longer than Mailgun retries)' }),
};

/** Validated ingest-email configuration; throws naming the bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(EmailEnv, env);
}
export type EmailConfig = ReturnType<typeof readConfig>;
