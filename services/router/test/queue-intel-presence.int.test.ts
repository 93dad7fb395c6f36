/**
 * Presence reasons and wrap-up on the real stack (docs/queue-intelligence.md): admins configure the
 * away reasons; an agent's `presence` command carries one (an unknown one is refused with an error
 * frame); the reason is stored, shown in GET /v1/agents/work, named in the decision record of an
 * offer the agent did not get ("away: break"), and published on omni.agents.v1 with capacity and
 * tiers. A one-slot agent who ends wrap-up early (`end-wrap-up`) gets the next offer at once, long
 * before WRAP_UP_MS; agent.wrap-up-started / -ended are published.
 */
import fc from 'fast-check';
import { cleanFreeform } from '@omni/contracts';
import { TopicWatcher } from '../../../test/support/infra';
import { hostileString, wrongType } from '../../../test/support/hostile-arbitraries';
import { RouterHarness } from './support/router-harness';

const h = new RouterHarness();
let agents: TopicWatcher;
const WRAP_UP_MS = 120_000;

beforeAll(async () => {
  await h.start('routerpresence', { WRAP_UP_MS: String(WRAP_UP_MS), OFFER_TIMEOUT_MS: '60000', DISCONNECT_GRACE_MS: '60000', QUEUE_SLA_MS_TIER_1: '600000' });
  agents = await TopicWatcher.start(h.world, h.world.topics.agents);
});

afterAll(async () => {
  await agents?.stop();
  await h.stop();
});

const REASONS = [
  { id: 'break', label: 'Break', productive: false },
  { id: 'training', label: 'Training', productive: true },
  { id: 'coaching', label: 'Coaching 1:1', productive: true },
];

it('admins replace the away reasons (audited); agents read them; a repeated id is refused naming the field', async () => {
  const put = await h.admin('PUT', '/v1/admin/presence-reasons', { reasons: REASONS });
  expect(put.status).toBe(200);
  expect(put.body.reasons).toEqual(REASONS);
  const asAgent = await fetch(`${h.url}/v1/presence-reasons`, { headers: { authorization: `Bearer ${h.agentToken('anyone')}` } });
  expect(asAgent.status).toBe(200);
  expect(((await asAgent.json()) as { reasons: unknown }).reasons).toEqual(REASONS);
  const dup = await h.admin('PUT', '/v1/admin/presence-reasons', { reasons: [REASONS[0], REASONS[0]] });
  expect(dup.status).toBe(400);
  expect(JSON.stringify(dup.body)).toContain('body.reasons.1.id');
  const audit = await h.world.pool.query(`SELECT count(*)::int AS n FROM router.audit_log WHERE action = 'presence-reasons.replace'`);
  expect(audit.rows[0].n).toBe(1);
});

it('property: hostile bodies are refused with 4xx and change nothing; valid ones replace the list exactly', async () => {
  const reason = fc.record({ id: fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,31}$/), hostileString), label: fc.oneof(fc.string({ minLength: 1, maxLength: 64 }), hostileString), productive: fc.oneof(fc.boolean(), wrongType) });
  const body = fc.oneof(
    fc.record({ reasons: fc.array(reason, { maxLength: 8 }) }),
    fc.record({ reasons: fc.oneof(wrongType, fc.array(fc.constant(REASONS[0]), { minLength: 51, maxLength: 200 })) }),
    fc.jsonValue({ maxDepth: 3 }),
  );
  try {
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const before = (await h.admin('GET', '/v1/presence-reasons')).body.reasons;
        const res = await h.admin('PUT', '/v1/admin/presence-reasons', b);
        const after = (await h.admin('GET', '/v1/presence-reasons')).body.reasons;
        expect(res.status).toBeLessThan(500);
        // stored under the contracts' storage rule: NUL and unpaired surrogates become U+FFFD (the router's admin preValidation)
        if (res.status === 200) expect(after).toEqual((cleanFreeform(b).value as { reasons: unknown[] }).reasons);
        else {
          expect(res.status).toBe(400);
          expect(after).toEqual(before);
        }
      }),
      // always the case that once failed: a NUL label is stored as U+FFFD, not refused and not a 500
      { numRuns: 40, examples: [[{ reasons: [{ id: 'nul', label: '\u0000', productive: false }] }]] },
    );
  } finally {
    // the later tests need the configured reasons back, whatever the property left
    expect((await h.admin('PUT', '/v1/admin/presence-reasons', { reasons: REASONS })).status).toBe(200);
  }
});

