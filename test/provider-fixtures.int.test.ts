/**
 * Every documented provider payload shape reaches the agent with content (issue 12). The fixtures
 * under test/fixtures/ are built from Meta's and Twilio's documented field lists with our own
 * values; each message is posted signed as the provider signs it, must appear on omni.inbound.v1
 * exactly once with the expected text (never empty, never refused), and on the customer's timeline
 * in history with that text.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startIngestService } from '@omni/ingest';
import * as socialCfg from '@omni/ingest-social/src/config';
import { start as startSocial } from '@omni/ingest-social/src/start';
import * as phoneCfg from '@omni/ingest-phone/src/config';
import { start as startPhone } from '@omni/ingest-phone/src/start';
import { expectedTwilioSignature } from '@omni/ingest-phone/src/domain/twilio-signature';
import * as historyCfg from '@omni/history/src/config';
import { start as startHistory } from '@omni/history/src/start';
import { createWorld, eventually, testLogger, TopicWatcher, type TestWorld } from './support/infra';
import { bearer } from './support/tokens';

const META_SECRET = 'fixtures-meta-secret';
const TWILIO_TOKEN = 'fixtures-twilio-token';
const PUBLIC = 'https://support.example.com';
const fixture = (path: string) => readFileSync(join(__dirname, 'fixtures', path), 'utf8');

type Env = { messageId: string; providerMessageId: string; text: string; channel: string; from: { address: string }; attachments?: unknown[] };

/** [fixture, providerMessageId (prefix for reactions), expected text] */
const META_CASES: [string, string, string][] = [
  ['meta/messenger-types.json', 'm_types-fallback-null', 'Shared link: Seguimiento de envío — https://tracking.example.com/4471'],
  ['meta/messenger-types.json', 'm_types-shared-link', 'Shared link: Router AX55 — https://shop.example.com/p/router-ax55'],
  ['meta/messenger-types.json', 'm_types-sticker', 'Sticker'],
  ['meta/messenger-types.json', 'm_types-location', 'Location: Tienda Centro — 40.4168, -3.7038'],
  ['meta/messenger-types.json', 'm_types-postback', 'Tapped: Hablar con un agente'],
  ['meta/messenger-types.json', 'm_our-reply-0001:reaction:7301945562210001:react', 'Reaction ❤ to message m_our-reply-0001'],
  ['meta/messenger-types.json', 'm_our-reply-0001:reaction:7301945562210001:unreact', 'Reaction removed from message m_our-reply-0001'],
  ['meta/messenger-types.json', 'm_types-quick-reply', 'Sí'],
  ['meta/messenger-types.json', 'm_types-video', 'Video'],
  ['meta/messenger-types.json', 'm_types-unsupported', 'Unsupported message: open it in the Meta inbox'],
  ['meta/instagram-types.json', 'aWdfig-types-share', 'Shared link: https://lookaside.example.com/ig-share/post-991'],
  ['meta/instagram-types.json', 'aWdfig-types-story-mention', 'Story mention'],
  ['meta/instagram-types.json', 'aWdfig-types-reel', 'Reel: Cómo configurar el router'],
  ['meta/instagram-types.json', 'aWdfig-our-reply-7:reaction:1189902233440001:react', 'Reaction ❤️ to message aWdfig-our-reply-7'],
  ['meta/instagram-types.json', 'aWdfig-types-unsupported', 'Unsupported message: open it in the Meta inbox'],
  ['meta/whatsapp-types.json', 'wamid.types-image-nocaption', 'Image'],
  ['meta/whatsapp-types.json', 'wamid.types-document', 'Document: factura-4471.pdf'],
  ['meta/whatsapp-types.json', 'wamid.types-audio', 'Audio'],
  ['meta/whatsapp-types.json', 'wamid.types-sticker', 'Sticker'],
  ['meta/whatsapp-types.json', 'wamid.types-location', 'Location: Oficina Barcelona — Passeig de Gràcia 1 — 41.3874, 2.1686'],
  ['meta/whatsapp-types.json', 'wamid.types-contacts', 'Contact: Luis Pardo — +34 600 222 333 — luis.pardo@cliente.example'],
  ['meta/whatsapp-types.json', 'wamid.types-button-reply', 'Sí, es correcto'],
  ['meta/whatsapp-types.json', 'wamid.types-list-reply', 'Facturación — Dudas sobre tu factura'],
  ['meta/whatsapp-types.json', 'wamid.types-button', 'Ver pedido'],
  ['meta/whatsapp-types.json', 'wamid.types-reaction', 'Reaction 👍 to message wamid.our-reply-2'],
  ['meta/whatsapp-types.json', 'wamid.types-unsupported', 'Unsupported message (Message type is currently not supported.): open it in WhatsApp'],
  ['meta/whatsapp-types.json', 'wamid.types-order', 'Order: 1 item(s) — Para recoger en tienda'],
];
/** what the same fixtures hold that is not a customer message: read receipts, deletions, statuses, system notices */
const IGNORED: Record<string, number> = { 'meta/messenger-types.json': 1, 'meta/instagram-types.json': 1, 'meta/whatsapp-types.json': 2 };

