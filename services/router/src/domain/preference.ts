import { Type, type Static } from '@sinclair/typebox';
import { freeCapacity, totalLoad, type AgentSnapshot, type WaitingConversation } from './match';

/**
 * Routing preference with proficiency, widening over waiting time and priority ageing, pure.
 *
 * Proficiency is 1–5 per skill and per language. An agent's match level for a conversation is the
 * weakest of the levels it needs (each required skill, and the language when it restricts who may
 * answer): a level-5 billing agent who speaks the customer's language at level 2 answers at 2.
 * A listed skill without a level counts as DEFAULT_LEVEL (3: not enough for an "experts first"
 * step of 4); a listed language without a level counts as fluent (5: the languages list has always
 * meant "answers in it"). So agents and rules written before proficiency existed route exactly as
 * before (match.isEligible ≡ isEligibleAt at step 0,
 * a property test checks it).
 *
 * Widening: a rule may list steps by waiting time; the step in force sets the minimum level and may
 * drop the skills or add the next tiers. Steps only relax (checked by wideningProblems), so the set
 * of eligible agents only grows as a conversation waits.
 */

export const DEFAULT_LEVEL = 3;
export const DEFAULT_LANGUAGE_LEVEL = 5;
export const Level = Type.Integer({ minimum: 1, maximum: 5 });

export const Proficiency = Type.Object(
  {
    skills: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Level)),
    languages: Type.Optional(Type.Record(Type.String({ minLength: 2, maxLength: 16 }), Level)),
  },
  { additionalProperties: false },
);
export type Proficiency = Static<typeof Proficiency>;

export const WideningStep = Type.Object(
  {
    /** in force once the conversation has waited this long */
    afterMs: Type.Integer({ minimum: 0, maximum: 7 * 86_400_000 }),
    /** lowest level accepted for each required skill and the language (1 = any) */
    minLevel: Type.Optional(Level),
    /** any agent of the tier(s), whatever their skills (the language still applies) */
    dropSkills: Type.Optional(Type.Boolean()),
    /** agents of this many tiers above the conversation's may take it too */
    extraTiers: Type.Optional(Type.Integer({ minimum: 0, maximum: 4 })),
  },
  { $id: 'WideningStep', additionalProperties: false },
);
export type WideningStep = Static<typeof WideningStep>;
export const Widening = Type.Array(WideningStep, { maxItems: 10 });

export const PriorityAgeing = Type.Object(
  {
    /** priority points gained per minute of waiting */
    pointsPerMinute: Type.Number({ minimum: 0, maximum: 100 }),
    /** ageing never lifts a conversation above this */
    maxPriority: Type.Integer({ minimum: 0, maximum: 100 }),
  },
  { $id: 'PriorityAgeing', additionalProperties: false },
);
export type PriorityAgeing = Static<typeof PriorityAgeing>;

export const BASE_STEP: WideningStep = { afterMs: 0, minLevel: 1 };

/** Problems a schema cannot see: the first step must start at 0 and each later one must come later and only relax. */
export function wideningProblems(steps: WideningStep[], field = 'body.widening'): { field: string; reason: string }[] {
  const out: { field: string; reason: string }[] = [];
  if (steps.length && steps[0]!.afterMs !== 0) out.push({ field: `${field}.0.afterMs`, reason: 'the first step must start at 0' });
  for (let i = 1; i < steps.length; i++) {
    const [p, s] = [steps[i - 1]!, steps[i]!];
    if (s.afterMs <= p.afterMs) out.push({ field: `${field}.${i}.afterMs`, reason: 'steps must come later than the one before' });
    if ((s.minLevel ?? 1) > (p.minLevel ?? 1)) out.push({ field: `${field}.${i}.minLevel`, reason: 'a later step may not ask for a higher level' });
    if (p.dropSkills && !s.dropSkills) out.push({ field: `${field}.${i}.dropSkills`, reason: 'skills dropped by an earlier step stay dropped' });
    if ((s.extraTiers ?? 0) < (p.extraTiers ?? 0)) out.push({ field: `${field}.${i}.extraTiers`, reason: 'a later step may not remove tiers' });
  }
  return out;
}

/** The step in force after waiting `waitedMs` and its index (−1: no widening configured, BASE_STEP). */
export function stepAt(steps: WideningStep[] | undefined, waitedMs: number): { index: number; step: WideningStep } {
  let index = -1;
  (steps ?? []).forEach((s, i) => {
    if (s.afterMs <= waitedMs) index = i;
  });
  return index < 0 ? { index, step: BASE_STEP } : { index, step: steps![index]! };
}

