import type { Pool, PoolClient } from 'pg';
import { compileRules } from '../domain/classify';
import { DEFAULT_RULES } from '../domain/default-rules';
import type { Rule } from '../domain/rules';
import { replayGate, type GateRow } from './replay-jobs';
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
  /** a draft that can only be activated once a replay of it completed (docs/replay.md "Safe activation") */
  activateAfterReplay: boolean;
  replayJobId: string | null;
}

const COLUMNS = 'version, rules, self_service, active, created_by, note, created_at, activate_after_replay, replay_job_id';
const toRuleSet = (r: { version: number; rules: Rule[]; self_service: SelfServiceSetting | null; active: boolean; created_by: string; note: string | null; created_at: Date; activate_after_replay: boolean; replay_job_id: string | null }): RuleSet => ({
  version: r.version,
  rules: r.rules,
  selfService: r.self_service ?? null,
  active: r.active,
  createdBy: r.created_by,
  note: r.note,
  createdAt: r.created_at.toISOString(),
  activateAfterReplay: r.activate_after_replay,
  replayJobId: r.replay_job_id,
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
  const { rows } = await pool.query(`SELECT ${COLUMNS} FROM router.rule_sets WHERE active`);
  return rows[0] ? toRuleSet(rows[0]) : undefined;
}

export async function listRuleSets(pool: Pool): Promise<Omit<RuleSet, 'rules' | 'selfService'>[]> {
  const { rows } = await pool.query(`SELECT ${COLUMNS} FROM router.rule_sets ORDER BY version DESC LIMIT 200`);
  return rows.map((r) => {
    const { rules: _rules, selfService: _selfService, ...rest } = toRuleSet(r);
    return rest;
  });
}

/** The self-service setting a new version gets: `undefined` keeps the active version's, null turns it off. */
async function selfServiceFor(client: Pick<PoolClient, 'query'>, selfService: SelfServiceSetting | null | undefined): Promise<SelfServiceSetting | null> {
  if (selfService !== undefined) return selfService;
  const kept = await client.query<{ self_service: SelfServiceSetting | null }>('SELECT self_service FROM router.rule_sets WHERE active');
  return kept.rows[0]?.self_service ?? null;
}

/**
 * Stores the rules as a new version and makes it the active one (in one transaction). The
 * self-service setting goes with them: `undefined` keeps the active version's, null turns it off.
 */
export async function replaceRules(client: PoolClient, rules: Rule[], createdBy: string, note?: string, selfService?: SelfServiceSetting | null): Promise<RuleSet> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', ['router:rule_sets']);
  const setting = await selfServiceFor(client, selfService);
  await client.query('UPDATE router.rule_sets SET active = false WHERE active');
  const { rows } = await client.query(
    `INSERT INTO router.rule_sets (version, rules, self_service, active, created_by, note)
     SELECT COALESCE(max(version), 0) + 1, $1::jsonb, $4::jsonb, true, $2::text, $3::text FROM router.rule_sets
     RETURNING ${COLUMNS}`,
    [JSON.stringify(rules), createdBy, note ?? null, setting === null ? null : JSON.stringify(setting)],
  );
  return toRuleSet(rows[0]);
}

/**
 * Stores the rules as a new inactive version marked "activate after replay" (call in a transaction),
 * with its self-service setting (`undefined` keeps the active version's, null turns it off).
 */
export async function saveRuleDraft(client: Pick<PoolClient, 'query'>, rules: Rule[], createdBy: string, note?: string, selfService?: SelfServiceSetting | null): Promise<RuleSet> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', ['router:rule_sets']);
  const setting = await selfServiceFor(client, selfService);
  const { rows } = await client.query(
    `INSERT INTO router.rule_sets (version, rules, self_service, active, created_by, note, activate_after_replay)
     SELECT COALESCE(max(version), 0) + 1, $1::jsonb, $4::jsonb, false, $2::text, $3::text, true FROM router.rule_sets
     RETURNING ${COLUMNS}`,
    [JSON.stringify(rules), createdBy, note ?? null, setting === null ? null : JSON.stringify(setting)],
  );
  return toRuleSet(rows[0]);
}

export async function getRuleSet(client: Pick<PoolClient, 'query'>, version: number): Promise<RuleSet | undefined> {
  const { rows } = await client.query(`SELECT ${COLUMNS} FROM router.rule_sets WHERE version = $1::int`, [version]);
  return rows[0] ? toRuleSet(rows[0]) : undefined;
}

/** The replay job whose report a draft waits for (the latest one started for it). */
export async function setRuleReplayJob(client: Pick<PoolClient, 'query'>, version: number, jobId: string): Promise<void> {
  await client.query('UPDATE router.rule_sets SET replay_job_id = $2::text WHERE version = $1::int', [version, jobId]);
}

/**
 * Makes a version active (roll back an edit, or a draft whose replay completed). A draft marked
 * "activate after replay" without a completed replay is refused with why.
 */
export async function activateRuleSet(client: PoolClient, version: number): Promise<RuleSet | { refused: string } | undefined> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', ['router:rule_sets']);
  const exists = await client.query<GateRow>(
    'SELECT r.activate_after_replay, r.replay_job_id, j.status, j.error FROM router.rule_sets r LEFT JOIN router.replay_jobs j ON j.id = r.replay_job_id WHERE r.version = $1::int',
    [version],
  );
  if (exists.rowCount === 0) return undefined;
  const refused = replayGate(`rule set version ${version}`, exists.rows[0]!);
  if (refused) return { refused };
  await client.query('UPDATE router.rule_sets SET active = false WHERE active');
  const { rows } = await client.query(`UPDATE router.rule_sets SET active = true WHERE version = $1::int RETURNING ${COLUMNS}`, [version]);
  return toRuleSet(rows[0]);
}

