import fc from 'fast-check';
import { appendLine, cleanText, dropShortcut, replaceShortcut, shortcutAt, suggestionQuery } from '../web/src/reply-text';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const shortcut = fc.stringMatching(/^[A-Za-z0-9_.-]{0,20}$/);
// text the agent wrote before the "/": empty, or anything ending in white space
const before = fc.oneof(fc.constant(''), fc.tuple(fc.string({ unit: 'binary' }), fc.constantFrom(' ', '\n', '\t')).map(([a, b]) => a + b));
const wellFormed = (s: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/u.test(s) && !s.includes('\u0000');

describe('reply box text (canned replies and suggestions)', () => {
  it('finds the "/shortcut" being typed and puts the rendered reply exactly in its place', () => {
    fc.assert(
      fc.property(before, shortcut, fc.string({ unit: 'binary' }), (pre, s, rendered) => {
        const typed = `${pre}/${s}`;
        expect(shortcutAt(typed)).toBe(s);
        expect(replaceShortcut(typed, rendered)).toBe(pre + rendered);
        expect(dropShortcut(typed)).toBe(pre);
      }),
      { numRuns: RUNS },
    );
    // a slash inside a word or a URL is not a shortcut
    expect(shortcutAt('see https://example.com/help')).toBeNull();
    expect(shortcutAt('and/or')).toBeNull();
    expect(shortcutAt('/pw extra')).toBeNull();
  });

  it('appends an article or a reply on a line of its own, never losing what was written', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary', minLength: 1 }), (text, add) => {
        const out = appendLine(text, add);
        expect(out.endsWith(add)).toBe(true);
        expect(out.startsWith(text.replace(/\s+$/u, ''))).toBe(true);
        if (shortcutAt(text) === null) expect(replaceShortcut(text, add)).toBe(out);
      }),
      { numRuns: RUNS },
    );
  });

  it('asks for suggestions with text the knowledge service accepts, whatever the customer wrote', () => {
    fc.assert(
      fc.property(fc.option(fc.string({ unit: 'binary', maxLength: 3000 })), fc.option(fc.string({ maxLength: 30 })), fc.option(fc.constantFrom('es', 'en', 'es-MX')), (lastText, category, language) => {
        const q = suggestionQuery({ channel: 'chat', tier: 1, category: category ?? null, language, lastText }, []);
        const cleaned = cleanText(lastText ?? '', 1000).trim();
        if (!category && !cleaned) return expect(q).toBeNull();
        const p = new URLSearchParams(q!);
        const text = p.get('text') ?? '';
        expect(wellFormed(text)).toBe(true);
        expect(Array.from(text).length).toBeLessThanOrEqual(1000);
        expect(p.get('category')).toBe(category || null);
        expect(p.get('language')).toBe(language ?? null);
        expect(p.get('limit')).toBe('3');
      }),
      { numRuns: RUNS },
    );
  });

  it('falls back to the last customer message of this conversation when the offer carried no text', () => {
    const items = [
      { id: '1', direction: 'in' as const, text: 'mi contraseña', at: '2026-01-01T00:00:01Z' },
      { id: '2', direction: 'out' as const, text: 'te ayudo', at: '2026-01-01T00:00:02Z' },
      { id: '3', direction: 'in' as const, text: 'pedido anterior', at: '2026-01-01T00:00:03Z', earlier: true },
    ];
    expect(new URLSearchParams(suggestionQuery({ channel: 'chat', tier: 1, category: null }, items)!).get('text')).toBe('mi contraseña');
    expect(suggestionQuery({ channel: 'chat', tier: 1, category: null }, [])).toBeNull();
  });
});
