import { createHash } from 'node:crypto';
import { domainToASCII, domainToUnicode } from 'node:url';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { CustomerRecord, cleanString, isStorable, limitOf, truncateCodePoints, utf8Bytes, type Channel, type Party } from '@omni/contracts';

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

/** Identity addresses must fit omni.customers.v1 (history publishes them there): the limits come from the contract. */
const IDENTITY_LIMIT = limitOf(CustomerRecord.properties.identities.items.properties.address);

/** Normalisation settings (HISTORY_DEFAULT_PHONE_REGION); set once at start-up. */
export interface IdentityOptions {
  /** ISO 3166-1 alpha-2 region assumed for phone numbers written without a country code; none: never guessed */
  defaultPhoneRegion?: CountryCode;
}
let options: IdentityOptions = {};

/** Sets the normalisation options for this process (history's start-up calls it from its config). */
export function configureIdentity(o: IdentityOptions): void {
  options = { ...o };
}

const ASCII_WS = /^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g;
/** Trims ASCII whitespace only: a non-ASCII space is part of what was written, never removed silently. */
const trimAscii = (s: string): string => s.replace(ASCII_WS, '');
const isAscii = (s: string): boolean => /^[\x00-\x7f]*$/.test(s);
const lowerAscii = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/**
 * A non-ASCII character that some Unicode mapping turns into ASCII (the Kelvin sign U+212A → "K"/"k",
 * fullwidth letters, ligatures, "İ" → "i̇", the Greek question mark → ";"): a look-alike of an ASCII
 * address. Cyrillic and Greek letters stay themselves under every mapping, so they are not caught
 * here and are kept distinct simply because they are other characters.
 */
function foldsToAscii(ch: string): boolean {
  if (isAscii(ch)) return false;
  return /[\x00-\x7f]/.test(ch.normalize('NFKC')) || /[\x00-\x7f]/.test(ch.toLowerCase());
}

/**
 * One domain label in canonical form (lower-case U-label), or null when IDNA would change it in a way
 * other than case (a compatibility mapping, a look-alike folding onto ASCII, a disallowed character)
 * or when an A-label ("xn--…") does not round-trip.
 */
function canonicalLabel(label: string): string | null {
  if (label.length === 0) return null;
  if (isAscii(label)) {
    const l = label.toLowerCase();
    if (!l.startsWith('xn--')) return /^[a-z0-9_-]+$/.test(l) ? l : null;
    const u = domainToUnicode(l);
    if (!u || domainToASCII(u) !== l || [...u].some(foldsToAscii)) return null;
    return u;
  }
  if ([...label].some(foldsToAscii)) return null;
  // case-fold the non-ASCII letters (none of them folds onto ASCII, checked above), then NFC
  const lowered = label.toLowerCase().normalize('NFC');
  const a = domainToASCII(lowered);
  if (!a || domainToUnicode(a) !== lowered) return null;
  return lowered;
}

/** The domain in canonical form: lower-case, A-labels decoded to U-labels (IDNA), one trailing dot dropped. */
export function normaliseDomain(raw: string): string | null {
  const d = raw.endsWith('.') ? raw.slice(0, -1) : raw;
  const labels = d.split('.');
  if (labels.length < 2) return null;
  const out: string[] = [];
  for (const l of labels) {
    const c = canonicalLabel(l);
    if (c === null) return null;
    out.push(c);
  }
  return out.join('.');
}

/**
 * An e-mail address in canonical form, or null if it is not one we can canonicalise safely.
 * - "Name <a@b>" and "mailto:" are accepted; only ASCII whitespace is trimmed.
 * - The domain is case-folded with IDNA (A-labels and U-labels of one domain are the same identity);
 *   a domain that IDNA would change by anything but case is refused (look-alikes stay distinct).
 * - The local part is kept exactly as written, with one rule applied: ASCII letters are
 *   lower-cased. RFC 5321 §2.4 discourages case-sensitive mailboxes and the mailbox providers treat
 *   ASCII case as one mailbox. Non-ASCII characters of the local part are never case-mapped or
 *   normalised (the Kelvin sign stays the Kelvin sign). No provider-specific rule (Gmail's dots and
 *   "+tag") is applied: a split is repaired by a manual merge, a wrong merge would show one person's
 *   history to another.
 */
