/** NUL (PostgreSQL text cannot hold it) or an unpaired UTF-16 surrogate (not valid UTF-8). */
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when PostgreSQL (and every consumer) can store the string as it is. */
export function isStorable(s: string): boolean {
  return !UNSTORABLE.test(s);
}
