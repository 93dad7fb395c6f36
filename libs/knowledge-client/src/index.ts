/** One suggested article as the knowledge service returns it (GET /v1/suggestions). */
export interface SuggestedArticle {
  id: string;
  language: string;
  title: string;
  category: string | null;
  link: string;
  /** HTML-escaped fragment with <mark> around the matched words */
  highlight: string;
  score: number;
  /** 0: written for customers (self-service); 1–5 the support tier; null: not set */
  tier: number | null;
}

export interface SuggestionsRequest {
  /** the knowledge service's base URL, e.g. http://127.0.0.1:8087 */
  baseUrl: string;
  /** a bearer token with role agent/supervisor/admin, or a service token with scope knowledge:read */
  token: string;
  category?: string;
  language?: string;
  text?: string;
  /** only articles of this tier (0: self-service) */
  tier?: number;
  limit?: number;
  /** default 300 ms: an offer must not wait for knowledge */
  timeoutMs?: number;
  /** told why the fallback was used (log it) */
  onError?: (err: Error) => void;
}

/**
 * The top articles for a conversation, in the customer's language first — for the router's offer.
 * Never throws and never waits longer than timeoutMs: on a timeout, an error status or a malformed
 * answer it returns [] (an offer without suggestions is better than a late offer).
 */
export async function suggestionsFor(req: SuggestionsRequest): Promise<SuggestedArticle[]> {
  const q = new URLSearchParams();
  if (req.category) q.set('category', req.category);
  if (req.language) q.set('language', req.language);
  // the service refuses a text over 2000 characters; the start of a message says what it is about
  if (req.text) q.set('text', ([...req.text].slice(0, 2000).join('') as unknown as { toWellFormed(): string }).toWellFormed().replace(/\u0000/g, ' '));
  if (req.tier !== undefined) q.set('tier', String(req.tier));
  q.set('limit', String(req.limit ?? 3));
  try {
    const res = await fetch(`${req.baseUrl.replace(/\/$/, '')}/v1/suggestions?${q}`, {
      headers: { authorization: `Bearer ${req.token}` },
      signal: AbortSignal.timeout(req.timeoutMs ?? 300),
    });
    if (!res.ok) throw new Error(`knowledge answered ${res.status}`);
    const body = (await res.json()) as { suggestions?: unknown };
    if (!Array.isArray(body.suggestions)) throw new Error('knowledge answered without a suggestions array');
    return body.suggestions
      .filter((s): s is Record<string, unknown> => !!s && typeof s === 'object' && typeof (s as { id?: unknown }).id === 'string')
      .map((s) => ({
        id: s.id as string,
        language: String(s.language ?? ''),
        title: String(s.title ?? ''),
        category: typeof s.category === 'string' ? s.category : null,
        link: String(s.link ?? ''),
        highlight: String(s.highlight ?? ''),
        score: typeof s.score === 'number' ? s.score : 0,
        tier: typeof s.tier === 'number' ? s.tier : null,
      }));
  } catch (err) {
    req.onError?.(err as Error);
    return [];
  }
}
