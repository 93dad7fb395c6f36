import type { Pool, PoolClient } from 'pg';
import { newId } from '@omni/contracts';
import { withTransaction } from '@omni/db';
import { AppError } from '@omni/service';

export type ArticleStatus = 'draft' | 'published';

export interface ArticleInput {
  language: string;
  title: string;
  body: string;
  category?: string | null;
  tags?: string[];
  tier?: number | null;
}

export interface Article {
  id: string;
  translationGroup: string;
  language: string;
  title: string;
  body: string;
  category: string | null;
  tags: string[];
  tier: number | null;
  status: ArticleStatus;
  version: number;
  sourceConversationId: string | null;
  createdBy: string;
  createdAt: string;
  updatedBy: string;
  updatedAt: string;
  publishedBy: string | null;
  publishedAt: string | null;
}

export interface ArticleVersion {
  version: number;
  title: string;
  body: string;
  category: string | null;
  tags: string[];
  tier: number | null;
  status: ArticleStatus;
  author: string;
  authoredAt: string;
  note: string | null;
}

/** Who is changing an article: agents may only draft (and edit their own drafts). */
export interface Editor {
  id: string;
  mayPublish: boolean;
}

export const ARTICLE_COLUMNS = `a.id, a.translation_group, a.language, a.title, a.body, a.category, a.tags, a.tier, a.status, a.version,
  a.source_conversation_id, a.created_by, a.created_at, a.updated_by, a.updated_at, a.published_by, a.published_at`;

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v === null || v === undefined ? null : String(v));

/** Maps an articles row (ARTICLE_COLUMNS) to the API shape. */
export function articleOf(r: Record<string, unknown>): Article {
  return {
    id: r.id as string,
    translationGroup: r.translation_group as string,
    language: r.language as string,
    title: r.title as string,
    body: r.body as string,
    category: (r.category as string | null) ?? null,
    tags: (r.tags as string[]) ?? [],
    tier: (r.tier as number | null) ?? null,
    status: r.status as ArticleStatus,
    version: r.version as number,
    sourceConversationId: (r.source_conversation_id as string | null) ?? null,
    createdBy: r.created_by as string,
    createdAt: iso(r.created_at)!,
    updatedBy: r.updated_by as string,
    updatedAt: iso(r.updated_at)!,
    publishedBy: (r.published_by as string | null) ?? null,
    publishedAt: iso(r.published_at),
  };
}

async function recordVersion(c: PoolClient, a: Article, author: string, note: string | null): Promise<void> {
  await c.query(
    `INSERT INTO knowledge.article_versions (article_id, version, title, body, category, tags, tier, status, author, note)
     VALUES ($1::text, $2::int, $3::text, $4::text, $5::text, $6::text[], $7::int, $8::text, $9::text, $10::text)`,
    [a.id, a.version, a.title, a.body, a.category, a.tags, a.tier, a.status, author, note],
  );
}

const normaliseTags = (tags: string[] | undefined) => [...new Set((tags ?? []).map((t) => t.trim().toLowerCase()).filter(Boolean))];

/**
 * Creates a draft (version 1). `translationOf` links it to another article as its translation into
 * `language` (one article per language in a group: a second one is a 409).
 */
export async function createArticle(
  pool: Pool,
  input: ArticleInput & { translationOf?: string; sourceConversationId?: string; id?: string },
  editor: Editor,
  status: ArticleStatus = 'draft',
): Promise<Article> {
  return withTransaction(pool, async (c) => {
    const id = input.id ?? newId('art');
    let group = id;
    if (input.translationOf) {
      const g = await c.query<{ translation_group: string }>('SELECT translation_group FROM knowledge.articles WHERE id = $1::text', [input.translationOf]);
      if (!g.rows[0]) throw new AppError('NOT_FOUND', `article ${input.translationOf} not found`, [{ field: 'body.translationOf', reason: 'unknown article' }]);
      group = g.rows[0].translation_group;
    }
    const published = status === 'published';
    const r = await c.query(
      `INSERT INTO knowledge.articles AS a (id, translation_group, language, title, body, category, tags, tier, status, version,
         source_conversation_id, created_by, updated_by, published_by, published_at)
       VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text[], $8::int, $9::text, 1, $10::text, $11::text, $11::text,
         CASE WHEN $12::boolean THEN $11::text END, CASE WHEN $12::boolean THEN now() END)
       ON CONFLICT (translation_group, language) DO NOTHING
       RETURNING ${ARTICLE_COLUMNS}`,
      [id, group, input.language, input.title, input.body, input.category ?? null, normaliseTags(input.tags), input.tier ?? null, status, input.sourceConversationId ?? null, editor.id, published],
    );
    if (!r.rows[0]) {
      throw new AppError('CONFLICT', `the article already has a ${input.language} translation`, [{ field: 'body.language', reason: 'a translation in this language exists' }]);
    }
    const a = articleOf(r.rows[0]);
    await recordVersion(c, a, editor.id, input.sourceConversationId ? `drafted from conversation ${input.sourceConversationId}` : 'created');
    return a;
  });
}

async function lockArticle(c: PoolClient, id: string): Promise<Article> {
  const r = await c.query(`SELECT ${ARTICLE_COLUMNS} FROM knowledge.articles a WHERE a.id = $1::text FOR UPDATE`, [id]);
  if (!r.rows[0]) throw new AppError('NOT_FOUND', `article ${id} not found`, [{ field: 'params.id', reason: 'unknown article' }]);
  return articleOf(r.rows[0]);
}

