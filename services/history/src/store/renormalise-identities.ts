import type { Pool, PoolClient } from 'pg';
import type { Channel, Party } from '@omni/contracts';
import { withTransaction } from '@omni/db';
import { evidenceOf, identityKey, identityOf, type Identity } from '../domain/identity';
import { legacyNormaliseAddress } from '../domain/legacy-identity';
import { refreshConversations } from './conversations';
import { enqueueCustomerRecords } from './customers';
import { customerIdFor, mergeCustomers } from './link-customers';

/** What renormalising the stored identities did (or, in a dry run, would do). */
export interface RenormaliseReport {
  /** identity filed under an old form, same person under the new rules: a new identity on the same customer */
  renamed: { from: string; to: string; customerId: string }[];
  /** raw addresses the old rules filed under another person's identity (look-alikes): moved to their own customer */
  split: { from: string; to: string; customerId: string; events: number }[];
  /** one person the old rules split in two: merged (younger into older) */
  merged: { sourceId: string; targetId: string; via: string }[];
  /** old identities no raw address maps to any more (removed with their evidence) */
  retired: string[];
  /** evidence the new rules derive that is not recorded yet: left to the next arrival, whose linking step records it and links or merges */
  evidencePending: number;
  /** evidence recorded under the old rules that the raw parties no longer give (removed) */
  evidenceRemoved: number;
}

interface Group {
  raw: string;
  parties: Party[];
  identity: Identity;
  newKey: string;
  oldKey: string;
  firstSeq: number;
  events: { id: string; customerId: string }[];
  conversations: Set<string>;
}

/**
 * Re-files stored identities under the current normalisation rules (docs/history.md), from the raw
 * parties in the timeline payloads: every event's party is normalised the old way (which identity it
 * was filed under) and the new way. A one-off, run with history's consumers stopped; takes an
 * exclusive lock on the identity tables so nothing links meanwhile. `apply: false` only reports.
 */
export async function renormaliseIdentities(pool: Pool, customersTopic: string, opts: { apply: boolean }): Promise<RenormaliseReport> {
  const report: RenormaliseReport = { renamed: [], split: [], merged: [], retired: [], evidencePending: 0, evidenceRemoved: 0 };
  const work = async (client: PoolClient) => {
    await client.query('LOCK TABLE history.identities, history.identity_evidence IN EXCLUSIVE MODE');
    const groups = await loadGroups(client);
    const homes = new Map(
      (await client.query<{ channel: string; address: string; customer_id: string }>('SELECT channel, address, customer_id FROM history.identities')).rows.map((r) => [
        `${r.channel}:${r.address}`,
        r.customer_id,
      ]),
    );
    const changed = new Set<string>();
    const refresh = new Set<string>();
    const byOld = new Map<string, Group[]>();
    for (const g of groups.values()) byOld.set(g.oldKey, [...(byOld.get(g.oldKey) ?? []), g]);
    for (const [oldKey, list] of byOld) {
      const home = homes.get(oldKey);
      const newKeys = [...new Set(list.map((g) => g.newKey))];
      if (!home || (newKeys.length === 1 && newKeys[0] === oldKey)) continue;
      // the form that stays with the old identity's customer: the unchanged one, else the earliest
      const keeper = newKeys.includes(oldKey) ? oldKey : [...list].sort((a, b) => a.firstSeq - b.firstSeq)[0]!.newKey;
      for (const nk of newKeys.filter((k) => k !== oldKey)) {
        const mine = list.filter((g) => g.newKey === nk);
        const existing = homes.get(nk);
        if (nk === keeper) {
          if (existing) {
            const [a, b] = await roots(client, [home, existing]);
            if (a !== b) {
              const [older, younger] = await byAge(client, a!, b!);
              report.merged.push({ sourceId: younger, targetId: older, via: nk });
              if (opts.apply) await mergeCustomers(client, { sourceId: younger, targetId: older, reason: 'renormalised identity', evidence: nk, actor: 'system' });
              changed.add(older).add(younger);
            }
          } else {
            report.renamed.push({ from: oldKey, to: nk, customerId: home });
            if (opts.apply) await addIdentity(client, mine[0]!.identity, home, `renormalised from ${oldKey}`);
            homes.set(nk, home);
            changed.add(home);
          }
        } else {
          const target = existing ?? customerIdFor(mine[0]!.identity);
          // events still filed under another customer (none on a second run)
          const events = mine.flatMap((g) => g.events).filter((e) => e.customerId !== target).map((e) => e.id);
          if (existing && events.length === 0) continue;
          report.split.push({ from: oldKey, to: nk, customerId: target, events: events.length });
          if (opts.apply) {
            if (!existing) {
              const name = mine.flatMap((g) => g.parties).find((p) => p.name)?.name ?? null;
              await client.query('INSERT INTO history.customers (id, display_name) VALUES ($1::text, $2::text) ON CONFLICT (id) DO NOTHING', [target, name]);
              await addIdentity(client, mine[0]!.identity, target, `renormalised: not the same address as ${oldKey}`);
            }
            await client.query('UPDATE history.timeline SET customer_id = $2::text WHERE event_id = ANY($1::text[])', [events, target]);
          }
          homes.set(nk, target);
          mine.forEach((g) => g.conversations.forEach((c) => refresh.add(c)));
          changed.add(target).add(home);
        }
      }
      if (!newKeys.includes(oldKey)) {
        report.retired.push(oldKey);
        if (opts.apply) {
          const i = oldKey.indexOf(':');
          await client.query('DELETE FROM history.identity_evidence WHERE channel = $1::text AND address = $2::text', [oldKey.slice(0, i), oldKey.slice(i + 1)]);
          await client.query('DELETE FROM history.identities WHERE channel = $1::text AND address = $2::text', [oldKey.slice(0, i), oldKey.slice(i + 1)]);
        }
        changed.add(home);
      }
    }
    // evidence of every identity seen in the timeline, recomputed from its raw parties: stale keys go
    const wanted = new Map<string, Set<string>>();
    for (const g of groups.values()) for (const p of g.parties) for (const e of evidenceOf(p)) wanted.set(g.newKey, (wanted.get(g.newKey) ?? new Set()).add(e.key));
    const have = await client.query<{ key: string; channel: string; address: string }>('SELECT key, channel, address FROM history.identity_evidence');
    const haveBy = new Map<string, Set<string>>();
    for (const r of have.rows) haveBy.set(`${r.channel}:${r.address}`, (haveBy.get(`${r.channel}:${r.address}`) ?? new Set()).add(r.key));
    const seen = new Set([...groups.values()].map((g) => g.newKey));
    for (const ik of seen) {
      if (!homes.has(ik)) continue;
      const w = wanted.get(ik) ?? new Set<string>();
      const h = haveBy.get(ik) ?? new Set<string>();
      const i = ik.indexOf(':');
      const [channel, address] = [ik.slice(0, i), ik.slice(i + 1)];
      const add = [...w].filter((k) => !h.has(k));
      const remove = [...h].filter((k) => !w.has(k));
      // new evidence is not written here: an identity with evidence missing takes the slow path on its
      // next message, where LinkGraph records it and links or merges exactly as for a new arrival
      report.evidencePending += add.length;
      report.evidenceRemoved += remove.length;
      if (opts.apply && remove.length)
        await client.query('DELETE FROM history.identity_evidence WHERE key = ANY($1::text[]) AND channel = $2::text AND address = $3::text', [remove, channel, address]);
    }
    if (opts.apply) {
      await refreshConversations(client, [...refresh].sort());
      await enqueueCustomerRecords(client, customersTopic, changed);
    } else throw new DryRun();
  };
  try {
    await withTransaction(pool, work);
  } catch (err) {
    if (!(err instanceof DryRun)) throw err;
  }
  return report;
}

