/**
 * Declared charsets are honoured (issue 12): SendGrid parsed-mode fields in the charset its
 * `charsets` field names, SendGrid raw mode and raw MIME parts in the charset each part declares
 * (iso-8859-1, windows-1252, iso-2022-jp…), each reaching omni.inbound.v1 once with the exact text;
 * an unknown charset is decoded best effort (as UTF-8) and named in raw.unknownCharsets, never dropped.
 */
import iconv from 'iconv-lite';
import { startIngestService } from '@omni/ingest';
import { readConfig } from '../src/config';
import { start } from '../src/start';
import * as historyCfg from '@omni/history/src/config';
import { start as startHistory } from '@omni/history/src/start';
import { createWorld, eventually, testLogger, TopicWatcher, type TestWorld } from '../../../test/support/infra';
import { bearer } from '../../../test/support/tokens';
import { basic } from './email-support';

const SENDGRID = 'sg-user:sg-charsets';
const API_KEY = 'charset-mime-key';
type Env = { messageId: string; text: string; subject?: string; html?: string; raw: Record<string, unknown> };

/** A multipart body whose field values are the given bytes, as SendGrid sends them (no per-part charset). */
function rawMultipart(fields: [string, Buffer | string][]): { body: Buffer; contentType: string } {
  const boundary = `----sgcharsets${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`, 'latin1'));
    parts.push(typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
    parts.push(Buffer.from('\r\n', 'latin1'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

// ISO-2022-JP for 日本語のサポート: ESC $ B … ESC ( B (JIS X 0208 between the escapes)
const JIS = Buffer.concat([Buffer.from([0x1b, 0x24, 0x42]), Buffer.from('F|K\\8l$N%5%]!<%H', 'latin1'), Buffer.from([0x1b, 0x28, 0x42])]);
const JIS_TEXT = '日本語のサポート';

describe('ingest-email: declared charsets', () => {
  let world: TestWorld;
  let inbound: TopicWatcher<Env>;
  let url: string;
  let close: () => Promise<void>;
  let historyUrl: string;
  let closeHistory: () => Promise<void>;
  /** every text published, by sender: each must end on that customer's timeline */
  const expectedBySender = new Map<string, string[]>();

  beforeAll(async () => {
    world = await createWorld('charsets');
    inbound = await TopicWatcher.start<Env>(world, world.topics.inbound);
    const s = await startIngestService('email', readConfig(world.env({ SENDGRID_BASIC_AUTH: SENDGRID, ADAPTER_API_KEYS: `relay:${API_KEY}` })), testLogger, start);
    url = s.url;
    close = s.close;
    const h = await startHistory(historyCfg.readConfig(world.env({ HISTORY_GROUP_ID: world.groupId('history') })), testLogger);
    historyUrl = h.url;
    closeHistory = h.close;
  });
  afterAll(async () => {
    await closeHistory?.();
    await close?.();
    await inbound?.stop();
    await world?.close();
  });

  const sendgrid = async (fields: [string, Buffer | string][]) => {
    const { body, contentType } = rawMultipart(fields);
    const res = await fetch(`${url}/v1/email/inbound/sendgrid`, { method: 'POST', headers: { 'content-type': contentType, authorization: basic(SENDGRID) }, body });
    expect(res.status).toBe(202);
    const { messageId } = (await res.json()) as { messageId: string };
    const [m] = await inbound.waitFor((v) => v.messageId === messageId);
    expect(inbound.seen.filter((s) => s.value.messageId === messageId)).toHaveLength(1);
    remember(m!.value);
    return m!.value;
  };
  const remember = (e: Env & { from?: { address: string } }) => expectedBySender.set(e.from!.address, [...(expectedBySender.get(e.from!.address) ?? []), e.text]);
  const mime = async (raw: Buffer) => {
    const res = await fetch(`${url}/v1/email/inbound/mime`, { method: 'POST', headers: { 'content-type': 'message/rfc822', 'x-api-key': API_KEY }, body: raw });
    expect(res.status).toBe(202);
    const { messageId } = (await res.json()) as { messageId: string };
    const [m] = await inbound.waitFor((v) => v.messageId === messageId);
    expect(inbound.seen.filter((s) => s.value.messageId === messageId)).toHaveLength(1);
    remember(m!.value);
    return m!.value;
  };

  it.each([
    ['iso-8859-1', iconv.encode('Ñandú: la factura está mal, ¿podéis revisarla?', 'iso-8859-1'), 'Ñandú: la factura está mal, ¿podéis revisarla?'],
    ['windows-1252', iconv.encode('Pagué 49 € y me cobraron “dos veces” – ¿por qué?', 'windows-1252'), 'Pagué 49 € y me cobraron “dos veces” – ¿por qué?'],
    ['iso-2022-jp', JIS, JIS_TEXT],
    ['UTF-8', Buffer.from('Grüße, ça marche 👍', 'utf8'), 'Grüße, ça marche 👍'],
  ])('SendGrid parsed mode: text declared %s in `charsets` is decoded as declared', async (charset, bytes, expected) => {
    const env = await sendgrid([
      ['headers', `Message-ID: <sg-cs-${charset}@cliente.example>\nFrom: Ana <ana@cliente.example>`],
      ['from', 'Ana <ana@cliente.example>'],
      ['subject', Buffer.from('Asunto – ñ', 'utf8')],
      ['text', bytes],
      ['charsets', JSON.stringify({ to: 'UTF-8', from: 'UTF-8', subject: 'UTF-8', text: charset })],
    ]);
    expect(env.text).toBe(expected);
    expect(env.subject).toBe('Asunto – ñ');
    expect(env.raw.unknownCharsets).toBeUndefined();
  });

  it('SendGrid parsed mode: an unknown charset is decoded as UTF-8, kept, and named in raw.unknownCharsets', async () => {
    const env = await sendgrid([
      ['headers', 'Message-ID: <sg-cs-unknown@cliente.example>'],
      ['from', 'ana@cliente.example'],
      ['text', Buffer.from('texto en un juego desconocido: ñ', 'utf8')],
      ['charsets', JSON.stringify({ text: 'x-klingon-8' })],
    ]);
    expect(env.text).toBe('texto en un juego desconocido: ñ');
    expect(env.raw.unknownCharsets).toEqual({ text: 'x-klingon-8' });
  });

  const message = (id: string, charset: string, cte: string, body: Buffer, subject = 'Consulta') =>
    Buffer.concat([
      Buffer.from(`From: Luis <luis@cliente.example>\r\nTo: soporte@support.example\r\nSubject: ${subject}\r\nMessage-ID: <${id}@cliente.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=${charset}\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n`, 'latin1'),
      body,
      Buffer.from('\r\n', 'latin1'),
    ]);

  it.each([
    ['iso-8859-1', '8bit', iconv.encode('El módem no enciende desde ayer, ¿qué hago?', 'iso-8859-1'), 'El módem no enciende desde ayer, ¿qué hago?'],
    ['windows-1252', '8bit', iconv.encode('Cobro de 12 € “duplicado”', 'windows-1252'), 'Cobro de 12 € “duplicado”'],
    ['iso-8859-1', 'quoted-printable', Buffer.from('Contrase=F1a caducada, =BFme ayud=E1is?', 'latin1'), 'Contraseña caducada, ¿me ayudáis?'],
    ['iso-2022-jp', '7bit', JIS, JIS_TEXT],
  ])('raw MIME: a part declared %s (%s) is decoded as declared', async (charset, cte, bytes, expected) => {
    const env = await mime(message(`mime-cs-${charset}-${cte}`, charset, cte, bytes));
    expect(env.text).toBe(expected);
    expect(env.raw.unknownCharsets).toBeUndefined();
  });

  it('SendGrid raw mode: an 8-bit iso-8859-1 part keeps its bytes through the form field and is decoded as declared', async () => {
    const env = await sendgrid([
      ['email', message('sg-raw-latin1', 'iso-8859-1', '8bit', iconv.encode('Reclamación nº 4471: añadid el recargo', 'iso-8859-1'))],
      ['envelope', JSON.stringify({ to: ['soporte@support.example'], from: 'luis@cliente.example' })],
    ]);
    expect(env.text).toBe('Reclamación nº 4471: añadid el recargo');
  });

  it('raw MIME: an unknown charset is decoded best effort and named in raw.unknownCharsets', async () => {
    const env = await mime(message('mime-cs-unknown', 'x-unknown-cs', '8bit', Buffer.from('hola, ¿qué tal?', 'utf8'), '=?x-unknown-cs?Q?Hola?='));
    expect(env.text).toContain('hola');
    expect(env.raw.unknownCharsets).toEqual(['x-unknown-cs']);
  });

  it('every decoded text is on its customer\'s timeline in history, once', async () => {
    expect(expectedBySender.size).toBeGreaterThan(0);
    for (const [address, texts] of expectedBySender) {
      const onTimeline = await eventually(async () => {
        const c = await fetch(`${historyUrl}/v1/customers?identity=${encodeURIComponent(`email:${address}`)}`, { headers: bearer('supervisor') });
        if (c.status !== 200) return undefined;
        const { id } = (await c.json()) as { id: string };
        const t = (await (await fetch(`${historyUrl}/v1/customers/${id}/timeline?limit=100`, { headers: bearer('supervisor') })).json()) as { items: { kind: string; payload?: { text?: string } }[] };
        const got = t.items.filter((i) => i.kind === 'message.inbound').map((i) => i.payload?.text ?? '');
        return got.length >= texts.length ? got : undefined;
      }, `${texts.length} messages of ${address} on the timeline`);
      expect([...onTimeline].sort()).toEqual([...texts].sort());
    }
  });
});
