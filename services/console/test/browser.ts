/**
 * Headless Chromium for the console's browser tests, the bench and the demo's screenshots: Debian's
 * chromium (installed by .ci/run) driven by playwright-core, which downloads no browser of its own.
 * playwright gives every launch a fresh temporary profile (user-data-dir) and every context its own
 * cookies and storage, so two agents and a supervisor in one browser never share a session.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = resolve(__dirname, '..', '..', '..', 'docs', 'screenshots');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-quic', '--no-first-run', '--disable-sync'],
  });
}

/** Runs axe-core (the package's own axe.min.js) on the page; returns the serious and critical violations. */
export async function axeViolations(page: Page): Promise<{ id: string; impact: string; help: string; targets: string[] }[]> {
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  const violations = await page.evaluate(async () => {
    // runs in the page: the root tsconfig has no DOM types, hence the shape spelled out
    const g = globalThis as unknown as { document: unknown; axe: { run: (ctx: unknown, o: object) => Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } };
    const r = await g.axe.run(g.document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Writes docs/screenshots/<name>.png (the README and docs/console.md show them). */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });
}

/** Polls `check` until it returns true (what a person waits for on screen); fails with `what` after the deadline. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Signs in through the form and waits for the role's home page. */
export async function signInAs(page: Page, baseUrl: string, username: string, password: string, home: string): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.getByLabel(/Username|Usuario/).fill(username);
  await page.getByLabel(/Password|Contraseña/).fill(password);
  await page.getByRole('button', { name: /Sign in|Entrar/ }).click();
  await page.waitForURL(`${baseUrl}${home}`, { timeout: 60000 });
}
