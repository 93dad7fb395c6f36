import type { Party } from '@omni/contracts';
import { evidenceOf, LinkGraph, normaliseAddress, normaliseEmail, normalisePhone, parseIdentityKey, type Identity } from '../src/domain/identity';

const idFor = (i: Identity) => `cus_${i.channel}_${i.address}`;
const empty = () => new LinkGraph({ identities: [], evidence: [], customers: [], blocked: [] });

describe('normalisation', () => {
  it.each([
    ['  Ana.Perez@Example.COM ', 'ana.perez@example.com'],
    ['Ana <ANA@example.com>', 'ana@example.com'],
    ['mailto:bob@x.org', 'bob@x.org'],
    ['not-an-email', null],
  ])('email %p → %p', (raw, want) => expect(normaliseEmail(raw)).toBe(want));

  it.each([
    ['+34 600 11 22 33', false, '+34600112233'],
    ['0034-600-112-233', false, '+34600112233'],
    ['tel:+1 (415) 555-0100', false, '+14155550100'],
    ['whatsapp:+34600112233', false, '+34600112233'],
    ['34600112233', true, '+34600112233'],
    ['34600112233', false, null], // bare digits on a phone line: could be national, never guessed
    ['0600112233', true, null],
    ['+0123', false, null],
  ])('phone %p (bare international %p) → %p', (raw, bare, want) => expect(normalisePhone(raw, bare)).toBe(want));

  it('normalises addresses per channel', () => {
    expect(normaliseAddress('whatsapp', '34600112233')).toBe('+34600112233');
    expect(normaliseAddress('sms', '+34 600 112 233')).toBe('+34600112233');
    expect(normaliseAddress('email', 'A@B.COM')).toBe('a@b.com');
    expect(normaliseAddress('chat', ' Visitor-9 ')).toBe('Visitor-9');
    expect(parseIdentityKey('whatsapp:34600112233', ['whatsapp'])).toEqual({ channel: 'whatsapp', address: '+34600112233' });
    expect(parseIdentityKey('nochannel', ['chat'])).toBeNull();
    expect(parseIdentityKey('fax:123', ['chat'])).toBeNull();
  });

  it.each<[Party, string[]]>([
    [{ channel: 'whatsapp', address: '34600112233', phone: '+34600112233' }, ['phone:+34600112233']],
    [{ channel: 'phone', address: '+34600112233' }, ['phone:+34600112233']],
    [{ channel: 'sms', address: '600112233' }, []],
    [{ channel: 'email', address: 'Ana@Example.com' }, ['email:ana@example.com']],
    [{ channel: 'chat', address: 'v-1', email: 'ANA@example.com' }, ['email:ana@example.com']],
    [{ channel: 'chat', address: 'v-1', phone: '+34 600112233' }, ['phone:+34600112233']], // typed in the pre-chat form
    [{ channel: 'chat', address: 'v-1', phone: '600112233' }, []], // national format: never guessed
    [{ channel: 'email', address: 'a@b.co', phone: '+34600112233' }, ['email:a@b.co']], // only the channel's own address
    [{ channel: 'messenger', address: '123456' }, []],
  ])('evidence of %p', (party, keys) => expect(evidenceOf(party).map((e) => e.key)).toEqual(keys));
});

