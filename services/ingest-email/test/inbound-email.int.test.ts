/**
 * ingest-email over HTTP with the real broker and database: Postmark, Mailgun, SendGrid and raw
 * MIME posts built from the providers' documented fields, and omni.inbound.v1 read back to prove
 * what was (and was not) published.
 */
import { startIngestService } from '@omni/ingest';
import { createKafka, Publisher } from '@omni/kafka';
import { readConfig } from '../src/config';
import { start } from '../src/start';
import { createWorld, testLogger, TopicWatcher, type TestWorld } from '../../../test/support/infra';
import { basic, fixtureJson, fixtureText, mailgunSigned, multipart } from './email-support';

const POSTMARK = 'postmark-user:pm-secret';
const SENDGRID = 'sendgrid-user:sg-secret';
const MAILGUN_KEY = 'key-mailgun-test-signing-key';
const API_KEY = 'mime-adapter-key';
const LIMIT = 64 * 1024;

type Env = Record<string, unknown> & { messageId: string; threadKey: string; text: string; raw: Record<string, unknown> };
type Accepted = { status: string; messageId: string; threadKey: string };

describe('ingest-email: provider routes', () => {
  let world: TestWorld;
  let inbound: TopicWatcher<Env>;
  let url: string;
  const closers: (() => Promise<void>)[] = [];
  const env = (extra: Record<string, string> = {}) =>
    world.env({
      POSTMARK_BASIC_AUTH: POSTMARK,
      SENDGRID_BASIC_AUTH: SENDGRID,
      MAILGUN_SIGNING_KEY: MAILGUN_KEY,
      ADAPTER_API_KEYS: `relay:${API_KEY}`,
      EMAIL_BODY_LIMIT_BYTES: String(LIMIT),
      ...extra,
    });

  beforeAll(async () => {
    world = await createWorld('email');
    inbound = await TopicWatcher.start<Env>(world, world.topics.inbound);
    const s = await startIngestService('email', readConfig(env()), testLogger, start);
    url = s.url;
    closers.push(s.close);
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
    await inbound?.stop();
    await world?.close();
  });

  const postmark = (body: unknown, auth: string | null = basic(POSTMARK), contentType = 'application/json') =>
    fetch(`${url}/v1/email/inbound/postmark`, { method: 'POST', headers: { 'content-type': contentType, ...(auth ? { authorization: auth } : {}) }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const mailgunForm = (fields: Record<string, string>, base = url) =>
    fetch(`${base}/v1/email/inbound/mailgun`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  const nowS = () => Math.floor(Date.now() / 1000);

  /** A fresh Postmark message; once it is on the topic, everything posted before it has been read. */
  const marker = async () => {
    const id = `marker-${Math.random().toString(16).slice(2)}`;
    const res = await postmark({ ...fixtureJson('postmark/original.json'), MessageID: id, Headers: [{ Name: 'Message-ID', Value: `<${id}@m>` }] });
    expect(res.status).toBe(200);
    const { messageId } = (await res.json()) as Accepted;
    await inbound.waitFor((v) => v.messageId === messageId);
  };
  const copies = (pred: (v: Env) => boolean) => inbound.seen.filter((s) => pred(s.value)).length;

  it('threads original (Postmark), reply with only In-Reply-To (Postmark) and reply with only References (Mailgun) into one thread', async () => {
    const original = await postmark(fixtureJson('postmark/original.json'));
    expect(original.status).toBe(200);
    const a = (await original.json()) as Accepted;
    expect(a.threadKey).toBe('email:CAK1-original-0001@mail.cliente.example');

    const reply = await postmark(fixtureJson('postmark/reply-in-reply-to.json'));
    expect(reply.status).toBe(200);
    const b = (await reply.json()) as Accepted;

    const mg = fixtureJson<Record<string, string>>('mailgun/reply-references.json');
    const third = await mailgunForm({ ...mg, ...mailgunSigned(MAILGUN_KEY, nowS()) });
    expect(third.status).toBe(200);
    const c = (await third.json()) as Accepted;

    const seen = await Promise.all([a, b, c].map(async (x) => (await inbound.waitFor((v) => v.messageId === x.messageId))[0]!));
    expect(new Set(seen.map((s) => s.value.threadKey))).toEqual(new Set([a.threadKey]));
    expect(new Set(seen.map((s) => s.key))).toEqual(new Set([a.threadKey]));
    expect(seen.map((s) => s.value.raw.threadedVia)).toEqual(['new', 'in-reply-to', 'references']);

    const [first, second, last] = seen.map((s) => s.value);
    expect(first).toMatchObject({
      channel: 'email',
      provider: 'postmark',
      providerMessageId: 'CAK1-original-0001@mail.cliente.example',
      from: { channel: 'email', address: 'lucia.fernandez@cliente.example', name: 'Lucía Fernández', email: 'lucia.fernandez@cliente.example' },
      to: { address: 'soporte@support.example', name: 'Soporte' },
      subject: 'No puedo acceder a mi cuenta',
      sentAt: '2026-01-12T08:15:00.000Z',
      attachments: [{ name: 'captura.png', contentType: 'image/png', size: 70, contentId: 'captura@01DB' }],
    });
    expect(JSON.stringify(first)).not.toContain('iVBORw0KGgo'); // attachment bytes never reach Kafka
    // quoted history: stripped from the text, kept whole in raw.fullText
    expect(second!.text).toBe('Ya he probado en otro navegador, sigue igual.');
    expect(second!.raw.fullText).toEqual(expect.stringContaining('escribió:'));
    expect(last).toMatchObject({ provider: 'mailgun', text: 'Ahora me llega el enlace pero dice que ha caducado.', raw: { fullText: expect.stringContaining('wrote:') } });

    const rows = await world.pool.query('SELECT message_id, thread_key, direction FROM ingest.email_message_ids ORDER BY message_id');
    expect(rows.rows).toEqual(
      expect.arrayContaining(['CAK1-original-0001', 'CAK1-reply-0002', 'CAK1-reply-0003'].map((m) => ({ message_id: `${m}@mail.cliente.example`, thread_key: a.threadKey, direction: 'inbound' }))),
    );
  });

  it('joins the thread of an outbound agent reply recorded by delivery', async () => {
    await world.pool.query(`INSERT INTO ingest.email_message_ids (message_id, thread_key, direction) VALUES ('agent-out-77@support.example', 'email:root-x@cliente.example', 'outbound')`);
    const body = { ...fixtureJson('postmark/reply-in-reply-to.json'), MessageID: 'pm-out-reply', Headers: [{ Name: 'Message-ID', Value: '<cust-77@cliente.example>' }, { Name: 'In-Reply-To', Value: '<agent-out-77@support.example>' }] };
    const res = await postmark(body);
    expect(((await res.json()) as Accepted).threadKey).toBe('email:root-x@cliente.example');
  });

  it('answers a redelivered Postmark post 200 duplicate and publishes it once', async () => {
    const body = { ...fixtureJson('postmark/original.json'), MessageID: 'pm-dup-1', Headers: [{ Name: 'Message-ID', Value: '<dup-1@cliente.example>' }] };
    const first = await postmark(body);
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ status: 'accepted' });
    const second = await postmark(body);
    expect(second.status).toBe(200);
    const dup = (await second.json()) as Accepted;
    expect(dup.status).toBe('duplicate');
    await marker();
    expect(copies((v) => v.messageId === dup.messageId)).toBe(1);
  });

  it('rejects Postmark posts: 401 for credentials (Postmark retries), 403 for what no retry can fix (Postmark stops on 403), publishing nothing', async () => {
    const body = { ...fixtureJson('postmark/original.json'), MessageID: 'pm-rejected', Headers: [{ Name: 'Message-ID', Value: '<rejected@cliente.example>' }] };
    const none = await postmark(body, null);
    expect(none.status).toBe(401);
    expect((await postmark(body, basic('postmark-user:wrong'))).status).toBe(401);
    const form = await postmark(new URLSearchParams({ From: 'a@b' }).toString(), basic(POSTMARK), 'application/x-www-form-urlencoded');
    expect(form.status).toBe(403);
    expect(await form.json()).toMatchObject({ error: 'UNSUPPORTED_MEDIA_TYPE' });
    const { MessageID: _omit, ...noId } = body;
    const malformed = await postmark(noId);
    expect(malformed.status).toBe(403);
    const malformedBody = (await malformed.json()) as { error: string; fields: { field: string }[] };
    expect(malformedBody.error).toBe('VALIDATION');
    expect(malformedBody.fields.map((f) => f.field)).toContain('body.MessageID');
    const notJson = await postmark('{"From": ');
    expect(notJson.status).toBe(403);
    expect(await notJson.json()).toMatchObject({ error: 'VALIDATION' });
    const big = await postmark({ ...body, TextBody: 'x'.repeat(LIMIT + 10) });
    expect(big.status).toBe(403);
    expect(await big.json()).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
    await marker();
    expect(copies((v) => v.providerMessageId === 'rejected@cliente.example')).toBe(0);
  });

  describe('Mailgun', () => {
    const base = (): Record<string, string> => ({ ...fixtureJson<Record<string, string>>('mailgun/reply-references.json'), References: '', 'message-headers': '[]' });
    const withId = (id: string): Record<string, string> => ({ ...base(), 'Message-Id': `<${id}@cliente.example>` });

    it('takes multipart with attachments as metadata', async () => {
      const form = multipart({ ...withId('mg-multi-1'), 'attachment-count': '1', ...mailgunSigned(MAILGUN_KEY, nowS()) }, [{ field: 'attachment-1', name: 'router.log', type: 'text/plain', content: 'line\n'.repeat(100) }]);
      const res = await fetch(`${url}/v1/email/inbound/mailgun`, { method: 'POST', body: form });
      expect(res.status).toBe(200);
      const { messageId } = (await res.json()) as Accepted;
      const [m] = await inbound.waitFor((v) => v.messageId === messageId);
      expect(m!.value.attachments).toEqual([{ name: 'router.log', contentType: 'text/plain', size: 500 }]);
    });

    it('rejects a missing or wrong signature, a stale or future timestamp and a replayed token (403 naming the check), publishing nothing', async () => {
      const missing = await mailgunForm(withId('mg-bad-1'));
      expect(missing.status).toBe(401);
      expect(((await missing.json()) as { fields: { field: string }[] }).fields.map((f) => f.field)).toEqual(['body.timestamp', 'body.token', 'body.signature']);

      const wrong = await mailgunForm({ ...withId('mg-bad-1'), ...mailgunSigned('key-other', nowS()) });
      expect(wrong.status).toBe(403);
      expect(await wrong.json()).toMatchObject({ message: expect.stringContaining('signature mismatch') });

      const stale = await mailgunForm({ ...withId('mg-bad-1'), ...mailgunSigned(MAILGUN_KEY, nowS() - 3600) });
      expect(stale.status).toBe(403);
      expect(await stale.json()).toMatchObject({ message: expect.stringContaining('stale timestamp') });

      const future = await mailgunForm({ ...withId('mg-bad-1'), ...mailgunSigned(MAILGUN_KEY, nowS() + 3600) });
      expect(future.status).toBe(403);
      expect(await future.json()).toMatchObject({ message: expect.stringContaining('timestamp in the future') });

      const signed = mailgunSigned(MAILGUN_KEY, nowS());
      expect((await mailgunForm({ ...withId('mg-first-use'), ...signed })).status).toBe(200);
      const replay = await mailgunForm({ ...withId('mg-bad-1'), ...signed });
      expect(replay.status).toBe(403);
      expect(await replay.json()).toMatchObject({ message: expect.stringContaining('replayed token') });

      await marker();
      expect(copies((v) => v.providerMessageId === 'mg-bad-1@cliente.example')).toBe(0);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      for (const reason of ['missing-signature', 'bad-signature', 'stale-timestamp', 'timestamp-in-the-future', 'replayed-token'])
        expect(metrics).toMatch(new RegExp(`ingest_messages_rejected_total\\{[^}]*provider="mailgun"[^}]*reason="${reason}"[^}]*\\} 1`));
    });

    it("answers Mailgun's retry of the same message (same token and Message-Id) 200 duplicate, even past the freshness window", async () => {
      const fields = { ...withId('mg-retry-1'), ...mailgunSigned(MAILGUN_KEY, nowS() - 120) };
      const first = await mailgunForm(fields);
      expect(first.status).toBe(200);
      expect(await first.clone().json()).toMatchObject({ status: 'accepted' });
      const { messageId } = (await first.json()) as Accepted;
      // a replica with a 60 s window sees the same token again: too old for a first use, but it is
      // Mailgun retrying this very message, so it is answered as the duplicate it is
      const strict = await startIngestService('email', readConfig(env({ MAILGUN_MAX_AGE_S: '60' })), testLogger, start);
      closers.push(strict.close);
      const retry = await mailgunForm(fields, strict.url);
      expect(retry.status).toBe(200);
      expect(await retry.json()).toMatchObject({ status: 'duplicate', messageId });
      // and the same stale request with a token never seen is refused there
      const staleFresh = await mailgunForm({ ...withId('mg-retry-2'), ...mailgunSigned(MAILGUN_KEY, nowS() - 120) }, strict.url);
      expect(staleFresh.status).toBe(403);
      await marker();
      expect(copies((v) => v.messageId === messageId)).toBe(1);
    });

    it('names the missing sender of a signed but malformed post, and refuses an oversized multipart, both 406 (Mailgun does not retry 406)', async () => {
      const { from: _f, sender: _s, ...noFrom } = withId('mg-malformed');
      const malformed = await mailgunForm({ ...noFrom, ...mailgunSigned(MAILGUN_KEY, nowS()) });
      expect(malformed.status).toBe(406);
      expect(await malformed.json()).toMatchObject({ error: 'VALIDATION', fields: [{ field: 'body.from' }] });
      const form = multipart({ ...withId('mg-big'), ...mailgunSigned(MAILGUN_KEY, nowS()) }, [{ field: 'attachment-1', name: 'big.bin', type: 'application/octet-stream', content: Buffer.alloc(LIMIT + 1) }]);
      const big = await fetch(`${url}/v1/email/inbound/mailgun`, { method: 'POST', body: form });
      expect(big.status).toBe(406);
      expect(await big.json()).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
    });

    it('multipart/form-data without a boundary, with an unusable one, or with garbage parts is a 4xx JSON error naming the field, never 500, publishing nothing', async () => {
      const cut = '--b1\r\nContent-Disposition: form-data; name="from"\r\n\r\nmp-cut@cliente.example\r\n--b1\r\nContent-Disposition: form-data; name="subj';
      const sg = { authorization: basic(SENDGRID) };
      // [route, headers, body, status, error, field]
      const cases: [string, Record<string, string>, string, number, string, string][] = [
        ['mailgun', { 'content-type': 'multipart/form-data' }, cut, 406, 'VALIDATION', 'body'],
        ['mailgun', { 'content-type': `multipart/form-data; boundary=${'x'.repeat(300)}` }, cut, 406, 'VALIDATION', 'body'],
        ['mailgun', { 'content-type': 'multipart/form-data; boundary=b1' }, 'no parts at all', 401, 'UNAUTHORIZED', 'body.timestamp'],
        ['sendgrid', { 'content-type': 'multipart/form-data', ...sg }, cut, 400, 'VALIDATION', 'body'],
        ['sendgrid', { 'content-type': 'multipart/form-data; boundary="unterminated', ...sg }, cut, 400, 'VALIDATION', 'body.from'],
        ['sendgrid', { 'content-type': 'multipart/form-data; boundary=b1', ...sg }, 'no parts at all', 400, 'VALIDATION', 'body.from'],
      ];
      for (const [route, headers, body, status, error, field] of cases) {
        const res = await fetch(`${url}/v1/email/inbound/${route}`, { method: 'POST', headers, body });
        const err = (await res.json()) as { error: string; fields?: { field: string }[] };
        expect({ route, headers, status: res.status, error: err.error, field: err.fields?.[0]?.field }).toEqual({ route, headers, status, error, field });
      }
      await marker();
      expect(copies((v) => JSON.stringify(v.from).includes('mp-cut@'))).toBe(0);
    });
  });

  describe('SendGrid Inbound Parse and raw MIME', () => {
    const sendgrid = (form: FormData, auth: string | null = basic(SENDGRID)) => fetch(`${url}/v1/email/inbound/sendgrid`, { method: 'POST', headers: auth ? { authorization: auth } : {}, body: form });
    const mime = (raw: string, headers: Record<string, string> = { 'content-type': 'message/rfc822', 'x-api-key': API_KEY }) =>
      fetch(`${url}/v1/email/inbound/mime`, { method: 'POST', headers, body: raw });

    it('takes a parsed-mode post with its attachment as metadata named by attachment-info', async () => {
      const res = await sendgrid(multipart(fixtureJson<Record<string, string>>('sendgrid/parsed.json'), [{ field: 'attachment1', name: 'factura-2025-12.pdf', type: 'application/pdf', content: Buffer.alloc(1234, 1) }]));
      expect(res.status).toBe(202);
      const a = (await res.json()) as Accepted;
      expect(a.threadKey).toBe('email:9f8e7d6c-sendgrid-parsed@mail.cliente.example');
      const [m] = await inbound.waitFor((v) => v.messageId === a.messageId);
      expect(m!.value).toMatchObject({
        provider: 'sendgrid',
        from: { address: 'pedro.ruiz@cliente.example', name: 'Pedro Ruiz' },
        subject: 'Factura duplicada',
        text: 'Buenos días,\nme han cobrado dos veces la factura de diciembre.',
        attachments: [{ name: 'factura-2025-12.pdf', contentType: 'application/pdf', size: 1234 }],
        raw: { mode: 'parsed', spamScore: '0.011', envelope: { to: ['soporte@support.example'] } },
      });
    });

    it('parses a raw MIME post, and a raw-mode SendGrid reply joins its thread by In-Reply-To', async () => {
      const first = await mime(fixtureText('mime/with-attachment.eml'));
      expect(first.status).toBe(202);
      const a = (await first.json()) as Accepted;
      const [m] = await inbound.waitFor((v) => v.messageId === a.messageId);
      expect(m!.value).toMatchObject({
        provider: 'mime',
        threadKey: 'email:raw-0001-5b4a@mail.cliente.example',
        from: { address: 'maria.lopez@cliente.example', name: 'María López' },
        subject: 'Instalación fallida',
        text: 'La instalación se detiene al 80%.',
        attachments: [{ name: 'install.log', contentType: 'text/plain', size: 17 }],
        raw: { adapter: 'relay' },
      });
      const reply = await sendgrid(multipart({ email: fixtureText('sendgrid/raw-reply.eml'), to: 'soporte@support.example', from: 'maria.lopez@cliente.example', envelope: '{"to":["soporte@support.example"],"from":"maria.lopez@cliente.example"}' }));
      expect(reply.status).toBe(202);
      const b = (await reply.json()) as Accepted;
      const [r] = await inbound.waitFor((v) => v.messageId === b.messageId);
      expect(r!.value).toMatchObject({ provider: 'sendgrid', threadKey: a.threadKey, text: 'Adjunto otra captura.', raw: { mode: 'raw', threadedVia: 'in-reply-to' } });
    });

    it('answers redelivered SendGrid and MIME posts 200 duplicate, once on the topic; names a missing sender; refuses oversized posts', async () => {
      const fields = { ...fixtureJson<Record<string, string>>('sendgrid/parsed.json'), headers: 'Message-ID: <sg-dup-1@cliente.example>\n' };
      expect((await sendgrid(multipart(fields))).status).toBe(202);
      const again = await sendgrid(multipart(fields));
      expect(again.status).toBe(200);
      const dup = (await again.json()) as Accepted;
      expect(dup.status).toBe('duplicate');
      const raw = fixtureText('mime/with-attachment.eml').replace('raw-0001-5b4a', 'raw-dup-9');
      expect((await mime(raw)).status).toBe(202);
      const mimeAgain = await mime(raw);
      expect(mimeAgain.status).toBe(200);
      const mimeDup = (await mimeAgain.json()) as Accepted;

      const { from: _f, ...noFrom }: Record<string, string> = { ...fields, headers: 'Message-ID: <sg-nofrom@cliente.example>\n' };
      const malformed = await sendgrid(multipart(noFrom));
      expect(malformed.status).toBe(400);
      expect(await malformed.json()).toMatchObject({ fields: [{ field: 'body.from' }] });
      expect((await sendgrid(multipart({ ...fields, text: 'x'.repeat(LIMIT + 1) }))).status).toBe(413);
      expect((await mime(raw + 'x'.repeat(LIMIT))).status).toBe(413);

      await marker();
      expect(copies((v) => v.messageId === dup.messageId)).toBe(1);
      expect(copies((v) => v.messageId === mimeDup.messageId)).toBe(1);
      expect(copies((v) => v.providerMessageId === 'sg-nofrom@cliente.example')).toBe(0);
    });

    it('rejects bad credentials, a wrong content type and a message without sender, publishing nothing', async () => {
      const fields = { ...fixtureJson<Record<string, string>>('sendgrid/parsed.json'), headers: 'Message-ID: <sg-rejected@cliente.example>\n' };
      expect((await sendgrid(multipart(fields), null)).status).toBe(401);
      expect((await sendgrid(multipart(fields), basic('sendgrid-user:nope'))).status).toBe(401);
      const form = await fetch(`${url}/v1/email/inbound/sendgrid`, { method: 'POST', headers: { authorization: basic(SENDGRID), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
      expect(form.status).toBe(415);

      expect((await mime(fixtureText('mime/with-attachment.eml'), { 'content-type': 'message/rfc822' })).status).toBe(401);
      expect((await mime('{}', { 'content-type': 'application/json', 'x-api-key': API_KEY })).status).toBe(415);
      const noFrom = await mime('Message-ID: <mime-nofrom@x>\r\nSubject: hi\r\n\r\nbody\r\n');
      expect(noFrom.status).toBe(400);
      expect(await noFrom.json()).toMatchObject({ fields: [{ field: 'body', reason: expect.stringContaining('From') }] });
      await marker();
      expect(copies((v) => ['sg-rejected@cliente.example', 'mime-nofrom@x'].includes(String(v.providerMessageId)))).toBe(0);
    });
  });

  it('refuses a chunked multipart whose attachment exceeds the limit (no content-length to check up front)', async () => {
    const form = multipart({ 'Message-Id': '<mg-chunked@x>', from: 'a@cliente.example', ...mailgunSigned(MAILGUN_KEY, nowS()) }, [{ field: 'attachment-1', name: 'big.bin', type: 'application/octet-stream', content: Buffer.alloc(LIMIT + 100) }]);
    const encoded = new Response(form);
    const res = await fetch(`${url}/v1/email/inbound/mailgun`, {
      method: 'POST',
      headers: { 'content-type': encoded.headers.get('content-type')! },
      body: encoded.body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(406);
    expect(await res.json()).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
  });

  it('answers 503 with Retry-After when Kafka does not ack, publishes nothing, and the provider retry succeeds', async () => {
    // the same app on a publisher that never connected: every publish fails like a broker outage
    const publisher = new Publisher(createKafka({ brokers: world.brokers, clientId: 'down', logger: testLogger }));
    const cfg = readConfig(env());
    const down = await start(cfg, { infra: { pool: world.pool, publisher, topics: world.topics, readiness: [] }, logger: testLogger, apiKeys: new Map([['relay', API_KEY]]), kickRelay: () => undefined });
    const body = { ...fixtureJson('postmark/original.json'), MessageID: 'pm-outage', Headers: [{ Name: 'Message-ID', Value: '<outage-1@cliente.example>' }] };
    // app.inject's cookie dependency is ESM-only under jest: listen on port 0 and use fetch
    const downUrl = await down.app.listen({ port: 0, host: '127.0.0.1' });
    const res = await fetch(`${downUrl}/v1/email/inbound/postmark`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: basic(POSTMARK) }, body: JSON.stringify(body) });
    await down.close();
    await down.app.close();
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    const retry = await postmark(body);
    expect(retry.status).toBe(200);
    const { messageId, threadKey } = (await retry.json()) as Accepted;
    expect(threadKey).toBe('email:outage-1@cliente.example');
    await marker();
    expect(copies((v) => v.messageId === messageId)).toBe(1);
  });

  it('serves an OpenAPI document listing the provider routes', async () => {
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    for (const p of ['postmark', 'mailgun', 'sendgrid', 'mime']) expect(Object.keys(doc.paths)).toContain(`/v1/email/inbound/${p}`);
    expect(Object.keys(doc.paths)).toContain('/v1/email/messages');
  });
});
