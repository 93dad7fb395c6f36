/**
 * Meta webhooks over HTTP against the real broker and database: what was (and was not) published is
 * read back from omni.inbound.v1.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startIngestService } from '@omni/ingest';
import { readConfig } from '../src/config';
import { start } from '../src/start';
import { serviceUnderTest, testLogger, TopicWatcher, type ServiceUnderTest } from '../../../test/support/infra';

const SECRET = 'meta-app-secret-int-test';
const VERIFY = 'verify-me-please';
const fixture = (name: string) => readFileSync(join(__dirname, '../../../test/fixtures/meta', name), 'utf8');
const sign = (body: string | Buffer, secret = SECRET) => 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');

interface Accepted {
  status: string;
  accepted: number;
  duplicate: number;
  ignored: number;
  messageIds: string[];
}

describe('ingest-social: Meta webhooks', () => {
  let t: ServiceUnderTest;
  let url: string;
  let inbound: TopicWatcher;
  let dlq: TopicWatcher<{ source: { offset: string }; reason: string; value: string | null }>;

  beforeAll(async () => {
    t = await serviceUnderTest('meta', (w) =>
      startIngestService('social', readConfig(w.env({ META_APP_SECRET: SECRET, META_VERIFY_TOKEN: VERIFY, META_BODY_LIMIT_BYTES: '65536' })), testLogger, start),
    );
    ({ url, inbound } = t);
    dlq = await TopicWatcher.start(t.world, t.world.topics.dlq);
  });

  afterAll(async () => {
    await dlq?.stop();
    await t?.close();
  });

  const post = (body: string | Buffer, headers: Record<string, string> = { 'x-hub-signature-256': sign(body) }) =>
    fetch(`${url}/v1/social/meta`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  /** A fresh signed Messenger message: published after the case under test, it proves the topic was read past it. */
  let markers = 0;
  async function marker(): Promise<string> {
    const body = JSON.stringify({ object: 'page', entry: [{ id: 'p1', time: 1, messaging: [{ sender: { id: 'marker' }, recipient: { id: 'p1' }, timestamp: 1763857000000, message: { mid: `m_marker_${++markers}`, text: 'marker' } }] }] });
    const res = await post(body);
    expect(res.status).toBe(200);
    const [id] = ((await res.json()) as Accepted).messageIds;
    await inbound.waitFor((v) => v.messageId === id);
    return id!;
  }

  it('answers the hub.challenge handshake with the right verify token, 403 otherwise', async () => {
    const ok = await fetch(`${url}/v1/social/meta?hub.mode=subscribe&hub.verify_token=${VERIFY}&hub.challenge=1158201444`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await ok.text()).toBe('1158201444');
    const wrong = await fetch(`${url}/v1/social/meta?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1158201444`);
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ error: 'FORBIDDEN' });
    const missing = await fetch(`${url}/v1/social/meta?hub.mode=subscribe&hub.verify_token=${VERIFY}`);
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { fields: { field: string }[] }).fields.map((f) => f.field)).toContain('querystring.hub.challenge');
  });

  it.each([
    ['Messenger', 'messenger-text.json', 'messenger:104857600123456:7301945562218834', 'messenger'],
    ['Instagram', 'instagram-text.json', 'instagram:17841400555123456:1189902233445566', 'instagram'],
    ['WhatsApp', 'whatsapp-text.json', 'whatsapp:209988776655443:34612345678', 'whatsapp'],
  ])('%s: a validly signed message is answered 200 after it is on omni.inbound.v1', async (_p, file, threadKey, channel) => {
    const body = fixture(file);
    const res = await post(body);
    expect(res.status).toBe(200);
    const r = (await res.json()) as Accepted;
    expect(r).toMatchObject({ status: 'ok', accepted: 1, duplicate: 0 });
    const [msg] = await inbound.waitFor((v) => v.messageId === r.messageIds[0]);
    expect(msg!.key).toBe(threadKey);
    expect(msg!.value).toMatchObject({ channel, threadKey, schema: 'omni.inbound.v1' });
    if (channel === 'whatsapp') expect(msg!.value.from).toMatchObject({ phone: '+34612345678', name: 'Marta Ruiz' });
  });

  it.each([
    ['Messenger', 'messenger-text.json'],
    ['Instagram', 'instagram-text.json'],
    ['WhatsApp', 'whatsapp-text.json'],
  ])('%s: a redelivered webhook is answered 200 and published once', async (_p, file) => {
    const body = fixture(file);
    const first = (await (await post(body)).json()) as Accepted;
    const again = await post(body);
    expect(again.status).toBe(200);
    const r = (await again.json()) as Accepted;
    expect(r).toMatchObject({ accepted: 0, duplicate: 1, messageIds: first.messageIds });
    await marker();
    expect(inbound.seen.filter((s) => s.value.messageId === r.messageIds[0])).toHaveLength(1);
  });

  it.each([
    ['Messenger', 'messenger-text.json'],
    ['Instagram', 'instagram-text.json'],
    ['WhatsApp', 'whatsapp-text.json'],
  ])('%s: a wrong signature is 403, a missing one 401, and nothing is published', async (_p, file) => {
    // a body no other test sends, so any copy on the topic could only come from these requests
    const body = fixture(file).replace(/"(m_|aWdf|wamid\.)/, `"$1unsigned-${file}-`);
    const before = inbound.seen.length;
    const wrong = await post(body, { 'x-hub-signature-256': sign(body, 'not-the-secret') });
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ error: 'FORBIDDEN', fields: [{ field: 'headers.x-hub-signature-256' }] });
    const tampered = await post(body.replace('"text"', '"text" '), { 'x-hub-signature-256': sign(body) });
    expect(tampered.status).toBe(403);
    const missing = await post(body, {});
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: 'UNAUTHORIZED' });
    await marker();
    expect(inbound.seen.slice(before).filter((s) => String(s.value.providerMessageId).includes('unsigned'))).toEqual([]);
  });

  it.each([
    ['Messenger', { object: 'page', entry: [{ id: 'p1', messaging: [{ sender: { id: 's1' }, recipient: { id: 'p1' }, message: { text: 'no mid' } }] }] }, 'body.entry.0.messaging.0.message.mid'],
    ['Instagram', { object: 'instagram', entry: [{ id: 'ig1', messaging: [{ recipient: { id: 'ig1' }, message: { mid: 'x', text: 'no sender' } }] }] }, 'body.entry.0.messaging.0.sender'],
    ['WhatsApp', { object: 'whatsapp_business_account', entry: [{ id: 'w1', changes: [{ field: 'messages', value: { messages: [] } }] }] }, 'body.entry.0.changes.0.value.metadata'],
    ['unknown object', { object: 'permissions', entry: [] }, 'body.object'],
  ])('%s: a malformed (but signed) delivery is answered 200 (Meta retries anything else), refused naming the field and dead-lettered', async (_p, payload, field) => {
    const body = JSON.stringify(payload);
    const res = await post(body);
    expect(res.status).toBe(200);
    const ack = (await res.json()) as Accepted & { refused: { field: string; reason: string }[] };
    expect(ack).toMatchObject({ accepted: 0, messageIds: [] });
    expect(ack.refused.map((f) => f.field)).toEqual([field]);
    // the refused part (the message, the change value, or the whole body) with the reason
    const [dl] = await dlq.waitFor((v) => v.source.offset === field && body.includes(String(v.value)));
    expect(dl!.value.reason).toContain(field);
  });

  it('dead-letters a signed body that is not JSON (200, refused "body"); a non-JSON content type is 415', async () => {
    const body = '{"object":"page","entry":[';
    const res = await post(body);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { refused: { field: string }[] }).refused.map((f) => f.field)).toEqual(['body']);
    await dlq.waitFor((v) => v.value === JSON.stringify(body));
    const form = await fetch(`${url}/v1/social/meta`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-hub-signature-256': sign('x') }, body: 'x' });
    expect(form.status).toBe(415);
  });

  it('a delivery of 50 messages with 3 invalid ones publishes exactly 47, answers 200 and reports and dead-letters the 3', async () => {
    const msg = (n: number) => ({ sender: { id: `cust-${n}` }, recipient: { id: 'page-50' }, timestamp: 1763857299000 + n, message: { mid: `m_fifty_${n}`, text: `mensaje ${n}` } });
    const events: unknown[] = Array.from({ length: 50 }, (_, n) => msg(n));
    events[7] = { sender: {}, recipient: { id: 'page-50' }, message: { mid: 'm_fifty_7', text: 'no sender id' } };
    events[23] = { sender: { id: 'cust-23' }, recipient: { id: 'page-50' }, message: { mid: 'm_fifty_23', text: 23 } };
    events[41] = { sender: { id: 'cust-41' }, recipient: { id: 'page-50' }, message: { mid: '', text: 'empty mid' } };
    // Meta batches by entry: spread the 50 over 5 entries of 10
    const body = JSON.stringify({ object: 'page', entry: [0, 1, 2, 3, 4].map((e) => ({ id: 'page-50', time: 1763857300000, messaging: events.slice(e * 10, e * 10 + 10) })) });
    const res = await post(body);
    expect(res.status).toBe(200);
    const ack = (await res.json()) as Accepted & { refused: { field: string; reason: string }[] };
    expect(ack.accepted).toBe(47);
    expect(ack.refused.map((r) => r.field)).toEqual(['body.entry.0.messaging.7.sender.id', 'body.entry.2.messaging.3.message.text', 'body.entry.4.messaging.1.message.mid']);
    for (const needle of ['"m_fifty_7"', '"m_fifty_23"', '"empty mid"']) await dlq.waitFor((v) => String(v.value).includes(needle));
    await inbound.waitFor((v) => String(v.providerMessageId).startsWith('m_fifty_'), 47);
    await marker();
    const published = inbound.seen.filter((s2) => String(s2.value.providerMessageId).startsWith('m_fifty_')).map((s2) => s2.value.providerMessageId);
    expect(published).toHaveLength(47);
    expect(new Set(published).size).toBe(47);
    expect(published).not.toContain('m_fifty_7');
    expect(published).not.toContain('m_fifty_23');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/ingest_messages_rejected_total\{[^}]*reason="refused-message"[^}]*\} ([3-9]|\d\d+)/);
    // Meta's redelivery of the same batch: the 47 are duplicates, nothing new is published
    const again = (await (await post(body)).json()) as Accepted;
    expect(again).toMatchObject({ accepted: 0, duplicate: 47 });
  });

  it('rejects an oversized body with 413 before reading it', async () => {
    const big = JSON.stringify({ object: 'page', entry: [{ id: 'p1', messaging: [], pad: 'x'.repeat(70_000) }] });
    const res = await post(big);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
  });

  it('turns batched entries into one envelope per message; echoes, deliveries, reads and statuses into none', async () => {
    const m = (await (await post(fixture('messenger-batch.json'))).json()) as Accepted;
    expect(m).toMatchObject({ accepted: 2, ignored: 3 });
    const w = (await (await post(fixture('whatsapp-batch.json'))).json()) as Accepted;
    expect(w).toMatchObject({ accepted: 2, ignored: 0 });
    const s = await post(fixture('whatsapp-statuses.json'));
    expect(s.status).toBe(200);
    expect(await s.json()).toMatchObject({ accepted: 0, duplicate: 0, ignored: 2, messageIds: [] });
    await inbound.waitFor((v) => [...m.messageIds, ...w.messageIds].includes(v.messageId as string), 4);
    await marker();
    const echoes = inbound.seen.filter((s2) => ['m_echo-of-our-reply-bbbbbbbbbbbb', 'wamid.outbound-reply-999', 'aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOmVjaG8tb2YtcmVwbHk'].includes(s2.value.providerMessageId as string));
    expect(echoes).toEqual([]);
  });

  it('documents the Meta routes in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/v1/social/meta'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(doc.paths['/v1/social/messages']).toBeDefined();
  });

  it('keeps the generic adapter route on the default JSON parser', async () => {
    const res = await fetch(`${url}/v1/social/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
  });
});
