import type Ajv from 'ajv';
import type { TSchema } from '@sinclair/typebox';

/**
 * The storage rule of every string that reaches Kafka: PostgreSQL (text and jsonb) refuses NUL and
 * unpaired UTF-16 surrogates, so no envelope may carry them. Per field the contract says what a
 * producer does with such a string (`storable` keyword on the schema):
 *  - 'refuse' (ids, thread keys, addresses, provider ids): the input is refused with a 400 naming the field;
 *  - 'clean' (customer text, subject, html, names): NUL and lone surrogates become U+FFFD, the rest
 *    is kept, and the envelope lists the field in `cleaned`.
 * Both kinds are validated as storable at publish time, so a producer that forgets to clean is refused
 * before anything leaves (Publisher.publish → assertValid).
 */
export type StorableMode = 'refuse' | 'clean';

const NUL = /\u0000/;
const NUL_G = /\u0000/g;

/** True when PostgreSQL can store the string (no NUL, no unpaired surrogate). */
export function isStorable(s: string): boolean {
  return !NUL.test(s) && (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** Replaces NUL and unpaired surrogates with U+FFFD; every other character is kept. */
export function cleanString(s: string): string {
  return (s as unknown as { toWellFormed(): string }).toWellFormed().replace(NUL_G, '\uFFFD');
}

/** UTF-8 length of a string (lone surrogates count 3, as the replacement they would become). */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Number of code points (what ajv's maxLength counts). */
export function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/**
 * Cuts a string to at most `maxChars` code points and, if given, `maxBytes` UTF-8 bytes, never
 * inside a surrogate pair. The one truncation every producer uses (previews, fitted fields).
 */
export function truncateCodePoints(s: string, maxChars: number, maxBytes = Infinity): string {
  if (s.length <= maxChars && (maxBytes === Infinity || s.length * 3 <= maxBytes || utf8Bytes(s) <= maxBytes)) return s;
  let i = 0;
  let chars = 0;
  let bytes = 0;
  while (i < s.length && chars < maxChars) {
    const c = s.codePointAt(i)!;
    const units = c > 0xffff ? 2 : 1;
    const b = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (bytes + b > maxBytes) break;
    bytes += b;
    chars++;
    i += units;
  }
  return s.slice(0, i);
}

/** The string limits a schema declares (maxLength in code points, maxBytes in UTF-8 bytes). */
export interface StringLimit {
  maxLength?: number;
  maxBytes?: number;
}

/** Limits of a string schema, read from the contract (so producers fit values to them, not to copies). */
export function limitOf(schema: TSchema): Required<StringLimit> {
  const s = schema as { maxLength?: number; maxBytes?: number };
  return { maxLength: s.maxLength ?? Infinity, maxBytes: s.maxBytes ?? Infinity };
}

/**
 * Fits a value to a string field of the contract: cleaned (if the field is 'clean') and cut by code
 * point to its limits. For internal producers deriving a field from another (e.g. an actor id from
 * a sender address) so that what they write is always what the contract accepts.
 */
export function fitTo(schema: TSchema, value: string): string {
  const { maxLength, maxBytes } = limitOf(schema);
  return truncateCodePoints(isStorable(value) ? value : cleanString(value), maxLength, maxBytes);
}

/** Bounds of a free-form (JSON) field such as `raw` or `data`. */
export interface FreeformBounds {
  maxDepth: number;
  /** strings, numbers, keys… every node counts one */
  maxNodes: number;
  /** UTF-8 bytes of every string and key together (an upper bound on the JSON text, less the syntax) */
  maxBytes: number;
  /**
   * Set on an input schema whose strings the producer cleans afterwards (an HTTP route's `raw`):
   * only the bounds are checked there. Envelope schemas leave it unset, so what is published is storable.
   */
  cleanedLater?: boolean;
}

export type FreeformProblem = { path: string; reason: string };

/**
 * Checks a free-form value without recursion (an explicit stack), so a million-deep array is refused
 * instead of overflowing the stack of whatever would walk it next (JSON.stringify, ajv, a cleaner).
 * Returns the first problem, or undefined.
 */
export function checkFreeform(value: unknown, bounds: FreeformBounds, basePath = ''): FreeformProblem | undefined {
  const stack: [unknown, number, string][] = [[value, 0, basePath]];
  let nodes = 0;
  let bytes = 0;
  while (stack.length > 0) {
    const [v, depth, path] = stack.pop()!;
    if (++nodes > bounds.maxNodes) return { path: basePath, reason: `has more than ${bounds.maxNodes} values` };
    if (typeof v === 'string') {
      bytes += v.length;
      if (bytes > bounds.maxBytes && (bytes = bytes - v.length + utf8Bytes(v)) > bounds.maxBytes) return { path: basePath, reason: `is larger than ${bounds.maxBytes} bytes` };
      if (!bounds.cleanedLater && !isStorable(v)) return { path, reason: 'contains NUL or an unpaired surrogate' };
      continue;
    }
    if (v === null || typeof v === 'number' || typeof v === 'boolean') continue;
    if (typeof v !== 'object') return { path, reason: `holds a ${typeof v}, not JSON` };
    if (depth >= bounds.maxDepth) return { path, reason: `is nested deeper than ${bounds.maxDepth} levels` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], depth + 1, `${path}/${i}`]);
    } else {
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        bytes += utf8Bytes(k);
        if (bytes > bounds.maxBytes) return { path: basePath, reason: `is larger than ${bounds.maxBytes} bytes` };
        if (!bounds.cleanedLater && !isStorable(k)) return { path: `${path}/${k}`, reason: 'has a key with NUL or an unpaired surrogate' };
        stack.push([child, depth + 1, `${path}/${k}`]);
      }
    }
  }
  return undefined;
}

