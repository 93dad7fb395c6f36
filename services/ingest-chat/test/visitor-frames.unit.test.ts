import { deterministicMessageId, InboundMessage, problemsOf } from '@omni/contracts';
import { choicesOf, parseVisitorFrame } from '../src/domain/visitor-frames';
import { envelopeFromVisitor, sessionIdOfThread, sessionThreadKey } from '../src/domain/chat-session';

describe('visitor frames', () => {
  it.each([
    ['{"type":"message","clientMessageId":"c1","text":"hola"}', { type: 'message', clientMessageId: 'c1', text: 'hola' }],
    ['{"type":"resume","lastSeq":0}', { type: 'resume', lastSeq: 0 }],
    ['{"type":"ping"}', { type: 'ping' }],
  ])('accepts %s', (data, frame) => {
    expect(parseVisitorFrame(data)).toEqual({ ok: true, frame });
  });

  it.each([
    ['not json', 'frame'],
    ['[1,2]', 'frame'],
    ['null', 'frame'],
    ['{"text":"x"}', 'type'],
    ['{"type":"message","text":"x"}', 'clientMessageId'],
    ['{"type":"message","clientMessageId":"c1"}', 'text'],
    ['{"type":"message","clientMessageId":"c1","text":""}', 'text'],
    ['{"type":"message","clientMessageId":"has space","text":"x"}', 'clientMessageId'],
    ['{"type":"message","clientMessageId":"c1","text":"x","to":"agent"}', 'to'],
    ['{"type":"resume","lastSeq":"3"}', 'lastSeq'],
    ['{"type":"resume","lastSeq":1.5}', 'lastSeq'],
  ])('rejects %s naming %s', (data, field) => {
    const r = parseVisitorFrame(data);
    expect(r).toMatchObject({ ok: false, code: 'VALIDATION', field });
  });

  it('keeps the clientMessageId on an error so the widget knows which message failed', () => {
    expect(parseVisitorFrame('{"type":"message","clientMessageId":"c9"}')).toMatchObject({ ok: false, clientMessageId: 'c9' });
  });
});

describe('visitor message → envelope', () => {
  const session = { sessionId: 'cs_0123456789abcdef0123456789abcdef', adapterId: 'widget', visitorId: 'v-1', name: 'Ana', email: 'ana@example.org', language: 'es', expiresAt: new Date() };

  it('is deterministic per session and client message id, on the session thread', () => {
    const now = new Date('2026-11-23T10:00:00Z');
    const e = envelopeFromVisitor(session, 'c-1', 'hola', now);
    expect(e).toMatchObject({
      messageId: deterministicMessageId('webchat', `${session.sessionId}:c-1`),
      provider: 'webchat',
      channel: 'chat',
      threadKey: `chat:${session.sessionId}`,
      from: { channel: 'chat', address: 'v-1', name: 'Ana', email: 'ana@example.org' },
      language: 'es',
      sentAt: now.toISOString(),
    });
    expect(problemsOf(InboundMessage, e)).toEqual([]);
    expect(envelopeFromVisitor(session, 'c-1', 'hola again').messageId).toBe(e.messageId);
    expect(envelopeFromVisitor({ ...session, sessionId: 'cs_ffffffffffffffffffffffffffffffff' }, 'c-1', 'hola').messageId).not.toBe(e.messageId);
  });

  it('recognises websocket thread keys only', () => {
    expect(sessionIdOfThread(sessionThreadKey(session.sessionId))).toBe(session.sessionId);
    expect(sessionIdOfThread('chat:sess-9')).toBeUndefined();
    expect(sessionIdOfThread(`email:${session.sessionId}`)).toBeUndefined();
  });
});

describe('choice frames and reply buttons', () => {
  it('accepts a click on a reply button', () => {
    expect(parseVisitorFrame('{"type":"choice","clientMessageId":"c1","outboundId":"out_1","value":"yes"}')).toEqual({
      ok: true,
      frame: { type: 'choice', clientMessageId: 'c1', outboundId: 'out_1', value: 'yes' },
    });
  });
  it.each([
    ['{"type":"choice","clientMessageId":"c1","value":"yes"}', 'outboundId'],
    ['{"type":"choice","clientMessageId":"c1","outboundId":"o","value":"sí"}', 'value'],
    ['{"type":"choice","clientMessageId":"c1","outboundId":"o","value":""}', 'value'],
    ['{"type":"choice","clientMessageId":"c1","outboundId":"o","value":["yes"]}', 'value'],
    ['{"type":"choice","clientMessageId":"c1","outboundId":"o o","value":"yes"}', 'outboundId'],
    ['{"type":"choice","clientMessageId":"c1","outboundId":"o","value":"yes","text":"x"}', 'text'],
  ])('rejects %s naming %s', (data, field) => {
    expect(parseVisitorFrame(data)).toMatchObject({ ok: false, code: 'VALIDATION', field });
  });
  it('keeps well-formed buttons only (choicesOf)', () => {
    expect(choicesOf({ choices: [{ value: 'yes', label: 'Sí' }, { value: 'no', label: 'No' }] })).toEqual([{ value: 'yes', label: 'Sí' }, { value: 'no', label: 'No' }]);
    for (const raw of [undefined, null, {}, { choices: [] }, { choices: 'yes' }, { choices: [{ value: 'yes' }] }, { choices: [{ value: 'y es', label: 'x' }] }, { choices: [{ value: 'y', label: '\ud800' }] }, { choices: [{ value: 'y', label: 'a\u0000' }] }])
      expect(choicesOf(raw)).toBeUndefined();
  });
});
