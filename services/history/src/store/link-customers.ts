import type { Pool, PoolClient } from 'pg';
import { derivedId, newId, type Party } from '@omni/contracts';
import { withClient, withTransaction } from '@omni/db';
import { evidenceOf, identityKey, identityOf, LinkGraph, type Evidence, type Identity, type LinkAction } from '../domain/identity';

/** Thrown when another transaction merged one of our customers first; withTransaction retries it. */
export class ConcurrentMergeError extends Error {
  readonly code = '40001';
}

/** The deterministic customer id for an identity seen first: replicas meeting it converge. */
export const customerIdFor = (i: Identity): string => derivedId('cus', i.channel, i.address);

/** Takes transaction-scoped advisory locks on the keys in one sorted order (no lock-order deadlocks). */
export async function lockKeys(client: PoolClient, keys: Iterable<string>): Promise<void> {
  const list = [...new Set(keys)].map((k) => `history:${k}`);
  if (list.length === 0) return;
  await client.query(
    `SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest($1::text[]) k ORDER BY 1) s`,
    [list],
  );
}

/**
 * Resolves the home customer of each party's identity, creating identities and customers on first
 * sight and linking or merging on strong evidence. The common case (identity and evidence already
 * known) is two reads and no locks; only parties that would change the graph take advisory locks on
 * their identity and evidence keys, so two partitions meeting the same person serialise, and the
 * graph is re-read after locking. `onChanged` runs in the linking transaction (to queue the changed
 * customers' records). Returns one home per party and how many customers changed.
 */
export async function resolveCustomers(
  db: Pool,
  parties: Party[],
  onChanged: (client: PoolClient, changed: Set<string>) => Promise<unknown>,
): Promise<{ homes: string[]; changed: number }> {
  const known = await withClient(db, (client) => readKnown(client, parties));
  if (!known.slow.some(Boolean)) return { homes: known.ids.map((i) => known.homes.get(identityKey(i))!), changed: 0 };
  // A short transaction of its own: the locks are held only while linking, not while the batch's
  // timeline rows are written. Identities are only ever added and a home never changes, so creating
  // them before the batch commits is safe: a redelivered batch finds them and takes the fast path.
  return withTransaction(db, async (client) => {
    const r = await linkSlow(client, parties, known);
    await onChanged(client, r.changed);
    return { homes: r.homes, changed: r.changed.size };
  });
}

interface Known {
  ids: Identity[];
  evs: Evidence[][];
  homes: Map<string, string>;
  slow: boolean[];
}

/** Which parties are already fully known (identity and every evidence pair recorded). */
async function readKnown(client: PoolClient, parties: Party[]): Promise<Known> {
  const ids = parties.map(identityOf);
  const evs = parties.map(evidenceOf);
  const uniqueIds = [...new Map(ids.map((i) => [identityKey(i), i])).values()];
  const known = await loadHomes(client, uniqueIds);
  const pairs = new Map<string, [string, Identity]>();
  ids.forEach((i, n) => evs[n]!.forEach((e) => pairs.set(`${e.key} ${identityKey(i)}`, [e.key, i])));
  const knownPairs = new Set<string>();
  if (pairs.size > 0) {
    const list = [...pairs.values()];
    const r = await client.query<{ key: string; channel: string; address: string }>(
      `SELECT e.key, e.channel, e.address FROM history.identity_evidence e
         JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(key, channel, address) USING (key, channel, address)`,
      [list.map((p) => p[0]), list.map((p) => p[1].channel), list.map((p) => p[1].address)],
    );
    for (const row of r.rows) knownPairs.add(`${row.key} ${row.channel}:${row.address}`);
  }
  const slow = parties.map((_, n) => !known.has(identityKey(ids[n]!)) || evs[n]!.some((e) => !knownPairs.has(`${e.key} ${identityKey(ids[n]!)}`)));
  return { ids, evs, homes: known, slow };
}

/** Slow path: lock, re-read the neighbourhood of the graph, link in memory, write the actions. */
async function linkSlow(client: PoolClient, parties: Party[], k: Known): Promise<{ homes: string[]; changed: Set<string> }> {
  const { ids, evs, slow, homes: known } = k;
  const changed = new Set<string>();
  const slowIds = ids.filter((_, n) => slow[n]);
  const slowKeys = [...new Set(evs.filter((_, n) => slow[n]).flatMap((es) => es.map((e) => e.key)))];
  await lockKeys(client, [...slowIds.map(identityKey), ...slowKeys]);
  const graph = new LinkGraph(await loadSeed(client, [...new Map(slowIds.map((i) => [identityKey(i), i])).values()], slowKeys));
  const homes: string[] = [];
  const actions: LinkAction[] = [];
  for (let n = 0; n < parties.length; n++) {
    if (!slow[n]) {
      homes.push(known.get(identityKey(ids[n]!))!);
      continue;
    }
    const r = graph.arrive(parties[n]!, customerIdFor);
    homes.push(r.customerId);
    actions.push(...r.actions);
  }
  await applyAll(client, actions, changed);
  return { homes, changed };
}

/**
 * Writes the graph's actions with one statement per kind (locks are held meanwhile, so fewer round
 * trips means less waiting for other partitions), in foreign-key order; merges, which are rare and
 * lock customer rows, go one by one at the end.
 */