/**
 * Cleans every string (and key) of a free-form value, without recursion. Call only on a value that
 * passed the depth and size bounds, apart from storability (checkFreeform with storable strings
 * ignored is what `cleanBySchema` does). Returns the same value when nothing needed cleaning.
 */
export function cleanFreeform(value: unknown): { value: unknown; changed: boolean } {
  let changed = false;
  const fix = (s: string) => {
    if (isStorable(s)) return s;
    changed = true;
    return cleanString(s);
  };
  const root: { v: unknown } = { v: value };
  const stack: [Record<string, unknown> | unknown[], string | number][] = [[root as unknown as Record<string, unknown>, 'v']];
  while (stack.length > 0) {
    const [parent, key] = stack.pop()!;
    const v = (parent as Record<string | number, unknown>)[key];
    if (typeof v === 'string') {
      const f = fix(v);
      if (f !== v) (parent as Record<string | number, unknown>)[key] = f;
    } else if (Array.isArray(v)) {
      const copy = v.slice();
      (parent as Record<string | number, unknown>)[key] = copy;
      for (let i = 0; i < copy.length; i++) stack.push([copy, i]);
    } else if (v !== null && typeof v === 'object') {
      const copy: Record<string, unknown> = {};
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) copy[fix(k)] = child;
      (parent as Record<string | number, unknown>)[key] = copy;
      for (const k of Object.keys(copy)) stack.push([copy, k]);
    }
  }
  return { value: changed ? root.v : value, changed };
}

/** Is this string field one the contract cleans? */
function modeOf(schema: TSchema): StorableMode | undefined {
  return (schema as { storable?: StorableMode }).storable;
}

/**
 * The clean step of the contract: walks the value along the schema and, in every field marked
 * `storable: 'clean'` and every free-form field, replaces what PostgreSQL cannot store. Returns a
 * copy (the input is not changed) and the paths it cleaned, e.g. ['/text', '/from/name'].
 * Free-form fields are checked against their bounds first (iteratively); an unbounded one is left
 * as it is for validation to refuse.
 */
export function cleanBySchema<T>(schema: TSchema, value: T): { value: T; cleaned: string[] } {
  const cleaned: string[] = [];
  const walk = (s: TSchema, v: unknown, path: string): unknown => {
    const free = (s as { freeform?: FreeformBounds }).freeform;
    if (free) {
      if (checkFreeform(v, { ...free, cleanedLater: true }, path)) return v; // out of bounds: validation refuses it
      const r = cleanFreeform(v);
      if (r.changed) cleaned.push(path || '/');
      return r.value;
    }
    if (Array.isArray(s.anyOf)) {
      const branch = (s.anyOf as TSchema[]).find((b) => b.type === (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v));
      return branch ? walk(branch, v, path) : v;
    }
    if (typeof v === 'string') {
      if (modeOf(s) === 'clean' && !isStorable(v)) {
        cleaned.push(path || '/');
        return cleanString(v);
      }
      return v;
    }
    if (Array.isArray(v) && s.items && typeof s.items === 'object') return v.map((x, i) => walk(s.items as TSchema, x, `${path}/${i}`));
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && s.properties) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        const ps = (s.properties as Record<string, TSchema>)[k];
        out[k] = ps ? walk(ps, x, `${path}/${k}`) : x;
      }
      return out;
    }
    return v;
  };
  const out = walk(schema, value, '') as T;
  return { value: cleaned.length ? out : value, cleaned };
}

/**
 * Adds the contract's keywords to an ajv instance: `storable` (the string holds no NUL and no lone
 * surrogate), `maxBytes` (UTF-8 length, for index limits) and `freeform` (depth/size bounds of an
 * open JSON field, checked without recursion). Every ajv that compiles contract schemas needs them
 * (fastify's via its ajv plugins, the contracts' own, the chat frame parser).
 */
export function addContractKeywords(ajv: Ajv): Ajv {
  if (ajv.getKeyword('storable')) return ajv;
  ajv.addKeyword({
    keyword: 'storable',
    type: 'string',
    schemaType: 'string',
    errors: true,
    validate: function storable(this: unknown, _mode: StorableMode, data: string) {
      if (isStorable(data)) return true;
      (storable as unknown as { errors: unknown[] }).errors = [{ keyword: 'storable', message: 'must not contain NUL or unpaired surrogates', params: {} }];
      return false;
    },
  });
  ajv.addKeyword({
    keyword: 'maxBytes',
    type: 'string',
    schemaType: 'number',
    errors: true,
    validate: function maxBytes(limit: number, data: string) {
      if (data.length <= limit / 3 || utf8Bytes(data) <= limit) return true;
      (maxBytes as unknown as { errors: unknown[] }).errors = [{ keyword: 'maxBytes', message: `must NOT have more than ${limit} bytes in UTF-8`, params: { limit } }];
      return false;
    },
  });
  ajv.addKeyword({
    keyword: 'freeform',
    schemaType: 'object',
    errors: true,
    validate: function freeform(bounds: FreeformBounds, data: unknown) {
      const p = checkFreeform(data, bounds);
      if (!p) return true;
      (freeform as unknown as { errors: unknown[] }).errors = [{ keyword: 'freeform', message: `${p.path ? `${p.path} ` : ''}${p.reason}`.trim(), params: { path: p.path } }];
      return false;
    },
  });
  return ajv;
}
