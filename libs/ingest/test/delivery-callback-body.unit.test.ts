import type { OutboundMessage } from '@omni/contracts';
import { buildCallbackBody, e164Of, UndeliverableError, whatsappIdOf } from '../src/delivery/callback-body';
import { bracketed, replyMessageId, threadHeaders } from '../src/delivery/email-threading';
import { plusAddressFor } from '../src/email-thread-token';

const base: OutboundMessage = {
  schema: 'omni.outbound.v1',
  outboundId: 'out_1',
  conversationId: 'conv_1',
  channel: 'sms',
  threadKey: 'sms:+34600111222',
  to: { channel: 'sms', address: '+34 600 111 222' },
  agentId: 'agent-7',
  text: 'Hola, ya está resuelto',
  createdAt: '2026-11-23T02:00:00.000Z',
};

describe('callback body', () => {
  it.each([
    [{ address: '+34600111222' }, '+34600111222'],
    [{ address: '+34 600-111 (222)' }, '+34600111222'],
    [{ address: 'tel:+14155550100' }, '+14155550100'],
    [{ address: '0034600111222' }, '+34600111222'],
    [{ address: 'visitor-1', phone: '+447700900123' }, '+447700900123'],
  ])('SMS recipient %p is %s', (party, e164) => {
    expect(e164Of({ channel: 'sms', ...party })).toBe(e164);
  });

  it.each([[{ address: '12' }], [{ address: '+0123456789' }], [{ address: 'someone' }]])('SMS recipient %p is undeliverable', (party) => {
    expect(() => e164Of({ channel: 'sms', ...party })).toThrow(UndeliverableError);
  });

  it.each([
    [{ address: '34600111222' }, '34600111222'],
    [{ address: '+34600111222' }, '34600111222'],
    [{ address: 'whatsapp:+14155550100' }, '14155550100'],
  ])('WhatsApp recipient %p is wa_id %s', (party, waId) => {
    expect(whatsappIdOf({ channel: 'whatsapp', ...party })).toBe(waId);
  });

  it('puts the per-channel recipient next to the common fields and strips our prefix for adapters', () => {
    const sms = buildCallbackBody(base, 'adapter:smsgw');
    expect(sms).toMatchObject({ outboundId: 'out_1', conversationId: 'conv_1', channel: 'sms', provider: 'adapter:smsgw', adapterThreadKey: '+34600111222', text: base.text, agentId: 'agent-7', createdAt: base.createdAt, sms: { to: '+34600111222' } });
    const wa = buildCallbackBody({ ...base, channel: 'whatsapp', threadKey: 'whatsapp:x', to: { channel: 'whatsapp', address: '34600111222' } }, 'meta-whatsapp');
    expect(wa.whatsapp).toEqual({ to: '34600111222' });
    expect(wa.adapterThreadKey).toBeUndefined();
    const ms = buildCallbackBody({ ...base, channel: 'messenger', to: { channel: 'messenger', address: '6677889900' } }, 'meta-messenger');
    expect(ms.messenger).toEqual({ recipientId: '6677889900' });
  });

  it('email needs an address and carries the threading headers', () => {
    const headers = threadHeaders('<out-a@d>', ['<root@c>'], 'support+t_x@example.com');
    const mail = buildCallbackBody({ ...base, channel: 'email', to: { channel: 'email', address: 'ana@example.org' }, subject: 'Re: login' }, 'postmark', headers);
    expect(mail.email).toEqual({ to: 'ana@example.org', messageId: '<out-a@d>', inReplyTo: '<root@c>', references: ['<root@c>'], replyTo: 'support+t_x@example.com' });
    expect(() => buildCallbackBody({ ...base, channel: 'email', to: { channel: 'email', address: 'nobody' } }, 'postmark', headers)).toThrow(UndeliverableError);
  });
});

describe('email threading', () => {
  it('In-Reply-To is the latest id, References root first, ids bracketed and without our own', () => {
    expect(threadHeaders('<me@d>', ['root@c', '<r2@c>', '<me@d>', '<r3@c>'])).toEqual({ messageId: '<me@d>', inReplyTo: '<r3@c>', references: ['<root@c>', '<r2@c>', '<r3@c>'] });
    expect(threadHeaders('<me@d>', [])).toEqual({ messageId: '<me@d>', references: [] });
  });

  it('keeps the root and the newest references of a long thread', () => {
    const ids = Array.from({ length: 50 }, (_, i) => `<m${i}@c>`);
    const h = threadHeaders('<me@d>', ids, undefined, 10);
    expect(h.references).toHaveLength(10);
    expect(h.references[0]).toBe('<m0@c>');
    expect(h.references[9]).toBe('<m49@c>');
  });

  it('Message-IDs are deterministic per outbound id; plus addresses keep the domain', () => {
    expect(replyMessageId('out_1', 'mail.example.com')).toBe(replyMessageId('out_1', 'mail.example.com'));
    expect(replyMessageId('out_1', 'mail.example.com')).toMatch(/^<out-[0-9a-f]{24}@mail\.example\.com>$/);
    expect(replyMessageId('out_2', 'd')).not.toBe(replyMessageId('out_1', 'd'));
    expect(plusAddressFor('support@example.com', 'email:<a@b>')).toMatch(/^support\+t_[0-9a-f]{20}@example\.com$/);
    expect(bracketed(' a@b ')).toBe('<a@b>');
  });
});
