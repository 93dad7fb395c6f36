import {
  Attachment,
  check,
  fitAttachment,
  assertValid,
  checkFreeform,
  cleanString,
  ContractError,
  deterministicMessageId,
  fitTo,
  InboundMessage,
  ConversationEvent,
  isStorable,
  LIMITS,
  prepareForContract,
  problemsOf,
  truncateCodePoints,
  utf8Bytes,
} from '@omni/contracts';

const envelope = (over: Record<string, unknown> = {}) => ({
  schema: 'omni.inbound.v1',
  messageId: deterministicMessageId('adapter:a', 'm1'),
  channel: 'chat',
  provider: 'adapter:a',
  providerMessageId: 'm1',
  threadKey: 'chat:t1',
  from: { channel: 'chat', address: 'v1' },
  sentAt: '2026-11-23T10:00:00.000Z',
  receivedAt: '2026-11-23T10:00:01.000Z',
  text: 'hola',
  ...over,
});

describe('storable strings', () => {
  it.each([
    ['NUL', 'a\u0000b', false],
    ['lone high surrogate', 'a\ud800b', false],
    ['lone low surrogate', '\udc00', false],
    ['a pair (emoji)', 'a😀b', true],
    ['RTL and zero-width', '\u202eabc\u200b\ufeff', true],
  ])('%s', (_n, s, ok) => expect(isStorable(s)).toBe(ok));

  it('cleaning replaces only NUL and lone surrogates with U+FFFD', () => {
    expect(cleanString('a\u0000b\ud800c😀\u200b')).toBe('a\ufffdb\ufffdc😀\u200b');
  });

  it('truncates by code point, never inside a pair, and by bytes', () => {
    expect(truncateCodePoints('😀😀😀', 2)).toBe('😀😀');
    expect(truncateCodePoints('ab😀', 3, 5)).toBe('ab');
    expect(isStorable(truncateCodePoints('x'.repeat(1999) + '😀', 2000))).toBe(true);
    expect(utf8Bytes(truncateCodePoints('€'.repeat(1000), 1000, 100))).toBeLessThanOrEqual(100);
  });
});

describe('the contract refuses or cleans per field', () => {
  it('refuses NUL and lone surrogates in ids, thread keys and addresses, naming the field', () => {
    expect(problemsOf(InboundMessage, envelope({ threadKey: 'chat:a\u0000' })).join()).toMatch(/\/threadKey: must not contain NUL/);
    expect(problemsOf(InboundMessage, envelope({ from: { channel: 'chat', address: '\ud800' } })).join()).toMatch(/\/from\/address/);
    expect(() => prepareForContract(InboundMessage, envelope({ providerMessageId: 'x\u0000' }))).toThrow(ContractError);
  });

  it('cleans customer text, names and raw, and lists what it cleaned', () => {
    const e = prepareForContract(InboundMessage, envelope({ text: 'a\u0000b', subject: '\udc00', from: { channel: 'chat', address: 'v', name: 'A\u0000' }, raw: { k: ['x\u0000'] } }));
    expect(e.text).toBe('a\ufffdb');
    expect(e.subject).toBe('\ufffd');
    expect(e.from.name).toBe('A\ufffd');
    expect(e.raw).toEqual({ k: ['x\ufffd'] });
    expect(e.cleaned).toEqual(expect.arrayContaining(['/text', '/subject', '/from/name', '/raw']));
  });

  it('an unclean text that skipped the clean step is refused at validation (no producer bypasses it)', () => {
    expect(() => assertValid(InboundMessage, envelope({ text: 'a\u0000' }))).toThrow(/\/text/);
  });

  it('limits index fields in UTF-8 bytes as well as characters', () => {
    const key = `chat:${'𝄞'.repeat(600)}`; // 605 code points, 2405 bytes
    expect(problemsOf(InboundMessage, envelope({ threadKey: key })).join()).toMatch(/\/threadKey: must NOT have more than 2048 bytes/);
  });

  it('bounds free-form fields without recursion: a million-deep array is refused, not a stack overflow', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 1_000_000; i++) deep = [deep];
    expect(checkFreeform(deep, LIMITS.raw)?.reason).toMatch(/nested deeper than 32/);
    expect(() => prepareForContract(InboundMessage, envelope({ raw: { deep } }))).toThrow(/\/raw: .*nested deeper/);
    const wide = { a: Array.from({ length: 30_000 }, () => 1) };
    expect(problemsOf(InboundMessage, envelope({ raw: wide })).join()).toMatch(/more than 20000 values/);
  });

  it('internal producers fit a derived value to the contract field (an address as actor id)', () => {
    const address = 'a'.repeat(300) + '😀'.repeat(20);
    const id = fitTo(ConversationEvent.properties.actor.properties.id, address);
    expect(id).toBe(address);
    expect(fitTo(ConversationEvent.properties.actor.properties.id, 'b'.repeat(400))).toHaveLength(320);
  });
});

describe('fitAttachment (provider attachment metadata)', () => {
  it('leaves out what cannot be stored or carried whole, cleans and cuts the name, and always satisfies the contract', () => {
    const fitted = fitAttachment({
      name: `a\u0000${'😀'.repeat(600)}`,
      contentType: 'image/\u0000png',
      contentId: 'cid\ud800',
      url: `https://cdn.example/${'x'.repeat(5000)}`,
      size: -1,
    });
    expect(fitted.contentType).toBeUndefined();
    expect(fitted.contentId).toBeUndefined();
    expect(fitted.url).toBeUndefined();
    expect(fitted.size).toBeUndefined();
    expect(fitted.name!.startsWith('a\ufffd😀')).toBe(true);
    expect(check(Attachment, fitted)).toBe(true);
  });

  it('keeps ordinary metadata as it is', () => {
    const a = { name: 'factura.pdf', contentType: 'application/pdf', contentId: 'part1@mail', url: 'https://cdn.example/f.pdf', size: 1200 };
    expect(fitAttachment(a)).toEqual(a);
  });
});
