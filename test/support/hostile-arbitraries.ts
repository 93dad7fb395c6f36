/**
 * fast-check generators of hostile input for the boundary properties (test/hostile-properties) and
 * `npm run fuzz`: arbitrary Unicode with NUL, lone surrogates, RTL and zero-width characters,
 * 100k-character strings, wrong types, deep nesting and huge arrays.
 *
 * Deep nesting and huge arrays are produced as JSON text (placeholders replaced after
 * JSON.stringify), so the test process itself never recurses over them.
 */
import fc from 'fast-check';

const SPECIALS = ['\u0000', '\ud800', '\udbff', '\udc00', '\udfff', '\u202e', '\u202d', '\u200f', '\u200b', '\u200d', '\ufeff', '\u0301', '😀', '👩‍👩‍👧', 'İ', 'K', 'ß', '\u2028', '"', '\\', '\n', '<script>', '%00', ' '];

/** Short pieces of trouble: raw code units, graphemes, the special characters above. */
const piece = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.constantFrom(...SPECIALS),
  fc.string({ maxLength: 12 }),
);

/** A string of any Unicode, sometimes up to 120,000 characters (cut anywhere, even inside a pair). */
export const hostileString = fc.oneof(
  { weight: 8, arbitrary: fc.array(piece, { maxLength: 8 }).map((a) => a.join('')) },
  {
    weight: 1,
    arbitrary: fc.tuple(piece, fc.integer({ min: 1, max: 120_000 })).map(([p, n]) => {
      const unit = p.length > 0 ? p : 'x';
      return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
    }),
  },
);

/** A value of the wrong type for a string field (what coercion used to turn into a string). */
export const wrongType = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 3 }));

const DEEP = '"__DEEP_NESTING__"';
const HUGE = '"__HUGE_ARRAY__"';
/** A placeholder for `[[[…]]]` nested `depth` levels, or a flat array of `n` items. */
const deep = fc.integer({ min: 33, max: 150_000 }).map((depth) => ({ __deep: depth }));
const huge = fc.integer({ min: 101, max: 60_000 }).map((n) => ({ __huge: n }));

/** Turns a generated body into JSON text, expanding the deep and huge placeholders. */
export function toJsonText(body: unknown): string {
  const expansions: string[] = [];
  const text = JSON.stringify(body, (_k, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      if (typeof (v as { __deep?: number }).__deep === 'number') {
        const d = (v as { __deep: number }).__deep;
        expansions.push('['.repeat(d) + ']'.repeat(d));
        return '__DEEP_NESTING__';
      }
      if (typeof (v as { __huge?: number }).__huge === 'number') {
        const n = (v as { __huge: number }).__huge;
        expansions.push(`[${Array.from({ length: n }, () => '{"a":1}').join(',')}]`);
        return '__HUGE_ARRAY__';
      }
    }
    return v;
  });
  let i = 0;
  return text.replace(new RegExp(`${DEEP}|${HUGE}`, 'g'), () => expansions[i++]!);
}

/** A field: usually valid, often hostile text, sometimes the wrong type, sometimes absent. */
export function field<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 6, arbitrary: valid }, { weight: 3, arbitrary: hostileString }, { weight: 1, arbitrary: wrongType }, { weight: 1, arbitrary: fc.constant(undefined) });
}

const ident = fc.stringMatching(/^[A-Za-z0-9._:-]{1,24}$/);

/** A free-form `raw`: JSON objects, deep nesting, huge arrays, hostile keys and values, wrong types. */
export const rawField = fc.oneof(
  { weight: 3, arbitrary: fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), hostileString), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.record({ nested: deep }) },
  { weight: 1, arbitrary: fc.record({ list: huge }) },
  { weight: 1, arbitrary: fc.record({ text: hostileString }) },
  { weight: 1, arbitrary: wrongType },
);

const attachment = fc.record(
  { name: field(fc.string({ maxLength: 20 })), contentType: field(fc.constantFrom('image/png', 'application/pdf')), size: field(fc.nat()), url: field(fc.webUrl()) },
  { requiredKeys: [] },
);

/** Sets a dotted path of a (copied) object to a value. */
function withField(base: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const out = structuredClone(base);
  const keys = path.split('.');
  let o = out;
  for (const k of keys.slice(0, -1)) o = (o[k] = typeof o[k] === 'object' && o[k] !== null ? o[k] : {}) as Record<string, unknown>;
  o[keys.at(-1)!] = value;
  return out;
}

/** Any hostile value for one field: Unicode trouble mostly, wrong types, free-form trouble. */
const hostileValue = fc.oneof({ weight: 6, arbitrary: hostileString }, { weight: 2, arbitrary: wrongType }, { weight: 1, arbitrary: rawField }, { weight: 1, arbitrary: deep }, { weight: 1, arbitrary: huge });

/** A valid adapter message for the channels. */
function validAdapterMessage(channels: readonly string[]) {
  return fc.record(
    {
      adapterMessageId: ident,
      channel: fc.constantFrom(...channels),
      threadKey: ident,
      from: fc.record({ address: ident, name: fc.string({ maxLength: 20 }), email: fc.emailAddress() }, { requiredKeys: ['address'] }),
      text: fc.string({ maxLength: 200 }),
      subject: fc.string({ maxLength: 40 }),
      language: fc.constantFrom('es', 'en', 'pt-BR'),
      attachments: fc.array(fc.record({ name: fc.string({ maxLength: 20 }), contentType: fc.constantFrom('image/png', 'application/pdf'), size: fc.nat(), url: fc.webUrl() }, { requiredKeys: [] }), { maxLength: 3 }),
      raw: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
    },
    { requiredKeys: ['adapterMessageId', 'channel', 'threadKey', 'from', 'text'] },
  );
}

