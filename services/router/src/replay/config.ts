import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { BusinessHours, calendarProblems } from '../domain/business-hours';
import { DEFAULT_RULES } from '../domain/default-rules';
import type { LifecyclePolicy } from '../domain/lifecycle';
import { PriorityAgeing } from '../domain/preference';
import { SelfServiceSetting } from '../domain/self-service';
import { RuleList, ruleProblems, type Rule } from '../domain/rules';
import type { ReplayConfig } from './types';

/**
 * A replay configuration file (JSON): `{ baseline?, proposed }`, each a named configuration. Missing
 * fields take the router's defaults (docs/architecture-router.md "Configuration"), so a proposal can
 * be as small as `{ "proposed": { "rules": [...] } }`.
 */
const Capacity = Type.Record(Type.String({ minLength: 1, maxLength: 32 }), Type.Integer({ minimum: 0, maximum: 1000 }));
const Agent = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 200 }),
    tiers: Type.Array(Type.Integer({ minimum: 1, maximum: 5 }), { maxItems: 5 }),
    skills: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 100 }),
    languages: Type.Array(Type.String({ minLength: 2, maxLength: 16 }), { maxItems: 50 }),
    capacity: Capacity,
    presence: Type.Union([Type.Literal('online'), Type.Literal('away'), Type.Literal('offline')]),
  },
  { additionalProperties: false },
);
const Ms = Type.Integer({ minimum: 0, maximum: 30 * 86_400_000 });
const OneConfig = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    rules: Type.Optional(RuleList),
    ruleVersion: Type.Optional(Type.Integer({ minimum: 0 })),
    offerTimeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000 })),
    reopenWindowMs: Type.Optional(Ms),
    slaMsByTier: Type.Optional(Type.Object({ 1: Type.Optional(Ms), 2: Type.Optional(Ms), 3: Type.Optional(Ms), 4: Type.Optional(Ms), 5: Type.Optional(Ms) }, { additionalProperties: false })),
    overflowMode: Type.Optional(Type.Union([Type.Literal('widen'), Type.Literal('escalate')])),
    maxConsecutiveOfferTimeouts: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    /** priority ageing for the whole window (null: off), as PRIORITY_AGEING_POINTS_PER_MINUTE / _MAX */
    priorityAgeing: Type.Optional(Type.Union([PriorityAgeing, Type.Null()])),
    /** after-contact work per resolve for the whole window (WRAP_UP_MS; 0: none) */
    wrapUpMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
    /** self-service (tier 0) for the whole window (null: off); only conversations knowledge answered live can be self-served */
    selfService: Type.Optional(Type.Union([SelfServiceSetting, Type.Null()])),
    agents: Type.Optional(
      Type.Object(
        {
          override: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 200 }), Type.Partial(Type.Omit(Agent, ['id'])))),
          add: Type.Optional(Type.Array(Agent, { maxItems: 10_000 })),
          remove: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 10_000 })),
        },
        { additionalProperties: false },
      ),
    ),
    /** business hours per tier for the whole window (as PUT /v1/admin/business-hours takes them); {"tiers":{}}: always open */
    hours: Type.Optional(BusinessHours),
    behaviour: Type.Optional(Type.Object({ acceptDelayMs: Type.Optional(Ms), handlingMs: Type.Optional(Ms) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export const ReplayConfigFile = Type.Object({ baseline: Type.Optional(OneConfig), proposed: OneConfig }, { additionalProperties: false });
export type ReplayConfigFile = Static<typeof ReplayConfigFile>;

/** The router's defaults (services/router/src/config.ts). */
export const DEFAULT_POLICY: LifecyclePolicy = {
  offerTimeoutMs: 20_000,
  reopenWindowMs: 86_400_000,
  slaMsByTier: { 1: 120_000, 2: 300_000, 3: 600_000, 4: 900_000, 5: 1_800_000 },
  overflowMode: 'widen',
  maxConsecutiveOfferTimeouts: 2,
};

export type ConfigProblem = { path: string; message: string };

/** What was live, as sources.ts read it (and what a proposal starts from). */
export interface LiveConfig {
  rules: Rule[];
  ruleVersion: number;
  ruleTimeline?: ReplayConfig['ruleTimeline'];
  selfService?: ReplayConfig['selfService'];
  policy: LifecyclePolicy;
  policyTimeline?: ReplayConfig['policyTimeline'];
  ageing?: ReplayConfig['ageing'];
  wrapUpMs?: ReplayConfig['wrapUpMs'];
  hours?: ReplayConfig['hours'];
  hoursTimeline?: ReplayConfig['hoursTimeline'];
}

function resolve(c: Static<typeof OneConfig> | undefined, fallback: LiveConfig & { name: string }): ReplayConfig {
  // a setting the file names applies to the whole window, over every recorded version
  const over = (p: LifecyclePolicy): LifecyclePolicy => ({
    offerTimeoutMs: c?.offerTimeoutMs ?? p.offerTimeoutMs,
    reopenWindowMs: c?.reopenWindowMs ?? p.reopenWindowMs,
    slaMsByTier: { ...p.slaMsByTier, ...Object.fromEntries(Object.entries(c?.slaMsByTier ?? {}).filter((e): e is [string, number] => e[1] !== undefined)) },
    overflowMode: c?.overflowMode ?? p.overflowMode,
    maxConsecutiveOfferTimeouts: c?.maxConsecutiveOfferTimeouts ?? p.maxConsecutiveOfferTimeouts,
  });
  const policy = over(fallback.policy);
  // ageing the file names (null: off) applies to the whole window; otherwise each recorded version's
  const ageing = (a: PriorityAgeing | undefined) => (c?.priorityAgeing !== undefined ? (c.priorityAgeing ?? undefined) : a);
  const start = ageing(fallback.ageing);
  const wrapUp = (ms: number | undefined) => c?.wrapUpMs ?? ms;
  const extras = (a: PriorityAgeing | undefined, ms: number | undefined) => ({ ...(a ? { ageing: a } : {}), ...(ms ? { wrapUpMs: ms } : {}) });
  return {
    ...(fallback.policyTimeline?.length ? { policyTimeline: fallback.policyTimeline.map((t) => ({ from: t.from, policy: over(t.policy), ...extras(ageing(t.ageing), wrapUp(t.wrapUpMs)) })) } : {}),
    ...extras(start, wrapUp(fallback.wrapUpMs)),
    ...(c?.selfService !== undefined ? { selfService: c.selfService } : fallback.selfService !== undefined ? { selfService: fallback.selfService } : {}),
    ...(c?.hours ? { hours: c.hours } : fallback.hours !== undefined ? { hours: fallback.hours } : {}),
    ...(!c?.hours && fallback.hoursTimeline?.length ? { hoursTimeline: fallback.hoursTimeline } : {}),
    name: c?.name ?? fallback.name,
    rules: c?.rules ?? fallback.rules,
    ruleVersion: c?.ruleVersion ?? (c?.rules ? Math.max(fallback.ruleVersion, ...(fallback.ruleTimeline ?? []).map((t) => t.version)) + 1 : fallback.ruleVersion),
    // rules named by the file apply to the whole window; otherwise the live edits inside it are kept
    ...(!c?.rules && fallback.ruleTimeline?.length
      ? { ruleTimeline: c?.selfService !== undefined ? fallback.ruleTimeline.map((t) => ({ ...t, selfService: c.selfService })) : fallback.ruleTimeline }
      : {}),
    policy,
    ...(c?.agents ? { agents: c.agents } : {}),
    ...(c?.behaviour ? { behaviour: c.behaviour } : {}),
  };
}

/**
 * Parses a configuration file's JSON value: the baseline (what was live: the given live rules and
 * policy unless the file overrides them) and the proposal (the baseline with the file's changes).
 * Never throws on bad input: returns the problems instead.
 */
export function parseReplayConfig(
  value: unknown,
  live: LiveConfig = { rules: DEFAULT_RULES, ruleVersion: 1, policy: DEFAULT_POLICY },
): { ok: true; baseline: ReplayConfig; proposed: ReplayConfig } | { ok: false; problems: ConfigProblem[] } {
  if (!Value.Check(ReplayConfigFile, value)) {
    const problems = [...Value.Errors(ReplayConfigFile, value)].slice(0, 20).map((e) => ({ path: e.path || '/', message: e.message }));
    return { ok: false, problems: problems.length ? problems : [{ path: '/', message: 'not a replay configuration' }] };
  }
  const f = value;
  const ruleIssues = [...ruleProblems(f.baseline?.rules ?? []).map((p) => ({ path: `/baseline/${p.field}`, message: p.reason })), ...ruleProblems(f.proposed.rules ?? []).map((p) => ({ path: `/proposed/${p.field}`, message: p.reason }))];
  const hoursIssues = (['baseline', 'proposed'] as const).flatMap((k) =>
    Object.entries(f[k]?.hours?.tiers ?? {}).flatMap(([tier, cal]) => (cal ? calendarProblems(cal, `/${k}/hours/tiers/${tier}`).map((p) => ({ path: p.field, message: p.reason })) : [])),
  );
  if (ruleIssues.length || hoursIssues.length) return { ok: false, problems: [...ruleIssues, ...hoursIssues] };
  const baseline = resolve(f.baseline, { name: 'baseline', ...live });
  const proposed = resolve(f.proposed, { ...baseline, name: 'proposed' });
  if (!f.proposed.agents && baseline.agents) proposed.agents = baseline.agents;
  return { ok: true, baseline, proposed };
}
