import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deterministicMessageId, InboundMessage, problemsOf } from '@omni/contracts';
import { metaEnvelopes } from '../src/domain/meta-envelopes';

const fixture = (name: string): unknown => JSON.parse(readFileSync(join(__dirname, '../../../test/fixtures/meta', name), 'utf8'));
const now = new Date('2026-11-23T10:00:00.000Z');

describe('Meta payload → canonical envelopes', () => {
  it('maps a Messenger text message', () => {
    const { envelopes, ignored } = metaEnvelopes(fixture('messenger-text.json'), now);
    expect(ignored).toBe(0);
    expect(envelopes).toHaveLength(1);
    const e = envelopes[0]!;
    const mid = 'm_Zx8lQ2kVb3nT0pYrAa1cD4eF5gH6iJ7kL8mN9oP0qR1sT2uV3wX4yZ5aB6cD7eF8gH9iJ';
    expect(e).toMatchObject({
      messageId: deterministicMessageId('meta-messenger', mid),
      channel: 'messenger',
      provider: 'meta-messenger',
      providerMessageId: mid,
      threadKey: 'messenger:104857600123456:7301945562218834',
      from: { channel: 'messenger', address: '7301945562218834' },
      to: { channel: 'messenger', address: '104857600123456' },
      sentAt: new Date(1763857199870).toISOString(),
      receivedAt: now.toISOString(),
      text: 'Hola, mi pedido 4471 no ha llegado todavía',
    });
    expect(problemsOf(InboundMessage, e)).toEqual([]);
  });

  it('maps a batch to one envelope per customer message, skipping echoes, deliveries and reads', () => {
    const { envelopes, ignored } = metaEnvelopes(fixture('messenger-batch.json'), now);
    expect(envelopes.map((e) => e.providerMessageId)).toEqual(['m_batch-one-aaaaaaaaaaaaaaaaaaaa', 'm_batch-two-cccccccccccccccccccc']);
    expect(ignored).toBe(3);
    expect(envelopes[1]).toMatchObject({
      threadKey: 'messenger:104857600123456:6620011987765542',
      text: 'Image',
      attachments: [{ name: 'image', contentType: 'image/*', url: 'https://scontent.example.net/v/t1/receipt-photo.jpg' }],
    });
  });

  it('maps Instagram with the IG account and IGSID in the thread key, dropping the echo', () => {
    const { envelopes, ignored } = metaEnvelopes(fixture('instagram-text.json'), now);
    expect(ignored).toBe(1);
    expect(envelopes).toHaveLength(1);
    expect(envelopes[0]).toMatchObject({ channel: 'instagram', provider: 'meta-instagram', threadKey: 'instagram:17841400555123456:1189902233445566', text: "Can't log in to my account" });
    expect(envelopes[0]!.messageId).toBe(deterministicMessageId('meta-instagram', envelopes[0]!.providerMessageId));
  });

  it('maps WhatsApp with the contact name and the E.164 phone', () => {
    const { envelopes } = metaEnvelopes(fixture('whatsapp-text.json'), now);
    expect(envelopes).toHaveLength(1);
    expect(envelopes[0]).toMatchObject({
      channel: 'whatsapp',
      provider: 'meta-whatsapp',
      providerMessageId: 'wamid.HBgLMzQ2MTIzNDU2NzgVAgASGBQzQUMxRTdBNzY1RjQ0QjQ1QjJCNwA=',
      threadKey: 'whatsapp:209988776655443:34612345678',
      from: { channel: 'whatsapp', address: '34612345678', name: 'Marta Ruiz', phone: '+34612345678' },
      to: { channel: 'whatsapp', address: '209988776655443', name: '15550009876' },
      sentAt: '2025-11-23T00:25:00.000Z',
      text: 'El router no conecta desde ayer',
    });
    expect(problemsOf(InboundMessage, envelopes[0])).toEqual([]);
  });

  it('maps a WhatsApp image with its caption and media id', () => {
    const { envelopes } = metaEnvelopes(fixture('whatsapp-batch.json'), now);
    expect(envelopes).toHaveLength(2);
    expect(envelopes[1]).toMatchObject({
      from: { name: 'Jon Peters', phone: '+447700900123' },
      text: 'screenshot of the error',
      attachments: [{ name: 'image', contentType: 'image/jpeg', contentId: '1357924680112233' }],
    });
  });

  it('counts Messenger standby events and Instagram comment changes as ignored, not as messages', () => {
    const standby = { object: 'page', entry: [{ id: 'p1', time: 1, standby: [{ sender: { id: 's' }, recipient: { id: 'p1' }, message: { mid: 'm_sb', text: 'handled by another app' } }] }] };
    expect(metaEnvelopes(standby, now)).toEqual({ envelopes: [], ignored: 1, refused: [] });
    const comment = { object: 'instagram', entry: [{ id: 'ig1', time: 1, changes: [{ field: 'comments', value: { id: 'c1', text: 'nice' } }] }] };
    expect(metaEnvelopes(comment, now)).toEqual({ envelopes: [], ignored: 1, refused: [] });
  });

  it('produces nothing for WhatsApp statuses or other change fields', () => {
    expect(metaEnvelopes(fixture('whatsapp-statuses.json'), now)).toEqual({ envelopes: [], ignored: 2, refused: [] });
    expect(metaEnvelopes({ object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'account_update', value: {} }] }] }, now).envelopes).toEqual([]);
  });

  it.each([
    ['not an object', 'nope', 'body'],
    ['no object', { entry: [] }, 'body.object'],
    ['unknown object', { object: 'user', entry: [] }, 'body.object'],
    ['entry not an array', { object: 'page', entry: {} }, 'body.entry'],
    ['messenger without sender id', { object: 'page', entry: [{ id: 'p', messaging: [{ sender: {}, recipient: { id: 'p' }, message: { mid: 'x' } }] }] }, 'body.entry.0.messaging.0.sender.id'],
    ['messenger message without mid', { object: 'page', entry: [{ id: 'p', messaging: [{ sender: { id: 's' }, recipient: { id: 'p' }, message: { text: 'hi' } }] }] }, 'body.entry.0.messaging.0.message.mid'],
    ['whatsapp without metadata', { object: 'whatsapp_business_account', entry: [{ id: 'w', changes: [{ field: 'messages', value: { messages: [] } }] }] }, 'body.entry.0.changes.0.value.metadata'],
    [
      'whatsapp message with a bad from',
      { object: 'whatsapp_business_account', entry: [{ id: 'w', changes: [{ field: 'messages', value: { metadata: { phone_number_id: '1' }, messages: [{ from: '+34 6', id: 'x', timestamp: '1', type: 'text' }] } }] }] },
      'body.entry.0.changes.0.value.messages.0.from',
    ],
  ])('refuses a malformed part naming its field, publishing nothing of it: %s', (_what, body, field) => {
    const mapped = metaEnvelopes(body, now);
    expect(mapped.envelopes).toEqual([]);
    expect(mapped.refused.map((r) => r.field)).toEqual([field]);
  });

  it('refuses only the bad message of a batch: the others of the same entry and change still map', () => {
    const good = (n: number) => ({ sender: { id: `s${n}` }, recipient: { id: 'p' }, timestamp: 1763857299000, message: { mid: `m_${n}`, text: `hola ${n}` } });
    const body = { object: 'page', entry: [{ id: 'p', messaging: [good(1), { sender: {}, recipient: { id: 'p' }, message: { mid: 'm_bad' } }, good(2), { sender: { id: 's3' }, recipient: { id: 'p' }, message: { mid: 'm_3', text: 42 } }] }] };
    const mapped = metaEnvelopes(body, now);
    expect(mapped.envelopes.map((e) => e.providerMessageId)).toEqual(['m_1', 'm_2']);
    expect(mapped.refused.map((r) => r.field)).toEqual(['body.entry.0.messaging.1.sender.id', 'body.entry.0.messaging.3.message.text']);
  });
});
