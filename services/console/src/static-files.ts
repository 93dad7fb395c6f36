import { readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { createHash } from 'node:crypto';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

export interface StaticFile {
  type: string;
  etag: string;
  identity: Buffer;
  br?: Buffer;
  gzip?: Buffer;
}

/**
 * The built web app, read into memory once (it is a few hundred kB): each file with the .br and .gz
 * siblings vite's build wrote, so serving it is a map lookup and no compression runs per request.
 * (@fastify/static would do the same from disk, but its current version pulls an ESM-only dependency
 * that jest's CommonJS runtime cannot load.)
 */
export function loadStaticFiles(dist: string): Map<string, StaticFile> {
  const out = new Map<string, StaticFile>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (!/\.(br|gz)$/.test(e.name) && !e.name.startsWith('.')) {
        const identity = readFileSync(p);
        const sibling = (ext: string) => {
          try {
            return readFileSync(`${p}.${ext}`);
          } catch {
            return undefined;
          }
        };
        const br = sibling('br');
        const gzip = sibling('gz');
        out.set(`/${relative(dist, p).split(sep).join('/')}`, {
          type: TYPES[extname(p)] ?? 'application/octet-stream',
          etag: `"${createHash('sha256').update(identity).digest('base64url').slice(0, 22)}"`,
          identity,
          ...(br ? { br } : {}),
          ...(gzip ? { gzip } : {}),
        });
      }
    }
  };
  walk(dist);
  return out;
}

/** Encodings an Accept-Encoding header allows (q > 0). */
export function acceptedEncodings(header: string | undefined): Set<string> {
  const ok = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((x) => x.trim()).find((x) => x.startsWith('q='));
    if (name && !(q && Number(q.slice(2)) === 0)) ok.add(name);
  }
  return ok;
}

/** The best encoding the client accepts among those the file has. */
export function pickEncoding(f: StaticFile, acceptEncoding: string | undefined): { body: Buffer; encoding?: 'br' | 'gzip' } {
  const ok = acceptedEncodings(acceptEncoding);
  if (f.br && (ok.has('br') || ok.has('*'))) return { body: f.br, encoding: 'br' };
  if (f.gzip && (ok.has('gzip') || ok.has('*'))) return { body: f.gzip, encoding: 'gzip' };
  return { body: f.identity };
}
