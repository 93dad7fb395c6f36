import { decideThread, lookupKeys, plusTokens, type ThreadingInput } from '../src/domain/threading';
import { messageIdList, normalizeMessageId } from '../src/domain/message-ids';
import { emailThreadToken } from '@omni/ingest';

const T1 = 'email:root-1@mail.example';
const OUT = 'email:root-2@mail.example';
const token1 = emailThreadToken(T1);
const known = {
  byMessageId: new Map([
    ['root-1@mail.example', T1],
    ['reply-1@mail.example', T1],
    ['agent-reply-9@support.example', OUT], // an outbound agent reply recorded by delivery
  ]),
  byToken: new Map([[token1, T1]]),
};
const base: ThreadingInput = { messageId: 'new@mail.example', inReplyTo: [], references: [], recipients: ['support@support.example'] };

describe('e-mail threading', () => {
  it.each<[string, Partial<ThreadingInput>, string, string]>([
    ['a first message starts its own thread', {}, 'email:new@mail.example', 'new'],
    ['a retry of a known message keeps its thread', { messageId: 'reply-1@mail.example' }, T1, 'self'],
    ['In-Reply-To only', { inReplyTo: ['root-1@mail.example'] }, T1, 'in-reply-to'],
    ['References only', { references: ['root-1@mail.example', 'reply-1@mail.example'] }, T1, 'references'],
    ['References with unknown ids before a known one', { references: ['lost@x', 'reply-1@mail.example'] }, T1, 'references'],
    ['References win over In-Reply-To (oldest known first)', { references: ['agent-reply-9@support.example'], inReplyTo: ['root-1@mail.example'] }, OUT, 'references'],
    ['a reply to our outbound reply joins its thread', { inReplyTo: ['agent-reply-9@support.example'] }, OUT, 'in-reply-to'],
    ['unknown references fall through to a new thread', { references: ['lost@x'], inReplyTo: ['lost2@x'] }, 'email:new@mail.example', 'new'],
    ['a plus-address token when headers were dropped', { recipients: [`support+${token1}@support.example`] }, T1, 'plus-token'],
    ['an unknown token starts a new thread', { recipients: [`support+${emailThreadToken('email:nope')}@support.example`] }, 'email:new@mail.example', 'new'],
    ['a plus detail that is no token is ignored', { recipients: ['support+billing@support.example'] }, 'email:new@mail.example', 'new'],
    ['headers win over the token', { inReplyTo: ['agent-reply-9@support.example'], recipients: [`support+${token1}@support.example`] }, OUT, 'in-reply-to'],
    ['Postmark MailboxHash carries the token', { mailboxHashes: [token1] }, T1, 'plus-token'],
  ])('%s', (_what, patch, threadKey, via) => {
    expect(decideThread({ ...base, ...patch }, known, 'postmark:abc')).toEqual({ threadKey, via });
  });

  it('roots a thread without Message-ID at the provider id', () => {
    const { messageId: _m, ...noId } = base;
    expect(decideThread(noId, known, 'postmark:abc')).toEqual({ threadKey: 'email:postmark:abc', via: 'new' });
  });

  it('ends three messages (original, In-Reply-To only, References only) in one thread', () => {
    const index = { byMessageId: new Map<string, string>(), byToken: new Map<string, string>() };
    const msgs: ThreadingInput[] = [
      { messageId: 'a@x', inReplyTo: [], references: [], recipients: [] },
      { messageId: 'b@x', inReplyTo: ['a@x'], references: [], recipients: [] },
      { messageId: 'c@x', inReplyTo: [], references: ['a@x', 'b@x'], recipients: [] },
    ];
    const keys = msgs.map((m) => {
      const d = decideThread(m, index, 'unused');
      index.byMessageId.set(m.messageId!, d.threadKey);
      return d.threadKey;
    });
    expect(new Set(keys)).toEqual(new Set(['email:a@x']));
  });

  it('looks up own id, references and in-reply-to, and tokens', () => {
    expect(lookupKeys({ messageId: 'm@x', references: ['a@x', 'b@x'], inReplyTo: ['b@x'], recipients: [`s+${token1}@h`] })).toEqual({ messageIds: ['m@x', 'a@x', 'b@x'], tokens: [token1] });
    expect(plusTokens({ recipients: [`S+${token1.toUpperCase()}@H`] })).toEqual([token1]);
  });

  it.each([
    ['<abc@x>', 'abc@x'],
    ['  <abc@x> ', 'abc@x'],
    ['abc@x', 'abc@x'],
    ['', undefined],
  ])('normalises Message-ID %p', (input, out) => expect(normalizeMessageId(input)).toBe(out));

  it('splits References in order, folded or not', () => {
    expect(messageIdList('<a@x>\r\n <b@x>  <c@x>')).toEqual(['a@x', 'b@x', 'c@x']);
    expect(messageIdList(['<a@x>', '<b@x>'])).toEqual(['a@x', 'b@x']);
    expect(messageIdList('a@x b@x')).toEqual(['a@x', 'b@x']);
    expect(messageIdList(undefined)).toEqual([]);
  });
});
