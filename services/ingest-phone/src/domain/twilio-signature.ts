import { createHmac, timingSafeEqual } from 'node:crypto';

/** Twilio form parameters as the form parser gives them (a repeated name becomes an array). */
export type TwilioParams = Record<string, string | string[] | undefined>;

/**
 * Twilio's request signature: base64(HMAC-SHA1(auth token, url + every POST parameter's name and
 * value, sorted by name)). A repeated parameter contributes name+value once per value, values
 * sorted, as Twilio's own helper libraries do.
 */
export function expectedTwilioSignature(authToken: string, url: string, params: TwilioParams): string {
  let data = url;
  for (const name of Object.keys(params).sort()) {
    const value = params[name];
    if (value === undefined) continue;
    const values = Array.isArray(value) ? [...value].sort() : [value];
    for (const v of values) data += name + v;
  }
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

const DEFAULT_PORTS: Record<string, string> = { 'https:': '443', 'http:': '80' };

/** The URL with its scheme's default port written out (https://h/p → https://h:443/p). */
export function withDefaultPort(url: string): string {
  const u = new URL(url);
  const port = DEFAULT_PORTS[u.protocol];
  if (u.port || !port) return url;
  // URL normalises away default ports, so splice the port into the original text
  return url.replace(`${u.protocol}//${u.host}`, `${u.protocol}//${u.host}:${port}`);
}

/** The URL without its scheme's default port (https://h:443/p → https://h/p). */
export function withoutDefaultPort(url: string): string {
  const m = /^(https?:)\/\/([^/?#]+)/i.exec(url);
  if (!m) return url;
  const [, scheme, authority] = m;
  const port = DEFAULT_PORTS[scheme!.toLowerCase()];
  if (!port || !authority!.endsWith(`:${port}`)) return url;
  return `${scheme}//${authority!.slice(0, -(port.length + 1))}${url.slice(m[0].length)}`;
}

/**
 * True when the signature matches the URL as configured, or the same URL with / without the
 * default port: Twilio signs the URL exactly as it was configured in the console, and its own
 * validators accept both spellings, so do we. Comparison is constant-time.
 */
export function validTwilioSignature(authToken: string, signature: string, url: string, params: TwilioParams): boolean {
  const presented = Buffer.from(signature, 'utf8');
  let ok = false;
  for (const candidate of new Set([url, withDefaultPort(url), withoutDefaultPort(url)])) {
    const expected = Buffer.from(expectedTwilioSignature(authToken, candidate, params), 'utf8');
    // evaluate every candidate (no early exit) to keep the timing independent of which one matched
    if (expected.length === presented.length && timingSafeEqual(expected, presented)) ok = true;
  }
  return ok;
}
