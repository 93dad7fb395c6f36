import type { Channel, Party } from '@omni/contracts';

/** One way of reaching a customer: a channel plus its normalised address. */
export interface Identity {
  channel: Channel;
  address: string;
}

/** A contact detail strong enough to link identities automatically ("phone:+34…", "email:a@b.c"). */
export interface Evidence {
  kind: 'phone' | 'email';
  key: string;
}

const PHONE_CHANNELS: readonly Channel[] = ['phone', 'sms', 'whatsapp'];
const E164 = /^\+[1-9]\d{6,14}$/;
const EMAIL = /^[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>()]+$/;

/** Lower-cases and trims an e-mail address (also accepts "Name <a@b.c>" and mailto:); null if not one. */
export function normaliseEmail(raw: string): string | null {
  let s = raw.trim();
  const angle = /<([^>]+)>/.exec(s);
  if (angle) s = angle[1]!.trim();
  s = s.replace(/^mailto:/i, '').toLowerCase();
  return EMAIL.test(s) ? s : null;
}

/**
 * A phone number as E.164 ("+34600111222"), or null when it cannot be one without guessing.
 * Separators and tel:/sms:/whatsapp: prefixes go, "00" becomes "+". Bare digits are accepted only
 * when `bareIsInternational` (a WhatsApp wa_id is the international number without "+"); a national
 * number like "0600 11 22 33" is never guessed into a country, because a wrong guess would link two
 * different people.
 */
export function normalisePhone(raw: string, bareIsInternational = false): string | null {
  let s = raw.trim().replace(/^(tel|sms|whatsapp):/i, '').replace(/[\s().\-/]/g, '');
  if (s.startsWith('00')) s = `+${s.slice(2)}`;
  if (!s.startsWith('+') && bareIsInternational && /^[1-9]\d{6,14}$/.test(s)) s = `+${s}`;
  return E164.test(s) ? s : null;
}

/** The canonical address for an identity on a channel (falls back to the trimmed address). */
export function normaliseAddress(channel: Channel, address: string): string {
  if (channel === 'email') return normaliseEmail(address) ?? address.trim().toLowerCase();
  if (PHONE_CHANNELS.includes(channel)) return normalisePhone(address, channel === 'whatsapp') ?? address.trim();
  return address.trim();
}

export function identityOf(party: Pick<Party, 'channel' | 'address'>): Identity {
  return { channel: party.channel, address: normaliseAddress(party.channel, party.address) };
}

/** "channel:address" — unique because no channel name contains a colon. */
export function identityKey(i: Identity): string {
  return `${i.channel}:${i.address}`;
}

/** Parses "channel:address" (as used by the look-up API); null when the channel is missing. */
export function parseIdentityKey(s: string, channels: readonly string[]): Identity | null {
  const i = s.indexOf(':');
  if (i <= 0) return null;
  const channel = s.slice(0, i);
  if (!channels.includes(channel)) return null;
  return identityOf({ channel: channel as Channel, address: s.slice(i + 1) });
}

/**
 * The strong evidence a party carries. Only what the brief counts as strong: the same normalised
 * phone number on phone, SMS and WhatsApp, and the same e-mail on e-mail and on a chat visitor who
 * typed it (and, by the same token, an E.164 number a chat visitor typed). Names, addresses on other
 * channels and national-format numbers are never evidence.
 */
export function evidenceOf(party: Party): Evidence[] {
  const out = new Map<string, Evidence>();
  const add = (kind: Evidence['kind'], value: string | null) => {
    if (value) out.set(`${kind}:${value}`, { kind, key: `${kind}:${value}` });
  };
  if (PHONE_CHANNELS.includes(party.channel)) {
    add('phone', normalisePhone(party.address, party.channel === 'whatsapp'));
    if (party.phone) add('phone', normalisePhone(party.phone, party.channel === 'whatsapp'));
  } else if (party.channel === 'email') {
    add('email', normaliseEmail(party.address));
  } else if (party.channel === 'chat') {
    // what a chat visitor typed into the pre-chat form is as strong as the typed e-mail the brief
    // names; a typed number must already be E.164 (the widget's field asks for it)
    if (party.email) add('email', normaliseEmail(party.email));
    if (party.phone) add('phone', normalisePhone(party.phone));
  }
  return [...out.values()];
}

export type LinkAction =
  | { type: 'customer.created'; customerId: string; displayName?: string }
  | { type: 'identity.added'; identity: Identity; customerId: string; reason: string; via?: string }
  | { type: 'evidence.added'; key: string; identity: Identity }
  | { type: 'customers.merged'; sourceId: string; targetId: string; reason: string; via: string };

export interface LinkSeed {
  identities: { key: string; customerId: string }[];
  evidence: { key: string; identityKey: string }[];
  /** customers with their merge parent; `rank` orders them by age (older wins a merge) */
  customers: { id: string; mergedInto: string | null; rank: number }[];
  /** pairs of customers whose merge was undone: never auto-merged again */
  blocked: [string, string][];
}