async function applyAll(client: PoolClient, actions: LinkAction[], changed: Set<string>): Promise<void> {
  const of = <T extends LinkAction['type']>(t: T) => actions.filter((a): a is Extract<LinkAction, { type: T }> => a.type === t);
  const created = of('customer.created');
  if (created.length > 0)
    await client.query(
      'INSERT INTO history.customers (id, display_name) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (id) DO NOTHING',
      [created.map((a) => a.customerId), created.map((a) => a.displayName ?? null)],
    );
  const added = of('identity.added');
  if (added.length > 0)
    await client.query(
      `INSERT INTO history.identities (channel, address, customer_id, linked_reason, linked_via)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) ON CONFLICT (channel, address) DO NOTHING`,
      [added.map((a) => a.identity.channel), added.map((a) => a.identity.address), added.map((a) => a.customerId), added.map((a) => a.reason), added.map((a) => a.via ?? null)],
    );
  const evidence = of('evidence.added');
  if (evidence.length > 0)
    await client.query(
      'INSERT INTO history.identity_evidence (key, channel, address) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING',
      [evidence.map((a) => a.key), evidence.map((a) => a.identity.channel), evidence.map((a) => a.identity.address)],
    );
  for (const a of created) changed.add(a.customerId);
  for (const a of added) changed.add(a.customerId);
  for (const a of of('customers.merged')) {
    await mergeCustomers(client, { sourceId: a.sourceId, targetId: a.targetId, reason: a.reason, evidence: a.via, actor: 'system' });
    changed.add(a.sourceId).add(a.targetId);
  }
}

async function loadHomes(client: PoolClient, ids: Identity[]): Promise<Map<string, string>> {
  const r = await client.query<{ channel: string; address: string; customer_id: string }>(
    `SELECT i.channel, i.address, i.customer_id FROM history.identities i
       JOIN unnest($1::text[], $2::text[]) AS k(channel, address) USING (channel, address)`,
    [ids.map((i) => i.channel), ids.map((i) => i.address)],
  );
  return new Map(r.rows.map((row) => [`${row.channel}:${row.address}`, row.customer_id]));
}

async function loadSeed(client: PoolClient, ids: Identity[], evidenceKeys: string[]) {
  const homes = await loadHomes(client, ids);
  const ev = await client.query<{ key: string; channel: string; address: string; customer_id: string }>(
    `SELECT e.key, e.channel, e.address, i.customer_id FROM history.identity_evidence e
       JOIN history.identities i USING (channel, address) WHERE e.key = ANY($1::text[])`,
    [evidenceKeys],
  );
  const identities = [...homes].map(([key, customerId]) => ({ key, customerId }));
  for (const row of ev.rows) identities.push({ key: `${row.channel}:${row.address}`, customerId: row.customer_id });
  const customerIds = [...new Set(identities.map((i) => i.customerId))];
  // Every customer involved and its ancestors up the merge chain.
  const customers = await client.query<{ id: string; merged_into: string | null; rank: number }>(
    `WITH RECURSIVE up AS (
       SELECT id, merged_into, created_at FROM history.customers WHERE id = ANY($1::text[])
       UNION SELECT c.id, c.merged_into, c.created_at FROM history.customers c JOIN up ON c.id = up.merged_into)
     SELECT id, merged_into, (extract(epoch FROM created_at) * 1000)::float8 AS rank FROM up`,
    [customerIds],
  );
  const blocked = await client.query<{ source_id: string; target_id: string }>(
    `SELECT source_id, target_id FROM history.merges WHERE undone_at IS NOT NULL AND (source_id = ANY($1::text[]) OR target_id = ANY($1::text[]))`,
    [customers.rows.map((c) => c.id)],
  );
  return {
    identities,
    evidence: ev.rows.map((row) => ({ key: row.key, identityKey: `${row.channel}:${row.address}` })),
    customers: customers.rows.map((c) => ({ id: c.id, mergedInto: c.merged_into, rank: Number(c.rank) })),
    blocked: blocked.rows.map((b) => [b.source_id, b.target_id] as [string, string]),
  };
}

/**
 * Points source at target after locking both rows (in id order) and checking both are still
 * top-level customers. Shared by automatic links and the merge API. Returns the merge id.
 */
export async function mergeCustomers(
  client: PoolClient,
  m: { sourceId: string; targetId: string; reason: string; evidence?: string; actor: string },
  onConflict: () => Error = () => new ConcurrentMergeError(`customer ${m.sourceId} or ${m.targetId} was merged concurrently`),
): Promise<string> {
  const rows = await client.query<{ id: string; merged_into: string | null }>(
    'SELECT id, merged_into FROM history.customers WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
    [[m.sourceId, m.targetId]],
  );
  if (rows.rows.length !== 2 || rows.rows.some((r) => r.merged_into !== null)) throw onConflict();
  const id = newId('mrg');
  await client.query('UPDATE history.customers SET merged_into = $2::text WHERE id = $1::text', [m.sourceId, m.targetId]);
  await client.query(
    'INSERT INTO history.merges (id, source_id, target_id, reason, evidence, actor) VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text)',
    [id, m.sourceId, m.targetId, m.reason, m.evidence ?? null, m.actor],
  );
  return id;
}
