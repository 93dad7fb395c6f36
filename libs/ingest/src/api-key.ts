import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AppError } from '@omni/service';

const digest = (s: string) => createHash('sha256').update(s).digest();

// The configured keys' digests, computed once per key map (the maps are built from config at start).
const digestsOf = new WeakMap<Map<string, string>, [string, Buffer][]>();
function keyDigests(keys: Map<string, string>): [string, Buffer][] {
  let d = digestsOf.get(keys);
  if (!d) digestsOf.set(keys, (d = [...keys].map(([adapterId, key]) => [adapterId, digest(key)])));
  return d;
}

/**
 * Authenticates a channel adapter by API key (`X-Api-Key` or `Authorization: Bearer`), one key per
 * adapter. Returns the adapter id. Compares digests in constant time.
 */
export function authenticateAdapter(req: FastifyRequest, keys: Map<string, string>): string {
  const auth = req.headers.authorization;
  const presented = (req.headers['x-api-key'] as string | undefined) ?? (auth?.startsWith('Bearer ') ? auth.slice(7) : undefined);
  if (!presented) throw new AppError('UNAUTHORIZED', 'missing API key (X-Api-Key header or Authorization: Bearer)');
  const p = digest(presented);
  for (const [adapterId, d] of keyDigests(keys)) if (timingSafeEqual(p, d)) return adapterId;
  throw new AppError('UNAUTHORIZED', 'unknown API key');
}