/** An agent with optional proficiency levels. */
export type ProficientAgent = AgentSnapshot;

export function skillLevel(a: ProficientAgent, skill: string): number {
  if (!a.skills.includes(skill)) return 0;
  return a.proficiency?.skills?.[skill] ?? DEFAULT_LEVEL;
}

/** 0: does not speak it; a language we cannot name ("other") or did not detect restricts nobody (null). */
export function languageLevel(a: ProficientAgent, language: string | null | undefined): number | null {
  if (!language || language === 'other') return null;
  if (!a.languages.includes(language)) return 0;
  return a.proficiency?.languages?.[language] ?? DEFAULT_LANGUAGE_LEVEL;
}

/** The tiers whose agents may take the conversation at this step. */
export function tiersAt(c: Pick<WaitingConversation, 'tiers'>, step: WideningStep): number[] {
  const extra = step.extraTiers ?? 0;
  const out = new Set<number>();
  for (const t of c.tiers) for (let k = 0; k <= extra && t + k <= 5; k++) out.add(t + k);
  return [...out].sort((a, b) => a - b);
}

export const skillsAt = (c: Pick<WaitingConversation, 'requiredSkills'>, step: WideningStep): string[] => (step.dropSkills ? [] : c.requiredSkills);

/** The weakest level the agent brings to what the conversation needs at this step (5 when it needs nothing in particular). */
export function matchLevel(a: ProficientAgent, c: Pick<WaitingConversation, 'requiredSkills' | 'language'>, step: WideningStep): number {
  let level = 5;
  for (const s of skillsAt(c, step)) level = Math.min(level, skillLevel(a, s));
  const l = languageLevel(a, c.language);
  if (l !== null) level = Math.min(level, l);
  return level;
}

/** Eligible at a widening step: serves one of the step's tiers, the level it needs, room on the channel, never declined it. */
export function isEligibleAt(a: ProficientAgent, c: WaitingConversation, step: WideningStep): boolean {
  const tiers = tiersAt(c, step);
  return (
    a.tiers.some((t) => tiers.includes(t)) &&
    matchLevel(a, c, step) >= Math.max(1, step.minLevel ?? 1) &&
    freeCapacity(a, c.channel) > 0 &&
    !c.declined.includes(a.id)
  );
}

/** The values that ordered a candidate (kept in the decision record). */
export interface Candidate {
  agentId: string;
  preferred: boolean;
  level: number;
  load: number;
  idleSince: Date;
}

export const candidateOf = (a: ProficientAgent, c: WaitingConversation, step: WideningStep): Candidate => ({
  agentId: a.id,
  preferred: a.id === c.preferredAgentId,
  level: matchLevel(a, c, step),
  load: totalLoad(a),
  idleSince: a.idleSince,
});

/** Preference: the previous agent of a reopened conversation, then best level, then least loaded, then longest idle, then id. A total order on distinct ids. */
export function compareCandidates(x: Candidate, y: Candidate): number {
  return (
    Number(y.preferred) - Number(x.preferred) ||
    y.level - x.level ||
    x.load - y.load ||
    x.idleSince.getTime() - y.idleSince.getTime() ||
    (x.agentId < y.agentId ? -1 : x.agentId > y.agentId ? 1 : 0)
  );
}

/** The eligible agents at this step, best first, with the values that ordered them. */
export function rankAt(agents: ProficientAgent[], c: WaitingConversation, step: WideningStep): Candidate[] {
  return agents
    .filter((a) => isEligibleAt(a, c, step))
    .map((a) => candidateOf(a, c, step))
    .sort(compareCandidates);
}

/** Priority after ageing: the base plus pointsPerMinute per minute waited, capped at maxPriority (never lowered). */
export function agedPriority(priority: number, waitedMs: number, ageing: PriorityAgeing | undefined): number {
  if (!ageing || ageing.pointsPerMinute <= 0 || priority >= ageing.maxPriority) return priority;
  return Math.min(ageing.maxPriority, priority + Math.floor((Math.max(0, waitedMs) / 60_000) * ageing.pointsPerMinute));
}

/** Queue order at `at` with ageing: aged priority first, then who has waited longest, then id. */
export function compareAged(a: WaitingConversation, b: WaitingConversation, at: Date, ageing: PriorityAgeing | undefined): number {
  const pa = agedPriority(a.priority, at.getTime() - a.waitingSince.getTime(), ageing);
  const pb = agedPriority(b.priority, at.getTime() - b.waitingSince.getTime(), ageing);
  return pb - pa || a.waitingSince.getTime() - b.waitingSince.getTime() || a.conversationId.localeCompare(b.conversationId);
}
