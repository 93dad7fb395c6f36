/**
 * The self-service setting in the rules admin API (PUT /v1/admin/rules `selfService`, docs/knowledge.md)
 * with hostile bodies over the real router and database: 201 (a new active version carrying the
 * setting, exactly once) or 400 naming the field (nothing changes); never 5xx.
 */
import fc from 'fast-check';
import { field, hostileString, toJsonText, wrongType } from '../../../test/support/hostile-arbitraries';
import { RouterHarness } from './support/router-harness';

const h = new RouterHarness();
let rules: unknown[];

beforeAll(async () => {
  await h.start('selfsvc-settings');
  rules = (await h.admin('GET', '/v1/admin/rules')).body.rules;
}, 120_000);
afterAll(() => h.stop());

async function put(body: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${h.url}/v1/admin/rules`, { method: 'PUT', headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json' }, body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
const active = async () => (await h.world.pool.query<{ version: number; self_service: unknown }>('SELECT version, self_service FROM router.rule_sets WHERE active')).rows[0]!;
const versions = async () => (await h.world.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM router.rule_sets')).rows[0]!.n;

it('stores the setting with a new version, keeps it when absent, turns it off with null, and brings it back with an old version', async () => {
  const on = await h.admin('PUT', '/v1/admin/rules', { rules, selfService: { categories: ['access-passwords', 'connectivity'], waitMs: 120_000 } });
  expect(on.status).toBe(201);
  expect(on.body.selfService).toEqual({ categories: ['access-passwords', 'connectivity'], waitMs: 120_000 });
  const kept = await h.admin('PUT', '/v1/admin/rules', { rules, note: 'rules only' });
  expect(kept.body.selfService).toEqual({ categories: ['access-passwords', 'connectivity'], waitMs: 120_000 });
  const off = await h.admin('PUT', '/v1/admin/rules', { rules, selfService: null });
  expect(off.body.selfService).toBeNull();
  expect((await h.admin('GET', '/v1/admin/rules')).body.selfService).toBeNull();
  const back = await h.admin('POST', `/v1/admin/rules/versions/${on.body.version}/activate`);
  expect(back.body.selfService).toEqual({ categories: ['access-passwords', 'connectivity'], waitMs: 120_000 });
  // audited with the setting
  const audit = await h.world.pool.query(`SELECT before, after FROM router.audit_log WHERE action = 'rules.replace' ORDER BY seq DESC LIMIT 1`);
  expect(audit.rows[0]).toMatchObject({ before: { selfService: { waitMs: 120_000 } }, after: { selfService: null } });
});

const validSetting = fc.record({
  categories: fc.array(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/), { maxLength: 5 }),
  waitMs: fc.integer({ min: 1_000, max: 86_400_000 }),
});
const hostileSetting = fc.oneof(
  { weight: 3, arbitrary: validSetting },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 4, arbitrary: fc.record({ categories: field(fc.array(fc.oneof(fc.constant('access-passwords'), hostileString), { maxLength: 4 })), waitMs: field(fc.integer({ min: -10, max: 100_000_000 })) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.record({ categories: fc.constant({ __huge: 5_000 }), waitMs: fc.constant(60_000) }) },
  { weight: 1, arbitrary: fc.record({ categories: fc.constant(['a']), waitMs: fc.constant(60_000), extra: fc.oneof(hostileString, wrongType, fc.constant({ __deep: 2_000 })) }) },
  { weight: 1, arbitrary: fc.oneof(hostileString, wrongType) },
);

it('hostile selfService bodies: 201 with the setting stored once, or 400 naming the field with nothing changed; never 5xx', async () => {
  const seen = { 201: 0, 400: 0 } as Record<number, number>;
  await fc.assert(
    fc.asyncProperty(hostileSetting, async (setting) => {
      const before = await active();
      const n = await versions();
      const res = await put(toJsonText({ rules, selfService: setting }));
      expect([201, 400]).toContain(res.status);
      seen[res.status]!++;
      if (res.status === 201) {
        const now = await active();
        expect(await versions()).toBe(n + 1);
        expect(now.version).toBe(res.body.version);
        expect(now.self_service).toEqual(setting);
        expect(res.body.selfService).toEqual(setting);
      } else {
        expect(res.body.error).toBeDefined();
        expect(JSON.stringify(res.body)).toMatch(/selfService|body/);
        expect(await active()).toEqual(before);
        expect(await versions()).toBe(n);
      }
    }),
    { numRuns: Number(process.env.FUZZ_RUNS ?? 60) },
  );
  // both outcomes were exercised
  expect(seen[201]).toBeGreaterThan(0);
  expect(seen[400]).toBeGreaterThan(0);
});