class DryRun extends Error {}

/** Every raw party in the timeline, grouped by channel and address as written. */
async function loadGroups(client: PoolClient): Promise<Map<string, Group>> {
  const { rows } = await client.query<{ seq: string; event_id: string; customer_id: string; conversation_id: string | null; party: Party | null }>(
    `SELECT seq, event_id, customer_id, conversation_id,
            CASE WHEN kind = 'message.inbound' THEN payload->'from'
                 WHEN kind LIKE 'conversation.%' THEN payload->'customer'
                 WHEN kind = 'message.outbound' OR kind LIKE 'delivery.%' THEN payload->'to' END AS party
       FROM history.timeline ORDER BY seq`,
  );
  const groups = new Map<string, Group>();
  for (const r of rows) {
    const p = r.party;
    if (!p || typeof p.address !== 'string' || typeof p.channel !== 'string') continue;
    const k = `${p.channel}\u0000${p.address}`;
    let g = groups.get(k);
    if (!g) {
      const identity = identityOf(p);
      g = {
        raw: p.address,
        parties: [],
        identity,
        newKey: identityKey(identity),
        oldKey: `${p.channel}:${legacyNormaliseAddress(p.channel as Channel, p.address)}`,
        firstSeq: Number(r.seq),
        events: [],
        conversations: new Set(),
      };
      groups.set(k, g);
    }
    if (g.parties.length < 20) g.parties.push(p);
    g.events.push({ id: r.event_id, customerId: r.customer_id });
    if (r.conversation_id) g.conversations.add(r.conversation_id);
  }
  return groups;
}

async function addIdentity(client: PoolClient, i: Identity, customerId: string, reason: string): Promise<void> {
  await client.query(
    'INSERT INTO history.identities (channel, address, customer_id, linked_reason) VALUES ($1::text, $2::text, $3::text, $4::text) ON CONFLICT DO NOTHING',
    [i.channel, i.address, customerId, reason],
  );
}

async function roots(client: PoolClient, ids: string[]): Promise<string[]> {
  const { rows } = await client.query<{ r: string }>('SELECT history.root_customer(id) AS r FROM unnest($1::text[]) WITH ORDINALITY AS t(id, o) ORDER BY o', [ids]);
  return rows.map((x) => x.r);
}

async function byAge(client: PoolClient, a: string, b: string): Promise<[string, string]> {
  const { rows } = await client.query<{ id: string }>('SELECT id FROM history.customers WHERE id = ANY($1::text[]) ORDER BY created_at, id', [[a, b]]);
  return [rows[0]!.id, rows[1]!.id];
}
