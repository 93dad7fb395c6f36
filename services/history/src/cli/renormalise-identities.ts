/**
 * Re-files history's stored identities under the current normalisation rules (docs/history.md,
 * "Identities"): `npm run history:renormalise` reports what would change; `-- --apply` changes it.
 * Run once after deploying the rules, with history's consumers stopped. Reads DATABASE_URL and
 * KAFKA_TOPIC_SUFFIX (the customers.v1 records of changed customers go through history.outbox).
 */
import { topicNames } from '@omni/contracts';
import { createPool } from '@omni/db';
import { configureIdentity } from '../domain/identity';
import { renormaliseIdentities } from '../store/renormalise-identities';
import type { CountryCode } from 'libphonenumber-js';

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set');
  const region = process.env.HISTORY_DEFAULT_PHONE_REGION;
  configureIdentity(region ? { defaultPhoneRegion: region as CountryCode } : {});
  const apply = process.argv.includes('--apply');
  const pool = createPool(url, { max: 1 });
  try {
    const report = await renormaliseIdentities(pool, topicNames(process.env.KAFKA_TOPIC_SUFFIX ?? '').customers, { apply });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n${apply ? 'applied' : 'dry run: nothing changed (add --apply)'}\n`);
  } finally {
    await pool.end();
  }
}

void main().catch((err) => {
  process.stderr.write(`renormalise failed: ${(err as Error).message}\n`);
  process.exit(1);
});
