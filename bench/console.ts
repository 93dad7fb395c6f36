/**
 * The console in the browser: time to interactive of the agent console and the wallboard, and what
 * the browser downloads for them (compressed bytes on the wire, and decoded), in headless Chromium
 * against the real stack (ingest-chat, router, history and the console server on a fresh world).
 * Beside them, in the same run, the baseline: the same browser loading /healthz from the same server
 * (navigation and rendering floor on this machine). Goals (issue 16): under 1 s and under 300 kB.
 *
 * "Interactive" means what an agent can act on: the console's socket is live (welcome received) and
 * its presence control is enabled; for the wallboard, the first pushed queue rows are on screen.
 * Every run uses a fresh browser context (empty cache), signed in beforehand (tokens in
 * sessionStorage, as after the sign-in form).
 *
 *   npm run bench:console              BENCH_RUNS=10 npm run bench:console
 *
 * Needs KAFKA_BROKERS and DATABASE_URL (defaults: 127.0.0.1:9092, postgres://postgres@127.0.0.1:5432/postgres).
 */
import type { Browser, Page } from 'playwright-core';
import { readConfig } from '../services/console/src/config';
import { start as startConsole } from '../services/console/src/start';
import { launchChromium } from '../services/console/test/browser';
import { createWorld, testLogger } from '../test/support/infra';
import { startStack } from '../test/support/stack';
import { bearer } from '../test/support/tokens';

process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const PASSWORD = 'bench-password-123';

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(url, { method: url.includes('/agents/') ? 'PUT' : 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  if (r.status >= 300) throw new Error(`${url} → ${r.status} ${await r.text()}`);
  return r.json() as Promise<Record<string, unknown>>;
}

interface Sample { ms: number; wire: number; decoded: number; requests: number }

async function measure(browser: Browser, url: string, session: unknown, ready: (p: Page) => Promise<unknown>): Promise<Sample> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  if (session) await context.addInitScript((s) => (globalThis as unknown as { sessionStorage: { setItem: (k: string, v: string) => void } }).sessionStorage.setItem('omni.session', s), JSON.stringify(session));
  const page = await context.newPage();
  let wire = 0;
  let decoded = 0;
  let requests = 0;
  page.on('requestfinished', (req) => {
    void req.sizes().then((s) => {
      wire += s.responseBodySize + s.responseHeadersSize;
    });
    void req.response().then((r) => r?.body().then((b) => (decoded += b.length), () => undefined));
    requests++;
  });
  const t0 = Date.now();
  await page.goto(url, { waitUntil: 'commit' });
  await ready(page);
  const ms = Date.now() - t0;
  await page.waitForLoadState('networkidle').catch(() => undefined);
  await context.close();
  return { ms, wire, decoded, requests };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const max = (xs: number[]) => Math.max(...xs);

async function main(): Promise<void> {
  const world = await createWorld('benchconsole');
  const stack = await startStack(world, { kinds: ['chat'] });
  const consoleApp = await startConsole(readConfig(world.env({ ROUTER_URL: stack.router.url, HISTORY_URL: stack.history.url })), testLogger);
  const browser = await launchChromium();
  try {
    const admin = bearer('admin', 'bench');
    await post(`${stack.router.url}/v1/admin/agents/ana`, { name: 'Ana', tiers: [1], skills: [], languages: ['es'], capacity: { chat: 3 } }, admin);
    for (const [id, role] of [['ana', 'agent'], ['sofia', 'supervisor']]) await post(`${stack.router.url}/v1/accounts`, { id, username: id, role, password: PASSWORD }, admin);
    const session = async (username: string) => {
      const b = (await post(`${consoleApp.url}/router/v1/auth/sign-in`, { username, password: PASSWORD })) as { accessToken: string; refreshToken: string; expiresIn: number; account: object };
      return { accessToken: b.accessToken, refreshToken: b.refreshToken, expiresAt: Date.now() + b.expiresIn * 1000, account: { ...b.account, username } };
    };
    const pages: [string, string, () => Promise<unknown>, (p: Page) => Promise<unknown>][] = [
      ['baseline: /healthz', '/healthz', async () => null, (p) => p.waitForLoadState('domcontentloaded')],
      ['sign-in page', '/', async () => null, (p) => p.getByRole('button', { name: 'Sign in' }).waitFor()],
      ['agent console', '/agent', () => session('ana'), (p) => p.locator('[data-testid="connection"].live').waitFor({ timeout: 30000 })],
      ['wallboard', '/wallboard', () => session('sofia'), (p) => p.locator('[data-testid="queue-row"]').first().waitFor({ timeout: 30000 })],
    ];
    // one warm-up load (the server's first requests and the browser's process start are not the page's cost)
    await measure(browser, `${consoleApp.url}/`, null, (p) => p.getByRole('button', { name: 'Sign in' }).waitFor());
    console.log(`\nconsole bench: ${RUNS} cold loads each (fresh context, empty cache), headless Chromium ${browser.version()}`);
    console.log(`${'page'.padEnd(20)} ${'TTI p50'.padStart(8)} ${'TTI max'.padStart(8)} ${'wire kB'.padStart(8)} ${'decoded kB'.padStart(11)} ${'requests'.padStart(9)}  goal`);
    for (const [name, path, s, ready] of pages) {
      const samples: Sample[] = [];
      for (let i = 0; i < RUNS; i++) samples.push(await measure(browser, `${consoleApp.url}${path}`, await s(), ready));
      const wire = median(samples.map((x) => x.wire)) / 1024;
      const goal = name.startsWith('baseline') ? '' : `${median(samples.map((x) => x.ms)) < 1000 ? '✓' : '✗'} < 1 s, ${wire < 300 ? '✓' : '✗'} < 300 kB`;
      console.log(
        `${name.padEnd(20)} ${`${median(samples.map((x) => x.ms))} ms`.padStart(8)} ${`${max(samples.map((x) => x.ms))} ms`.padStart(8)} ${wire.toFixed(1).padStart(8)} ${(median(samples.map((x) => x.decoded)) / 1024).toFixed(1).padStart(11)} ${String(median(samples.map((x) => x.requests))).padStart(9)}  ${goal}`,
      );
    }
  } finally {
    await browser.close();
    await consoleApp.close();
    await stack.close();
    await world.close();
  }
}

void main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
