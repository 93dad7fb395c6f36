import { mintAccessToken } from '@omni/auth';
import type { InboundMessage } from '@omni/contracts';
import { suggestionsFor, type SuggestedArticle, type SuggestionsRequest } from '@omni/knowledge-client';
import type { Logger } from '@omni/logging';
import type { Pool } from 'pg';
import { classifyArrival, isVip } from '../domain/classify';
import type { SelfServiceArticle } from '../domain/self-service';
import { SELF_SERVICE_MAX_ARTICLES } from '../domain/self-service';
import { liveThreads, type OfferSuggestion } from '../store/conversation-knowledge';
import { classificationInputs } from '../store/conversations';
import type { RuleCache } from '../store/rule-store';

/**
 * What the knowledge service says about the messages of an inbound batch that open a conversation,
 * asked BEFORE the routing transaction (no row lock is held while waiting on HTTP; docs/knowledge.md):
 * the suggestions its offers will carry and, for a self-service category, the tier-0 articles of the
 * automatic answer. All calls run in parallel under one timeout (KNOWLEDGE_TIMEOUT_MS); a slow or
 * absent knowledge service gives nothing and the batch is routed as if it were off.
 */

export type AskKnowledge = (q: Pick<SuggestionsRequest, 'category' | 'language' | 'text' | 'tier' | 'limit'>) => Promise<SuggestedArticle[]>;

export interface Prefetched {
  suggestions: OfferSuggestion[];
  selfService: SelfServiceArticle[];
}

const TOKEN_TTL_S = 600;

/** Asks the knowledge service with a service token (scope knowledge:read) minted from JWT_SECRET and renewed before it expires. */
export function knowledgeAsker(baseUrl: string, jwtSecret: string, timeoutMs: number, logger: Logger): AskKnowledge {
  let token: { value: string; until: number } | undefined;
  return (q) => {
    const now = Date.now();
    if (!token || token.until <= now) token = { value: mintAccessToken(jwtSecret, { sub: 'router', role: 'service', scopes: ['knowledge:read'] }, TOKEN_TTL_S), until: now + (TOKEN_TTL_S / 2) * 1000 };
    return suggestionsFor({ baseUrl, token: token.value, timeoutMs, ...q, onError: (err) => logger.warn({ err: err.message }, 'knowledge suggestions unavailable; routing without them') });
  };
}

/** Keyed by message id: only the first message of each thread that has no live conversation (the one that may open it). */
export async function prefetchKnowledge(deps: { pool: Pool; rules: RuleCache; ask: AskKnowledge }, batch: InboundMessage[], at: Date): Promise<Map<string, Prefetched>> {
  const out = new Map<string, Prefetched>();
  const live = await liveThreads(deps.pool, [...new Set(batch.map((m) => m.threadKey))]);
  const firsts = new Map<string, InboundMessage>();
  for (const m of batch) if (!live.has(m.threadKey) && !firsts.has(m.threadKey)) firsts.set(m.threadKey, m);
  if (firsts.size === 0) return out;
  const openers = [...firsts.values()];
  const { inputs, ruleVersion } = await classificationInputs(deps.pool, [...new Set(openers.map((m) => `${m.from.channel}:${m.from.address}`))], at, 0);
  const rules = ruleVersion !== undefined ? await deps.rules.ofVersion(deps.pool, ruleVersion) : await deps.rules.active(deps.pool);
  await Promise.all(
    openers.map(async (m) => {
      const input = inputs.get(`${m.from.channel}:${m.from.address}`);
      const attributes = input?.attributes ?? {};
      const c = classifyArrival(rules.compiled, m, attributes, input?.n ?? 0);
      const q = { category: c.category, ...(c.language ? { language: c.language } : {}), text: m.text };
      const wantsSelfService = !!rules.selfService?.categories.includes(c.category) && !isVip(attributes);
      const [suggestions, tier0] = await Promise.all([deps.ask({ ...q, limit: 3 }), wantsSelfService ? deps.ask({ ...q, tier: 0, limit: SELF_SERVICE_MAX_ARTICLES }) : []]);
      out.set(m.messageId, {
        suggestions: suggestions.map(({ id, language, title, category, link, highlight, score, tier }) => ({ id, language, title, category, link, highlight, score, tier })),
        selfService: tier0.filter((a) => a.tier === 0).map((a) => ({ id: a.id, title: a.title, link: a.link })),
      });
    }),
  );
  return out;
}
