import { emailEnvelope, htmlToText, type ParsedEmail } from '../src/domain/parsed-email';
import { parsePostmark } from '../src/providers/postmark';
import { parseMailgun } from '../src/providers/mailgun';
import { parseHeaderBlock, parseSendgrid } from '../src/providers/sendgrid';
import { parseMime } from '../src/providers/mime';
import { emailThreadToken } from '@omni/ingest';
import { fixtureJson, fixtureText } from './email-support';

const now = new Date('2026-01-20T00:00:00.000Z');

describe('provider payloads → ParsedEmail → envelope', () => {
  it('Postmark: RFC Message-ID from Headers, attachment metadata only, MailboxHash as token source', () => {
    const token = emailThreadToken('email:x@y');
    const p = parsePostmark({ ...fixtureJson<Record<string, unknown>>('postmark/original.json'), MailboxHash: token } as never);
    expect(p).toMatchObject({ providerId: '5f0c6e2a-1b3d-4e5f-9a8b-7c6d5e4f3a21', messageId: 'CAK1-original-0001@mail.cliente.example', mailboxHashes: [token] });
    expect(p.cc).toEqual([{ address: 'jorge@cliente.example', name: 'Jorge' }]);
    expect(p.attachments).toEqual([{ name: 'captura.png', contentType: 'image/png', size: 70, contentId: 'captura@01DB' }]);
  });

  it('Postmark without a Message-ID header falls back to its own MessageID', () => {
    const p = parsePostmark({ ...fixtureJson<Record<string, unknown>>('postmark/original.json'), Headers: [] } as never);
    const e = emailEnvelope(p, 'email:postmark:5f0c', now);
    expect(e.providerMessageId).toBe('5f0c6e2a-1b3d-4e5f-9a8b-7c6d5e4f3a21');
  });

  it('Mailgun: References from the field, store-and-notify attachments with URLs, stripped-text preferred', () => {
    const p = parseMailgun({
      ...fixtureJson('mailgun/reply-references.json'),
      attachments: JSON.stringify([{ url: 'https://storage.example/att/1', 'content-type': 'image/png', name: 'a.png', size: 42 }]),
    });
    expect(p.references).toEqual(['CAK1-original-0001@mail.cliente.example', 'CAK1-reply-0002@mail.cliente.example']);
    expect(p.attachments).toEqual([{ name: 'a.png', contentType: 'image/png', size: 42, url: 'https://storage.example/att/1' }]);
    expect(emailEnvelope(p, 't', now).text).toBe('Ahora me llega el enlace pero dice que ha caducado.');
  });

  it('Mailgun: Message-Id only inside message-headers is found', () => {
    const { 'Message-Id': _m, ...rest } = fixtureJson<Record<string, string>>('mailgun/reply-references.json');
    expect(parseMailgun(rest).messageId).toBe('CAK1-reply-0003@mail.cliente.example');
  });

  it('SendGrid header blocks are unfolded', () => {
    expect(parseHeaderBlock('References: <a@x>\n <b@x>\nSubject: hi\r\nX-Empty:\n')).toEqual([
      ['References', '<a@x> <b@x>'],
      ['Subject', 'hi'],
      ['X-Empty', ''],
    ]);
  });

  it('SendGrid parsed mode without Message-ID gets a stable content hash id', async () => {
    const fields = { ...fixtureJson<Record<string, string>>('sendgrid/parsed.json'), headers: 'Subject: x\n' };
    const [a, b] = await Promise.all([parseSendgrid(fields), parseSendgrid({ ...fields })]);
    expect(a.messageId).toBeUndefined();
    expect(a.providerId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(a.providerId).toBe(b.providerId);
  });

  it('MIME: encoded words decoded, attachment size without bytes, html-only text rendered', async () => {
    const p = await parseMime(fixtureText('mime/with-attachment.eml'), 'mime', 'body');
    expect(p).toMatchObject({ messageId: 'raw-0001-5b4a@mail.cliente.example', subject: 'Instalación fallida', from: { name: 'María López' } });
    expect(p.attachments).toEqual([{ name: 'install.log', contentType: 'text/plain', size: 17 }]);
    const html = await parseMime('From: a@x\r\nMessage-ID: <h@x>\r\nContent-Type: text/html\r\n\r\n<p>Hola<br>mundo</p>', 'mime', 'body');
    expect(emailEnvelope({ ...html, text: '' }, 't', now).text).toBe('Hola\nmundo');
  });

  it('keeps long html out of the envelope rather than truncating markup', () => {
    const p: ParsedEmail = { provider: 'mime', messageId: 'big@x', inReplyTo: [], references: [], from: { address: 'A@X' }, to: [], cc: [], recipients: [], text: 'hi', html: 'x'.repeat(600_000), attachments: [], raw: {} };
    const e = emailEnvelope(p, 'email:big@x', now);
    expect(e.html).toBeUndefined();
    expect(e.raw?.htmlOmitted).toMatchObject({ limit: 500_000 });
    expect(e.from.address).toBe('a@x');
  });

  it('renders entities and blocks in htmlToText', () => {
    expect(htmlToText('<style>p{}</style><div>a &amp; b</div><p>c&nbsp;d</p>')).toBe('a & b\nc d');
  });
});
