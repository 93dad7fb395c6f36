import { missedCallEnvelope, smsEnvelope, voicemailEnvelope } from '../src/domain/twilio-envelopes';
import { toE164 } from '../src/domain/e164';
import { voicemailTwiml } from '../src/domain/twiml';
import { AppError } from '@omni/service';

const now = new Date('2026-01-02T03:04:05.000Z');

describe('Twilio payloads → envelopes', () => {
  it.each([
    ['+34911234567', '+34911234567'],
    ['+1 (415) 555-0100', '+14155550100'],
    ['0034911234567', '+34911234567'],
    ['Anonymous', undefined],
    ['client:alice', undefined],
    ['+0123', undefined],
  ])('E.164 of %s is %s', (input, out) => expect(toE164(input)).toBe(out));

  it('turns an MMS into an sms envelope with media attachments and a deterministic id', () => {
    const p = { MessageSid: 'MM1', From: '+34600111222', To: '+34910000000', Body: 'foto', NumMedia: '2', MediaUrl0: 'https://m/0', MediaContentType0: 'image/jpeg', MediaUrl1: 'https://m/1' };
    const e = smsEnvelope(p, now);
    expect(e).toMatchObject({ channel: 'sms', threadKey: 'sms:+34600111222', from: { address: '+34600111222', phone: '+34600111222' }, text: 'foto' });
    expect(e.attachments).toEqual([{ name: 'media-0', url: 'https://m/0', contentType: 'image/jpeg' }, { name: 'media-1', url: 'https://m/1' }]);
    expect(smsEnvelope(p, new Date()).messageId).toBe(e.messageId);
  });

  it('an MMS without body reaches the agent as a summary of its media; a declared but missing media URL is noted, not refused', () => {
    const e = smsEnvelope({ MessageSid: 'MM2', From: '+34600111222', NumMedia: '3', MediaUrl0: 'https://m/0', MediaContentType0: 'image/png', MediaUrl2: 'https://m/2', MediaContentType2: 'video/mp4' }, now);
    expect(e.text).toBe('2 attachments: image/png, video/mp4');
    expect(e.raw).toMatchObject({ mediaMissing: { declared: 3, missing: [1], read: 2 } });
    expect(smsEnvelope({ MessageSid: 'MM3', From: '+34600111222', NumMedia: '0' }, now).text).toBe('(empty message)');
  });

  it('a WhatsApp-through-Twilio location or button reaches the agent as a readable summary', () => {
    expect(smsEnvelope({ MessageSid: 'MM4', From: '+34600111222', Latitude: '40.4168', Longitude: '-3.7038', Address: 'Puerta del Sol, Madrid', Label: 'Tienda' }, now).text).toBe(
      'Location: Tienda — Puerta del Sol, Madrid — 40.4168, -3.7038',
    );
    expect(smsEnvelope({ MessageSid: 'MM5', From: '+34600111222', ButtonText: 'Sí, confirmar' }, now).text).toBe('Tapped: Sí, confirmar');
  });

  it.each([
    ['no-answer', true],
    ['busy', true],
    ['failed', true],
    ['canceled', true],
    ['completed', false],
    ['ringing', false],
  ])('call status %s → callback request: %s', (status, expected) => {
    const e = missedCallEnvelope({ CallSid: 'CA1', CallStatus: status, From: '+14155550100', To: '+14155550199' }, now);
    expect(Boolean(e)).toBe(expected);
    if (e) expect(e).toMatchObject({ kind: 'callback-request', channel: 'phone', threadKey: 'phone:+14155550100', text: expect.stringContaining('+14155550100') });
  });

  it('gives the recording and the transcript of one voicemail the same message id', () => {
    const base = { recordingSid: 'RE1', callSid: 'CA1', from: '+14155550100', receivedAt: now };
    const withoutText = voicemailEnvelope({ ...base, recordingUrl: 'https://api.twilio.com/rec/RE1' });
    const withText = voicemailEnvelope({ ...base, transcript: 'Hola, llamadme' });
    expect(withText.messageId).toBe(withoutText.messageId);
    expect(withText.text).toBe('Hola, llamadme');
    expect(withoutText.text).toContain('no transcript');
    expect(withoutText.attachments?.[0]?.url).toBe('https://api.twilio.com/rec/RE1.mp3');
  });

  it('escapes the greeting and points the callbacks at our routes', () => {
    const xml = voicemailTwiml({ greeting: 'Hi & <welcome>', language: 'en-US', maxLengthS: 60, transcribeCallbackUrl: 'https://s/t?a=1&b=2', recordingStatusCallbackUrl: 'https://s/r' });
    expect(xml).toContain('<Say language="en-US">Hi &amp; &lt;welcome&gt;</Say>');
    expect(xml).toContain('transcribe="true"');
    expect(xml).toContain('transcribeCallback="https://s/t?a=1&amp;b=2"');
    expect(xml).toContain('recordingStatusCallback="https://s/r"');
    expect(xml).toContain('maxLength="60"');
  });
});
