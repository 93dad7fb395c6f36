/**
 * Identity normalisation never merges two people and never splits one (issue 12): e-mail look-alikes
 * (Kelvin sign, fullwidth, Cyrillic, dotless i, ligatures) stay distinct from the ASCII address;
 * IDN domains in A-label and U-label form are one identity; phone numbers of ES, MX, US, DE, GB and
 * AR in their usual written forms are one E.164 identity each. Properties: normalisation is
 * idempotent, never turns a non-ASCII address into a plain-ASCII one, and always fits the
 * omni.customers.v1 contract (issue 11: history's outbox blocked on an identity that grew).
 */
import fc from 'fast-check';
import { CHANNELS, CustomerRecord, check, type Channel, type Party } from '@omni/contracts';
import { configureIdentity, evidenceOf, LinkGraph, normaliseAddress, normaliseEmail, normalisePhone, type Identity } from '../src/domain/identity';

const K = '\u212A'; // KELVIN SIGN, lower-cases to ASCII "k"
const idFor = (i: Identity) => `cus_${i.channel}_${i.address}`;

afterEach(() => configureIdentity({}));

describe('e-mail', () => {
  it.each<[string, string | null]>([
    ['Ana.Perez@Example.COM', 'ana.perez@example.com'],
    ['  ANA@example.com\t', 'ana@example.com'],
    ['Ana Pérez <Ana@Example.com>', 'ana@example.com'],
    ['mailto:Bob@X.org', 'bob@x.org'],
    ['ana@example.com.', 'ana@example.com'], // the root dot
    // IDN: U-label and A-label of one domain, any case, are one identity
    ['ana@BÜCHER.de', 'ana@bücher.de'],
    ['ana@xn--bcher-kva.de', 'ana@bücher.de'],
    ['ana@XN--BCHER-KVA.DE', 'ana@bücher.de'],
    ['josé@example.com', 'josé@example.com'],
    ['JOSÉ@example.com', 'josÉ@example.com'], // non-ASCII in the local part is kept as written
    // look-alikes in the local part are kept as written, so they never equal the ASCII address
    [`ana${K}@example.com`, `ana${K}@example.com`],
    ['ａｎａ@example.com', 'ａｎａ@example.com'],
    ['\u0430na@example.com', '\u0430na@example.com'], // Cyrillic а
    ['İlker@example.com', 'İlker@example.com'], // "İ".toLowerCase() is "i" + combining dot
    ['\ufb01le@example.com', '\ufb01le@example.com'], // "ﬁ" ligature
    ['ana\u200b@example.com', 'ana\u200b@example.com'], // zero-width space is part of what was written
    // look-alikes in the domain: IDNA would fold them onto ASCII, so the address is not canonicalised
    [`ana@${K}a.com`, null],
    ['ana@ｅｘａｍｐｌｅ.com', null],
    ['ana@example\uff0ecom', null], // fullwidth full stop
    // other scripts are other domains (IDNA keeps them), distinct from the ASCII one
    ['ana@ex\u0430mple.com', 'ana@ex\u0430mple.com'],
    ['ana@\u0131bm.com', 'ana@\u0131bm.com'], // dotless ı
    ['not-an-email', null],
    ['a@b', null],
    ['@example.com', null],
    ['ana@', null],
    ['a b@example.com', null],
  ])('%p → %p', (raw, want) => expect(normaliseEmail(raw)).toBe(want));

  it.each<[string, string]>([
    [`ana${K}@example.com`, 'anak@example.com'],
    [`ANA${K}@example.com`, 'anak@example.com'],
    [`ana@${K}a.com`, 'ana@ka.com'],
    ['ａｎａ@example.com', 'ana@example.com'],
    ['ana@ｅｘａｍｐｌｅ.com', 'ana@example.com'],
    ['\u0430na@example.com', 'ana@example.com'],
    ['ana@ex\u0430mple.com', 'ana@example.com'],
    ['İlker@example.com', 'ilker@example.com'],
    ['\ufb01le@example.com', 'file@example.com'],
    ['ana@\u0131bm.com', 'ana@ibm.com'],
    ['ana\u200b@example.com', 'ana@example.com'],
  ])('%p is never the identity or the evidence of %p', (lookAlike, ascii) => {
    expect(normaliseAddress('email', lookAlike)).not.toBe(normaliseAddress('email', ascii));
    const a = evidenceOf({ channel: 'email', address: lookAlike }).map((e) => e.key);
    const b = evidenceOf({ channel: 'email', address: ascii }).map((e) => e.key);
    expect(a.filter((k) => b.includes(k))).toEqual([]);
  });

  it('does not link a look-alike address to the customer of the ASCII one (the Kelvin-sign takeover)', () => {
    const g = new LinkGraph({ identities: [], evidence: [], customers: [], blocked: [] });
    const victim = g.arrive({ channel: 'email', address: 'anak@example.com' }, idFor).customerId;
    for (const address of [`ana${K}@example.com`, `ANA${K}@EXAMPLE.COM`, 'ａｎａｋ@example.com', 'anak@ｅｘａｍｐｌｅ.com']) {
      const email = g.arrive({ channel: 'email', address }, idFor);
      const chat = g.arrive({ channel: 'chat', address: `v-${address}`, email: address }, idFor);
      expect([address, g.rootOf(email.customerId)]).not.toEqual([address, victim]);
      expect([address, g.rootOf(chat.customerId)]).not.toEqual([address, victim]);
    }
    // …while the same address written differently is the same person
    expect(g.rootOf(g.arrive({ channel: 'chat', address: 'v-real', email: 'AnaK@Example.com' }, idFor).customerId)).toBe(victim);
  });
});