it('the away reason is validated, stored, shown, named in the decision record and published on omni.agents.v1', async () => {
  await h.createAgent('pr-ana', { capacity: { chat: 1 } });
  await h.createAgent('pr-bob', { capacity: { chat: 1 } });
  const ana = await h.connect('pr-ana');
  expect(await ana.command({ type: 'presence', status: 'away', reason: 'nap' })).toMatchObject({ type: 'error', code: 'BAD_FRAME', message: expect.stringContaining('nap') });
  expect(await ana.command({ type: 'presence', status: 'online', reason: 'break' })).toMatchObject({ type: 'error', code: 'BAD_FRAME' });
  expect(await ana.command({ type: 'presence', status: 'away', reason: 'break' })).toMatchObject({ type: 'ack', presence: 'away', reason: 'break' });

  const [ev] = await agents.waitFor((v) => v.type === 'agent.presence' && v.agentId === 'pr-ana' && v.presence === 'away');
  expect(ev!.value).toMatchObject({ schema: 'omni.agents.v1', reason: 'break', capacity: 1, tiers: [1], actor: { type: 'agent', id: 'pr-ana' } });
  expect(agents.seen.filter((s) => s.value.agentId === 'pr-ana' && s.value.presence === 'away')).toHaveLength(1); // the refused commands published nothing

  const work = await h.admin('GET', '/v1/agents/work');
  expect(work.body.agents).toContainEqual(expect.objectContaining({ agentId: 'pr-ana', presence: 'away', awayReason: 'break' }));

  const bob = await h.connect('pr-bob');
  const { messageId } = await h.send('I forgot my password', { thread: 'pr-1', language: 'en' });
  const conv = await h.openedBy(messageId);
  const offer = await bob.offer(conv);
  const record = offer.decision as Record<string, any>;
  expect(record.winner).toBe('pr-bob');
  expect(record.blocked).toContainEqual({ agentId: 'pr-ana', code: 'away', reason: 'away: break' });

  // a console reconnecting away keeps the reason (and publishes nothing: nothing changed)
  await ana.close();
  const again = await h.connect('pr-ana', { presence: 'away' });
  expect((await h.world.pool.query(`SELECT presence, away_reason FROM router.agents WHERE id = 'pr-ana'`)).rows[0]).toEqual({ presence: 'away', away_reason: 'break' });

  // back online: the reason is cleared and the change published
  expect(await again.command({ type: 'presence', status: 'online' })).toMatchObject({ type: 'ack' });
  await agents.waitFor((v) => v.type === 'agent.presence' && v.agentId === 'pr-ana' && v.presence === 'online');
  expect(agents.seen.filter((s) => s.value.agentId === 'pr-ana' && s.value.presence === 'away')).toHaveLength(1);
  const { rows } = await h.world.pool.query(`SELECT away_reason FROM router.agents WHERE id = 'pr-ana'`);
  expect(rows[0].away_reason).toBeNull();
  await again.close();
  await bob.close();
});

it('wrap-up ended early by the agent frees the slot at once', async () => {
  await h.createAgent('pr-cy', { tiers: [2], capacity: { chat: 1 } });
  const cy = await h.connect('pr-cy');
  await h.admin('PUT', '/v1/admin/rules', { rules: [{ id: 'db', when: { keywords: { any: ['database'] } }, then: { tier: 2 } }] });
  const { messageId: m1 } = await h.send('my database is down', { thread: 'pr-2', language: 'en' });
  const c1 = await h.openedBy(m1);
  await cy.offer(c1);
  expect(await cy.command({ type: 'accept', conversationId: c1 })).toMatchObject({ type: 'ack' });
  expect(await cy.command({ type: 'resolve', conversationId: c1 })).toMatchObject({ type: 'ack' });
  await agents.waitFor((v) => v.type === 'agent.wrap-up-started' && v.agentId === 'pr-cy' && v.conversationId === c1);

  const { messageId: m2 } = await h.send('my database is down again', { thread: 'pr-3', language: 'en' });
  const c2 = await h.openedBy(m2);
  await h.event(c2, 'queued');
  const why = await h.admin('GET', `/v1/conversations/${c2}/why-waiting`);
  expect(why.body.blocking).toContainEqual(expect.objectContaining({ reason: 'in wrap-up', agents: ['pr-cy'] }));

  const ended = Date.now();
  expect(await cy.command({ type: 'end-wrap-up' })).toMatchObject({ type: 'ack', ended: [c1] });
  const offer = await cy.offer(c2);
  expect(new Date(offer.at as string).getTime() - ended).toBeLessThan(WRAP_UP_MS / 2);
  const [e] = await agents.waitFor((v) => v.type === 'agent.wrap-up-ended' && v.agentId === 'pr-cy');
  expect(e!.value).toMatchObject({ conversationId: c1, reason: 'ended by agent', actor: { type: 'agent', id: 'pr-cy' } });
  // nothing left to end
  expect(await cy.command({ type: 'end-wrap-up' })).toMatchObject({ type: 'error', code: 'NOT_FOUND' });
  await cy.close();
});
