/**
 * ingest-phone over HTTP with the real broker and database: Twilio webhooks signed as Twilio signs
 * them, and omni.inbound.v1 read back to prove what was (and was not) published.
 */
import { startIngestService } from '@omni/ingest';
import { createKafka, Publisher } from '@omni/kafka';
import { readConfig } from '../src/config';
import { start } from '../src/start';
import { expectedTwilioSignature } from '../src/domain/twilio-signature';
import { createWorld, testLogger, TopicWatcher, type TestWorld } from '../../../test/support/infra';
import sms from './fixtures/twilio/sms.json';
import voice from './fixtures/twilio/voice.json';
import statusNoAnswer from './fixtures/twilio/status-no-answer.json';
import recording from './fixtures/twilio/recording.json';
import transcription from './fixtures/twilio/transcription.json';

const TOKEN = 'twilio-test-auth-token';
const PUBLIC = 'https://support.example.com';
type Params = Record<string, string>;

describe('ingest-phone: Twilio webhooks', () => {
  let world: TestWorld;
  let inbound: TopicWatcher;
  let url: string;
  const closers: (() => Promise<void>)[] = [];

  const env = (extra: Record<string, string> = {}) =>
    world.env({ TWILIO_AUTH_TOKEN: TOKEN, TWILIO_PUBLIC_URL: PUBLIC, BODY_LIMIT_BYTES: '8192', ...extra });

  beforeAll(async () => {
    world = await createWorld('phone');
    inbound = await TopicWatcher.start(world, world.topics.inbound);
    const s = await startIngestService('phone', readConfig(env()), testLogger, start);
    url = s.url;
    closers.push(s.close);
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
    await inbound?.stop();
    await world?.close();
  });

  const post = (path: string, params: Params, signature?: string | null, base = url, contentType = 'application/x-www-form-urlencoded') =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': contentType, ...(signature === null ? {} : { 'x-twilio-signature': signature ?? expectedTwilioSignature(TOKEN, PUBLIC + path, params) }) },
      body: new URLSearchParams(params).toString(),
    });

  /** Posts a fresh SMS and waits for it: everything published before it has been read by then. */
  const marker = async () => {
    const sid = `SMmarker${Math.random().toString(16).slice(2)}`;
    const res = await post('/v1/phone/twilio/sms', { ...sms, MessageSid: sid, Body: 'marker' });
    expect(res.status).toBe(200);
    await inbound.waitFor((v) => v.providerMessageId === sid);
  };

  it('publishes an inbound SMS with its media and answers empty TwiML', async () => {
    const res = await post('/v1/phone/twilio/sms', sms);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
    expect(await res.text()).toMatch(/<Response\/>$/);
    const [m] = await inbound.waitFor((v) => v.providerMessageId === sms.MessageSid);
    expect(m!.key).toBe('sms:+34600111222');
    expect(m!.value).toMatchObject({
      channel: 'sms',
      provider: 'twilio',
      kind: 'message',
      threadKey: 'sms:+34600111222',
      from: { channel: 'sms', address: '+34600111222', phone: '+34600111222' },
      to: { address: '+34910000001' },
      text: sms.Body,
      attachments: [{ name: 'media-0', url: sms.MediaUrl0, contentType: 'image/jpeg' }],
    });
  });

  it('answers a redelivered SMS 200 and publishes it once', async () => {
    const params = { ...sms, MessageSid: 'SMdup0000000000000000000000000001', Body: 'dup' };
    expect((await post('/v1/phone/twilio/sms', params)).status).toBe(200);
    expect((await post('/v1/phone/twilio/sms', params)).status).toBe(200);
    await marker();
    expect(inbound.seen.filter((s) => s.value.providerMessageId === params.MessageSid)).toHaveLength(1);
  });

  it('rejects a missing or wrong signature, a wrong content type and an oversized body, publishing nothing', async () => {
    const params = { ...sms, MessageSid: 'SMbad00000000000000000000000000001' };
    const missing = await post('/v1/phone/twilio/sms', params, null);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: 'UNAUTHORIZED', message: expect.stringContaining('X-Twilio-Signature') });
    const wrong = await post('/v1/phone/twilio/sms', params, expectedTwilioSignature('another-token', PUBLIC + '/v1/phone/twilio/sms', params));
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ error: 'FORBIDDEN' });
    // signed for other parameters: a tampered body
    const tampered = await post('/v1/phone/twilio/sms', { ...params, Body: 'changed' }, expectedTwilioSignature(TOKEN, PUBLIC + '/v1/phone/twilio/sms', params));
    expect(tampered.status).toBe(403);
    const json = await fetch(`${url}/v1/phone/twilio/sms`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-twilio-signature': 'x' }, body: JSON.stringify(params) });
    expect(json.status).toBe(415);
    const big = await post('/v1/phone/twilio/sms', { ...params, Body: 'x'.repeat(10_000) });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
    await marker();
    expect(inbound.seen.filter((s) => s.value.providerMessageId === params.MessageSid)).toHaveLength(0);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const reason of ['missing-signature', 'bad-signature', 'content-type', 'too-large'])
      expect(metrics).toMatch(new RegExp(`ingest_messages_rejected_total\\{[^}]*channel="sms"[^}]*reason="${reason}"[^}]*\\} [1-9]`));
  });

  it('rejects a signed but malformed SMS naming the field', async () => {
    const { MessageSid: _omit, ...noSid } = sms;
    const res = await post('/v1/phone/twilio/sms', noSid);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { fields: { field: string }[] }).fields.map((f) => f.field)).toContain('body.MessageSid');
    const badFrom = await post('/v1/phone/twilio/sms', { ...sms, MessageSid: 'SMbadfrom', From: 'not-a-number' });
    expect(badFrom.status).toBe(400);
    expect(await badFrom.json()).toMatchObject({ fields: [{ field: 'body.From' }] });
  });

  it('answers 503 with Retry-After when Kafka does not ack, and Twilio\'s retry later succeeds', async () => {
    const publisher = new Publisher(createKafka({ brokers: world.brokers, clientId: 'down', logger: testLogger }));
    const down = await start(readConfig(env()), { infra: { pool: world.pool, publisher, topics: world.topics, readiness: [] }, logger: testLogger, apiKeys: new Map(), kickRelay: () => undefined });
    const params = { ...sms, MessageSid: 'SMoutage000000000000000000000000001', Body: 'outage' };
    // app.inject's cookie dependency is ESM-only under jest: listen on port 0 and use fetch
    const downUrl = await down.app.listen({ port: 0, host: '127.0.0.1' });
    const res = await post('/v1/phone/twilio/sms', params, undefined, downUrl);
    await down.close();
    await down.app.close();
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect((await post('/v1/phone/twilio/sms', params)).status).toBe(200);
    await marker();
    expect(inbound.seen.filter((s) => s.value.providerMessageId === params.MessageSid)).toHaveLength(1);
  });

  it('answers a call with greeting + transcribed voicemail TwiML, also when Twilio signed the URL with :443', async () => {
    const path = '/v1/phone/twilio/voice';
    const res = await post(path, voice, expectedTwilioSignature(TOKEN, `https://support.example.com:443${path}`, voice));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
    const xml = await res.text();
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><Response><Say [^>]*>[^<]+<\/Say><Record [^>]*\/><Hangup\/><\/Response>$/);
    expect(xml).toContain('transcribe="true"');
    expect(xml).toContain(`transcribeCallback="${PUBLIC}/v1/phone/twilio/transcription"`);
    expect(xml).toContain(`recordingStatusCallback="${PUBLIC}/v1/phone/twilio/recording"`);
    expect(xml).toMatch(/maxLength="\d+"/);
  });

  it('turns a no-answer call status into a callback request, and ignores a completed call', async () => {
    const res = await post('/v1/phone/twilio/status', statusNoAnswer);
    expect(res.status).toBe(202);
    const [m] = await inbound.waitFor((v) => v.kind === 'callback-request' && (v.raw as Params).CallSid === statusNoAnswer.CallSid);
    expect(m!.value).toMatchObject({ channel: 'phone', threadKey: 'phone:+34699888777', from: { address: '+34699888777', phone: '+34699888777' }, text: expect.stringMatching(/^Missed call from \+34699888777/) });
    expect(m!.value.sentAt).toBe('2026-01-12T10:11:12.000Z');
    const again = await post('/v1/phone/twilio/status', statusNoAnswer);
    expect(again.status).toBe(200);
    const completed = await post('/v1/phone/twilio/status', { ...statusNoAnswer, CallSid: 'CAcompleted', CallStatus: 'completed' });
    expect(completed.status).toBe(200);
    expect(await completed.json()).toMatchObject({ status: 'ignored' });
    const withheld = await post('/v1/phone/twilio/status', { ...statusNoAnswer, CallSid: 'CAwithheld', From: 'Anonymous' });
    expect(withheld.status).toBe(200);
    expect(await withheld.json()).toMatchObject({ status: 'ignored', reason: expect.stringContaining('withheld') });
  });

  it('publishes one voicemail message whose text is the transcript, recording URL kept', async () => {
    expect((await post('/v1/phone/twilio/voice', voice)).status).toBe(200);
    const rec = await post('/v1/phone/twilio/recording', recording);
    expect(rec.status).toBe(200);
    expect(await rec.json()).toMatchObject({ status: 'stored' });
    const tr = await post('/v1/phone/twilio/transcription', transcription);
    expect(tr.status).toBe(202);
    const [m] = await inbound.waitFor((v) => v.kind === 'voicemail' && (v.raw as Params).RecordingSid === recording.RecordingSid);
    expect(m!.key).toBe('phone:+34655444333');
    expect(m!.value).toMatchObject({
      channel: 'phone',
      threadKey: 'phone:+34655444333',
      from: { address: '+34655444333', phone: '+34655444333' },
      text: transcription.TranscriptionText,
      attachments: [{ url: `${recording.RecordingUrl}.mp3`, contentType: 'audio/mpeg' }],
      raw: { RecordingUrl: recording.RecordingUrl, RecordingDuration: 14, transcribed: true },
    });
    // Twilio retrying the transcription callback, and the recording callback again: still one message
    expect((await post('/v1/phone/twilio/transcription', transcription)).status).toBe(200);
    expect((await post('/v1/phone/twilio/recording', recording)).status).toBe(200);
    await marker();
    expect(inbound.seen.filter((s) => s.value.kind === 'voicemail' && (s.value.raw as Params).RecordingSid === recording.RecordingSid)).toHaveLength(1);
  });

  it('publishes a voicemail without transcript once the transcript is overdue', async () => {
    const callSid = 'CAnotranscript000000000000000000001';
    const recordingSid = 'REnotranscript000000000000000000001';
    expect((await post('/v1/phone/twilio/voice', { ...voice, CallSid: callSid, From: '+34677000111' })).status).toBe(200);
    expect((await post('/v1/phone/twilio/recording', { ...recording, CallSid: callSid, RecordingSid: recordingSid, RecordingDuration: '200' })).status).toBe(200);
    // a second replica whose transcript deadline is zero sweeps it (the deadline lives in Postgres)
    const sweeper = await startIngestService('phone', readConfig(env({ VOICEMAIL_TRANSCRIPT_WAIT_S: '0', VOICEMAIL_SWEEP_INTERVAL_MS: '100' })), testLogger, start);
    closers.push(sweeper.close);
    const [m] = await inbound.waitFor((v) => v.kind === 'voicemail' && (v.raw as Params).RecordingSid === recordingSid);
    expect(m!.value).toMatchObject({ threadKey: 'phone:+34677000111', text: expect.stringContaining('no transcript'), raw: { transcribed: false, RecordingDuration: 200 } });
  });

  it('serves an OpenAPI document listing the Twilio routes', async () => {
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    for (const p of ['voice', 'status', 'recording', 'transcription', 'sms']) expect(Object.keys(doc.paths)).toContain(`/v1/phone/twilio/${p}`);
    expect(Object.keys(doc.paths)).toContain('/v1/phone/messages');
  });
});