describe('phone', () => {
  // [written, region configured for national numbers, bare digits are international (WhatsApp), E.164]
  it.each<[string, string | undefined, boolean, string | null]>([
    // ES
    ['+34 600 11 22 33', undefined, false, '+34600112233'],
    ['0034-600-112-233', undefined, false, '+34600112233'],
    ['600 11 22 33', 'ES', false, '+34600112233'],
    ['600 11 22 33', undefined, false, null], // national, no region configured: never guessed
    ['34600112233', undefined, true, '+34600112233'], // WhatsApp wa_id
    ['tel:+34.600.112.233', undefined, false, '+34600112233'],
    // MX (the pre-2019 mobile "1" is dropped: one line, one identity)
    ['+52 55 1234 5678', undefined, false, '+525512345678'],
    ['+52 1 55 1234 5678', undefined, false, '+525512345678'],
    ['5215512345678', undefined, true, '+525512345678'],
    ['55 1234 5678', 'MX', false, '+525512345678'],
    // US
    ['+1 (415) 555-0100', undefined, false, '+14155550100'],
    ['(415) 555-0100', 'US', false, '+14155550100'],
    ['001 415 555 0100', undefined, false, '+14155550100'],
    ['sms:+14155550100', undefined, false, '+14155550100'],
    // DE
    ['+49 30 1234567', undefined, false, '+49301234567'],
    ['+49 (0)30 1234567', undefined, false, '+49301234567'],
    ['030 1234567', 'DE', false, '+49301234567'],
    // GB
    ['+44 (0)20 7946 0000', undefined, false, '+442079460000'],
    ['020 7946 0000', 'GB', false, '+442079460000'],
    ['07700 900123', 'GB', false, '+447700900123'],
    // AR (the mobile "9" of the international form is dropped)
    ['+54 9 11 2345-6789', undefined, false, '+541123456789'],
    ['+54 11 2345-6789', undefined, false, '+541123456789'],
    ['5491123456789', undefined, true, '+541123456789'],
    ['011 15-2345-6789', 'AR', false, '+541123456789'],
    // never read: non-ASCII digits, impossible lengths, letters
    ['＋３４ ６００ １１２ ２３３', undefined, false, null],
    ['+٣٤٦٠٠١١٢٢٣٣', undefined, false, null], // Arabic-Indic digits
    ['+34 600', undefined, false, null],
    ['+0123', undefined, false, null],
    ['call me', 'ES', false, null],
  ])('%p (region %p, bare international %p) → %p', (raw, region, bare, want) =>
    expect(normalisePhone(raw, bare, region as Parameters<typeof normalisePhone>[2])).toBe(want),
  );

  it('keeps different lines apart and one line together across channels', () => {
    configureIdentity({ defaultPhoneRegion: 'ES' });
    const g = new LinkGraph({ identities: [], evidence: [], customers: [], blocked: [] });
    const one = [
      { channel: 'whatsapp', address: '34600112233' },
      { channel: 'sms', address: '+34 600 11 22 33' },
      { channel: 'phone', address: '600112233' },
      { channel: 'chat', address: 'v-p1', phone: '600 112 233' },
    ] as Party[];
    const roots = one.map((p) => g.rootOf(g.arrive(p, idFor).customerId));
    expect(new Set(roots).size).toBe(1);
    const others = [
      { channel: 'sms', address: '+34600112234' },
      { channel: 'sms', address: '+52 600 112 2330' },
      { channel: 'phone', address: '＋３４６００１１２２３３' },
    ] as Party[];
    for (const p of others) expect(g.rootOf(g.arrive(p, idFor).customerId)).not.toBe(roots[0]);
  });
});