describe('LinkGraph', () => {
  it('creates a customer on first contact and reuses it for the same identity', () => {
    const g = empty();
    const a = g.arrive({ channel: 'chat', address: 'v-1', name: 'Ana' }, idFor);
    expect(a.actions).toEqual([
      { type: 'customer.created', customerId: 'cus_chat_v-1', displayName: 'Ana' },
      { type: 'identity.added', identity: { channel: 'chat', address: 'v-1' }, customerId: 'cus_chat_v-1', reason: 'first contact' },
    ]);
    expect(g.arrive({ channel: 'chat', address: 'v-1' }, idFor)).toEqual({ identity: { channel: 'chat', address: 'v-1' }, customerId: 'cus_chat_v-1', actions: [] });
  });

  it('links chat (typed email) → email → whatsapp → phone into one customer with reasons', () => {
    const g = empty();
    const chat = g.arrive({ channel: 'chat', address: 'v-1', email: 'ana@example.com' }, idFor);
    const email = g.arrive({ channel: 'email', address: 'ANA@example.com' }, idFor);
    expect(email.customerId).toBe(chat.customerId);
    expect(email.actions).toContainEqual({ type: 'identity.added', identity: { channel: 'email', address: 'ana@example.com' }, customerId: chat.customerId, reason: 'auto: same email', via: 'email:ana@example.com' });
    const wa = g.arrive({ channel: 'whatsapp', address: '34600112233', phone: '+34600112233' }, idFor);
    expect(wa.customerId).not.toBe(chat.customerId); // no evidence joins WhatsApp to the e-mail yet
    const call = g.arrive({ channel: 'phone', address: '+34 600 112 233' }, idFor);
    expect(call.customerId).toBe(wa.customerId);
    expect(call.actions).toContainEqual(expect.objectContaining({ type: 'identity.added', reason: 'auto: same phone', via: 'phone:+34600112233' }));
  });

  it('merges two existing customers into the older one when new evidence joins them', () => {
    const g = empty();
    const old = g.arrive({ channel: 'email', address: 'ana@example.com' }, idFor).customerId;
    const chat = g.arrive({ channel: 'chat', address: 'v-2' }, idFor).customerId;
    expect(chat).not.toBe(old);
    const again = g.arrive({ channel: 'chat', address: 'v-2', email: 'ana@example.com' }, idFor);
    expect(again.customerId).toBe(chat); // the identity keeps its home…
    expect(again.actions).toContainEqual({ type: 'customers.merged', sourceId: chat, targetId: old, reason: 'auto: same email', via: 'email:ana@example.com' });
    expect(g.rootOf(chat)).toBe(old); // …and the home now belongs to the older customer
  });

  it('does not merge again customers whose merge was undone', () => {
    const g = new LinkGraph({
      identities: [
        { key: 'sms:+34600112233', customerId: 'cA' },
        { key: 'whatsapp:+34600112233', customerId: 'cB' },
      ],
      evidence: [{ key: 'phone:+34600112233', identityKey: 'sms:+34600112233' }],
      customers: [
        { id: 'cA', mergedInto: null, rank: 1 },
        { id: 'cB', mergedInto: null, rank: 2 },
      ],
      blocked: [['cA', 'cB']],
    });
    const r = g.arrive({ channel: 'whatsapp', address: '34600112233' }, idFor);
    expect(r.customerId).toBe('cB');
    expect(r.actions).toEqual([{ type: 'evidence.added', key: 'phone:+34600112233', identity: { channel: 'whatsapp', address: '+34600112233' } }]);
  });

  it('follows merge chains to the root', () => {
    const g = new LinkGraph({
      identities: [{ key: 'chat:v', customerId: 'c3' }],
      evidence: [],
      customers: [
        { id: 'c1', mergedInto: null, rank: 1 },
        { id: 'c2', mergedInto: 'c1', rank: 2 },
        { id: 'c3', mergedInto: 'c2', rank: 3 },
      ],
      blocked: [],
    });
    expect(g.rootOf('c3')).toBe('c1');
  });

  it('groups the same people whatever order their identities arrive in (all 720 orders)', () => {
    const parties: Party[] = [
      { channel: 'chat', address: 'v-1', email: 'ana@example.com', phone: '+34600112233' },
      { channel: 'email', address: 'ANA@example.com' },
      { channel: 'whatsapp', address: '34600112233' },
      { channel: 'phone', address: '+34 600 112 233' },
      { channel: 'sms', address: '+34699000000' }, // someone else
      { channel: 'chat', address: 'v-2', email: 'other@example.com' }, // someone else again
    ];
    const permutations = (xs: number[]): number[][] => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p])));
    const expected = [[0, 1, 2, 3], [4], [5]];
    for (const order of permutations([0, 1, 2, 3, 4, 5])) {
      const g = empty();
      const homes = new Map<number, string>();
      for (const i of order) homes.set(i, g.arrive(parties[i]!, idFor).customerId);
      const groups = new Map<string, number[]>();
      for (let i = 0; i < parties.length; i++) {
        const root = g.rootOf(homes.get(i)!);
        groups.set(root, [...(groups.get(root) ?? []), i]);
      }
      expect({ order, groups: [...groups.values()].sort((a, b) => a[0]! - b[0]!) }).toEqual({ order, groups: expected });
    }
  });
});
