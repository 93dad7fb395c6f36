import fc from 'fast-check';
import { check, OutboundMessage } from '@omni/contracts';
import type { Conversation } from '../src/domain/conversation';
import { decide, openConversation, type Decision, type Input, type Opening } from '../src/domain/lifecycle';
import { parseSelfServiceReply, SELF_SERVICE_SENDER, selfServiceArticles, selfServiceText, type SelfServiceSetting } from '../src/domain/self-service';
import { at, message, policy, T0 } from './support/lifecycle-fixtures';

const SETTING: SelfServiceSetting = { categories: ['access-passwords'], waitMs: 60_000 };
const ARTICLES = [
  { id: 'kb-seed-password-reset-es', title: 'Restablecer la contraseña', link: 'https://help.example.com/articles/kb-seed-password-reset-es' },
  { id: 'kb-2', title: 'Cuenta bloqueada', link: 'https://help.example.com/articles/kb-2' },
  { id: 'kb-3', title: 'Otra', link: 'https://help.example.com/articles/kb-3' },
];

function opening(opts: { category?: string; attributes?: Record<string, unknown>; setting?: SelfServiceSetting | null; articles?: typeof ARTICLES; language?: string } = {}): Opening {
  const m = message('t1', 1, { text: 'olvidé mi contraseña' });
  return {
    conversation: openConversation(
      'c-ss',
      m,
      { tier: 1, category: opts.category ?? 'access-passwords', priority: 50, skills: [], language: opts.language ?? 'es' },
      { attributes: opts.attributes ?? {}, displayName: null },
      T0,
    ),
    ruleVersion: 3,
    matchedRules: ['password'],
    selfService: { setting: opts.setting === undefined ? SETTING : opts.setting, articles: opts.articles ?? ARTICLES },
  };
}

const ok = (o: ReturnType<typeof decide>): Decision => {
  if (!o.ok) throw new Error(`${o.code}: ${o.message}`);
  return o;
};
const open = (o: Opening = opening()) => ok(decide(null, { kind: 'message', at: T0, message: message('t1', 1, { text: 'olvidé mi contraseña' }), opening: o }, policy));
const reply = (conv: Conversation, text: string, ms: number) => decide(conv, { kind: 'message', at: at(ms), message: message('t1', 2, { text }) }, policy);

describe('parseSelfServiceReply', () => {
  it.each([
    ['SÍ', 'yes'],
    ['si', 'yes'],
    ['Sí.', 'yes'],
    ['  sí!! 👍 ', 'yes'],
    ['SI', 'yes'],
    ['Yes', 'yes'],
    ['YES', 'yes'],
    ['yes, thanks', 'yes'],
    ['Sí, gracias', 'yes'],
    ['Sí\n\nEl 28 nov escribió:\n> ¿Esto resolvió tu consulta? Responde SÍ o NO.', 'yes'],
    ['\r\n\r\nyes\r\n> Did this solve it?', 'yes'],
    ['NO', 'no'],
    ['no', 'no'],
    ['No.', 'no'],
    ['no, sigue sin funcionar', 'no'],
    ['NO\n> Reply YES or NO', 'no'],
    ['sí pero no funciona', 'other'],
    ['yes and no', 'other'],
    ['nope', 'other'],
    ['síganme', 'other'],
    ['¿cómo cambio la contraseña?', 'other'],
    ['', 'other'],
    ['   \n  ', 'other'],
    ['\u0000SÍ', 'yes'],
    ['\u202eSÍ', 'yes'],
  ])('%j → %s', (text, expected) => {
    expect(parseSelfServiceReply(text)).toBe(expected);
  });

  it('hostile text never throws and answers yes only for an unmistakable YES', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.constant('\ud800sí'), fc.string({ minLength: 1000, maxLength: 5000 })), (text) => {
        const r = parseSelfServiceReply(text);
        expect(['yes', 'no', 'other']).toContain(r);
        if (r === 'yes') {
          const first = text.split(/\r\n|\r|\n/).find((l) => l.trim().length > 0) ?? '';
          expect(first.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase()).toMatch(/(si|yes)/);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a YES is found whatever accents, case and punctuation surround it; extra words make it another message', () => {
    const yes = fc.constantFrom('si', 'sí', 'SÍ', 'Si', 'yes', 'YES', 'Yes');
    const punct = fc.stringMatching(/^[ .!¡¿?,;:\t]{0,4}$/);
    fc.assert(fc.property(punct, yes, punct, (a, y, b) => expect(parseSelfServiceReply(`${a}${y}${b}`)).toBe('yes')));
    fc.assert(fc.property(yes, fc.constantFrom('pero', 'but', 'no', 'quizá'), (y, w) => expect(parseSelfServiceReply(`${y} ${w}`)).not.toBe('yes')));
  });
});

