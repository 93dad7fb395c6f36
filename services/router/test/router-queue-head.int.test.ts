/**
 * Head-of-line blocking: conversations at the front of a tier queue that no online agent can take
 * (a skill nobody has, an agent who declined it, a language nobody speaks) must not hold back those
 * behind them. The match pass looks at MATCH_BATCH_SIZE entries (3 here), so the blocked head is
 * longer than one pass's window.
 */
import { DEFAULT_RULES } from '../src/domain/default-rules';
import { RouterHarness } from './support/router-harness';

const h = new RouterHarness();

beforeAll(async () => {
  await h.start('routerhead', { OFFER_TIMEOUT_MS: '60000', DISCONNECT_GRACE_MS: '60000', MATCH_BATCH_SIZE: '3', QUEUE_SLA_MS_TIER_1: '600000' });
  const rules = [
    { id: 'rare', when: { keywords: { any: ['zzrare'] } }, then: { skills: ['rare'] }, continue: true },
    { id: 'common', when: { keywords: { any: ['zzcommon'] } }, then: { skills: ['common'] }, continue: true },
  ];
  const res = await h.admin('PUT', '/v1/admin/rules', { rules: [...rules, ...DEFAULT_RULES], note: 'queue head test' });
  expect(res.status).toBe(201);
});

afterAll(async () => {
  await h.stop();
});

it('serves the conversations behind a head nobody online can take', async () => {
  // five tier-1 conversations needing a skill no agent has, queued first
  const rare: string[] = [];
  for (let i = 0; i < 5; i++) {
    const { messageId } = await h.send(`I forgot my password zzrare ${i}`, { thread: `rare-${i}`, language: 'en' });
    rare.push(await h.openedBy(messageId));
  }
  for (const c of rare) await h.event(c, 'queued');

  // an agent with the other skill comes online: only the conversations behind the head are theirs
  await h.createAgent('head-agent', { skills: ['common'], capacity: { chat: 5 } });
  const agent = await h.connect('head-agent');
  const { messageId: m1 } = await h.send('I forgot my password zzcommon 1', { thread: 'common-1', language: 'en' });
  const { messageId: m2 } = await h.send('I forgot my password zzcommon 2', { thread: 'common-2', language: 'en' });
  const common = [await h.openedBy(m1), await h.openedBy(m2)];
  for (const c of common) await agent.offer(c);

  // a conversation the agent declined goes back near the front, and is not theirs either
  expect(await agent.command({ type: 'reject', conversationId: common[0], reason: 'not mine' })).toMatchObject({ type: 'ack' });
  await h.event(common[0]!, 'requeued');
  const { messageId: m3 } = await h.send('I forgot my password zzcommon 3', { thread: 'common-3', language: 'en' });
  const third = await h.openedBy(m3);
  await agent.offer(third);

  // the head is still waiting, offered to nobody; the declined one was not offered again
  for (const c of rare) expect(h.eventTypes(c)).toEqual(['opened', 'classified', 'queued']);
  expect(agent.frames.filter((f) => f.type === 'offer' && f.conversationId === common[0])).toHaveLength(1);
  await agent.close();
});
