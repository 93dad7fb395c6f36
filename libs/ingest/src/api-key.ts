import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AppError } from '@omni/service';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Authenticates a channel adapter by API key (`X-Api-Key` or `Authorization: Bearer`), one key per
 * adapter. Returns the adapter id. Compares digests in constant time.
 */
export function authenticateAdapter(req: FastifyRequest, keys: Map<string, string>): string {
  const auth = req.headers.authorization;
  const presented = (req.headers['x-api-key'] as string | undefined) ?? (auth?.startsWith('Bearer ') ? auth.slice(7) : undefined);
  if (!presented) throw new AppError('UNAUTHORIZED', 'missing API key (X-Api-Key header or Authorization: Bearer)');
  const p = digest(presented);
  for (const [adapterId, key] of keys) if (timingSafeEqual(p, digest(key))) return adapterId;
  throw new AppError('UNAUTHORIZED', 'unknown API key');
}
