import type { Pool } from 'pg';
import { ARTICLE_COLUMNS, articleOf, type Article } from './articles';
import { MARK_START, MARK_STOP } from '../domain/markdown';

export interface SearchQuery {
  /** the words searched: a search box (all words, websearch syntax) or a customer's message (any word) */
  text: string;
  mode: 'all-words' | 'any-word';
  /** the language to search in first (its stemmer; its articles ranked first); absent = every language */
  language?: string;
  /** only this category (search) or prefer it (suggestions) */
  category?: string;
  categoryMode?: 'filter' | 'prefer';
  includeDrafts?: boolean;
  /** only articles of this tier (0: self-service, written for customers) */
  tier?: number;
  limit: number;
}

export interface SearchHit {
  article: Article;
  score: number;
  /** ts_headline fragment with MARK_START/MARK_STOP around matches (plain text otherwise) */
  fragment: string;
  matchedBy: ('text' | 'typo' | 'category')[];
}

// Typo tolerance: each query word of 4+ letters is compared with the words of titles and tags by
// trigram word similarity (pg_trgm's <% operator, GIN-indexed). The threshold is set per connection
// (createPool options) because the operator reads pg_trgm.word_similarity_threshold.
export const WORD_SIMILARITY_THRESHOLD = 0.5;

/**
 * Ranked full-text search with highlights:
 * - the text is unaccented and parsed with the text-search configuration of the language asked for
 *   and of Spanish, English and simple (an article is indexed in its own language's configuration;
 *   a query in an unknown language still finds words in any of them);
 * - candidates are full-text matches (ts_rank_cd, title weighted over tags over body), trigram
 *   matches of misspelt words when the words as written find less than a page, and for suggestions
 *   the articles of the conversation's category;
 * - one article per translation group, the one in the asked language if there is one; then the asked
 *   language first, then score.
 */
export async function searchArticles(pool: Pool, s: SearchQuery): Promise<SearchHit[]> {
  const lang = s.language ?? null;
  const tsq =
    s.mode === 'all-words'
      ? `(websearch_to_tsquery(knowledge.ts_config_for($2::text), knowledge.f_unaccent($1::text)) || websearch_to_tsquery(knowledge.ts_config_for('es'), knowledge.f_unaccent($1::text))
          || websearch_to_tsquery(knowledge.ts_config_for('en'), knowledge.f_unaccent($1::text)) || websearch_to_tsquery(knowledge.ts_config_for('simple'), knowledge.f_unaccent($1::text)))`
      : `(knowledge.any_words_query(knowledge.ts_config_for($2::text), $1::text) || knowledge.any_words_query(knowledge.ts_config_for('es'), $1::text)
          || knowledge.any_words_query(knowledge.ts_config_for('en'), $1::text))`;
  const filterCategory = s.category !== undefined && (s.categoryMode ?? 'filter') === 'filter';
  const preferCategory = s.category !== undefined && s.categoryMode === 'prefer';
  const where = `($4::boolean OR a.status = 'published') AND ($5::text IS NULL OR NOT $6::boolean OR a.category = $5::text) AND ($8::int IS NULL OR a.tier = $8::int)`;
  const sql = `
    WITH q AS (SELECT ${tsq} AS query),
    words AS (
      SELECT DISTINCT w FROM regexp_split_to_table(lower(knowledge.f_unaccent($1::text)), '[^[:alnum:]]+') AS w WHERE length(w) >= 4 LIMIT 16
    ),
    fts AS (
      SELECT a.id, ts_rank_cd(a.tsv, q.query, 32) AS rank FROM knowledge.articles a, q
      WHERE q.query IS NOT NULL AND a.tsv @@ q.query AND ${where}
      ORDER BY rank DESC LIMIT 200
    ),
    fuzzy AS (
      -- only when the words as written find fewer than a page (a misspelling, usually): per word, the
      -- closest titles and tags by the GIN trigram index (LATERAL, so each word is its own index scan)
      SELECT x.id, max(x.sim) AS sim FROM words, LATERAL (
        SELECT a.id, word_similarity(words.w, a.fuzzy) AS sim FROM knowledge.articles a
        WHERE words.w <% a.fuzzy AND ${where} ORDER BY sim DESC LIMIT 100) x
      WHERE (SELECT count(*) FROM fts) < $3::int
      GROUP BY x.id ORDER BY sim DESC LIMIT 200
    ),
    bycat AS (
      SELECT a.id FROM knowledge.articles a WHERE $7::boolean AND a.category = $5::text AND ${where} ORDER BY a.updated_at DESC LIMIT 50
    ),
    cand AS (
      SELECT id, max(rank) AS rank, max(sim) AS sim, bool_or(cat) AS cat FROM (
        SELECT id, rank, 0::real AS sim, false AS cat FROM fts
        UNION ALL SELECT id, 0, sim, false FROM fuzzy
        UNION ALL SELECT id, 0, 0, true FROM bycat) x
      GROUP BY id
    ),
    scored AS (
      SELECT DISTINCT ON (a.translation_group) a.id, c.rank, c.sim, c.cat,
        (c.rank + 0.6 * c.sim + CASE WHEN $7::boolean AND a.category = $5::text THEN 0.5 ELSE 0 END)::float8 AS score,
        (a.language = $2::text) AS in_language
      FROM cand c JOIN knowledge.articles a ON a.id = c.id
      ORDER BY a.translation_group, (a.language = $2::text) DESC, score DESC
    ),
    top AS (SELECT * FROM scored ORDER BY in_language DESC, score DESC, id LIMIT $3::int)
    SELECT ${ARTICLE_COLUMNS}, top.rank, top.sim, top.cat, top.score,
      ts_headline(knowledge.ts_config_for(a.language), translate(a.title || ' — ' || a.body, '${MARK_START}${MARK_STOP}', ''), coalesce(q.query, ''::tsquery),
        'StartSel=${MARK_START}, StopSel=${MARK_STOP}, MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "') AS fragment
    FROM top JOIN knowledge.articles a ON a.id = top.id, q
    ORDER BY top.in_language DESC, top.score DESC, a.id`;
  const r = await pool.query(sql, [s.text, lang, s.limit, s.includeDrafts ?? false, s.category ?? null, filterCategory, preferCategory, s.tier ?? null]);
  return r.rows.map((row) => ({
    article: articleOf(row),
    score: Number(row.score),
    fragment: row.fragment as string,
    matchedBy: [...(Number(row.rank) > 0 ? ['text' as const] : []), ...(Number(row.sim) > 0 ? ['typo' as const] : []), ...(row.cat ? ['category' as const] : [])],
  }));
}
