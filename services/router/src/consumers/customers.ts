import type { Pool } from 'pg';
import type { CustomerRecord } from '@omni/contracts';
import type { Received } from '@omni/kafka';

/**
 * Keeps router.customer_profiles (identity → attributes such as vip) from the compacted
 * omni.customers.v1 topic; classification reads it when a conversation opens. Idempotent: a record
 * only replaces an older version.
 */
export async function handleCustomer(pool: Pool, msg: Received<CustomerRecord>): Promise<void> {
  const c = msg.value;
  if (c.mergedInto) return; // the surviving customer's record carries the identities
  const identities = c.identities.map((i) => `${i.channel}:${i.address}`);
  if (identities.length === 0) return;
  await pool.query(
    `INSERT INTO router.customer_profiles (identity, customer_id, display_name, attributes, version)
     SELECT i, $2::text, $3::text, $4::jsonb, $5::int FROM unnest($1::text[]) AS i
     ON CONFLICT (identity) DO UPDATE SET customer_id = EXCLUDED.customer_id, display_name = EXCLUDED.display_name,
       attributes = EXCLUDED.attributes, version = EXCLUDED.version, updated_at = now()
     WHERE router.customer_profiles.customer_id <> EXCLUDED.customer_id OR router.customer_profiles.version < EXCLUDED.version`,
    [identities, c.customerId, c.displayName ?? null, JSON.stringify(c.attributes ?? {}), c.version],
  );
}

/**
 * A tombstone on omni.customers.v1 (history erased the customer): the router forgets the profile it
 * kept for each of that customer's identities. Idempotent.
 */
export async function forgetCustomer(pool: Pool, customerId: string): Promise<void> {
  await pool.query('DELETE FROM router.customer_profiles WHERE customer_id = $1::text', [customerId]);
}
