import type { ConversationEvent } from '@omni/contracts';
import { applyEvent, helped } from '../src/domain/conversation-outcome';
import { draftFromTranscript } from '../src/domain/draft-from-transcript';
import { highlightHtml, renderMarkdown } from '../src/domain/markdown';
import { fillPlaceholders } from '../src/domain/placeholders';
import { withinBestScore } from '../src/domain/suggestion-cutoff';

describe('renderMarkdown', () => {
  it.each([
    ['<script>alert(1)</script>', /<script/],
    ['[x](javascript:alert(1))', /href="javascript/],
    ['<img src=x onerror=alert(1)>', /<img/],
    ['[x](data:text/html;base64,PHNjcmlwdD4=)', /href="data:/],
    ['<a href="https://e.com" onclick="x()">a</a>', /<a[^>]*onclick/],
  ])('renders %j without %s', (md, bad) => {
    expect(renderMarkdown(md)).not.toMatch(bad);
  });
  it('keeps the Markdown structure', () => {
    expect(renderMarkdown('# T\n\n1. **a**\n2. [b](https://e.com)')).toBe(
      '<h1>T</h1>\n<ol>\n<li><strong>a</strong></li>\n<li><a href="https://e.com" rel="noopener noreferrer nofollow" target="_blank">b</a></li>\n</ol>\n',
    );
  });
  it('highlights are escaped text with <mark> only', () => {
    expect(highlightHtml('a <b> \uE000contraseña\uE001 & "x"')).toBe('a &lt;b&gt; <mark>contraseña</mark> &amp; &quot;x&quot;');
  });
});

describe('fillPlaceholders', () => {
  it('fills in one pass and lists what is missing', () => {
    expect(fillPlaceholders('{customer_name} {agent_name} {conversation_id} {article_link} {other}', { customer_name: '{agent_name}', agent_name: 'Luis' })).toEqual({
      text: '{agent_name} Luis {conversation_id} {article_link} {other}',
      missing: ['conversation_id', 'article_link'],
    });
  });
});

const ev = (type: ConversationEvent['type'], at: string, extra: Partial<ConversationEvent> = {}): ConversationEvent => ({
  schema: 'omni.conversations.v1',
  eventId: `${type}-${at}`,
  type,
  conversationId: 'c1',
  occurredAt: at,
  actor: { type: 'system' },
  channel: 'chat',
  threadKey: 'chat:c1',
  customer: { channel: 'chat', address: 'v' },
  tier: 1,
  ...extra,
});

describe('conversation outcome and helped', () => {
  const fold = (events: ConversationEvent[]) => events.reduce<ReturnType<typeof applyEvent> | undefined>((o, e) => applyEvent(o, e), undefined)!;
  it.each([
    ['resolved after the use, never escalated', [ev('conversation.opened', '2026-01-01T10:00:00Z', { category: 'x' }), ev('conversation.resolved', '2026-01-01T10:10:00Z')], true],
    ['escalated after the use', [ev('conversation.opened', '2026-01-01T10:00:00Z'), ev('conversation.escalated', '2026-01-01T10:06:00Z'), ev('conversation.resolved', '2026-01-01T10:10:00Z')], false],
    ['escalated before the use, then resolved', [ev('conversation.escalated', '2026-01-01T10:01:00Z'), ev('conversation.resolved', '2026-01-01T10:10:00Z')], true],
    ['overflowed up a tier after the use', [ev('conversation.overflowed', '2026-01-01T10:06:00Z', { tier: 2, fromTier: 1 }), ev('conversation.resolved', '2026-01-01T10:10:00Z')], false],
    ['resolved, then reopened', [ev('conversation.resolved', '2026-01-01T10:10:00Z'), ev('conversation.reopened', '2026-01-01T10:20:00Z')], false],
    ['resolved before the use', [ev('conversation.resolved', '2026-01-01T10:04:00Z')], false],
  ])('%s', (_name, events, expected) => {
    expect(helped(fold(events as ConversationEvent[]), '2026-01-01T10:05:00Z')).toBe(expected);
  });
});

describe('draftFromTranscript', () => {
  it('question, what was tried, answer; customer Markdown escaped', () => {
    const d = draftFromTranscript({
      conversation: { id: 'c1', status: 'resolved', category: 'access-passwords', agents: ['a1'], escalations: [{ handoffNote: 'tried a reset', reason: null, toTier: 2 }] },
      messages: [
        { direction: 'inbound', text: '# I cannot\n  log in [click](javascript:x)', at: '1' },
        { direction: 'outbound', text: 'Use the new link', at: '2' },
      ],
      events: [{ kind: 'conversation.opened', payload: { language: 'en' } }],
    });
    expect(d).toMatchObject({ title: '# I cannot log in [click](javascript:x)', category: 'access-passwords', language: 'en', tags: ['access-passwords'] });
    expect(d.body).toContain('## Question\n\n> \\# I cannot');
    expect(d.body).toContain('- tried a reset');
    expect(d.body).toContain('## Answer\n\n> Use the new link');
    expect(renderMarkdown(d.body)).not.toContain('<a ');
  });
});

describe('withinBestScore (suggestions cutoff)', () => {
  it.each([
    [[1.8, 0.3, 0.2], [1.8]],
    [[1.0, 0.9, 0.4], [1.0, 0.9, 0.4]],
    // ranked language first: a lower-scored article in the customer's language stays when near the best
    [[0.8, 1.2, 0.1], [0.8, 1.2]],
    [[], []],
    [[0, 0], [0, 0]],
  ])('%j → %j', (scores, kept) => {
    expect(withinBestScore(scores.map((score) => ({ score }))).map((h) => h.score)).toEqual(kept);
  });
});
