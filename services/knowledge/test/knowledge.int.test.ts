/**
 * The knowledge service over the real broker and database (and history, for drafts from solved
 * cases): search in Spanish and English with and without accents and with typos, suggestions for a
 * "contraseña" conversation classified by the router's own rules, articles' life (draft, versions,
 * publish, translations, sanitised HTML), uses and the helped rate learnt from omni.conversations.v1,
 * recurring problems without an article, canned replies, drafts from a resolved conversation.
 */
import { ConversationEvent, type Party } from '@omni/contracts';
import { Publisher } from '@omni/kafka';
import * as historyCfg from '@omni/history/src/config';
import { start as startHistory } from '@omni/history/src/start';
import * as knowledgeCfg from '@omni/knowledge/src/config';
import { start as startKnowledge } from '@omni/knowledge/src/start';
import { suggestionsFor } from '@omni/knowledge-client';
import { classify, compileRules } from '../../router/src/domain/classify';
import { DEFAULT_RULES } from '../../router/src/domain/default-rules';
import { Script } from '../../history/test/support/events';
import { createWorld, eventually, testLogger, type TestWorld } from '../../../test/support/infra';
import { TEST_JWT_SECRET, testToken } from '../../../test/support/tokens';

let world: TestWorld;
let base: string;
let historyBase: string;
let publisher: Publisher;
const closers: (() => Promise<void>)[] = [];

const T = {
  admin: testToken('admin', 'root'),
  supervisor: testToken('supervisor', 'lead-1'),
  agent: testToken('agent', 'agent-1'),
  agent2: testToken('agent', 'agent-2'),
  service: testToken('service', 'router', ['knowledge:read', 'knowledge:write']),
  kpis: testToken('service', 'bi', ['kpis:read']),
};