export function normaliseEmail(raw: string): string | null {
  let s = trimAscii(raw);
  const angle = /<([^<>]*)>\s*$/.exec(s);
  if (angle) s = trimAscii(angle[1]!);
  s = s.replace(/^mailto:/i, '');
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return null;
  const local = s.slice(0, at);
  if (/[\s<>()@,;:\\"[\]]/.test(local) || /[\x00-\x1f\x7f]/.test(local)) return null;
  const domain = normaliseDomain(s.slice(at + 1));
  if (domain === null) return null;
  return `${lowerAscii(local)}@${domain}`;
}

/**
 * A phone number as E.164 ("+34600111222") by libphonenumber, or null when it cannot be one
 * without guessing. tel:/sms:/whatsapp: prefixes go; only ASCII digits and separators are read (a
 * fullwidth or other non-ASCII digit is not silently turned into an ASCII one). Bare digits are
 * international when `bareIsInternational` (a WhatsApp wa_id); otherwise a number without a country
 * code is read in the configured default region, and with none configured it is never guessed.
 * Two dialling markers that are not part of the line's number are dropped, so one person is not
 * split: Mexico's old mobile "1" (+52 1 55… = +52 55…) and Argentina's mobile "9" (+54 9 11… = +54 11…,
 * the form WhatsApp and callers from abroad use; a fixed line never has the 9 form).
 */
export function normalisePhone(raw: string, bareIsInternational = false, region = options.defaultPhoneRegion): string | null {
  const t = trimAscii(raw);
  if (!isAscii(t)) return null;
  let s = stripPhoneNoise(t);
  if (!/^\+?\d+$/.test(s)) return null;
  if (s.startsWith('00')) s = `+${s.slice(2)}`;
  if (!s.startsWith('+') && bareIsInternational) s = `+${s}`;
  if (!s.startsWith('+') && !region) return null;
  const n = parsePhoneNumberFromString(s, s.startsWith('+') ? undefined : { defaultCountry: region });
  if (!n) return null;
  let e164: string = n.number;
  const mx = /^\+521(\d{10})$/.exec(e164);
  if (mx) e164 = `+52${mx[1]}`;
  const ar = /^\+549(\d{10})$/.exec(e164);
  if (ar) e164 = `+54${ar[1]}`;
  const final = e164 === n.number ? n : parsePhoneNumberFromString(e164);
  return final && final.isPossible() ? e164 : null;
}

/** A cleaned phone string when it is not a number we can read (ASCII separators and prefixes gone). */
function cleanedPhone(raw: string): string {
  const t = trimAscii(raw);
  if (!isAscii(t)) return t;
  const c = stripPhoneNoise(t);
  return c.length > 0 ? c : t;
}

/**
 * ASCII separators and tel:/sms:/whatsapp: prefixes removed until none is left, so that normalising
 * an already normalised number changes nothing (".tel:x" would otherwise lose "tel:" only on a
 * second pass).
 */
function stripPhoneNoise(s: string): string {
  for (let prev = ''; prev !== s; ) {
    prev = s;
    s = s.replace(/^(?:(?:tel|sms|whatsapp):)+/i, '').replace(/[\s().\-/]/g, '');
  }
  return s;
}

/**
 * The canonical address for an identity on a channel. What cannot be canonicalised is kept as
 * written (only ASCII whitespace trimmed), so it never joins anyone else. The result always fits the
 * customers.v1 contract: a canonical form longer than it allows falls back to the address as written
 * (never longer than the inbound contract allows), and an address that is all whitespace is kept.
 */
export function normaliseAddress(channel: Channel, address: string): string {
  const asWritten = trimAscii(address) || address;
  let canonical: string;
  if (channel === 'email') canonical = normaliseEmail(address) ?? asWritten;
  else if (PHONE_CHANNELS.includes(channel)) canonical = normalisePhone(address, channel === 'whatsapp') ?? cleanedPhone(address);
  else canonical = asWritten;
  if (fits(canonical)) return canonical;
  if (fits(asWritten)) return asWritten;
  // longer than the contract allows even as written (the inbound and customers contracts disagree):
  // a deterministic prefix and digest, so it stays distinct and always publishable
  const digest = createHash('sha256').update(address).digest('hex').slice(0, 32);
  return `${truncateCodePoints(cleanString(asWritten), IDENTITY_LIMIT.maxLength - 33, IDENTITY_LIMIT.maxBytes - 33)}#${digest}`;
}

/** True when an identity address satisfies the contract: storable, within its limits (code points, as ajv counts, and UTF-8 bytes). */
const fits = (s: string): boolean => s.length >= 1 && isStorable(s) && [...s].length <= IDENTITY_LIMIT.maxLength && utf8Bytes(s) <= IDENTITY_LIMIT.maxBytes;

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
