/**
 * Message-IDs are stored and compared without angle brackets or surrounding space; the local part
 * is case-sensitive (RFC 5322), so the case is kept.
 */
export function normalizeMessageId(value: string | undefined | null): string | undefined {
  if (!value) return undefined;
  const m = /<([^<>\s]+)>/.exec(value);
  const id = (m ? m[1] : value.trim().split(/\s+/)[0])?.trim();
  return id ? id : undefined;
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
  return [...new Set(ids)];
}