function checkVersion(a: Article, expected: number | undefined) {
  if (expected !== undefined && expected !== a.version) {
    throw new AppError('CONFLICT', `article ${a.id} is at version ${a.version}, not ${expected}`, [{ field: 'body.expectedVersion', reason: `current version is ${a.version}` }]);
  }
}

/**
 * Edits an article as a new version. Supervisors and admins may edit anything (a published article
 * stays published, its new text live); an agent only a draft it created.
 */
export async function updateArticle(pool: Pool, id: string, patch: Partial<ArticleInput> & { expectedVersion?: number; note?: string }, editor: Editor): Promise<Article> {
  return withTransaction(pool, async (c) => {
    const a = await lockArticle(c, id);
    if (!editor.mayPublish && (a.status !== 'draft' || a.createdBy !== editor.id)) {
      throw new AppError('FORBIDDEN', 'agents may edit only their own drafts');
    }
    checkVersion(a, patch.expectedVersion);
    if (patch.language !== undefined && patch.language !== a.language) {
      const clash = await c.query('SELECT 1 FROM knowledge.articles WHERE translation_group = $1::text AND language = $2::text AND id <> $3::text', [a.translationGroup, patch.language, a.id]);
      if (clash.rowCount) throw new AppError('CONFLICT', `the article already has a ${patch.language} translation`, [{ field: 'body.language', reason: 'a translation in this language exists' }]);
    }
    const r = await c.query(
      `UPDATE knowledge.articles a SET language = $2::text, title = $3::text, body = $4::text, category = $5::text, tags = $6::text[], tier = $7::int,
         version = a.version + 1, updated_by = $8::text, updated_at = now()
       WHERE a.id = $1::text RETURNING ${ARTICLE_COLUMNS}`,
      [
        id,
        patch.language ?? a.language,
        patch.title ?? a.title,
        patch.body ?? a.body,
        patch.category === undefined ? a.category : patch.category,
        patch.tags === undefined ? a.tags : normaliseTags(patch.tags),
        patch.tier === undefined ? a.tier : patch.tier,
        editor.id,
      ],
    );
    const next = articleOf(r.rows[0]);
    await recordVersion(c, next, editor.id, patch.note ?? 'edited');
    return next;
  });
}

/** Publishes (or takes back to draft) an article: a new version recording who and when. */
export async function setStatus(pool: Pool, id: string, status: ArticleStatus, editor: Editor, expectedVersion?: number): Promise<Article> {
  return withTransaction(pool, async (c) => {
    const a = await lockArticle(c, id);
    checkVersion(a, expectedVersion);
    if (a.status === status) return a;
    const r = await c.query(
      `UPDATE knowledge.articles a SET status = $2::text, version = a.version + 1, updated_by = $3::text, updated_at = now(),
         published_by = CASE WHEN $2::text = 'published' THEN $3::text ELSE a.published_by END,
         published_at = CASE WHEN $2::text = 'published' THEN now() ELSE a.published_at END
       WHERE a.id = $1::text RETURNING ${ARTICLE_COLUMNS}`,
      [id, status, editor.id],
    );
    const next = articleOf(r.rows[0]);
    await recordVersion(c, next, editor.id, status === 'published' ? 'published' : 'unpublished');
    return next;
  });
}

/** One article, or undefined. */
export async function getArticle(pool: Pool, id: string): Promise<Article | undefined> {
  const r = await pool.query(`SELECT ${ARTICLE_COLUMNS} FROM knowledge.articles a WHERE a.id = $1::text`, [id]);
  return r.rows[0] ? articleOf(r.rows[0]) : undefined;
}

/** The other languages of an article's translation group. */
export async function translationsOf(pool: Pool, a: Article): Promise<{ id: string; language: string; title: string; status: ArticleStatus }[]> {
  const r = await pool.query(
    'SELECT id, language, title, status FROM knowledge.articles WHERE translation_group = $1::text AND id <> $2::text ORDER BY language',
    [a.translationGroup, a.id],
  );
  return r.rows as { id: string; language: string; title: string; status: ArticleStatus }[];
}

/** Every version of an article, newest first. */
export async function versionsOf(pool: Pool, id: string): Promise<ArticleVersion[]> {
  const r = await pool.query(
    `SELECT version, title, body, category, tags, tier, status, author, authored_at, note FROM knowledge.article_versions
     WHERE article_id = $1::text ORDER BY version DESC`,
    [id],
  );
  return r.rows.map((v) => ({
    version: v.version,
    title: v.title,
    body: v.body,
    category: v.category,
    tags: v.tags,
    tier: v.tier,
    status: v.status,
    author: v.author,
    authoredAt: iso(v.authored_at)!,
    note: v.note,
  }));
}

/** Records that an article was used in a conversation; false when it already was (idempotent). */
export async function recordUse(pool: Pool, articleId: string, conversationId: string, usedBy: string): Promise<{ created: boolean; usedAt: string }> {
  return withTransaction(pool, async (c) => {
    const a = await c.query('SELECT 1 FROM knowledge.articles WHERE id = $1::text FOR SHARE', [articleId]);
    if (!a.rowCount) throw new AppError('NOT_FOUND', `article ${articleId} not found`, [{ field: 'params.id', reason: 'unknown article' }]);
    const r = await c.query<{ used_at: Date; created: boolean }>(
      `INSERT INTO knowledge.article_uses (article_id, conversation_id, used_by) VALUES ($1::text, $2::text, $3::text)
       ON CONFLICT (article_id, conversation_id) DO UPDATE SET used_at = knowledge.article_uses.used_at
       RETURNING used_at, (xmax = 0) AS created`,
      [articleId, conversationId, usedBy],
    );
    return { created: r.rows[0]!.created, usedAt: r.rows[0]!.used_at.toISOString() };
  });
}
