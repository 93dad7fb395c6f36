import { Type, type Static } from '@sinclair/typebox';
import { CHANNELS } from '@omni/contracts';
import { WideningStep, wideningProblems } from './preference';

const Words = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 500 });
/** keyword or pattern lists by language code ("es", "en", …; "any" applies whatever the language) */
const PerLanguage = Type.Record(Type.String({ pattern: '^([a-z]{2,3}|any)$' }), Words);

/**
 * One classification rule. All present conditions must hold (AND); within a list, any item (OR).
 * A matching rule applies its outcome; unless `continue` is true, evaluation stops there.
 */
export const Rule = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 100 }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    when: Type.Object(
      {
        channels: Type.Optional(Type.Array(Type.Union(CHANNELS.map((c) => Type.Literal(c))), { minItems: 1 })),
        /** keywords (whole words or phrases) matched on accent-stripped lower-case text */
        keywords: Type.Optional(PerLanguage),
        /** regular expressions (JavaScript syntax) run on accent-stripped lower-case text */
        patterns: Type.Optional(PerLanguage),
        /** detected (or declared) language is one of these */
        languages: Type.Optional(Type.Array(Type.String({ minLength: 2, maxLength: 16 }), { minItems: 1 })),
        /** detected language is known and NOT one of these (e.g. the languages tier 1 speaks) */
        languagesNotIn: Type.Optional(Type.Array(Type.String({ minLength: 2, maxLength: 16 }), { minItems: 1 })),
        vip: Type.Optional(Type.Boolean()),
        minRecentEscalations: Type.Optional(Type.Integer({ minimum: 1 })),
      },
      { additionalProperties: false },
    ),
    then: Type.Object(
      {
        tier: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
        /** raise the tier to at least this (keeps a higher tier set by an earlier rule) */
        minTier: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
        category: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
        priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
        addPriority: Type.Optional(Type.Integer({ minimum: -100, maximum: 100 })),
        skills: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 20 })),
        /**
         * widening over waiting time (domain/preference.ts): steps that relax the requirements as the
         * wait grows; the last matching rule with steps sets them (docs/queue-intelligence.md)
         */
        widening: Type.Optional(Type.Array(Type.Object(WideningStep.properties, { additionalProperties: false }), { minItems: 1, maxItems: 10 })),
      },
      { additionalProperties: false },
    ),
    continue: Type.Optional(Type.Boolean()),
  },
  { $id: 'RoutingRule', additionalProperties: false },
);
export type Rule = Static<typeof Rule>;

export const RuleList = Type.Array(Rule, { maxItems: 1000 });

/** Returns problems a schema cannot see: duplicate ids and regular expressions that do not compile. */
export function ruleProblems(rules: Rule[]): { field: string; reason: string }[] {
  const out: { field: string; reason: string }[] = [];
  const ids = new Set<string>();
  rules.forEach((r, i) => {
    if (r.then.widening) out.push(...wideningProblems(r.then.widening, `body.rules.${i}.then.widening`));
    if (ids.has(r.id)) out.push({ field: `body.rules.${i}.id`, reason: `duplicate rule id ${r.id}` });
    ids.add(r.id);
    for (const [lang, list] of Object.entries(r.when.patterns ?? {}))
      list.forEach((p, j) => {
        try {
          new RegExp(p, 'u');
        } catch (err) {
          out.push({ field: `body.rules.${i}.when.patterns.${lang}.${j}`, reason: (err as Error).message });
        }
      });
  });
  return out;
}
