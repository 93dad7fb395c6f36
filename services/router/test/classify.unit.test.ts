import type { Channel } from '@omni/contracts';
import { classify, compileRules, type ClassifyInput } from '../src/domain/classify';
import { DEFAULT_RULES } from '../src/domain/default-rules';
import { detectLanguage } from '../src/domain/detect-language';
import { normalizeText } from '../src/domain/normalize-text';
import { Rule, ruleProblems } from '../src/domain/rules';
import { check } from '@omni/contracts';

const rules = compileRules(DEFAULT_RULES);
const chat = (text: string, extra: Partial<ClassifyInput> = {}): ClassifyInput => ({ channel: 'chat', text, ...extra });

describe('normalizeText', () => {
  it.each([
    ['Contraseña', 'contrasena'],
    ['ACTUALIZACIÓN', 'actualizacion'],
    ['Über Straße', 'uber straße'],
  ])('%s → %s', (input, out) => expect(normalizeText(input)).toBe(out));
});

describe('detectLanguage', () => {
  it.each([
    ['No puedo entrar a mi cuenta, olvidé la contraseña', 'es'],
    ['¿Dónde está mi pedido?', 'es'],
    ['I cannot log in to my account', 'en'],
    ['Where is my order? It has not arrived', 'en'],
    ['Bonjour, je ne peux pas accéder à mon compte', 'fr'],
    ['Hallo, ich kann mich nicht anmelden, bitte helfen Sie mir', 'de'],
    ['Здравствуйте, не могу войти в аккаунт', 'ru'],
    ['パスワードを忘れました', 'ja'],
    ['ok', undefined],
    ['12345', undefined],
  ])('%s → %s', (text, lang) => expect(detectLanguage(text)).toBe(lang));
});

describe('classify with the default rules', () => {
  const table: [string, ClassifyInput, { tier: number; category: string; language?: string }][] = [
    ['es password', chat('Hola, olvidé mi contraseña y no puedo entrar'), { tier: 1, category: 'access-passwords', language: 'es' }],
    ['en password', chat('I forgot my password, please help'), { tier: 1, category: 'access-passwords', language: 'en' }],
    ['es error message', chat('Me sale un mensaje de error al abrir la aplicación'), { tier: 1, category: 'error-messages' }],
    ['en error message', chat('The app crashes with an error message when I open it'), { tier: 1, category: 'error-messages' }],
    ['es device', chat('¿Cómo configuro la impresora nueva?'), { tier: 1, category: 'device-setup' }],
    ['en device', chat('How do I set up my new printer?'), { tier: 1, category: 'device-setup' }],
    ['es account', chat('Quiero eliminar mi cuenta de usuario'), { tier: 1, category: 'user-accounts' }],
    ['en account', chat('Please delete my account'), { tier: 1, category: 'user-accounts' }],
    ['es orders', chat('Mi pedido no ha llegado todavía, ¿y el seguimiento?'), { tier: 1, category: 'orders-shipping' }],
    ['en orders', chat('Where is my order? The tracking has not moved'), { tier: 1, category: 'orders-shipping' }],
    ['es installs', chat('No sé cómo instalar la última actualización'), { tier: 1, category: 'installs-updates' }],
    ['en installs', chat('How do I install the latest update?'), { tier: 1, category: 'installs-updates' }],
    ['es connectivity', chat('El wifi se desconecta cada rato'), { tier: 1, category: 'connectivity' }],
    ['en connectivity', chat('My wifi keeps dropping the connection'), { tier: 1, category: 'connectivity' }],
    ['es refunds', chat('Quiero una devolución y el reembolso de mi dinero'), { tier: 1, category: 'returns-refunds' }],
    ['en refunds', chat('I want a refund for this product'), { tier: 1, category: 'returns-refunds' }],
    ['es forms', chat('No puedo enviar el formulario de solicitud'), { tier: 1, category: 'forms' }],
    ['en forms', chat('The application form will not let me fill in my address'), { tier: 1, category: 'forms' }],
    [
      'social complaint (es, instagram)',
      { channel: 'instagram', text: 'Pésimo servicio, quiero poner una queja' },
      { tier: 1, category: 'social-media-complaints' },
    ],
    ['complaint words on chat are not social', chat('This is terrible, my order never came'), { tier: 1, category: 'orders-shipping' }],
    ['es integrations', chat('La integración con Salesforce dejó de sincronizar'), { tier: 2, category: 'integrations' }],
    ['en api beats error message', chat('The API returns a 500 error on every call'), { tier: 2, category: 'apis' }],
    ['es database', chat('La base de datos está muy lenta'), { tier: 2, category: 'databases' }],
    ['en outage', chat('Your service is down for everyone, major outage'), { tier: 3, category: 'outages' }],
    ['es servers', chat('El servidor de producción no responde'), { tier: 3, category: 'servers' }],
    ['french → tier 5', chat("Bonjour, je n'arrive pas à me connecter à mon compte"), { tier: 5, category: 'foreign-language', language: 'fr' }],
    ['declared language wins', chat('password', { language: 'pt-BR' }), { tier: 5, category: 'foreign-language', language: 'pt' }],
    ['es-MX is served', chat('olvidé mi clave', { language: 'es-MX' }), { tier: 1, category: 'access-passwords', language: 'es' }],
    ['no keyword → general', chat('Hello there, I have a question'), { tier: 1, category: 'general' }],
    ['accents optional', chat('olvide mi contrasena'), { tier: 1, category: 'access-passwords' }],
    ['keyword is a whole word ("api" not in "rapido")', chat('El envío rápido no llegó'), { tier: 1, category: 'orders-shipping' }],
  ];
  it.each(table)('%s', (_name, input, expected) => {
    expect(classify(rules, input)).toMatchObject(expected);
  });

  it('VIP adds priority on top of the category rule', () => {
    const base = classify(rules, chat('I forgot my password'));
    const vip = classify(rules, chat('I forgot my password', { vip: true }));
    expect(vip.priority).toBe(base.priority + 30);
    expect(vip.matched).toEqual(['vip', 'access-passwords']);
  });

  it('two recent escalations lift a tier-1 topic to tier 2', () => {
    expect(classify(rules, chat('I forgot my password', { recentEscalations: 2 }))).toMatchObject({ tier: 2, category: 'access-passwords' });
    expect(classify(rules, chat('I forgot my password', { recentEscalations: 1 }))).toMatchObject({ tier: 1 });
  });

  it('phone calls get a priority bump', () => {
    expect(classify(rules, { channel: 'phone' as Channel, text: 'I forgot my password' }).priority).toBe(60);
  });

  it('collects required skills', () => {
    expect(classify(rules, chat('La integración con Zapier falla')).skills).toEqual(['integrations']);
  });
});

