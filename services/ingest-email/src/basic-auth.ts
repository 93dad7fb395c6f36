import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Checks an `Authorization: Basic …` header against "user:pass" in constant time. */
export function checkBasicAuth(header: string | undefined, expected: string): 'ok' | 'missing' | 'wrong' {
  if (!header || !/^Basic\s+/i.test(header)) return 'missing';
  const presented = Buffer.from(header.replace(/^Basic\s+/i, '').trim(), 'base64').toString('utf8');
  return timingSafeEqual(digest(presented), digest(expected)) ? 'ok' : 'wrong';
}
