import type { Pool } from 'pg';

export interface ArticleKpi {
  articleId: string;
  title: string;
  language: string;
  category: string | null;
  uses: number;
  /** uses whose conversation has since been resolved or escalated (the rest are still open) */
  decided: number;
  helped: number;
  /** helped / uses (null without uses) */
  helpedRate: number | null;
}

export interface RecurringProblem {
  category: string;
  conversations: number;
  escalated: number;
  escalationRate: number;
}

/**
 * Helped rate per article: an article used in a conversation helped when that conversation was then
 * resolved with no escalation after the use. A self-service answer the customer declined (NO, another
 * reply, no answer) did not help, whoever resolved the conversation afterwards. Uses in [from, to).
 */
export async function articleKpis(pool: Pool, from: string, to: string, limit: number): Promise<ArticleKpi[]> {
  const r = await pool.query(
    `SELECT a.id, a.title, a.language, a.category, count(*)::int AS uses,
       count(*) FILTER (WHERE c.resolved_at >= u.used_at OR c.last_escalated_at >= u.used_at OR u.declined_at IS NOT NULL)::int AS decided,
       count(*) FILTER (WHERE u.declined_at IS NULL AND c.resolved_at >= u.used_at AND (c.last_escalated_at IS NULL OR c.last_escalated_at < u.used_at))::int AS helped
     FROM knowledge.article_uses u JOIN knowledge.articles a ON a.id = u.article_id
     LEFT JOIN knowledge.conversations c ON c.id = u.conversation_id
     WHERE u.used_at >= $1::timestamptz AND u.used_at < $2::timestamptz
     GROUP BY a.id ORDER BY uses DESC, a.id LIMIT $3::int`,
    [from, to, limit],
  );
  return r.rows.map((x) => ({
    articleId: x.id,
    title: x.title,
    language: x.language,
    category: x.category,
    uses: x.uses,
    decided: x.decided,
    helped: x.helped,
    helpedRate: x.uses > 0 ? x.helped / x.uses : null,
  }));
}

/**
 * Categories with at least `minConversations` conversations opened in [from, to), at least one of
 * them escalated, and no published article in the category: where an article would pay off most.
 */
export async function recurringWithoutArticle(pool: Pool, from: string, to: string, minConversations: number): Promise<RecurringProblem[]> {
  const r = await pool.query(
    `SELECT c.category, count(*)::int AS conversations, count(*) FILTER (WHERE c.escalations > 0)::int AS escalated
     FROM knowledge.conversations c
     WHERE c.category IS NOT NULL AND c.opened_at >= $1::timestamptz AND c.opened_at < $2::timestamptz
       AND NOT EXISTS (SELECT 1 FROM knowledge.articles a WHERE a.category = c.category AND a.status = 'published')
     GROUP BY c.category
     HAVING count(*) >= $3::int AND count(*) FILTER (WHERE c.escalations > 0) > 0
     ORDER BY conversations DESC, c.category`,
    [from, to, minConversations],
  );
  return r.rows.map((x) => ({ category: x.category, conversations: x.conversations, escalated: x.escalated, escalationRate: x.escalated / x.conversations }));
}
