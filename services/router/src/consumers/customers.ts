import type { Pool } from 'pg';
import type { CustomerRecord } from '@omni/contracts';
import type { Received } from '@omni/kafka';
import { deleteCustomerProfiles, upsertCustomerProfiles } from '../store/customer-profiles';

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
  await upsertCustomerProfiles(pool, identities, { customerId: c.customerId, displayName: c.displayName ?? null, attributes: c.attributes ?? {}, version: c.version });
}

/**
 * A tombstone on omni.customers.v1 (history erased the customer): the router forgets the profile it
 * kept for each of that customer's identities. Idempotent.
 */
export async function forgetCustomer(pool: Pool, customerId: string): Promise<void> {
  await deleteCustomerProfiles(pool, customerId);
}