describe('properties', () => {
  const confusable = fc.constantFrom(K, 'ａ', 'Ａ', '\u0430', '\u0435', '\u043e', 'İ', '\u0131', '\ufb01', 'ß', 'ẞ', '\u200b', '\u00a0', '\uff0e', '\uff20', '\u0301', 'ǅ');
  const ascii = fc.constantFrom('a', 'K', 'k', 'z', '0', '9', '.', '-', '+', '@', ' ', '(', ')', 'x', 'n', 'X');
  const piece = fc.oneof(confusable, ascii, fc.constantFrom('xn--', 'example.com', '@example.com', 'mailto:', '<', '>', 'tel:', '00', '+34'));
  /** addresses as the inbound contract allows them (≤ 320 code points), built to hit the interesting cases */
  const address = fc.oneof(
    fc.array(piece, { minLength: 1, maxLength: 30 }).map((xs) => xs.join('')),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 320 }),
    fc.emailAddress().map((e) => e.toUpperCase()),
  );
  const channel = fc.constantFrom<Channel>(...(CHANNELS as readonly Channel[]));
  const region = fc.constantFrom<undefined | 'ES' | 'MX' | 'US' | 'DE' | 'GB' | 'AR'>(undefined, 'ES', 'MX', 'US', 'DE', 'GB', 'AR');

  it.each([
    ['phone', 'tel:tel:xn--'],
    ['whatsapp', '.tel:xn--'],
    ['sms', '(sms:) +34 600 111 222'],
    ['phone', '.tel:0034600111222'],
  ] as const)('normalises %s %j in one pass (counterexamples the idempotence property found)', (ch, a) => {
    const once = normaliseAddress(ch, a);
    expect(normaliseAddress(ch, once)).toBe(once);
  });

  it('is idempotent', () =>
    fc.assert(
      fc.property(channel, address, region, (ch, a, r) => {
        configureIdentity(r ? { defaultPhoneRegion: r } : {});
        const once = normaliseAddress(ch, a);
        expect(normaliseAddress(ch, once)).toBe(once);
      }),
      { numRuns: 3000 },
    ));

  it('never turns a non-ASCII address into a plain-ASCII identity', () =>
    fc.assert(
      fc.property(channel, address, region, (ch, a, r) => {
        configureIdentity(r ? { defaultPhoneRegion: r } : {});
        fc.pre(!a.includes('<') && /[^\x00-\x7f]/.test(a));
        expect(/[^\x00-\x7f]/.test(normaliseAddress(ch, a))).toBe(true);
      }),
      { numRuns: 3000 },
    ));

  it('always fits omni.customers.v1, however long the address or how much it grows', () => {
    // "İ" grows when lower-cased; A-labels, combining marks and astral characters count differently
    const long = fc.oneof(
      fc.constantFrom('İ', 'xn--bcher-kva.', 'ẞ', '😀', 'a\u0301', 'A').chain((c) => fc.integer({ min: 1, max: 320 }).map((n) => [...c.repeat(n)].slice(0, 320).join(''))),
      address,
    );
    const suffix = fc.constantFrom('', '@example.com', '@xn--bcher-kva.de', '@İ.com');
    fc.assert(
      fc.property(channel, long, suffix, (ch, a, s) => {
        const addr = [...`${a}${s}`].slice(0, 320).join('');
        const record = { schema: 'omni.customers.v1', customerId: 'c', version: 1, identities: [{ channel: ch, address: normaliseAddress(ch, addr) }], updatedAt: '2026-07-01T10:00:00.000Z' };
        expect(check(CustomerRecord, record)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