describe('rules as data', () => {
  it('the default rules satisfy the rule schema', () => {
    for (const r of DEFAULT_RULES) expect(check(Rule, r)).toBe(true);
    expect(ruleProblems(DEFAULT_RULES)).toEqual([]);
  });

  it('evaluates in order and stops at the first rule without continue', () => {
    const rs = compileRules([
      { id: 'a', when: { keywords: { any: ['refund'] } }, then: { category: 'first', tier: 2 } },
      { id: 'b', when: { keywords: { any: ['refund'] } }, then: { category: 'second' } },
    ]);
    expect(classify(rs, chat('refund please'))).toMatchObject({ category: 'first', tier: 2, matched: ['a'] });
  });

  it('matches channel, language lists and patterns', () => {
    const rs = compileRules([
      { id: 'email-only', when: { channels: ['email'], patterns: { en: ['invoice #\\d+'] } }, then: { category: 'billing' } },
      { id: 'es-only', when: { languages: ['es'] }, then: { category: 'spanish' } },
    ]);
    expect(classify(rs, { channel: 'email', text: 'About invoice #123 for my order' }).category).toBe('billing');
    expect(classify(rs, { channel: 'chat', text: 'About invoice #123 for my order' }).category).toBe('general');
    expect(classify(rs, chat('hola, tengo una pregunta')).category).toBe('spanish');
  });

  it('reports duplicate ids and bad regular expressions', () => {
    const problems = ruleProblems([
      { id: 'x', when: { patterns: { en: ['(unclosed'] } }, then: {} },
      { id: 'x', when: {}, then: {} },
    ]);
    expect(problems.map((p) => p.field)).toEqual(['body.rules.0.when.patterns.en.0', 'body.rules.1.id']);
  });
});
