/**
 * Message-IDs are stored and compared without angle brackets or surrounding space; the local part
 * is case-sensitive (RFC 5322), so the case is kept.
 */
export function normalizeMessageId(value: string | undefined | null): string | undefined {
  if (!value) return undefined;
  const m = /<([^<>\s]+)>/.exec(value);
  const id = (m ? m[1] : value.trim().split(/\s+/)[0])?.trim();
  return id && usableMessageId(id) ? id : undefined;
}

/** Bytes a Message-ID may take: it is a primary key and part of a thread key, both btree-indexed. */
export const MESSAGE_ID_MAX_BYTES = 900;

/**
 * A Message-ID we can index and store: within MESSAGE_ID_MAX_BYTES, no control characters (NUL is
 * not storable in PostgreSQL text) and well-formed UTF-16. Anything else is treated as absent —
 * the mail is still accepted, threaded by its other headers or by the provider's own id.
 */
export function usableMessageId(id: string): boolean {
  // eslint-disable-next-line no-control-regex
  return Buffer.byteLength(id) <= MESSAGE_ID_MAX_BYTES && !/[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(id);
}

/**
 * Every Message-ID in a References / In-Reply-To header, in header order (oldest first for
 * References). Accepts the header text, or the list a parser already split.
 */
export function messageIdList(value: string | string[] | undefined | null): string[] {
  if (!value) return [];
  const text = Array.isArray(value) ? value.join(' ') : value;
  const bracketed = [...text.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]!);
  const ids = bracketed.length ? bracketed : text.split(/[\s,]+/).filter((s) => s.includes('@'));
  return [...new Set(ids.filter(usableMessageId))];
}
