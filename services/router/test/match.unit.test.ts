import { compareWaiting, isEligible, rankAgents, type AgentSnapshot, type WaitingConversation } from '../src/domain/match';

const t0 = new Date('2026-01-01T10:00:00Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const agent = (id: string, extra: Partial<AgentSnapshot> = {}): AgentSnapshot => ({
  id,
  tiers: [1],
  skills: [],
  languages: ['es', 'en'],
  capacity: { chat: 3, email: 5, phone: 1 },
  load: {},
  idleSince: t0,
  ...extra,
});
const conv = (extra: Partial<WaitingConversation> = {}): WaitingConversation => ({
  conversationId: 'c1',
  priority: 50,
  waitingSince: t0,
  tiers: [1],
  channel: 'chat',
  language: 'es',
  requiredSkills: [],
  declined: [],
  ...extra,
});

describe('queue order', () => {
  it('orders by priority, then waiting time, then id', () => {
    const q = [
      conv({ conversationId: 'late-high', priority: 80, waitingSince: at(30) }),
      conv({ conversationId: 'early-low', priority: 20, waitingSince: at(0) }),
      conv({ conversationId: 'early-high', priority: 80, waitingSince: at(10) }),
      conv({ conversationId: 'b-tie', priority: 50, waitingSince: at(5) }),
      conv({ conversationId: 'a-tie', priority: 50, waitingSince: at(5) }),
    ];
    expect(q.sort(compareWaiting).map((c) => c.conversationId)).toEqual(['early-high', 'late-high', 'a-tie', 'b-tie', 'early-low']);
  });
});

describe('eligibility', () => {
  const cases: [string, Partial<AgentSnapshot>, Partial<WaitingConversation>, boolean][] = [
    ['plain match', {}, {}, true],
    ['wrong tier', { tiers: [2] }, {}, false],
    ['widened tiers reach tier 2', { tiers: [2] }, { tiers: [1, 2] }, true],
    ['missing skill', { skills: ['apis'] }, { requiredSkills: ['apis', 'databases'] }, false],
    ['has skills', { skills: ['apis', 'databases', 'x'] }, { requiredSkills: ['apis', 'databases'] }, true],
    ['does not speak french', {}, { language: 'fr' }, false],
    ['unknown language does not restrict', { languages: [] }, { language: null }, true],
    ['"other" does not restrict', { languages: ['en'] }, { language: 'other' }, true],
    ['chat full', { load: { chat: 3 } }, {}, false],
    ['chat full but email free', { load: { chat: 3 } }, { channel: 'email' }, true],
    ['no capacity for the channel', { capacity: { email: 5 } }, { channel: 'phone' }, false],
    ['declined before', {}, { declined: ['a'] }, false],
  ];
  it.each(cases)('%s', (_n, a, c, ok) => expect(isEligible(agent('a', a), conv(c))).toBe(ok));
});

describe('ranking', () => {
  it('picks the least loaded, then the longest idle, then id', () => {
    const agents = [
      agent('busy', { load: { chat: 2 }, idleSince: at(-100) }),
      agent('idle-recent', { load: { email: 1 }, idleSince: at(50) }),
      agent('idle-long', { load: { phone: 1 }, idleSince: at(-50) }),
      agent('free-b', { idleSince: at(0) }),
      agent('free-a', { idleSince: at(0) }),
      agent('full', { load: { chat: 3 } }),
    ];
    expect(rankAgents(agents, conv()).map((a) => a.id)).toEqual(['free-a', 'free-b', 'idle-long', 'idle-recent', 'busy']);
  });

  it('puts the preferred (previous) agent first when eligible, else ignores the preference', () => {
    const agents = [agent('x'), agent('prev', { load: { chat: 2 } })];
    expect(rankAgents(agents, conv({ preferredAgentId: 'prev' }))[0]!.id).toBe('prev');
    const full = [agent('x'), agent('prev', { load: { chat: 3 } })];
    expect(rankAgents(full, conv({ preferredAgentId: 'prev' })).map((a) => a.id)).toEqual(['x']);
  });

  it('never offers again to an agent who declined', () => {
    expect(rankAgents([agent('a'), agent('b')], conv({ declined: ['a'] })).map((a) => a.id)).toEqual(['b']);
  });
});
