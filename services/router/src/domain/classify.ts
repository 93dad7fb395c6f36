import type { Channel, InboundMessage } from '@omni/contracts';
import { detectLanguage, primaryLanguage } from './detect-language';
import { normalizeText } from './normalize-text';
import type { Rule } from './rules';

export interface ClassifyInput {
  channel: Channel;
  text: string;
  subject?: string;
  /** language declared by the channel (envelope), if any */
  language?: string;
  vip?: boolean;
  recentEscalations?: number;
}

export interface Classification {
  tier: number;
  category: string;
  priority: number;
  skills: string[];
  language?: string;
  /** ids of the rules that matched, in order (why this outcome) */
  matched: string[];
}

export const DEFAULT_OUTCOME = { tier: 1, category: 'general', priority: 50 } as const;

interface CompiledRule {
  rule: Rule;
  keywords: Map<string, RegExp[]>;
  patterns: Map<string, RegExp[]>;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// Keywords match as whole words or phrases (so "api" does not fire inside "rapido"), with an
// optional plural "s"/"es" to save rule authors listing both forms.
function keywordRegex(word: string): RegExp {
  const w = normalizeText(word).trim().split(/\s+/).map(escape).join('\\s+');
  return new RegExp(`(?<![\\p{L}\\p{N}])${w}(?:e?s)?(?![\\p{L}\\p{N}])`, 'u');
}

/** Pre-compiles a rule set's keywords and patterns (done once per rule-set version). */
export function compileRules(rules: Rule[]): CompiledRule[] {
  return rules.map((rule) => ({
    rule,
    keywords: new Map(Object.entries(rule.when.keywords ?? {}).map(([lang, list]) => [lang, list.map(keywordRegex)])),
    patterns: new Map(Object.entries(rule.when.patterns ?? {}).map(([lang, list]) => [lang, list.map((p) => new RegExp(p, 'u'))])),
  }));
}

// Lists for the detected language and "any"; when the language is unknown or one we keep no list
// for, every list applies (a one-word "password" must still find its category).
function listsFor(map: Map<string, RegExp[]>, language: string | undefined): RegExp[] {
  if (language && map.has(language)) return [...map.get(language)!, ...(map.get('any') ?? [])];
  return [...map.values()].flat();
}

function matches(c: CompiledRule, input: ClassifyInput, text: string, language: string | undefined): boolean {
  const w = c.rule.when;
  if (w.channels && !w.channels.includes(input.channel)) return false;
  if (w.languages && !(language && w.languages.includes(language))) return false;
  if (w.languagesNotIn && !(language && !w.languagesNotIn.includes(language))) return false;
  if (w.vip !== undefined && Boolean(input.vip) !== w.vip) return false;
  if (w.minRecentEscalations !== undefined && (input.recentEscalations ?? 0) < w.minRecentEscalations) return false;
  if (c.keywords.size > 0 || c.patterns.size > 0) {
    const res = [...listsFor(c.keywords, language), ...listsFor(c.patterns, language)];
    if (!res.some((re) => re.test(text))) return false;
  }
  return true;
}

/**
 * Evaluates the rules in order over one message (subject + text): each matching rule applies its
 * outcome (tier, category, priority overwrite; minTier is a floor and addPriority a bonus applied
 * at the end; skills accumulate); a rule without `continue` ends the evaluation. Pure.
 */
export function classify(rules: CompiledRule[], input: ClassifyInput): Classification {
  const language = primaryLanguage(input.language) ?? detectLanguage(`${input.subject ?? ''} ${input.text}`);
  const text = normalizeText(`${input.subject ?? ''}\n${input.text}`);
  const out: Classification = { ...DEFAULT_OUTCOME, skills: [], matched: [], ...(language ? { language } : {}) };
  // Modifier rules (VIP, repeat escalations) usually come first with `continue`; their tier floor
  // and priority bonus must survive the category rule that follows, so both are applied at the end.
  let floor = 1;
  let bonus = 0;
  for (const c of rules) {
    if (!matches(c, input, text, language)) continue;
    const t = c.rule.then;
    out.matched.push(c.rule.id);
    if (t.tier !== undefined) out.tier = t.tier;
    if (t.minTier !== undefined) floor = Math.max(floor, t.minTier);
    if (t.category !== undefined) out.category = t.category;
    if (t.priority !== undefined) out.priority = t.priority;
    if (t.addPriority !== undefined) bonus += t.addPriority;
    for (const s of t.skills ?? []) if (!out.skills.includes(s)) out.skills.push(s);
    if (!c.rule.continue) break;
  }
  out.tier = Math.max(out.tier, floor);
  out.priority = Math.min(100, Math.max(0, out.priority + bonus));
  return out;
}

/** A customer's attributes (omni.customers.v1) say VIP: rules can route them apart, and self-service never answers them. */
export const isVip = (attributes: Record<string, unknown>): boolean => attributes.vip === true || attributes.tier === 'vip';

/**
 * Classifies a thread's first message with what is known of its customer: the one place that turns
 * an arrival into classify()'s input, so the live router and replay classify alike.
 */
export function classifyArrival(
  rules: CompiledRule[],
  m: Pick<InboundMessage, 'channel' | 'text' | 'subject' | 'language'>,
  attributes: Record<string, unknown>,
  recentEscalations: number,
): Classification {
  return classify(rules, {
    channel: m.channel,
    text: m.text,
    ...(m.subject ? { subject: m.subject } : {}),
    ...(m.language ? { language: m.language } : {}),
    vip: isVip(attributes),
    recentEscalations: recentEscalations + (typeof attributes.recentEscalations === 'number' ? attributes.recentEscalations : 0),
  });
}
