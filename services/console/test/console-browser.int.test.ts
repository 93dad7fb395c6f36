/**
 * The console in real headless Chromium against the real stack (Kafka, PostgreSQL, ingest-chat, router,
 * history, knowledge, and the console server on port 0): two agents and a supervisor in separate browser
 * contexts follow one chat conversation from the visitor's first message to a tier-2 agent, through a
 * network cut. Every page is checked with axe-core, and each screen is written to docs/screenshots/.
 */
import WebSocket from 'ws';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { readConfig } from '@omni/console/src/config';
import { start as startConsole } from '@omni/console/src/start';
import * as knowledgeCfg from '@omni/knowledge/src/config';
import { start as startKnowledge } from '@omni/knowledge/src/start';
import { createWorld, testLogger, type TestWorld } from '../../../test/support/infra';
import { ADAPTER_KEY, startStack, type Stack } from '../../../test/support/stack';
import { bearer, testToken } from '../../../test/support/tokens';
import { axeViolations, launchChromium, screenshot, signInAs, until } from './browser';

jest.setTimeout(600_000);

const PASSWORD = 'correct horse battery staple';
// the knowledge service's built-in Spanish password-reset article and its link (ARTICLE_LINK_TEMPLATE's default)
const PASSWORD_ARTICLE = 'kb-seed-password-reset-es';
const PASSWORD_LINK = `https://help.example.com/articles/${PASSWORD_ARTICLE}`;

