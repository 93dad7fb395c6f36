import { ConfigError } from '@omni/config';

/** At least 256 bits of base64/hex-ish text. */
export const MIN_SECRET_LENGTH = 32;
const DEV_MARKERS = /(^|[^a-z])(dev|devel|development|test|testing|example|changeme|change-me|default|insecure|local)([^a-z]|$)/i;

/** Production mode: NODE_ENV=production or OMNI_PRODUCTION=true. */
export function isProduction(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NODE_ENV === 'production' || env.OMNI_PRODUCTION === 'true' || env.OMNI_PRODUCTION === '1';
}

/** Why a secret is unfit for production, or undefined if it is fine. */
export function secretProblem(value: string | undefined): string | undefined {
  if (!value) return 'is not set';
  if (value.length < MIN_SECRET_LENGTH) return `is shorter than ${MIN_SECRET_LENGTH} characters`;
  if (DEV_MARKERS.test(value)) return 'looks like a development placeholder';
  if (new Set(value).size < 8) return 'has too few distinct characters';
  return undefined;
}

/**
 * In production mode, refuses to start (ConfigError naming the variable) when a secret is missing,
 * short, or a development placeholder. Outside production it does nothing.
 */
export function assertProductionSecrets(secrets: Record<string, string | undefined>, env: NodeJS.ProcessEnv = process.env): void {
  if (!isProduction(env)) return;
  const problems = Object.entries(secrets)
    .map(([name, value]) => [name, secretProblem(value)] as const)
    .filter(([, p]) => p)
    .map(([name, p]) => `${name} ${p}`);
  if (problems.length) throw new ConfigError(`invalid configuration: production mode (NODE_ENV=production or OMNI_PRODUCTION) refuses to start: ${problems.join('; ')}`);
}
