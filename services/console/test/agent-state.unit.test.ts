import fc from 'fast-check';
import { addItems, applyFrame, emptyState, select, totalUnread, type AgentState, type RouterEvent } from '../web/src/agent-state';

const at = (n: number) => new Date(Date.UTC(2026, 0, 1, 9, 0, n)).toISOString();
const info = { channel: 'chat', tier: 1, category: 'access-passwords', language: 'es', customer: { name: 'Lucía', identity: 'chat:v1' }, lastText: 'hola', handoffNotes: [] };

describe('agent console state', () => {
  it('walks an offer through accept, messages, unread counts and resolve', () => {
    let s = emptyState();
    s = applyFrame(s, { type: 'welcome', presence: 'online', resumeFrom: 0, conversations: [] });
    s = applyFrame(s, { type: 'offer', seq: 1, at: at(1), conversationId: 'c1', deadline: at(30), conversation: info });
    expect(s.conversations.c1).toMatchObject({ status: 'offered', deadline: at(30) });
    s = applyFrame(s, { type: 'assigned', seq: 2, at: at(2), conversationId: 'c1' });
    expect(s.active).toBe('c1');
    s = applyFrame(s, { type: 'offer', seq: 3, at: at(3), conversationId: 'c2', deadline: at(40), conversation: info });
    s = applyFrame(s, { type: 'assigned', seq: 4, at: at(4), conversationId: 'c2' });
    expect(s.active).toBe('c1'); // a second assignment does not steal the agent's focus
    s = applyFrame(s, { type: 'message', seq: 5, at: at(5), conversationId: 'c2', messageId: 'm1', text: 'otra cosa', sentAt: at(5) });
    s = applyFrame(s, { type: 'message', seq: 6, at: at(6), conversationId: 'c1', messageId: 'm2', text: 'sigo aquí', sentAt: at(6) });
    expect([s.conversations.c1!.unread, s.conversations.c2!.unread, totalUnread(s)]).toEqual([0, 1, 1]);
    s = select(s, 'c2');
    expect(totalUnread(s)).toBe(0);
    s = applyFrame(s, { type: 'unassigned', seq: 7, at: at(7), conversationId: 'c2', reason: 'resolved' });
    expect(s.order).toEqual(['c1']);
    expect(s.active).toBe('c1');
    expect(s.notices.at(-1)).toMatchObject({ key: 'unassigned.resolved', conversationId: 'c2' });
  });

  it('ignores events at or below lastSeq, and acks and errors (which carry no seq)', () => {
    let s = applyFrame(emptyState(), { type: 'offer', seq: 1, conversationId: 'c1', deadline: at(9), conversation: info });
    const again = applyFrame(s, { type: 'offer-closed', seq: 1, conversationId: 'c1', reason: 'expired' });
    expect(again).toBe(s);
    s = applyFrame(s, { type: 'ack', ref: 'x', command: 'accept' });
    expect(s.lastSeq).toBe(1);
  });

  it('keeps one thread item per message id when history and the live stream both deliver it', () => {
    let s = applyFrame(emptyState(), { type: 'assigned', seq: 1, conversationId: 'c1' });
    s = applyFrame(s, { type: 'message', seq: 2, conversationId: 'c1', messageId: 'm1', text: 'b', sentAt: at(2) });
    s = addItems(s, 'c1', [
      { id: 'm0', direction: 'in', text: 'a', at: at(1) },
      { id: 'm1', direction: 'in', text: 'b', at: at(2) },
    ]);
    expect(s.conversations.c1!.items.map((i) => i.id)).toEqual(['m0', 'm1']);
  });

  it('a welcome after a fresh connect lists the conversations the router says are ours', () => {
    const s = applyFrame(emptyState(), { type: 'welcome', presence: 'away', resumeFrom: 12, conversations: [{ conversationId: 'c9', status: 'assigned', offerDeadline: null }] });
    expect(s).toMatchObject({ lastSeq: 12, presence: 'away', order: ['c9'] });
  });

  // The promise behind "a network blink is invisible": the router replays every event above the
  // lastSeq the console reconnects with, so a console may see any prefix of the stream again, any
  // number of times (several drops), and must end in the state of seeing each event exactly once.
  it('property: replays after any number of reconnects give the state of one clean delivery', () => {
    const event = (seq: number, kind: number, conv: number, msg: number): RouterEvent => {
      const conversationId = `c${conv}`;
      switch (kind) {
        case 0:
          return { type: 'offer', seq, at: at(seq), conversationId, deadline: at(seq + 30), conversation: info };
        case 1:
          return { type: 'assigned', seq, at: at(seq), conversationId };
        case 2:
          return { type: 'message', seq, at: at(seq), conversationId, messageId: `m${msg}`, text: `t${msg}`, sentAt: at(seq) };
        case 3:
          return { type: 'unassigned', seq, at: at(seq), conversationId, reason: 'escalated' };
        case 4:
          return { type: 'offer-closed', seq, at: at(seq), conversationId, reason: 'expired' };
        case 5:
          return { type: 'delivery-failed', seq, at: at(seq), conversationId, outboundId: `o${msg}`, channel: 'chat', to: 'v', reason: 'gone' };
        default:
          return { type: 'presence', seq, at: at(seq), presence: msg % 2 ? 'away' : 'online', reason: 'x' };
      }
    };
    const stream = fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 5 })), { maxLength: 40 }).map((xs) => xs.map(([k, c, m], i) => event(i + 1, k, c, m)));
    fc.assert(
      fc.property(stream, fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 6 }), fc.nat(), (events, drops, activeAt) => {
        const clean = events.reduce(applyFrame, emptyState());
        // deliver with replays: at each drop point p, the console has applied up to p and the router
        // resends from some earlier seq r ≤ p (a replica that did not know the console had them)
        let s: AgentState = emptyState();
        let delivered = 0;
        const points = drops.map(([p, r]) => [p % (events.length + 1), r]).sort((a, b) => a[0]! - b[0]!);
        for (const [p, r] of points) {
          for (; delivered < p!; delivered++) s = applyFrame(s, events[delivered]!);
          const from = p! === 0 ? 0 : r! % p!;
          for (let i = from; i < p!; i++) s = applyFrame(s, events[i]!);
        }
        for (; delivered < events.length; delivered++) s = applyFrame(s, events[delivered]!);
        expect(s).toEqual(clean);
        // and each message shows at most once, whatever was replayed
        for (const c of Object.values(s.conversations)) expect(new Set(c.items.map((i) => i.id)).size).toBe(c.items.length);
        void activeAt;
      }),
      { numRuns: Number(process.env.CONSOLE_PROPERTY_RUNS ?? 300) },
    );
  });
});