async function call(url: string, method: string, body: unknown, headers: Record<string, string>) {
  const r = await fetch(url, { method, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  if (r.status >= 300) throw new Error(`${method} ${url} → ${r.status} ${await r.text()}`);
  return r.json() as Promise<Record<string, unknown>>;
}

/** A chat visitor: a session from ingest-chat, its websocket, every reply it received. */
class Visitor {
  replies: { text: string; seq: number }[] = [];
  private ws!: WebSocket;
  private n = 0;
  static async open(chatUrl: string, name: string): Promise<Visitor> {
    const v = new Visitor();
    const s = await call(`${chatUrl}/v1/chat/sessions`, 'POST', { name, language: 'es' }, { 'x-api-key': ADAPTER_KEY });
    v.ws = new WebSocket(`${chatUrl.replace('http', 'ws')}/v1/chat/ws?token=${encodeURIComponent(String(s.token))}`);
    await new Promise<void>((ok, fail) => {
      v.ws.on('message', (d) => {
        const f = JSON.parse(String(d));
        if (f.type === 'ready') ok();
        if (f.type === 'reply') v.replies.push({ text: f.text, seq: f.seq });
      });
      v.ws.once('error', fail);
    });
    return v;
  }
  /** Sends a message and waits for its ack (it is in Kafka). */
  say(text: string): Promise<void> {
    const clientMessageId = `m${++this.n}`;
    return new Promise((ok, fail) => {
      const on = (d: WebSocket.RawData) => {
        const f = JSON.parse(String(d));
        if (f.clientMessageId !== clientMessageId) return;
        this.ws.off('message', on);
        f.type === 'ack' ? ok() : fail(new Error(JSON.stringify(f)));
      };
      this.ws.on('message', on);
      this.ws.send(JSON.stringify({ type: 'message', clientMessageId, text }));
    });
  }
  close() {
    this.ws.close();
  }
}

describe('console in a real browser', () => {
  let world: TestWorld;
  let stack: Stack;
  let consoleApp: { url: string; close: () => Promise<void> };
  let knowledge: { url: string; close: () => Promise<void> };
  let knowledgeUp = false;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  /** 5xx answers other than 503 that any page received (checked after all tests) */
  const serverErrors: string[] = [];
  let visitor: Visitor;
  let ana: Page, bruno: Page, sofia: Page;
  const a11y: Record<string, unknown[]> = {};

  const check = async (page: Page, name: string) => {
    a11y[name] = await axeViolations(page);
    await screenshot(page, name);
  };
  const newPage = async () => {
    const c = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-GB' });
    contexts.push(c);
    const page = await c.newPage();
    // what the page itself complains about, printed when a test fails (jest shows console output)
    page.on('pageerror', (e) => console.warn(`page error: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && !m.text().includes('ERR_INTERNET_DISCONNECTED') && console.warn(`page console: ${m.text()}`));
    // the product never answers 5xx but 503: every other one the page met is collected and fails the run
    page.on('response', (r) => r.status() >= 500 && r.status() !== 503 && serverErrors.push(`${r.status()} ${r.request().method()} ${r.url()}`));
    return page;
  };
  /** How many of the page's thread items show exactly this text. */
  const shown = (page: Page, text: string) => page.locator('[data-testid="thread"] [data-testid="message"] p', { hasText: text }).evaluateAll((els, t) => els.filter((e) => e.textContent === t).length, text);
  const loadOf = (agentId: string) => sofia.locator(`[data-testid="agent-row"][data-agent="${agentId}"] [data-testid="agent-load"]`).innerText();

  beforeAll(async () => {
    world = await createWorld('console');
    // offers wait two minutes and a dropped console keeps its work a minute: generous on 2 busy cores
    stack = await startStack(world, { kinds: ['chat'], env: { OFFER_TIMEOUT_MS: '120000', DISCONNECT_GRACE_MS: '60000' } });
    knowledge = await startKnowledge(knowledgeCfg.readConfig(world.env({ KNOWLEDGE_GROUP_ID: world.groupId('knowledge'), HISTORY_URL: stack.history.url })), testLogger);
    knowledgeUp = true;
    consoleApp = await startConsole(readConfig(world.env({ ROUTER_URL: stack.router.url, HISTORY_URL: stack.history.url, KNOWLEDGE_URL: knowledge.url, WALLBOARD_POLL_MS: '300', WALLBOARD_KPI_POLL_MS: '1500' })), testLogger);
    const admin = bearer('admin', 'root');
    const agent = (id: string, name: string, tiers: number[]) => call(`${stack.router.url}/v1/admin/agents/${id}`, 'PUT', { name, tiers, skills: [], languages: ['es', 'en'], capacity: { chat: 3, email: 3 } }, admin);
    await agent('ana', 'Ana Tier-1', [1]);
    await agent('bruno', 'Bruno Tier-2', [2]);
    for (const [id, role] of [['ana', 'agent'], ['bruno', 'agent'], ['sofia', 'supervisor'], ['root', 'admin']] as const) {
      await call(`${stack.router.url}/v1/accounts`, 'POST', { id, username: `${id}@example.com`, role, password: PASSWORD }, admin);
    }
    browser = await launchChromium();
  });

  afterAll(async () => {
    visitor?.close();
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await consoleApp?.close();
    if (knowledgeUp) await knowledge.close();
    await stack?.close();
    await world?.close();
  });

  it('signs in two agents and a supervisor, each to their own page', async () => {
    sofia = await newPage();
    await sofia.goto(`${consoleApp.url}/`);
    await sofia.getByRole('button', { name: 'Sign in' }).waitFor();
    await check(sofia, 'sign-in');
    await signInAs(sofia, consoleApp.url, 'sofia@example.com', PASSWORD, '/wallboard');
    await sofia.locator('[data-testid="agent-row"][data-agent="ana"]').waitFor({ timeout: 60000 });

    ana = await newPage();
    await signInAs(ana, consoleApp.url, 'ana@example.com', PASSWORD, '/agent');
    bruno = await newPage();
    await signInAs(bruno, consoleApp.url, 'bruno@example.com', PASSWORD, '/agent');
    for (const p of [ana, bruno]) await p.locator('[data-testid="connection"].live').waitFor({ timeout: 60000 });
    await until('both agents online on the wallboard', async () => (await sofia.locator('[data-testid="agent-row"] select').evaluateAll((s) => s.map((x) => (x as unknown as { value: string }).value))).every((v) => v === 'online'));
  });

  it('turns a visitor message into an offer with a countdown, accepted with Alt+A; the reply reaches the visitor', async () => {
    visitor = await Visitor.open(stack.ingest.chat.url, 'Lucía Pérez');
    await visitor.say('Hola, olvidé mi contraseña y no puedo entrar');
    const offer = ana.getByTestId('offer');
    await offer.waitFor({ timeout: 90000 });
    expect(await offer.getByTestId('last-message').innerText()).toContain('olvidé mi contraseña');
    expect(await offer.getByTestId('channel').innerText()).toBe('chat');
    expect(await offer.getByTestId('tier').innerText()).toBe('1');
    expect(await offer.getByTestId('customer').innerText()).toContain('Lucía Pérez');
    // the countdown is visible and runs
    const seconds = async () => Number((await offer.getByTestId('countdown').innerText()).match(/(\d+)/)![1]);
    const first = await seconds();
    expect(first).toBeGreaterThan(0);
    await until('the countdown to tick down', async () => (await seconds()) < first, 10000);
    await until('the wallboard to show the offer as load on ana', async () => /chat 1\/3/.test(await loadOf('ana')));
    // the knowledge service's suggestion for a Spanish "contraseña" message: the Spanish password-reset article first
    await offer.getByTestId('suggestion').first().waitFor({ timeout: 60000 });
    expect(await offer.getByTestId('suggestion').first().getAttribute('data-article')).toBe(PASSWORD_ARTICLE);
    await check(ana, 'agent-offer');

    await ana.keyboard.press('Alt+A');
    await ana.getByTestId('conversation').waitFor({ timeout: 60000 });
    await until('the first message on the timeline', async () => (await shown(ana, 'Hola, olvidé mi contraseña y no puedo entrar')) === 1);

    await ana.keyboard.press('Alt+R');
    await ana.keyboard.type('Hola Lucía, te envío un enlace para restablecerla.');
    await ana.keyboard.press('Control+Enter');
    await until('the reply on the visitor websocket', async () => visitor.replies.some((r) => r.text === 'Hola Lucía, te envío un enlace para restablecerla.'));
    await until('the reply in the agent thread', async () => (await shown(ana, 'Hola Lucía, te envío un enlace para restablecerla.')) === 1);
    await check(ana, 'agent-conversation');
  });

  it('inserts a suggested article and a canned reply into the reply; the visitor gets them and the use is recorded', async () => {
    const conversation = ana.getByTestId('conversation');
    const conversationId = (await conversation.getAttribute('data-conversation'))!;
    const reply = ana.getByTestId('reply');
    // the article's link, inserted from the conversation's suggestions
    const suggestion = conversation.locator(`[data-testid="suggestion"][data-article="${PASSWORD_ARTICLE}"]`);
    await suggestion.waitFor({ timeout: 60000 });
    expect(await suggestion.locator('a').innerText()).toMatch(/contraseña/i);
    await suggestion.getByTestId('insert-link').click();
    await until('the link in the reply box', async () => (await reply.inputValue()).includes(PASSWORD_LINK));
    await ana.getByTestId('send').click();
    await until('the article link on the visitor websocket', async () => visitor.replies.some((r) => r.text.includes(PASSWORD_LINK)));
    const uses = async () => (await world.pool.query<{ by: string }>('SELECT used_by AS by FROM knowledge.article_uses WHERE article_id = $1 AND conversation_id = $2', [PASSWORD_ARTICLE, conversationId])).rows;
    await until("the knowledge service's usage row", async () => (await uses()).length === 1);
    expect((await uses())[0]!.by).toBe('ana');
    // or its text (the article's Markdown and its link), inserted after what the agent wrote
    await reply.fill('Prueba esto:');
    await suggestion.getByTestId('insert-text').click();
    await until("the article's text in the reply box", async () => /^Prueba esto:\nSi olvidaste tu contraseña[\s\S]*revisa la carpeta de spam[\s\S]*\n\nhttps:\/\/help\.example\.com\/articles\/kb-seed-password-reset-es$/u.test(await reply.inputValue()));
    await reply.fill('');

    // a team canned reply, found by typing its shortcut after "/", rendered with the placeholders filled
    await call(`${knowledge.url}/v1/canned-replies`, 'POST', { scope: 'team', shortcut: 'gracias', language: 'es', title: 'Agradecer', body: 'Gracias, {customer_name}. Soy {agent_name}; tu caso es {conversation_id}.' }, bearer('supervisor', 'sofia'));
    await ana.keyboard.press('Alt+R');
    await ana.keyboard.type('/grac');
    const canned = ana.locator('[data-testid="canned-reply"][data-shortcut="gracias"]');
    await canned.waitFor({ timeout: 60000 });
    await check(ana, 'agent-knowledge');
    await canned.click();
    const rendered = `Gracias, Lucía Pérez. Soy ana@example.com; tu caso es ${conversationId}.`;
    await until('the rendered canned reply in the reply box', async () => (await reply.inputValue()) === rendered);
    await ana.keyboard.press('Control+Enter');
    await until('the canned reply on the visitor websocket', async () => visitor.replies.some((r) => r.text === rendered));
  });

  it('loses no message and shows none twice when the network drops and comes back', async () => {
    const ctx = ana.context();
    await ctx.setOffline(true);
    await ana.locator('[data-testid="connection"].reconnecting').waitFor({ timeout: 60000 });
    const during = ['¿Sigues ahí?', 'El enlace no me llega', 'Revisé la carpeta de spam'];
    for (const m of during) await visitor.say(m);
    await screenshot(ana, 'agent-reconnecting');
    await ctx.setOffline(false);
    await ana.locator('[data-testid="connection"].live').waitFor({ timeout: 60000 });
    for (const m of during) await until(`"${m}" shown once`, async () => (await shown(ana, m)) === 1);
    // after a later live message (so replay and timeline reload are both behind us) still exactly once
    await visitor.say('Ya está, gracias');
    await until('the last message', async () => (await shown(ana, 'Ya está, gracias')) === 1);
    for (const m of [...during, 'Hola, olvidé mi contraseña y no puedo entrar']) expect(await shown(ana, m)).toBe(1);
  });

  it('blocks an escalation without a note in the form; with a note the tier-2 agent sees it', async () => {
    await ana.getByTestId('open-escalate').click();
    await ana.getByTestId('escalate-submit').click();
    await until('the form to refuse', async () => (await ana.getByTestId('escalate-error').innerText()).includes('handoff note is required'));
    expect(await ana.getByTestId('conversation').count()).toBe(1);
    await check(ana, 'agent-escalate-blocked');

    const note = 'Enlace de restablecimiento enviado dos veces; la cuenta sigue bloqueada';
    await ana.getByLabel('Handoff note (what was tried)').fill(note);
    await ana.getByTestId('escalate-submit').click();
    await until('the conversation to leave ana', async () => (await ana.getByTestId('conversation').count()) === 0);
    const offer = bruno.getByTestId('offer');
    await offer.waitFor({ timeout: 90000 });
    expect(await offer.getByTestId('handoff-note').innerText()).toContain(note);
    expect(await offer.getByTestId('tier').innerText()).toBe('2');
    await check(bruno, 'agent-tier2-offer');
    await offer.getByTestId('accept').click();
    await bruno.getByTestId('conversation').waitFor({ timeout: 60000 });
    await until('bruno to see the earlier messages', async () => (await shown(bruno, 'Revisé la carpeta de spam')) === 1);
    await until('the wallboard to move the load from ana to bruno', async () => /chat 0\/3/.test(await loadOf('ana')) && /chat 1\/3/.test(await loadOf('bruno')));
    await until('the KPI tiles to count the conversation', async () => (await sofia.getByTestId('kpi-conversations').innerText()) === '1');
    // service levels: tier 1's first response on the wall clock and in business hours (the router's
    // calendars reached history: no "unavailable" notice); the SLA share is a percentage in both
    const tier1 = sofia.locator('[data-testid="service-row"][data-tier="1"]');
    await until('the service-level row of tier 1', async () => / \/ /.test(await tier1.getByTestId('frt-wall-business').innerText()) && !(await tier1.getByTestId('frt-wall-business').innerText()).includes('—'));
    expect(await tier1.getByTestId('sla-first').innerText()).toMatch(/^\d+ % \/ \d+ %$/);
    expect(await sofia.getByTestId('business-off').count()).toBe(0);
    await check(sofia, 'wallboard');

    const conversationId = (await bruno.getByTestId('conversation').getAttribute('data-conversation'))!;
    await bruno.keyboard.press('Alt+D');
    await until('the conversation resolved', async () => (await bruno.getByTestId('conversation').count()) === 0);
    // from the solved case to a draft article, pre-filled from the transcript
    await bruno.getByTestId('resolved-case').getByTestId('write-article').click();
    const draftId = await bruno.getByTestId('draft-id').innerText({ timeout: 90000 });
    await check(bruno, 'agent-resolved-draft');
    const draft = (await (await fetch(`${knowledge.url}/v1/articles/${encodeURIComponent(draftId)}`, { headers: bearer('supervisor', 'sofia') })).json()) as { article: { status: string; sourceConversationId: string; body: string; language: string } };
    expect([draft.article.status, draft.article.sourceConversationId, draft.article.language]).toEqual(['draft', conversationId, 'es']);
    expect(draft.article.body).toContain('olvidé mi contraseña');
    await until('the wallboard to free bruno', async () => /chat 0\/3/.test(await loadOf('bruno')));
  });

  it('works several conversations at once with unread counts; the supervisor sets presence from the wallboard', async () => {
    const second = await Visitor.open(stack.ingest.chat.url, 'Javier Gómez');
    const third = await Visitor.open(stack.ingest.chat.url, 'Carmen Ruiz');
    try {
      await second.say('Mi pedido 4471 no ha llegado');
      await until('the first of two offers', async () => (await ana.getByTestId('offer').count()) === 1);
      await ana.getByTestId('offer').getByTestId('accept').click();
      await until('the first offer accepted', async () => (await ana.getByTestId('offer').count()) === 0 && (await ana.getByTestId('conversation-tab').count()) === 1);
      await third.say('Quiero devolver unas zapatillas');
      await until('the second offer', async () => (await ana.getByTestId('offer').count()) === 1);
      await ana.getByTestId('offer').getByTestId('accept').click();
      await until('two conversations in the list', async () => (await ana.getByTestId('conversation-tab').count()) === 2);
      // the first accepted stays open; the other one counts what arrives while the agent is elsewhere
      await third.say('Son de la talla 42');
      const tab = ana.locator('[data-testid="conversation-tab"]', { hasText: 'Carmen Ruiz' });
      await until('an unread count of 1 on the other conversation', async () => (await tab.getByTestId('unread').count()) === 1 && (await tab.getByTestId('unread').innerText()) === '1');
      await screenshot(ana, 'agent-two-conversations');
      await tab.click();
      await until('the count cleared on opening it', async () => (await tab.getByTestId('unread').count()) === 0);
      await until('the message in the opened conversation', async () => (await shown(ana, 'Son de la talla 42')) === 1);
      await until('the wallboard to show two chats on ana', async () => /chat 2\/3/.test(await loadOf('ana')));
      // and the two conversations themselves on her row (GET /v1/agents/work)
      await until("ana's two conversations on her wallboard row", async () => (await sofia.locator('[data-testid="agent-row"][data-agent="ana"] [data-testid="work-item"]').count()) >= 2);
    } finally {
      second.close();
      third.close();
    }
    await sofia.locator('[data-testid="agent-row"][data-agent="bruno"] [data-testid="agent-presence"]').selectOption('away');
    await until("bruno's console to show him away", async () => (await bruno.getByTestId('presence').inputValue()).startsWith('away'));
    // nobody free on tier 1: a new chat waits in the wallboard's queue until the supervisor sets ana online
    const presenceOf = (id: string) => sofia.locator(`[data-testid="agent-row"][data-agent="${id}"] [data-testid="agent-presence"]`);
    const waiting = (tier: number) => sofia.locator(`[data-testid="queue-row"][data-tier="${tier}"] [data-testid="waiting"]`).innerText();
    await presenceOf('ana').selectOption('away');
    await until("ana's console to show her away", async () => (await ana.getByTestId('presence').inputValue()).startsWith('away'));
    const fourth = await Visitor.open(stack.ingest.chat.url, 'Diego Torres');
    try {
      await fourth.say('No tengo internet desde esta mañana');
      await until('one chat waiting on tier 1', async () => (await waiting(1)) === '1');
      await screenshot(sofia, 'wallboard-waiting');
      await presenceOf('ana').selectOption('online');
      await until('the queue emptied by an offer to ana', async () => (await waiting(1)) === '0' && (await ana.getByTestId('offer').count()) === 1);
      // ana has not answered yet: the wallboard counts the offer as pending on tier 1
      const pending = (tier: number) => sofia.locator(`[data-testid="queue-row"][data-tier="${tier}"] [data-testid="offers-pending"]`).innerText();
      await until('the offer counted as pending on tier 1', async () => Number(await pending(1)) >= 1);
    } finally {
      fourth.close();
    }
  });

  it('shows the Spanish UI and the admin pages', async () => {
    await ana.getByLabel('Language').selectOption('es');
    await ana.getByRole('heading', { name: /Ofertas/ }).waitFor();
    // the waiting offer ("No tengo internet…") with its suggestions, in Spanish
    await ana.getByTestId('offer').getByRole('heading', { name: 'Artículos sugeridos' }).waitFor({ timeout: 60000 });
    await check(ana, 'agent-es');
    const root = await newPage();
    await signInAs(root, consoleApp.url, 'root@example.com', PASSWORD, '/admin');
    await root.getByTestId('admin-agent').first().waitFor({ timeout: 60000 });
    await check(root, 'admin-agents');
    for (const [tab, row, shot] of [['Accounts', 'admin-account', 'admin-accounts'], ['Rules', 'rule-version', 'admin-rules'], ['Audit trail', 'audit-row', 'admin-audit']] as const) {
      if (tab === 'Rules') {
        // a second version exists (saved by an admin elsewhere): the page activates the first one again
        const active = (await (await fetch(`${stack.router.url}/v1/admin/rules`, { headers: bearer('admin', 'root') })).json()) as { rules: unknown[] };
        await call(`${stack.router.url}/v1/admin/rules`, 'PUT', { rules: active.rules, note: 'same rules, new version' }, bearer('admin', 'root'));
      }
      await root.getByRole('tab', { name: tab }).click();
      await root.getByTestId(row).first().waitFor({ timeout: 60000 });
      await check(root, shot);
    }
    await root.getByRole('tab', { name: 'Rules' }).click();
    await root.getByRole('button', { name: 'Activate 1' }).click();
    await until('version 1 active again', async () => ((await (await fetch(`${stack.router.url}/v1/admin/rules`, { headers: bearer('admin', 'root') })).json()) as { version: number }).version === 1);
    await root.getByRole('button', { name: 'Activate 2' }).waitFor();
  });

  it('serves the app compressed, forwards the APIs, and lets only supervisors open the wallboard stream', async () => {
    const index = await fetch(`${consoleApp.url}/agent`, { headers: { 'accept-encoding': 'br, gzip' } });
    expect([index.status, index.headers.get('content-type'), index.headers.get('cache-control')]).toEqual([200, 'text/html; charset=utf-8', 'no-cache']);
    const script = (await index.text()).match(/src="(\/assets\/[^"]+\.js)"/)![1]!;
    const js = await fetch(`${consoleApp.url}${script}`, { headers: { 'accept-encoding': 'gzip' } });
    expect([js.status, js.headers.get('cache-control')]).toEqual([200, 'public, max-age=31536000, immutable']);
    expect((await fetch(`${consoleApp.url}/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${consoleApp.url}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${consoleApp.url}/metrics`)).text()).toContain('http_requests_total');
    // forwarded: the router answers, with its own access rules
    expect((await fetch(`${consoleApp.url}/router/v1/queues`)).status).toBe(401);
    expect((await fetch(`${consoleApp.url}/router/v1/queues`, { headers: bearer('supervisor', 'sofia') })).status).toBe(200);
    expect((await fetch(`${consoleApp.url}/history/v1/kpis`, { headers: bearer('agent', 'ana') })).status).toBe(403);
    expect((await fetch(`${consoleApp.url}/knowledge/v1/suggestions?text=wifi`)).status).toBe(401);
    expect((await fetch(`${consoleApp.url}/knowledge/v1/kpis/knowledge`, { headers: bearer('agent', 'ana') })).status).toBe(403);
    expect((await fetch(`${consoleApp.url}/knowledge/v1/suggestions?text=wifi&language=en`, { headers: bearer('agent', 'ana') })).status).toBe(200);
    // the stream: no token 401, an agent 403, a supervisor gets pushed events
    expect((await fetch(`${consoleApp.url}/v1/wallboard/stream`)).status).toBe(401);
    expect((await fetch(`${consoleApp.url}/v1/wallboard/stream?token=${testToken('agent', 'ana')}`)).status).toBe(403);
    const ac = new AbortController();
    const res = await fetch(`${consoleApp.url}/v1/wallboard/stream?token=${testToken('supervisor', 'sofia')}`, { signal: ac.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    while (!(text.includes('event: live') && text.includes('event: kpis'))) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended after: ${text}`);
      text += new TextDecoder().decode(value);
    }
    ac.abort();
  });

  it('offers and replies as usual, with no suggestions, while the knowledge service is down', async () => {
    knowledgeUp = false;
    await knowledge.close();
    expect((await fetch(`${consoleApp.url}/knowledge/v1/suggestions?text=wifi`, { headers: bearer('agent', 'ana') })).status).toBeGreaterThanOrEqual(500);
    // free ana's capacity: accept the waiting offer, then resolve her three conversations
    await ana.getByTestId('offer').getByTestId('accept').click();
    await until('three conversations in the list', async () => (await ana.getByTestId('conversation-tab').count()) === 3);
    for (let left = 3; left > 0; left--) {
      await ana.getByTestId('conversation').getByTestId('resolve').click();
      await until(`${left - 1} conversations left`, async () => (await ana.getByTestId('conversation-tab').count()) === left - 1);
    }
    const visitor5 = await Visitor.open(stack.ingest.chat.url, 'Elena Vidal');
    try {
      await visitor5.say('Mi impresora no imprime');
      const offer = ana.getByTestId('offer');
      await offer.waitFor({ timeout: 90000 });
      expect(await offer.getByTestId('last-message').innerText()).toContain('impresora');
      await offer.getByTestId('accept').click();
      const conversation = ana.getByTestId('conversation');
      await conversation.waitFor({ timeout: 60000 });
      await ana.getByTestId('reply').fill('Hola Elena, vamos a revisarla.');
      await ana.getByTestId('send').click();
      await until('the reply on the visitor websocket', async () => visitor5.replies.some((r) => r.text === 'Hola Elena, vamos a revisarla.'));
      expect(await ana.getByTestId('suggestions').count()).toBe(0);
    } finally {
      visitor5.close();
    }
  });

  it('has no serious or critical accessibility violation on any page', () => {
    expect(Object.keys(a11y).sort()).toEqual(['admin-accounts', 'admin-agents', 'admin-audit', 'admin-rules', 'agent-conversation', 'agent-es', 'agent-escalate-blocked', 'agent-knowledge', 'agent-offer', 'agent-resolved-draft', 'agent-tier2-offer', 'sign-in', 'wallboard']);
    expect(a11y).toEqual(Object.fromEntries(Object.keys(a11y).map((k) => [k, []])));
  });

  it('no page met a server error other than 503 along the way', () => {
    expect(serverErrors).toEqual([]);
  });
});
