import type { Pool, PoolClient } from 'pg';
import { CustomerRecord, fitTo, type Channel } from '@omni/contracts';
import { enqueueOutbox } from '@omni/kafka';

type Db = Pool | PoolClient;

export interface IdentityView {
  channel: string;
  address: string;
  customerId: string;
  linkedReason: string;
  linkedVia: string | null;
  linkedAt: string;
}

/** What the API shows for a customer: a top-level customer carries the identities of everyone merged into it. */
export interface CustomerView {
  id: string;
  displayName: string | null;
  mergedInto: string | null;
  members: string[];
  identities: IdentityView[];
  version: number;
  updatedAt: string;
}

/** The customer and everyone merged into it, directly or through a chain. */
export async function subtreeOf(db: Db, id: string): Promise<string[]> {
  const r = await db.query<{ id: string }>(
    `WITH RECURSIVE tree AS (
       SELECT id FROM history.customers WHERE id = $1::text
       UNION ALL SELECT c.id FROM history.customers c JOIN tree t ON c.merged_into = t.id)
     SELECT id FROM tree`,
    [id],
  );
  return r.rows.map((row) => row.id);
}

/** Loads the view of one customer, or null if unknown. */
export async function loadCustomer(db: Db, id: string): Promise<CustomerView | null> {
  const c = await db.query<{ id: string; display_name: string | null; version: number; updated_at: Date; root: string }>(
    'SELECT id, display_name, version, updated_at, history.root_customer(id) AS root FROM history.customers WHERE id = $1::text',
    [id],
  );
  const row = c.rows[0];
  if (!row) return null;
  const members = await subtreeOf(db, id);
  const ids = await db.query<{ channel: string; address: string; customer_id: string; linked_reason: string; linked_via: string | null; created_at: Date }>(
    `SELECT channel, address, customer_id, linked_reason, linked_via, created_at FROM history.identities
      WHERE customer_id = ANY($1::text[]) ORDER BY created_at, channel, address`,
    [members],
  );
  let displayName = row.display_name;
  if (!displayName && members.length > 1) {
    const n = await db.query<{ display_name: string }>(
      'SELECT display_name FROM history.customers WHERE id = ANY($1::text[]) AND display_name IS NOT NULL ORDER BY created_at, id LIMIT 1',
      [members],
    );
    displayName = n.rows[0]?.display_name ?? null;
  }
  return {
    id: row.id,
    displayName,
    mergedInto: row.root === row.id ? null : row.root,
    members: members.filter((m) => m !== row.id),
    identities: ids.rows.map((r) => ({
      channel: r.channel,
      address: r.address,
      customerId: r.customer_id,
      linkedReason: r.linked_reason,
      linkedVia: r.linked_via,
      linkedAt: r.created_at.toISOString(),
    })),
    version: row.version,
    updatedAt: row.updated_at.toISOString(),
  };
}

/**
 * Bumps the version of every customer in the trees the changed customers belong to and writes
 * their omni.customers.v1 records to the outbox in the caller's transaction (a merge changes the
 * target's identities and every merged member's mergedInto). Attributes give the router context:
 * how many of the customer's conversations were escalated.
 */
// An identity as stored can be longer than the contract allows (normalisation may lengthen it, e.g.
// 'İ' lower-cases to two code points): the record carries it fitted to the contract, so the outbox
// row is always publishable (router uses identities only to find a profile).
const IDENTITY_ADDRESS = CustomerRecord.properties.identities.items.properties.address;

export async function enqueueCustomerRecords(client: PoolClient, topic: string, changed: Iterable<string>): Promise<number> {
  const ids = [...new Set(changed)];
  if (ids.length === 0) return 0;
  const bumped = await client.query<{ id: string; root: string; display_name: string | null; version: number; updated_at: Date }>(
    `WITH RECURSIVE roots AS (SELECT DISTINCT history.root_customer(id) AS id FROM unnest($1::text[]) id),
     tree AS (
       SELECT id, id AS root FROM roots
       UNION ALL SELECT c.id, t.root FROM history.customers c JOIN tree t ON c.merged_into = t.id)
     UPDATE history.customers c SET version = c.version + 1, updated_at = now() FROM tree WHERE c.id = tree.id
     RETURNING c.id, tree.root, c.display_name, c.version, c.updated_at`,
    [ids],
  );
  const all = bumped.rows.map((r) => r.id);
  const idRows = await client.query<{ channel: Channel; address: string; customer_id: string }>(
    'SELECT channel, address, customer_id FROM history.identities WHERE customer_id = ANY($1::text[]) ORDER BY created_at, channel, address',
    [all],
  );
  const counts = await client.query<{ customer_id: string; escalated: number }>(
    `SELECT customer_id, count(*)::int AS escalated FROM history.conversations
      WHERE customer_id = ANY($1::text[]) AND jsonb_array_length(escalations) > 0 GROUP BY customer_id`,
    [all],
  );
  const countOf = new Map(counts.rows.map((c) => [c.customer_id, c]));
  const byRoot = new Map<string, typeof bumped.rows>();
  for (const r of bumped.rows) byRoot.set(r.root, [...(byRoot.get(r.root) ?? []), r]);
  const records: CustomerRecord[] = bumped.rows.map((r) => {
    const isRoot = r.root === r.id;
    const members = isRoot ? byRoot.get(r.id)!.map((m) => m.id) : [r.id];
    const identities = idRows.rows.filter((i) => members.includes(i.customer_id)).map((i) => ({ channel: i.channel, address: fitTo(IDENTITY_ADDRESS, i.address) }));
    const displayName = r.display_name ?? (isRoot ? byRoot.get(r.id)!.find((m) => m.display_name)?.display_name : undefined) ?? undefined;
    return {
      schema: 'omni.customers.v1',
      customerId: r.id,
      version: r.version,
      ...(displayName ? { displayName: fitTo(CustomerRecord.properties.displayName, displayName) } : {}),
      identities,
      attributes: {
        escalatedConversations: members.reduce((n, m) => n + (countOf.get(m)?.escalated ?? 0), 0),
        ...(isRoot ? { mergedCustomers: members.filter((m) => m !== r.id) } : {}),
      },
      ...(isRoot ? {} : { mergedInto: r.root }),
      updatedAt: r.updated_at.toISOString(),
    };
  });
  await enqueueOutbox(
    client,
    'history',
    records.map((value) => ({ topic, key: value.customerId, schemaId: 'omni.customers.v1', value })),
  );
  return records.length;
}
