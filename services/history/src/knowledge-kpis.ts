import { mintAccessToken } from '@omni/auth';

export interface KnowledgeKpis {
  available: boolean;
  /** why the section is missing (knowledge unreachable, slow, or answered an error) */
  reason: string | null;
  articles: { articleId: string; title: string; language: string; category: string | null; uses: number; decided: number; helped: number; helpedRate: number | null }[];
  recurringWithoutArticle: { category: string; conversations: number; escalated: number; escalationRate: number }[];
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const nullableNum = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const text = (v: unknown): string => (typeof v === 'string' ? v : '');
const rows = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x)) : []);

/**
 * Article helped rates and "recurring problems without an article" from the knowledge service
 * (GET /v1/kpis/knowledge, service token with kpis:read), for the same window. Never throws: when
 * knowledge is unreachable, slow or answers an error the section is `available: false` with the reason.
 */
export async function knowledgeKpis(o: { baseUrl: string; jwtSecret: string; timeoutMs: number }, from: string, to: string): Promise<KnowledgeKpis> {
  const token = mintAccessToken(o.jwtSecret, { sub: 'history', role: 'service', scopes: ['kpis:read'] }, 60);
  const q = new URLSearchParams({ from, to });
  try {
    const res = await fetch(`${o.baseUrl.replace(/\/$/, '')}/v1/kpis/knowledge?${q}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(o.timeoutMs) });
    if (!res.ok) throw new Error(`knowledge answered ${res.status}`);
    const body = (await res.json()) as Record<string, unknown>;
    if (!Array.isArray(body.articles) || !Array.isArray(body.recurringWithoutArticle)) throw new Error('knowledge answered in an unknown shape');
    return {
      available: true,
      reason: null,
      articles: rows(body.articles).map((a) => ({
        articleId: text(a.articleId),
        title: text(a.title),
        language: text(a.language),
        category: typeof a.category === 'string' ? a.category : null,
        uses: num(a.uses),
        decided: num(a.decided),
        helped: num(a.helped),
        helpedRate: nullableNum(a.helpedRate),
      })),
      recurringWithoutArticle: rows(body.recurringWithoutArticle).map((r) => ({ category: text(r.category), conversations: num(r.conversations), escalated: num(r.escalated), escalationRate: num(r.escalationRate) })),
    };
  } catch (err) {
    return { available: false, reason: `knowledge KPIs unavailable: ${(err as Error).message}`, articles: [], recurringWithoutArticle: [] };
  }
}