async function call(method: string, path: string, token: string | undefined, body?: unknown, url = base) {
  const res = await fetch(url + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
const search = async (q: string, extra = '') => (await call('GET', `/v1/articles?q=${encodeURIComponent(q)}${extra}`, T.agent)).body.articles as { id: string; language: string; highlight: string; matchedBy: string[] }[];

beforeAll(async () => {
  world = await createWorld('knowledge');
  const h = await startHistory(historyCfg.readConfig(world.env({ HISTORY_GROUP_ID: world.groupId('history'), JWT_SECRET: TEST_JWT_SECRET })), testLogger);
  closers.push(h.close);
  historyBase = h.url;
  const k = await startKnowledge(knowledgeCfg.readConfig(world.env({ KNOWLEDGE_GROUP_ID: world.groupId('knowledge'), HISTORY_URL: h.url, JWT_SECRET: TEST_JWT_SECRET })), testLogger);
  closers.push(k.close);
  base = k.url;
  publisher = new Publisher(world.kafka);
  await publisher.connect();
});

afterAll(async () => {
  await publisher?.disconnect();
  for (const c of closers.reverse()) await c().catch(() => undefined);
  await world?.close();
});

describe('search', () => {
  it.each([
    ['contraseña', 'accented'],
    ['contrasena', 'without accents'],
    ['CONTRASEÑA olvidé', 'upper case, two words'],
    ['contrasela', 'a typo'],
    ['restablcer contraseña', 'a typo beside a right word'],
  ])('Spanish: "%s" (%s) finds the Spanish password-reset article first', async (q) => {
    const hits = await search(q, '&language=es');
    expect(hits[0]).toMatchObject({ id: 'kb-seed-password-reset-es', language: 'es' });
  });

  it.each([
    ['reset password', 'plain'],
    ['rését pâsswörd', 'with accents that English does not write'],
    ['pasword', 'a typo'],
    ['refund for my return', 'plain, another article'],
  ])('English: "%s" (%s) finds the right English article first', async (q) => {
    const hits = await search(q, '&language=en');
    expect(hits[0]!.id).toBe(q.includes('refund') ? 'kb-seed-returns-en' : 'kb-seed-password-reset-en');
    expect(hits[0]!.language).toBe('en');
  });

  it('ranks, highlights the matched words (accents kept, HTML escaped) and says how each hit matched', async () => {
    const hits = await search('contrasena', '&language=es');
    expect(hits[0]!.highlight).toContain('<mark>contraseña</mark>');
    expect(hits[0]!.matchedBy).toContain('text');
    const typo = await search('contrasela', '&language=es');
    expect(typo[0]!.matchedBy).toEqual(['typo']);
    // without a language, one hit per translation group
    const any = await search('password');
    const groups = any.map((h) => h.id.replace(/-(es|en)$/, ''));
    expect(new Set(groups).size).toBe(groups.length);
  });
});

describe('suggestions', () => {
  const rules = compileRules(DEFAULT_RULES);

  it('a "contraseña" conversation, classified by the router\'s rules, gets the Spanish password-reset article first (client: one call)', async () => {
    const text = 'Hola, olvidé mi contraseña y no puedo entrar en mi cuenta';
    const c = classify(rules, { channel: 'chat', text });
    expect(c.category).toBe('access-passwords');
    const got = await suggestionsFor({ baseUrl: base, token: T.service, category: c.category, language: c.language ?? 'es', text, timeoutMs: 10_000 });
    expect(got[0]).toMatchObject({ id: 'kb-seed-password-reset-es', language: 'es', category: 'access-passwords' });
    expect(got[0]!.link).toContain('kb-seed-password-reset-es');
    // the same case in English gets the English article; the Spanish one is not repeated
    const en = await suggestionsFor({ baseUrl: base, token: T.service, category: 'access-passwords', language: 'en', text: 'I forgot my password', timeoutMs: 10_000 });
    expect(en[0]!.id).toBe('kb-seed-password-reset-en');
    expect(en.map((s) => s.id)).not.toContain('kb-seed-password-reset-es');
  });

  it('a password message with limit 3 gets the password article only: unrelated articles far below the best score are cut', async () => {
    for (const [language, text] of [
      ['es', 'Hola, olvidé mi contraseña y no puedo entrar en mi cuenta'],
      ['en', 'Hi, I forgot my password and cannot get into my account'],
    ] as const) {
      const got = await suggestionsFor({ baseUrl: base, token: T.service, category: 'access-passwords', language, text, limit: 3, timeoutMs: 10_000 });
      expect(got[0]!.id).toBe(`kb-seed-password-reset-${language}`);
      const ids = got.map((s) => s.id);
      for (const unrelated of ['order-status', 'connectivity']) for (const l of ['es', 'en']) expect(ids).not.toContain(`kb-seed-${unrelated}-${l}`);
      // the cut is relative: what is left scores within the ratio of the best
      for (const s of got) expect(s.score).toBeGreaterThanOrEqual(got[0]!.score * 0.35);
    }
    // a message about two things keeps both
    const both = await suggestionsFor({ baseUrl: base, token: T.service, language: 'es', text: 'olvidé mi contraseña y además no tengo conexión wifi', limit: 3, timeoutMs: 10_000 });
    expect(both.map((s) => s.id)).toEqual(expect.arrayContaining(['kb-seed-password-reset-es', 'kb-seed-connectivity-es']));
  });

  it('tier=0 gives only the articles written for customers (self-service)', async () => {
    const draft = await call('POST', '/v1/articles', T.supervisor, { language: 'es', title: 'Contraseña: guía interna para agentes', body: 'Pasos internos de contraseña para el agente.', category: 'internal-guides', tier: 1 });
    expect(draft.status).toBe(201);
    const id = draft.body.article.id as string;
    expect((await call('POST', `/v1/articles/${id}/publish`, T.supervisor)).status).toBe(200);
    const all = await suggestionsFor({ baseUrl: base, token: T.service, language: 'es', text: 'contraseña', limit: 5, timeoutMs: 10_000 });
    expect(all.map((s) => s.id)).toContain(id);
    const tier0 = await suggestionsFor({ baseUrl: base, token: T.service, language: 'es', text: 'contraseña', tier: 0, limit: 5, timeoutMs: 10_000 });
    expect(tier0.map((s) => s.id)).toContain('kb-seed-password-reset-es');
    expect(tier0.every((s) => s.tier === 0)).toBe(true);
    expect((await call('GET', '/v1/suggestions?text=x&tier=9', T.agent)).status).toBe(400);
  });

  it('the client falls back to no suggestions when knowledge is slow, down or refuses', async () => {
    const errors: string[] = [];
    expect(await suggestionsFor({ baseUrl: 'http://127.0.0.1:9', token: T.service, text: 'x', onError: (e) => errors.push(e.message) })).toEqual([]);
    expect(await suggestionsFor({ baseUrl: base, token: 'not-a-token', text: 'contraseña', onError: (e) => errors.push(e.message) })).toEqual([]);
    expect(errors).toHaveLength(2);
    expect(errors[1]).toContain('401');
  });

  it('a category without text gives that category\'s articles; nothing asked gives nothing', async () => {
    const r = await call('GET', '/v1/suggestions?category=orders-shipping&language=en', T.agent);
    expect(r.body.suggestions[0].id).toBe('kb-seed-order-status-en');
    expect((await call('GET', '/v1/suggestions', T.agent)).body).toEqual({ suggestions: [] });
  });
});

describe('articles', () => {
  it('agents draft, supervisors publish; every change is a version with author and time; translations are linked', async () => {
    const draft = await call('POST', '/v1/articles', T.agent, {
      language: 'es',
      title: 'La impresora imprime páginas en blanco',
      body: 'Comprueba el **cartucho** de tinta.\n\n<script>alert(1)</script>\n\n[mal](javascript:alert(1)) [bien](https://example.com)',
      category: 'device-setup',
      tags: ['Impresora', 'impresora', 'tinta'],
    });
    expect(draft.status).toBe(201);
    const id = draft.body.article.id as string;
    expect(draft.body.article).toMatchObject({ status: 'draft', version: 1, createdBy: 'agent-1', tags: ['impresora', 'tinta'] });
    expect(draft.body.html).toContain('<strong>cartucho</strong>');
    expect(draft.body.html).not.toContain('<script');
    expect(draft.body.html).not.toMatch(/href="javascript/i);
    expect(draft.body.html).toContain('href="https://example.com"');
    // drafts are not found by default searches, and not by services at all
    expect((await search('páginas en blanco', '&language=es')).map((h) => h.id)).not.toContain(id);
    expect((await call('GET', `/v1/articles/${id}`, T.service)).status).toBe(404);
    // the author edits the draft; another agent may not; nobody but supervisors publishes
    expect((await call('PATCH', `/v1/articles/${id}`, T.agent, { body: 'Comprueba el cartucho de tinta y limpia los cabezales.', expectedVersion: 1 })).body.article.version).toBe(2);
    expect((await call('PATCH', `/v1/articles/${id}`, T.agent2, { title: 'otro' })).status).toBe(403);
    expect((await call('PATCH', `/v1/articles/${id}`, T.agent, { title: 'stale', expectedVersion: 1 })).status).toBe(409);
    expect((await call('POST', `/v1/articles/${id}/publish`, T.agent)).status).toBe(403);
    const pub = await call('POST', `/v1/articles/${id}/publish?expectedVersion=2`, T.supervisor);
    expect(pub.body.article).toMatchObject({ status: 'published', version: 3, publishedBy: 'lead-1' });
    expect((await call('PATCH', `/v1/articles/${id}`, T.agent, { title: 'after publish' })).status).toBe(403);
    expect((await search('paginas en blanco', '&language=es'))[0]!.id).toBe(id);
    const versions = (await call('GET', `/v1/articles/${id}/versions`, T.agent)).body.versions;
    expect(versions.map((v: { version: number; author: string; status: string }) => [v.version, v.author, v.status])).toEqual([
      [3, 'lead-1', 'published'],
      [2, 'agent-1', 'draft'],
      [1, 'agent-1', 'draft'],
    ]);
    expect(Date.parse(versions[0].authoredAt)).toBeGreaterThan(0);
    // a translation, linked both ways; a second one in the same language is a conflict
    const en = await call('POST', '/v1/articles', T.supervisor, { language: 'en', title: 'The printer prints blank pages', body: 'Check the ink cartridge.', translationOf: id });
    expect(en.status).toBe(201);
    expect(en.body.translations).toEqual([expect.objectContaining({ id, language: 'es' })]);
    expect((await call('GET', `/v1/articles/${id}`, T.agent)).body.translations).toEqual([expect.objectContaining({ id: en.body.article.id, language: 'en' })]);
    const again = await call('POST', '/v1/articles', T.supervisor, { language: 'en', title: 'dup', body: 'dup', translationOf: id });
    expect(again.status).toBe(409);
    expect(again.body.fields[0].field).toBe('body.language');
  });
});

describe('helped rate and recurring problems (learnt from omni.conversations.v1)', () => {
  const customer: Party = { channel: 'chat', address: 'visitor-kpi' };
  const event = (id: string, type: ConversationEvent['type'], conversationId: string, at: string, extra: Partial<ConversationEvent> = {}): ConversationEvent => ({
    schema: 'omni.conversations.v1',
    eventId: id,
    type,
    conversationId,
    occurredAt: at,
    actor: { type: 'system' },
    channel: 'chat',
    threadKey: `chat:${conversationId}`,
    customer,
    tier: 1,
    ...extra,
  });
  const send = (events: ConversationEvent[]) =>
    publisher.publish(events.map((value) => ({ topic: world.topics.conversations, key: value.conversationId, value, schema: ConversationEvent })));

  it('counts a use as helped only when the conversation is then resolved without escalation; applies each event once', async () => {
    const art = 'kb-seed-password-reset-es';
    for (const c of ['kc-1', 'kc-2', 'kc-3']) expect((await call('POST', `/v1/articles/${art}/uses`, T.agent, { conversationId: c })).status).toBe(201);
    expect((await call('POST', `/v1/articles/${art}/uses`, T.service, { conversationId: 'kc-1' })).status).toBe(200);
    expect((await call('POST', '/v1/articles/kb-nope/uses', T.agent, { conversationId: 'kc-1' })).status).toBe(404);
    const later = (s: number) => new Date(Date.now() + s * 1000).toISOString();
    const events = [
      event('e1', 'conversation.opened', 'kc-1', later(1), { category: 'access-passwords', language: 'es' }),
      event('e2', 'conversation.resolved', 'kc-1', later(2)),
      event('e3', 'conversation.opened', 'kc-2', later(1), { category: 'access-passwords', language: 'es' }),
      event('e4', 'conversation.escalated', 'kc-2', later(2), { tier: 2, fromTier: 1 }),
      event('e5', 'conversation.resolved', 'kc-2', later(3), { tier: 2 }),
      // kc-3 stays open: used, not decided
      event('e6', 'conversation.opened', 'kc-3', later(1), { category: 'access-passwords' }),
      // a category with volume and escalations and no article
      ...[1, 2, 3].flatMap((i) => [
        event(`d${i}o`, 'conversation.opened', `kd-${i}`, later(1), { category: 'databases', tier: 2 }),
        ...(i === 1 ? [event(`d${i}e`, 'conversation.escalated', `kd-${i}`, later(2), { tier: 3, fromTier: 2 })] : []),
      ]),
    ];
    await send(events);
    await send(events); // redelivered: applied once
    const kpis = await eventually(async () => {
      const r = await call('GET', '/v1/kpis/knowledge?minConversations=2', T.kpis);
      const a = r.body.articles.find((x: { articleId: string }) => x.articleId === art);
      return a?.decided === 2 && r.body.recurringWithoutArticle.length > 0 ? r.body : undefined;
    }, 'the outcomes to reach the KPIs');
    expect(kpis.articles.find((x: { articleId: string }) => x.articleId === art)).toMatchObject({ uses: 3, decided: 2, helped: 1, helpedRate: 1 / 3 });
    expect(kpis.recurringWithoutArticle).toEqual([{ category: 'databases', conversations: 3, escalated: 1, escalationRate: 1 / 3 }]);
    const kd1 = await world.pool.query('SELECT escalations FROM knowledge.conversations WHERE id = $1', ['kd-1']);
    expect(kd1.rows[0].escalations).toBe(1);
    // a published article in the category takes it off the list
    const a = await call('POST', '/v1/articles', T.supervisor, { language: 'en', title: 'Slow database queries', body: 'Add an index.', category: 'databases' });
    await call('POST', `/v1/articles/${a.body.article.id}/publish`, T.supervisor);
    expect((await call('GET', '/v1/kpis/knowledge?minConversations=2', T.supervisor)).body.recurringWithoutArticle).toEqual([]);
    expect((await call('GET', '/v1/kpis/knowledge', T.agent)).status).toBe(403);
  });
});

describe('canned replies', () => {
  it('personal and team replies per language, found by shortcut, with placeholders filled', async () => {
    const mine = await call('POST', '/v1/canned-replies', T.agent, { scope: 'personal', shortcut: 'pwd', language: 'es', title: 'Contraseña', body: 'Hola {customer_name}, soy {agent_name}. Sigue estos pasos: {article_link} (caso {conversation_id})' });
    expect(mine.status).toBe(201);
    expect((await call('POST', '/v1/canned-replies', T.agent, { scope: 'team', shortcut: 'hola', language: 'es', title: 't', body: 'b' })).status).toBe(403);
    const team = await call('POST', '/v1/canned-replies', T.supervisor, { scope: 'team', shortcut: 'pwd-en', language: 'en', title: 'Password', body: 'Hi {customer_name}, see {article_link}' });
    expect(team.status).toBe(201);
    expect((await call('POST', '/v1/canned-replies', T.agent, { scope: 'personal', shortcut: 'pwd', language: 'es', title: 'dup', body: 'dup' })).status).toBe(409);
    const found = (await call('GET', '/v1/canned-replies?shortcut=pw', T.agent)).body.replies.map((r: { shortcut: string; scope: string }) => `${r.shortcut}/${r.scope}`);
    expect(found).toEqual(['pwd/personal', 'pwd-en/team']);
    // another agent sees the team reply only
    expect((await call('GET', '/v1/canned-replies?shortcut=pw', T.agent2)).body.replies.map((r: { id: string }) => r.id)).toEqual([team.body.id]);
    expect((await call('GET', `/v1/canned-replies/${mine.body.id}`, T.agent2)).status).toBe(404);
    expect((await call('GET', '/v1/canned-replies?language=en', T.agent)).body.replies.map((r: { id: string }) => r.id)).toEqual([team.body.id]);
    const r = await call('POST', `/v1/canned-replies/${mine.body.id}/render`, T.agent, { customerName: 'Ana', agentName: 'Luis {agent_name}', articleId: 'kb-seed-password-reset-es' });
    expect(r.body).toEqual({ text: 'Hola Ana, soy Luis {agent_name}. Sigue estos pasos: https://help.example.com/articles/kb-seed-password-reset-es (caso {conversation_id})', missing: ['conversation_id'] });
    expect((await call('PATCH', `/v1/canned-replies/${team.body.id}`, T.agent, { body: 'x' })).status).toBe(403);
    expect((await call('DELETE', `/v1/canned-replies/${mine.body.id}`, T.agent)).status).toBe(204);
  });
});

describe('draft article from a solved case', () => {
  it('is pre-filled from history\'s transcript (question, handoff notes, answer) for a supervisor to publish', async () => {
    const script = new Script(world.topics);
    const customer: Party = { channel: 'chat', address: 'visitor-draft' };
    const conv = { conversationId: 'kconv-1', customer, tier: 1 };
    const t0 = Date.now() - 60_000;
    const at = (s: number) => new Date(t0 + s * 1000).toISOString();
    const m1 = script.inbound('kmsg-1', customer, at(0), 'No puedo entrar: mi contraseña no funciona desde ayer');
    script.conv('kev-1', 'conversation.opened', { ...conv, at: at(1) }, { messageId: m1.messageId, category: 'access-passwords' });
    script.conv('kev-2', 'conversation.assigned', { ...conv, at: at(2) }, { agentId: 'agent-1' });
    script.conv('kev-3', 'conversation.escalated', { ...conv, tier: 2, at: at(3) }, { fromTier: 1, agentId: 'agent-1', handoffNote: 'Probado reinicio de contraseña; el enlace caduca' });
    script.outbound('kout-1', { conversationId: 'kconv-1', to: customer, agentId: 'agent-1', at: at(4), text: 'Hemos ampliado la validez del enlace: ya puedes restablecer tu contraseña.' });
    script.conv('kev-4', 'conversation.resolved', { ...conv, tier: 2, at: at(5) }, { agentId: 'agent-1' });
    await publisher.publish(script.records);
    await eventually(async () => {
      const r = await call('GET', '/v1/conversations/kconv-1', testToken('supervisor'), undefined, historyBase);
      return r.status === 200 && r.body.conversation.status === 'resolved' && r.body.messages.length === 2 ? true : undefined;
    }, 'history to have the resolved conversation');

    expect((await call('POST', '/v1/articles/from-conversation/kconv-1', T.agent2, {})).status).toBe(404); // did not serve it
    expect((await call('POST', '/v1/articles/from-conversation/nope', T.supervisor, {})).status).toBe(404);
    const d = await call('POST', '/v1/articles/from-conversation/kconv-1', T.agent, {});
    expect(d.status).toBe(201);
    expect(d.body.article).toMatchObject({ status: 'draft', category: 'access-passwords', sourceConversationId: 'kconv-1', createdBy: 'agent-1' });
    expect(d.body.article.title).toBe('No puedo entrar: mi contraseña no funciona desde ayer');
    expect(d.body.article.body).toContain('mi contraseña no funciona desde ayer');
    expect(d.body.article.body).toContain('Probado reinicio de contraseña; el enlace caduca');
    expect(d.body.article.body).toContain('ya puedes restablecer tu contraseña');
    const pub = await call('POST', `/v1/articles/${d.body.article.id}/publish`, T.supervisor);
    expect(pub.body.article.status).toBe('published');
  });
});
