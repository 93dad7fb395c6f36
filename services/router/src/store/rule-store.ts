import type { Pool, PoolClient } from 'pg';
import { compileRules } from '../domain/classify';
import { DEFAULT_RULES } from '../domain/default-rules';
import type { Rule } from '../domain/rules';
import type { SelfServiceSetting } from '../domain/self-service';

export interface RuleSet {
  version: number;
  rules: Rule[];
  /** self-service (tier 0) for these categories; null = off (docs/knowledge.md) */
  selfService: SelfServiceSetting | null;
  active: boolean;
  createdBy: string;
  note: string | null;
  createdAt: string;
}

const toRuleSet = (r: { version: number; rules: Rule[]; self_service: SelfServiceSetting | null; active: boolean; created_by: string; note: string | null; created_at: Date }): RuleSet => ({
  version: r.version,
  rules: r.rules,
  selfService: r.self_service ?? null,
  active: r.active,
  createdBy: r.created_by,
  note: r.note,
  createdAt: r.created_at.toISOString(),
});

/** Installs the shipped default rules as version 1 on a fresh database (no-op afterwards). */
export async function seedDefaultRules(pool: Pool): Promise<void> {
  await pool.query(
    `INSERT INTO router.rule_sets (version, rules, active, created_by, note)
     SELECT 1, $1::jsonb, true, 'seed', 'default rules shipped with the router'
      WHERE NOT EXISTS (SELECT 1 FROM router.rule_sets)
     ON CONFLICT DO NOTHING`,
    [JSON.stringify(DEFAULT_RULES)],
  );
}

/**
 * The active rule set, compiled. Each replica caches the compiled rules by version and only checks
 * the version per message, so an edit applies everywhere from the next message on.
 */
export class RuleCache {
  private cached?: CachedRules;

  async active(client: PoolClient | Pool): Promise<CachedRules> {
    const v = await client.query<{ version: number }>('SELECT version FROM router.rule_sets WHERE active');
    return this.ofVersion(client, v.rows[0]?.version ?? 0);
  }

  /** The compiled rules of a version the caller read already (the inbound read carries it): read only when not cached. */
  async ofVersion(client: PoolClient | Pool, version: number): Promise<CachedRules> {
    if (this.cached?.version === version) return this.cached;
    const r = await client.query<{ rules: Rule[]; self_service: SelfServiceSetting | null }>('SELECT rules, self_service FROM router.rule_sets WHERE version = $1::int', [version]);
    this.cached = { version, compiled: compileRules(r.rows[0]?.rules ?? DEFAULT_RULES), selfService: r.rows[0]?.self_service ?? null };
    return this.cached;
  }
}

/** A rule-set version as routing uses it: the compiled rules and its self-service setting. */
export interface CachedRules {
  version: number;
  compiled: ReturnType<typeof compileRules>;
  selfService: SelfServiceSetting | null;
}

export async function activeRuleSet(pool: Pick<Pool, 'query'>): Promise<RuleSet | undefined> {
  const { rows } = await pool.query('SELECT version, rules, self_service, active, created_by, note, created_at FROM router.rule_sets WHERE active');
  return rows[0] ? toRuleSet(rows[0]) : undefined;
}

export async function listRuleSets(pool: Pool): Promise<Omit<RuleSet, 'rules' | 'selfService'>[]> {
  const { rows } = await pool.query('SELECT version, active, created_by, note, created_at, rules, self_service FROM router.rule_sets ORDER BY version DESC LIMIT 200');
  return rows.map((r) => {
    const { rules: _rules, selfService: _selfService, ...rest } = toRuleSet(r);
    return rest;
  });
}

/**
 * Stores the rules as a new version and makes it the active one (in one transaction). The
 * self-service setting goes with them: `undefined` keeps the active version's, null turns it off.
 */
export async function replaceRules(client: PoolClient, rules: Rule[], createdBy: string, note?: string, selfService?: SelfServiceSetting | null): Promise<RuleSet> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', ['router:rule_sets']);
  const kept = await client.query<{ self_service: SelfServiceSetting | null }>('SELECT self_service FROM router.rule_sets WHERE active');
  const setting = selfService === undefined ? (kept.rows[0]?.self_service ?? null) : selfService;
  await client.query('UPDATE router.rule_sets SET active = false WHERE active');
  const { rows } = await client.query(
    `INSERT INTO router.rule_sets (version, rules, self_service, active, created_by, note)
     SELECT COALESCE(max(version), 0) + 1, $1::jsonb, $4::jsonb, true, $2::text, $3::text FROM router.rule_sets
     RETURNING version, rules, self_service, active, created_by, note, created_at`,
    [JSON.stringify(rules), createdBy, note ?? null, setting === null ? null : JSON.stringify(setting)],
  );
  return toRuleSet(rows[0]);
}

/** Makes an earlier version active again (roll back an edit). */
export async function activateRuleSet(client: PoolClient, version: number): Promise<RuleSet | undefined> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', ['router:rule_sets']);
  const exists = await client.query('SELECT 1 FROM router.rule_sets WHERE version = $1::int', [version]);
  if (exists.rowCount === 0) return undefined;
  await client.query('UPDATE router.rule_sets SET active = false WHERE active');
  const { rows } = await client.query('UPDATE router.rule_sets SET active = true WHERE version = $1::int RETURNING version, rules, self_service, active, created_by, note, created_at', [version]);
  return toRuleSet(rows[0]);
}