describe('suggestions from the offer frame (docs/agent-protocol.md)', () => {
  const article = { id: 'kb-seed-password-reset-es', language: 'es', title: 'Cómo restablecer tu contraseña', link: 'https://help.example.com/articles/kb-seed-password-reset-es', category: 'access-passwords', highlight: '…', score: 1.7, tier: 0 };
  it('keeps the router\'s suggestions with the offered conversation; none or an empty list leaves the console to ask knowledge', () => {
    let s = applyFrame(emptyState(), { type: 'offer', seq: 1, at: at(1), conversationId: 'c1', deadline: at(30), conversation: info, suggestions: [article] });
    expect(s.conversations.c1!.suggestions).toEqual([article]);
    s = applyFrame(s, { type: 'offer', seq: 2, at: at(2), conversationId: 'c2', deadline: at(30), conversation: info, suggestions: [] });
    s = applyFrame(s, { type: 'offer', seq: 3, at: at(3), conversationId: 'c3', deadline: at(30), conversation: info });
    s = applyFrame(s, { type: 'offer', seq: 4, at: at(4), conversationId: 'c4', deadline: at(30), conversation: info, suggestions: 'not a list' });
    for (const id of ['c2', 'c3', 'c4']) expect(s.conversations[id]!.suggestions).toBeUndefined();
    // still there once accepted (the conversation view shows them too)
    s = applyFrame(s, { type: 'assigned', seq: 5, at: at(5), conversationId: 'c1' });
    expect(s.conversations.c1!.suggestions).toEqual([article]);
  });
});
