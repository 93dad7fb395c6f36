/**
 * The eligibility rule has one owner, domain/match.ts isEligible. The match pass must also filter in
 * SQL (store/conversations.ts loadMatchable: the queue entries one of the free agents could take),
 * so this property checks on random agent and queue states, in real PostgreSQL, that the SQL picks
 * exactly the queued conversations for which the domain finds an eligible agent.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { migrate } from '@omni/db';
import { freeCapacity, isEligible, waitingOf, type AgentSnapshot } from '../src/domain/match';
import { loadMatchable } from '../src/store/conversations';
import { lockStillQueued } from '../src/store/wait-notices';
import { createWorld, type TestWorld } from '../../../test/support/infra';

let world: TestWorld;

beforeAll(async () => {
  world = await createWorld('eligsql', { partitions: 1 });
  await migrate(world.pool, 'router', join(__dirname, '..', 'migrations'));
});

afterAll(async () => {
  await world?.close();
});

const CHANNELS = ['chat', 'email', 'phone'] as const;
const AGENT_IDS = ['a1', 'a2', 'a3', 'a4'];
// skill names that must survive the trip through JSON and text[] (quotes, spaces, accents, emoji)
const skill = fc.constantFrom('billing', 'sql', 'ñandú', '🙂', 'x y', '"q"', 'a,b', '{b}');
const tiers = fc.uniqueArray(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 });

const agentArb = fc.record({
  tiers,
  skills: fc.uniqueArray(skill, { maxLength: 4 }),
  languages: fc.uniqueArray(fc.constantFrom('es', 'en', 'fr', 'de'), { maxLength: 3 }),
  capacity: fc.dictionary(fc.constantFrom(...CHANNELS), fc.integer({ min: 0, max: 3 })),
  load: fc.dictionary(fc.constantFrom(...CHANNELS), fc.integer({ min: 0, max: 3 })),
});
const convArb = fc.record({
  tier: fc.integer({ min: 1, max: 5 }),
  widen: fc.integer({ min: 0, max: 2 }),
  channel: fc.constantFrom(...CHANNELS),
  language: fc.constantFrom(null, 'other', 'es', 'en', 'fr'),
  requiredSkills: fc.uniqueArray(skill, { maxLength: 2 }),
  declined: fc.uniqueArray(fc.constantFrom(...AGENT_IDS), { maxLength: 2 }),
  priority: fc.integer({ min: 0, max: 100 }),
});

describe('match eligibility: SQL prefilter = domain rule', () => {
  it('on random agents and queues, loadMatchable returns exactly the conversations some free agent is eligible for', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(agentArb, { minLength: 1, maxLength: 4 }), fc.array(convArb, { minLength: 1, maxLength: 10 }), async (agentSpecs, convSpecs) => {
        // the free agents as the match pass sees them (online, console attached, room on some channel)
        const agents: AgentSnapshot[] = agentSpecs
          .map((a, i) => ({ id: AGENT_IDS[i]!, tiers: a.tiers, skills: a.skills, languages: a.languages, capacity: a.capacity, load: a.load, idleSince: new Date(0) }))
          .filter((a) => Object.keys(a.capacity).some((ch) => freeCapacity(a, ch) > 0));
        const filters = agents.map((a) => ({ id: a.id, tiers: a.tiers, skills: a.skills, languages: a.languages, channels: Object.keys(a.capacity).filter((ch) => freeCapacity(a, ch) > 0) }));
        const client = await world.pool.connect();
        try {
          await client.query('BEGIN');
          for (const [i, c] of convSpecs.entries()) {
            const id = `c${i}`;
            const qTiers = Array.from({ length: Math.min(c.widen + 1, 6 - c.tier) }, (_, k) => c.tier + k);
            await client.query(
              `INSERT INTO router.conversations (id, thread_key, channel, customer, status, tier, category, priority, language, opened_at, required_skills, declined_agents, waiting_since)
               VALUES ($1, $1, $2, '{}', 'queued', $3, 'x', $4, $5, now(), $6::text[], $7::text[], now())`,
              [id, c.channel, c.tier, c.priority, c.language, c.requiredSkills, c.declined],
            );
            await client.query(`INSERT INTO router.queue_entries (conversation_id, tier, priority, waiting_since, tiers) VALUES ($1, $2, $3, now(), $4::int[])`, [id, c.tier, c.priority, qTiers]);
          }
          const convs = agents.length ? await loadMatchable(client, filters, 1000, false) : [];
          const picked = convs.map((c) => c.id);
          // the domain's answer, over the same rows as loaded (so the comparison is of the rule alone)
          const all = (await client.query(`SELECT id FROM router.conversations`)).rows.map((r) => r.id as string);
          const byId = new Map(convs.map((c) => [c.id, c]));
          for (const id of all) {
            const spec = convSpecs[Number(id.slice(1))]!;
            const qTiers = Array.from({ length: Math.min(spec.widen + 1, 6 - spec.tier) }, (_, k) => spec.tier + k);
            const w = { conversationId: id, priority: spec.priority, waitingSince: new Date(0), tiers: qTiers, channel: spec.channel, language: spec.language, requiredSkills: spec.requiredSkills, declined: spec.declined };
            const domain = agents.some((a) => isEligible(a, w));
            expect({ id, sql: picked.includes(id) }).toEqual({ id, sql: domain });
            if (byId.has(id)) expect(waitingOf(byId.get(id)!)).toMatchObject({ tiers: qTiers, requiredSkills: spec.requiredSkills, declined: spec.declined, language: spec.language });
          }
        } finally {
          await client.query('ROLLBACK');
          client.release();
        }
      }),
      { numRuns: Number(process.env.ELIGIBILITY_RUNS ?? 150) },
    );
  });
});

describe('wait announcements and offers never cross (routing/wait-updates.ts announceWaits)', () => {
  it("a queue entry a match pass holds is left out of the announcement's lock, and one the announcement holds is skipped by the match pass", async () => {
    const setup = await world.pool.connect();
    const id = 'lock-contract-1';
    try {
      await setup.query(
        `INSERT INTO router.conversations (id, thread_key, channel, customer, status, tier, category, priority, language, opened_at, required_skills, declined_agents, waiting_since)
         VALUES ($1, $1, 'chat', '{}', 'queued', 1, 'x', 50, 'en', now(), '{}', '{}', now())`,
        [id],
      );
      await setup.query(`INSERT INTO router.queue_entries (conversation_id, tier, priority, waiting_since, tiers) VALUES ($1, 1, 50, now(), '{1}')`, [id]);
    } finally {
      setup.release();
    }
    const agent = { id: 'lock-agent', tiers: [1], skills: [], languages: ['en'], channels: ['chat'] };
    const [matcher, announcer] = [await world.pool.connect(), await world.pool.connect()];
    try {
      // a match pass has it (loadMatchable locks the entries it returns): the announcement neither waits nor says anything of it
      await matcher.query('BEGIN');
      expect((await loadMatchable(matcher, [agent], 10, true)).map((c) => c.id)).toEqual([id]);
      await announcer.query('BEGIN');
      expect([...(await lockStillQueued(announcer, [id]))]).toEqual([]);
      await announcer.query('ROLLBACK');
      await matcher.query('ROLLBACK');
      // the announcement has it: a match pass skips it (and is kicked again after the announcement commits)
      await announcer.query('BEGIN');
      expect([...(await lockStillQueued(announcer, [id]))]).toEqual([id]);
      await matcher.query('BEGIN');
      expect(await loadMatchable(matcher, [agent], 10, true)).toEqual([]);
      await matcher.query('ROLLBACK');
      await announcer.query('ROLLBACK');
      // offered and gone from the queue: nothing to announce
      await world.pool.query('DELETE FROM router.queue_entries WHERE conversation_id = $1', [id]);
      expect([...(await lockStillQueued(world.pool, [id]))]).toEqual([]);
    } finally {
      matcher.release();
      announcer.release();
      // the property above reads every conversation row: leave none behind
      await world.pool.query('DELETE FROM router.queue_entries WHERE conversation_id = $1', [id]);
      await world.pool.query('DELETE FROM router.conversations WHERE id = $1', [id]);
    }
  });
});