const TWILIO_CASES: [string, string][] = [
  ['twilio/mms-media-only.json', '2 attachments: image/jpeg, video/mp4'],
  ['twilio/whatsapp-location.json', 'Location: Oficina — Passeig de Gràcia 1, Barcelona — 41.3874, 2.1686'],
];

describe('every documented provider payload shape reaches the agent with content', () => {
  let world: TestWorld;
  let inbound: TopicWatcher<Env>;
  const closers: (() => Promise<void>)[] = [];
  let socialUrl: string;
  let phoneUrl: string;
  let historyUrl: string;

  beforeAll(async () => {
    world = await createWorld('fixtures');
    inbound = await TopicWatcher.start<Env>(world, world.topics.inbound);
    const s = await startIngestService('social', socialCfg.readConfig(world.env({ META_APP_SECRET: META_SECRET, META_VERIFY_TOKEN: 'v' })), testLogger, startSocial);
    socialUrl = s.url;
    closers.push(s.close);
    const p = await startIngestService('phone', phoneCfg.readConfig(world.env({ TWILIO_AUTH_TOKEN: TWILIO_TOKEN, TWILIO_PUBLIC_URL: PUBLIC })), testLogger, startPhone);
    phoneUrl = p.url;
    closers.push(p.close);
    const h = await startHistory(historyCfg.readConfig(world.env({ HISTORY_GROUP_ID: world.groupId('history') })), testLogger);
    historyUrl = h.url;
    closers.push(h.close);
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
    await inbound?.stop();
    await world?.close();
  });

  const timelineTexts = async (identity: string, expected: number) =>
    eventually(async () => {
      const c = await fetch(`${historyUrl}/v1/customers?identity=${encodeURIComponent(identity)}`, { headers: bearer('supervisor') });
      if (c.status !== 200) return undefined;
      const { id } = (await c.json()) as { id: string };
      const t = (await (await fetch(`${historyUrl}/v1/customers/${id}/timeline?limit=100`, { headers: bearer('supervisor') })).json()) as { items: { kind: string; payload?: { text?: string } }[] };
      const texts = t.items.filter((i) => i.kind === 'message.inbound').map((i) => i.payload?.text ?? '');
      return texts.length >= expected ? texts : undefined;
    }, `${expected} messages of ${identity} on the timeline`);

  it.each(Object.keys(IGNORED))('%s: every message is accepted (none refused), each on the topic once with its text, and on the timeline', async (file) => {
    const body = fixture(file);
    const res = await fetch(`${socialUrl}/v1/social/meta`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': 'sha256=' + createHmac('sha256', META_SECRET).update(body).digest('hex') },
      body,
    });
    expect(res.status).toBe(200);
    const cases = META_CASES.filter(([f]) => f === file);
    expect(await res.json()).toMatchObject({ accepted: cases.length, duplicate: 0, ignored: IGNORED[file], refused: [] });
    const got = await inbound.waitFor((v) => cases.some(([, id]) => v.providerMessageId.startsWith(id)), cases.length);
    for (const [, id, text] of cases) {
      const copies = got.filter((s) => s.value.providerMessageId === id || s.value.providerMessageId.startsWith(`${id}:`));
      expect({ id, copies: copies.length, text: copies[0]?.value.text }).toEqual({ id, copies: 1, text });
    }
    const { channel, from } = got[0]!.value;
    const onTimeline = await timelineTexts(`${channel}:${from.address}`, cases.length);
    expect([...onTimeline].sort()).toEqual(cases.map(([, , text]) => text).sort());
  });

  it.each(TWILIO_CASES)('%s: reaches the topic once with "%s" and the timeline', async (file, text) => {
    const params = JSON.parse(fixture(file)) as Record<string, string>;
    const res = await fetch(`${phoneUrl}/v1/phone/twilio/sms`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': expectedTwilioSignature(TWILIO_TOKEN, `${PUBLIC}/v1/phone/twilio/sms`, params) },
      body: new URLSearchParams(params).toString(),
    });
    expect(res.status).toBe(200);
    const [m] = await inbound.waitFor((v) => v.providerMessageId === params.MessageSid);
    expect(m!.value.text).toBe(text);
    if (Number(params.NumMedia) > 0) expect(m!.value.attachments).toHaveLength(Number(params.NumMedia));
    expect(await timelineTexts(`sms:${params.From}`, 1)).toContain(text);
    expect(inbound.seen.filter((s) => s.value.providerMessageId === params.MessageSid)).toHaveLength(1);
  });
});