/**
 * The identity graph around a batch of arrivals, loaded from the database under locks, applied in
 * memory and turned into actions the caller writes back. Identities are only ever added (their home
 * customer never changes); customers are linked by merges (a parent pointer), so a merge can be undone
 * and each customer's own history stays exactly what it was.
 */
export class LinkGraph {
  private readonly homes = new Map<string, string>();
  private readonly owners = new Map<string, Set<string>>();
  private readonly parent = new Map<string, string | null>();
  private readonly rank = new Map<string, number>();
  private readonly blocked = new Set<string>();
  private nextRank = Number.MAX_SAFE_INTEGER / 2;

  constructor(seed: LinkSeed) {
    for (const i of seed.identities) this.homes.set(i.key, i.customerId);
    for (const e of seed.evidence) this.ownersOf(e.key).add(e.identityKey);
    for (const c of seed.customers) {
      this.parent.set(c.id, c.mergedInto);
      this.rank.set(c.id, c.rank);
    }
    for (const [a, b] of seed.blocked) this.blocked.add(pair(a, b));
  }

  rootOf(customerId: string): string {
    let id = customerId;
    for (let guard = 0; guard < 1000; guard++) {
      const p = this.parent.get(id);
      if (!p) return id;
      id = p;
    }
    throw new Error(`merge cycle at customer ${customerId}`);
  }

  homeOf(identity: Identity): string | undefined {
    return this.homes.get(identityKey(identity));
  }

  /**
   * Records one party's arrival: finds or creates its identity (linking it to a customer who shares
   * strong evidence), records new evidence, and merges customers that the evidence now joins.
   * Returns the identity's home customer and what changed.
   */
  arrive(party: Party, newCustomerId: (i: Identity) => string): { identity: Identity; customerId: string; actions: LinkAction[] } {
    const identity = identityOf(party);
    const ik = identityKey(identity);
    const evidence = evidenceOf(party);
    const actions: LinkAction[] = [];

    // Which customers (by root) the evidence points at, and through which key.
    const via = new Map<string, Evidence>();
    const matchedHomes: { home: string; e: Evidence }[] = [];
    for (const e of evidence)
      for (const other of this.ownersOf(e.key)) {
        if (other === ik) continue;
        const home = this.homes.get(other);
        if (!home) continue;
        matchedHomes.push({ home, e });
        const root = this.rootOf(home);
        if (!via.has(root)) via.set(root, e);
      }

    let home = this.homes.get(ik);
    if (!home) {
      const best = matchedHomes.sort((a, b) => this.compare(this.rootOf(a.home), this.rootOf(b.home)))[0];
      if (best) {
        home = best.home;
        actions.push({ type: 'identity.added', identity, customerId: home, reason: `auto: same ${best.e.kind}`, via: best.e.key });
      } else {
        home = newCustomerId(identity);
        if (!this.parent.has(home)) {
          this.parent.set(home, null);
          this.rank.set(home, this.nextRank++);
          actions.push({ type: 'customer.created', customerId: home, ...(party.name ? { displayName: party.name } : {}) });
        }
        actions.push({ type: 'identity.added', identity, customerId: home, reason: 'first contact' });
      }
      this.homes.set(ik, home);
    }
    for (const e of evidence) {
      const set = this.ownersOf(e.key);
      if (set.has(ik)) continue;
      set.add(ik);
      actions.push({ type: 'evidence.added', key: e.key, identity });
    }

    // Evidence joining two customers is a merge into the oldest of them.
    const ownRoot = this.rootOf(home);
    const roots = new Set<string>([ownRoot, ...via.keys()]);
    if (roots.size > 1) {
      const target = [...roots].sort((a, b) => this.compare(a, b))[0]!;
      const targetVia = via.get(target) ?? evidence[0]!;
      for (const r of [...roots].sort((a, b) => this.compare(a, b))) {
        if (r === target || this.blocked.has(pair(r, target))) continue;
        const e = via.get(r) ?? targetVia;
        this.parent.set(r, target);
        actions.push({ type: 'customers.merged', sourceId: r, targetId: target, reason: `auto: same ${e.kind}`, via: e.key });
      }
    }
    return { identity, customerId: home, actions };
  }

  private ownersOf(key: string): Set<string> {
    let s = this.owners.get(key);
    if (!s) this.owners.set(key, (s = new Set()));
    return s;
  }

  private compare(a: string, b: string): number {
    const ra = this.rank.get(a) ?? Number.MAX_SAFE_INTEGER;
    const rb = this.rank.get(b) ?? Number.MAX_SAFE_INTEGER;
    return ra !== rb ? ra - rb : a < b ? -1 : a > b ? 1 : 0;
  }
}

function pair(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
