import { Type } from '@sinclair/typebox';
import { ConfigError, splitList } from '@omni/config';

/** Env the outbound delivery worker reads (part of every ingest service's config). */
export const DeliveryEnv = {
  DELIVERY_ENABLED: Type.Boolean({ default: true, description: 'run the outbound delivery worker in this service' }),
  DELIVERY_TARGETS: Type.String({ default: '', description: 'provider=callbackUrl|secret, comma separated (e.g. adapter:web=https://a.example/cb|s3cret)' }),
  DELIVERY_GROUP_ID: Type.String({ default: '', description: 'consumer group on omni.outbound.v1; default ingest-<kind>-delivery' }),
  DELIVERY_MAX_ATTEMPTS: Type.Integer({ default: 8, minimum: 1 }),
  DELIVERY_BASE_BACKOFF_MS: Type.Integer({ default: 500, minimum: 1 }),
  DELIVERY_MAX_BACKOFF_MS: Type.Integer({ default: 60_000, minimum: 1 }),
  DELIVERY_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100 }),
  DELIVERY_CONCURRENCY: Type.Integer({ default: 32, minimum: 1 }),
  DELIVERY_POLL_MS: Type.Integer({ default: 1000, minimum: 10 }),
  EMAIL_MESSAGE_ID_DOMAIN: Type.String({ default: 'omni.localhost', pattern: '^[A-Za-z0-9.-]+$' }),
  EMAIL_REPLY_TO_ADDRESS: Type.String({ default: '', description: 'base address for Reply-To; support@example.com becomes support+t_<token>@example.com' }),
};

/** The delivery settings with defaults applied (what startDelivery needs). */
export interface DeliverySettings {
  DELIVERY_ENABLED: boolean;
  DELIVERY_TARGETS: string;
  DELIVERY_GROUP_ID: string;
  DELIVERY_MAX_ATTEMPTS: number;
  DELIVERY_BASE_BACKOFF_MS: number;
  DELIVERY_MAX_BACKOFF_MS: number;
  DELIVERY_TIMEOUT_MS: number;
  DELIVERY_CONCURRENCY: number;
  DELIVERY_POLL_MS: number;
  EMAIL_MESSAGE_ID_DOMAIN: string;
  EMAIL_REPLY_TO_ADDRESS: string;
}

export const DELIVERY_DEFAULTS: DeliverySettings = {
  DELIVERY_ENABLED: true,
  DELIVERY_TARGETS: '',
  DELIVERY_GROUP_ID: '',
  DELIVERY_MAX_ATTEMPTS: 8,
  DELIVERY_BASE_BACKOFF_MS: 500,
  DELIVERY_MAX_BACKOFF_MS: 60_000,
  DELIVERY_TIMEOUT_MS: 10_000,
  DELIVERY_CONCURRENCY: 32,
  DELIVERY_POLL_MS: 1000,
  EMAIL_MESSAGE_ID_DOMAIN: 'omni.localhost',
  EMAIL_REPLY_TO_ADDRESS: '',
};

/** Fills missing delivery settings with defaults (services whose config predates delivery). */
export function deliverySettings(config: Partial<DeliverySettings>): DeliverySettings {
  const out = { ...DELIVERY_DEFAULTS };
  for (const k of Object.keys(DELIVERY_DEFAULTS) as (keyof DeliverySettings)[]) if (config[k] !== undefined) (out as Record<string, unknown>)[k] = config[k];
  if (out.DELIVERY_MAX_BACKOFF_MS < out.DELIVERY_BASE_BACKOFF_MS) throw new ConfigError('invalid configuration: DELIVERY_MAX_BACKOFF_MS must be >= DELIVERY_BASE_BACKOFF_MS');
  if (out.EMAIL_REPLY_TO_ADDRESS && !/^[^@\s+]+@[^@\s]+$/.test(out.EMAIL_REPLY_TO_ADDRESS))
    throw new ConfigError('invalid configuration: EMAIL_REPLY_TO_ADDRESS must be a plain address like support@example.com (no plus part)');
  return out;
}

/** Where one provider's (or adapter's) replies are POSTed, and the secret that signs them. */
export interface DeliveryTarget {
  provider: string;
  url: string;
  secret: string;
}

/**
 * Parses DELIVERY_TARGETS: `provider=callbackUrl|secret` entries separated by commas. The provider is
 * the inbound `provider` of the thread (`adapter:<id>`, `twilio`, `meta-whatsapp`, `postmark`…).
 * Throws ConfigError naming the variable and the bad entry.
 */
export function parseDeliveryTargets(value: string, variable = 'DELIVERY_TARGETS'): Map<string, DeliveryTarget> {
  const out = new Map<string, DeliveryTarget>();
  for (const part of splitList(value)) {
    const bad = (why: string) => new ConfigError(`invalid configuration: ${variable} entry '${part.split('|')[0]!.slice(0, 80)}' ${why}`);
    const eq = part.indexOf('=');
    if (eq <= 0) throw bad('must be provider=callbackUrl|secret');
    const provider = part.slice(0, eq).trim();
    const rest = part.slice(eq + 1);
    const bar = rest.lastIndexOf('|');
    if (bar <= 0 || bar === rest.length - 1) throw bad('must be provider=callbackUrl|secret (secret missing)');
    const url = rest.slice(0, bar).trim();
    const secret = rest.slice(bar + 1);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw bad('has an unparseable callback URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw bad('callback URL must be http or https');
    if (secret.length < 8) throw bad('secret must be at least 8 characters');
    if (out.has(provider)) throw bad('names a provider twice');
    out.set(provider, { provider, url, secret });
  }
  return out;
}
