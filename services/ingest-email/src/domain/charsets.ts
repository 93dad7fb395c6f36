import iconv from 'iconv-lite';
import Encoding from 'encoding-japanese';

// iconv-lite has no ISO-2022-JP; mailparser (libmime) decodes the JIS family with encoding-japanese too
const JAPANESE = /^(iso-?2022-?jp(-\d)?|csiso2022jp|jis)$/i;
const UTF8 = /^(utf-?8|us-?ascii|ascii|unicode-1-1-utf-8)$/i;

/** The charset name as declared, without quotes, spaces or a trailing `*` language tag. */
export function cleanCharset(declared: string): string {
  return declared.trim().replace(/^["']|["']$/g, '').replace(/\*.*$/, '');
}

/** True when we have a decoder for the charset (iconv-lite's list, the JIS family, UTF-8). */
export function knownCharset(declared: string): boolean {
  const cs = cleanCharset(declared);
  return UTF8.test(cs) || JAPANESE.test(cs) || iconv.encodingExists(cs);
}

/**
 * Decodes bytes in their declared charset. An unknown (or missing) charset is decoded as UTF-8,
 * best effort: the caller flags it (raw.unknownCharsets) rather than drop the text.
 */
export function decodeAs(bytes: Buffer, declared: string | undefined): string {
  const cs = declared ? cleanCharset(declared) : 'utf-8';
  if (UTF8.test(cs) || !knownCharset(cs)) return bytes.toString('utf8');
  if (JAPANESE.test(cs)) return Encoding.convert(bytes, { to: 'UNICODE', from: 'JIS', type: 'string' });
  return iconv.decode(bytes, cs);
}

/** Every charset a raw MIME message declares that we cannot decode (mailparser falls back for those). */
export function unknownCharsetsIn(source: Buffer | string): string[] {
  const text = typeof source === 'string' ? source : source.toString('latin1');
  const found = new Set<string>();
  for (const m of text.matchAll(/charset\s*=\s*"?([^";\s]+)"?/gi)) if (!knownCharset(m[1]!)) found.add(cleanCharset(m[1]!).slice(0, 64));
  // encoded words in headers: =?charset?B|Q?…?=
  for (const m of text.matchAll(/=\?([^?*\s]+)(?:\*[^?]*)?\?[bqBQ]\?/g)) if (!knownCharset(m[1]!)) found.add(cleanCharset(m[1]!).slice(0, 64));
  return [...found].slice(0, 20);
}