const ADAPTER_PATHS = ['adapterMessageId', 'channel', 'threadKey', 'from', 'from.address', 'from.name', 'from.email', 'from.phone', 'to.address', 'to.name', 'text', 'subject', 'html', 'language', 'sentAt', 'attachments', 'attachments.0.name', 'attachments.0.url', 'raw', 'raw.k', 'extra'];

/**
 * A body for `POST /v1/<kind>/messages`: a valid message with one hostile field (most cases, so both
 * outcomes are exercised: hostile text is cleaned and accepted, a hostile id refused), a message with
 * every field at random, or any JSON at all.
 */
export function adapterBody(channels: readonly string[]): fc.Arbitrary<unknown> {
  const oneBad = fc.tuple(validAdapterMessage(channels), fc.constantFrom(...ADAPTER_PATHS), hostileValue).map(([m, path, v]) => withField(m, path, v));
  const anyField = fc.record(
    {
      adapterMessageId: field(ident),
      channel: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...channels) }, { weight: 1, arbitrary: fc.constantFrom('chat', 'email', 'sms', 'fax') }, { weight: 1, arbitrary: wrongType }),
      threadKey: field(ident),
      from: fc.oneof(
        { weight: 8, arbitrary: fc.record({ address: field(ident), name: field(fc.string({ maxLength: 20 })), email: field(fc.emailAddress()), phone: field(fc.constant('+34600111222')) }, { requiredKeys: ['address'] }) },
        { weight: 1, arbitrary: wrongType },
      ),
      to: fc.record({ address: field(ident), name: field(fc.string({ maxLength: 10 })) }, { requiredKeys: [] }),
      text: field(fc.string({ maxLength: 200 })),
      subject: field(fc.string({ maxLength: 40 })),
      html: field(fc.string({ maxLength: 200 })),
      language: field(fc.constantFrom('es', 'en', 'pt-BR')),
      sentAt: field(fc.date({ noInvalidDate: true, min: new Date('2000-01-01'), max: new Date('2100-01-01') }).map((d) => d.toISOString())),
      attachments: fc.oneof(fc.array(attachment, { maxLength: 4 }), huge, wrongType),
      raw: rawField,
      extra: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: ['adapterMessageId', 'channel', 'threadKey', 'from', 'text'] },
  );
  return fc.oneof(
    { weight: 2, arbitrary: validAdapterMessage(channels) },
    { weight: 10, arbitrary: oneBad },
    { weight: 3, arbitrary: anyField },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
    { weight: 1, arbitrary: deep },
  );
}

const validSession = fc.record({ visitorId: ident, name: fc.string({ minLength: 1, maxLength: 30 }), email: fc.emailAddress(), language: fc.constantFrom('es', 'en-GB') }, { requiredKeys: [] });

/** A body for `POST /v1/chat/sessions`: valid, valid with one hostile field, or any JSON. */
export const sessionBody: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: validSession },
  { weight: 6, arbitrary: fc.tuple(validSession, fc.constantFrom('visitorId', 'name', 'email', 'language', 'extra'), hostileValue).map(([m, p, v]) => withField(m, p, v)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

/** A text frame for the visitor websocket: message frames with hostile fields, other types, any JSON, not JSON. */
export const visitorFrame: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ type: fc.constant('message'), clientMessageId: field(ident), text: field(fc.string({ minLength: 1, maxLength: 100 })) }, { requiredKeys: ['type'] }).map(toJsonText) },
  { weight: 1, arbitrary: fc.record({ type: fc.oneof(fc.constantFrom('resume', 'ping', 'hello'), wrongType), lastSeq: field(fc.nat()) }, { requiredKeys: ['type'] }).map(toJsonText) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: hostileString.filter((s) => s.length < 30_000) },
);

/** An inbound envelope as another (older, buggy) producer might have written it straight to Kafka. */
export function rawEnvelope(id: string): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .record(
      {
        threadKey: field(ident),
        address: field(ident),
        name: field(fc.string({ maxLength: 10 })),
        text: field(fc.string({ maxLength: 100 })),
        subject: field(fc.string({ maxLength: 20 })),
        raw: rawField,
      },
      { requiredKeys: [] },
    )
    .map((f) => ({
      schema: 'omni.inbound.v1',
      messageId: id,
      channel: 'chat',
      provider: 'adapter:older',
      providerMessageId: id,
      threadKey: typeof f.threadKey === 'string' ? `chat:${f.threadKey}` : f.threadKey,
      from: { channel: 'chat', address: f.address, ...(f.name !== undefined ? { name: f.name } : {}) },
      sentAt: '2026-11-23T10:00:00.000Z',
      receivedAt: '2026-11-23T10:00:01.000Z',
      text: f.text,
      ...(f.subject !== undefined ? { subject: f.subject } : {}),
      ...(f.raw !== undefined ? { raw: f.raw } : {}),
    }));
}
