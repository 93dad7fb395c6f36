import type { Pool } from 'pg';

/** Stores a customer's attributes under each of its identities; only a newer version (or another customer) replaces a row. */
export async function upsertCustomerProfiles(
  pool: Pick<Pool, 'query'>,
  identities: string[],
  c: { customerId: string; displayName: string | null; attributes: Record<string, unknown>; version: number },
): Promise<void> {
  await pool.query(
    `INSERT INTO router.customer_profiles (identity, customer_id, display_name, attributes, version)
     SELECT i, $2::text, $3::text, $4::jsonb, $5::int FROM unnest($1::text[]) AS i
     ON CONFLICT (identity) DO UPDATE SET customer_id = EXCLUDED.customer_id, display_name = EXCLUDED.display_name,
       attributes = EXCLUDED.attributes, version = EXCLUDED.version, updated_at = now()
     WHERE router.customer_profiles.customer_id <> EXCLUDED.customer_id OR router.customer_profiles.version < EXCLUDED.version`,
    [identities, c.customerId, c.displayName, JSON.stringify(c.attributes), c.version],
  );
}

/** Forgets every profile of a customer (a tombstone on omni.customers.v1). */
export async function deleteCustomerProfiles(pool: Pick<Pool, 'query'>, customerId: string): Promise<void> {
  await pool.query('DELETE FROM router.customer_profiles WHERE customer_id = $1::text', [customerId]);
}