describe('selfServiceArticles: who gets the automatic answer', () => {
  const conv = { category: 'access-passwords', customerAttributes: {} };
  it.each([
    ['an enabled category', SETTING, conv, ARTICLES, 2],
    ['no setting (off)', null, conv, ARTICLES, 0],
    ['a category not enabled', SETTING, { ...conv, category: 'orders-shipping' }, ARTICLES, 0],
    ['a VIP (vip: true)', SETTING, { ...conv, customerAttributes: { vip: true } }, ARTICLES, 0],
    ['a VIP (tier: vip)', SETTING, { ...conv, customerAttributes: { tier: 'vip' } }, ARTICLES, 0],
    ['no tier-0 article found', SETTING, conv, [], 0],
  ] as const)('%s → %s articles', (_what, setting, c, articles, n) => {
    expect(selfServiceArticles(setting, c, articles)).toHaveLength(n);
  });
});

describe('the lifecycle with self-service', () => {
  it('an enabled category opens in self-service: no queue entry, the answer on its channel, offered event with the article ids', () => {
    const d = open();
    expect(d.conversation.status).toBe('self-service');
    expect(d.conversation.queue).toBeNull();
    expect(d.wantsMatch).toBe(false);
    expect(d.offers).toEqual([]);
    expect(d.events.map((e) => e.type)).toEqual(['conversation.opened', 'conversation.classified', 'conversation.self-service-offered']);
    expect(d.events[2]!.extra.data).toEqual({ articleIds: ['kb-seed-password-reset-es', 'kb-2'], deadline: at(60_000).toISOString() });
    expect(d.conversation.selfService).toEqual({ state: 'offered', articleIds: ['kb-seed-password-reset-es', 'kb-2'], offeredAt: T0, deadline: at(60_000) });
    expect(d.outbound).toHaveLength(1);
    const o = d.outbound[0]!;
    expect(o.agentId).toBe(SELF_SERVICE_SENDER);
    expect(o.text).toContain('Restablecer la contraseña');
    expect(o.text).toContain('https://help.example.com/articles/kb-seed-password-reset-es');
    expect(o.text).toContain('Responde SÍ o NO');
    expect(o.raw).toEqual({ choices: [{ value: 'yes', label: 'Sí' }, { value: 'no', label: 'No' }], selfService: { articleIds: ['kb-seed-password-reset-es', 'kb-2'] } });
    // the same decision again gives the same outbound id (a retried transaction sends one answer)
    expect(open().outbound[0]!.outboundId).toBe(o.outboundId);
  });

  it('the answer is in the customer language (English for anything but Spanish) and fits omni.outbound.v1', () => {
    const en = open(opening({ language: 'en' })).outbound[0]!;
    expect(en.text).toContain('Reply YES or NO');
    expect(selfServiceText('fr', ARTICLES)).toContain('Did this solve it?');
    const msg = { schema: 'omni.outbound.v1', outboundId: en.outboundId, conversationId: 'c-ss', channel: 'chat', threadKey: 't1', to: { channel: 'chat', address: 'x' }, agentId: en.agentId, text: en.text, createdAt: T0.toISOString(), raw: en.raw };
    expect(check(OutboundMessage, msg)).toBe(true);
  });

  it.each([
    ['a category not enabled', opening({ category: 'orders-shipping' })],
    ['a VIP', opening({ attributes: { vip: true } })],
    ['self-service off', opening({ setting: null })],
    ['no article found', opening({ articles: [] })],
  ])('%s is queued as usual', (_what, o) => {
    const d = open(o);
    expect(d.conversation.status).toBe('queued');
    expect(d.events.map((e) => e.type)).toEqual(['conversation.opened', 'conversation.classified', 'conversation.queued']);
    expect(d.outbound).toEqual([]);
  });

  it('YES resolves it as self-served, with the article ids, no agent', () => {
    const d = ok(reply(open().conversation, 'Sí', 30_000));
    expect(d.conversation).toMatchObject({ status: 'resolved', agentId: null, resolvedAt: at(30_000), queue: null, selfService: { state: 'self-served' } });
    const resolved = d.events.find((e) => e.type === 'conversation.resolved')!;
    expect(resolved).toMatchObject({ reason: 'self-served', actor: { type: 'customer' }, extra: { data: { articleIds: ['kb-seed-password-reset-es', 'kb-2'] } } });
    expect(d.offers).toEqual([]);
    expect(d.wantsMatch).toBe(false);
  });

  it.each([
    ['NO', 'declined', 'olvidé mi contraseña'],
    ['todavía no puedo entrar, me sale error 403', 'other', 'todavía no puedo entrar, me sale error 403'],
  ])('%j queues it with the waiting time and SLA of the first message (%s)', (text, outcome, lastText) => {
    const d = ok(reply(open().conversation, text, 45_000));
    expect(d.conversation.status).toBe('queued');
    expect(d.conversation.waitingSince).toEqual(T0);
    expect(d.conversation.queue).toMatchObject({ waitingSince: T0, slaDeadline: at(policy.slaMsByTier[1]!) });
    expect(d.conversation.selfService!.state).toBe('declined');
    expect(d.conversation.lastText).toBe(lastText);
    expect(d.events.map((e) => e.type)).toEqual(['conversation.message', 'conversation.queued']);
    expect(d.events[1]!.extra.data).toEqual({ selfService: outcome, articleIds: ['kb-seed-password-reset-es', 'kb-2'] });
    expect(d.wantsMatch).toBe(true);
  });

  it('no answer by the deadline queues it from the first message; before it, the timer is not due', () => {
    const conv = open().conversation;
    expect(decide(conv, { kind: 'self-service-expired', at: at(59_999) }, policy)).toMatchObject({ ok: false, code: 'NOT_DUE' });
    const d = ok(decide(conv, { kind: 'self-service-expired', at: at(60_000) }, policy));
    expect(d.conversation).toMatchObject({ status: 'queued', waitingSince: T0, selfService: { state: 'expired' } });
    expect(d.conversation.queue!.waitingSince).toEqual(T0);
    expect(d.events[0]!.extra.data).toMatchObject({ selfService: 'expired' });
    // the timer fires once: the routed conversation is no longer due
    expect(decide(d.conversation, { kind: 'self-service-expired', at: at(90_000) }, policy)).toMatchObject({ ok: false, code: 'NOT_DUE' });
  });

  it('never twice: a self-served conversation that the customer reopens is queued, not answered again', () => {
    const resolved = ok(reply(open().conversation, 'yes', 10_000)).conversation;
    const d = ok(reply(resolved, 'me volvió a pasar', 20_000));
    expect(d.conversation.status).toBe('queued');
    expect(d.outbound).toEqual([]);
    expect(d.events.map((e) => e.type)).toEqual(['conversation.reopened', 'conversation.queued']);
  });

  it('agent commands and the queue timers do not apply while it waits in self-service', () => {
    const conv = open().conversation;
    const inputs: Input[] = [
      { kind: 'offer', at: at(1), agent: { id: 'a1', capacity: { chat: 3 }, load: {} }, reason: 'match' },
      { kind: 'accept', at: at(1), conversationId: conv.id, agentId: 'a1' },
      { kind: 'resolve', at: at(1), conversationId: conv.id, agentId: 'a1' },
      { kind: 'sla-breached', at: at(10_000_000) },
      { kind: 'offer-expired', at: at(10_000_000) },
      { kind: 'agent-released', at: at(1), agentId: 'a1', reason: 'offline' },
      { kind: 'reopen-window-over', at: at(10_000_000) },
    ];
    for (const i of inputs) expect(decide(conv, i, policy).ok).toBe(false);
  });

  it('a self-service conversation whose attempt was not loaded is refused, not guessed', () => {
    const conv = { ...open().conversation, selfService: undefined };
    expect(reply(conv, 'SÍ', 1)).toMatchObject({ ok: false, code: 'ILLEGAL' });
  });
});
