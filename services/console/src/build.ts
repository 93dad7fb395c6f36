import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, renameSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** services/console */
export const CONSOLE_ROOT = resolve(__dirname, '..');
export const DEFAULT_DIST = join(CONSOLE_ROOT, 'dist');
const WEB = join(CONSOLE_ROOT, 'web');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Whether dist holds a build of the current web sources (the stamp records their newest mtime). */
export function isBuildCurrent(dist = DEFAULT_DIST): boolean {
  const stamp = join(dist, '.built');
  if (!existsSync(stamp)) return false;
  return Number(readFileSync(stamp, 'utf8')) >= newestMtime(WEB);
}

/**
 * Builds the web app with vite when dist is missing or stale (npm start, the browser tests and the
 * bench all call this, so CI's `npm ci && npm test` needs no separate build step and no build output
 * is committed). Vite runs in a child process: it is ESM-only and the services run as CommonJS. The
 * build goes to a temporary folder renamed into place, so two builders never serve a half-written dist.
 */
export async function ensureBuilt(dist = DEFAULT_DIST, log: (m: string) => void = () => undefined): Promise<string> {
  if (isBuildCurrent(dist)) return dist;
  const sourcesAt = newestMtime(WEB);
  const tmp = `${dist}.tmp-${process.pid}-${Date.now()}`;
  const started = Date.now();
  // vite's package exports hide bin/: resolve its package.json and go from there
  const vite = join(dirname(require.resolve('vite/package.json', { paths: [CONSOLE_ROOT] })), 'bin', 'vite.js');
  await new Promise<void>((ok, fail) => {
    const child = spawn(process.execPath, [vite, 'build', '--configLoader', 'native', '--config', join(WEB, 'vite.config.mjs'), '--outDir', tmp, '--emptyOutDir', '--logLevel', 'warn'], { cwd: WEB, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`vite build exited with ${code}`))));
  });
  writeFileSync(join(tmp, '.built'), String(sourcesAt));
  try {
    rmSync(dist, { recursive: true, force: true });
    renameSync(tmp, dist);
  } catch (err) {
    // another process built at the same moment: keep theirs if it is current
    rmSync(tmp, { recursive: true, force: true });
    if (!isBuildCurrent(dist)) throw err;
  }
  log(`console web app built in ${Date.now() - started} ms`);
  return dist;
}
