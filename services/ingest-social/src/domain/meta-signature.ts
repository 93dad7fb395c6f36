import { createHmac, timingSafeEqual } from 'node:crypto';

export type MetaSignatureCheck = 'ok' | 'missing' | 'mismatch';

/** The X-Hub-Signature-256 value Meta sends for a body: `sha256=` + hex HMAC-SHA256 with the app secret. */
export function metaSignature(rawBody: Buffer, appSecret: string): string {
  return 'sha256=' + createHmac('sha256', appSecret).update(rawBody).digest('hex');
}

/**
 * Checks X-Hub-Signature-256 over the exact bytes received (re-serialising parsed JSON would change
 * escapes such as `\u00e9` and break the HMAC). The comparison is constant time on equal-length
 * digests; a header of the wrong shape counts as a mismatch, not as missing.
 */
export function checkMetaSignature(rawBody: Buffer, header: string | string[] | undefined, appSecret: string): MetaSignatureCheck {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return 'missing';
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(value.trim());
  if (!m) return 'mismatch';
  const presented = Buffer.from(m[1]!.toLowerCase(), 'hex');
  const expected = createHmac('sha256', appSecret).update(rawBody).digest();
  return timingSafeEqual(presented, expected) ? 'ok' : 'mismatch';
}
