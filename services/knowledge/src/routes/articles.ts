import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type } from '@sinclair/typebox';
import { principalOf, type Principal } from '@omni/auth';
import { AppError } from '@omni/service';
import { draftFromTranscript } from '../domain/draft-from-transcript';
import { highlightHtml, renderMarkdown } from '../domain/markdown';
import type { HistoryClient } from '../history-client';
import { ARTICLE_COLUMNS, articleOf, createArticle, getArticle, recordUse, setStatus, translationsOf, updateArticle, versionsOf, type Article, type Editor } from '../store/articles';
import { searchArticles, type SearchHit } from '../store/search';
import { ArticleStatus, ArticleSummary, ArticleView, Body, Category, ErrorRef, Id, IdParams, Language, SearchHitView, Str, Tags, Tier, Title } from './schemas';

export interface ArticleRouteDeps {
  pool: Pool;
  history: HistoryClient;
  articleLink: (id: string) => string;
}

const STAFF = ['agent', 'supervisor'] as const;
const editorOf = (p: Principal): Editor => ({ id: p.sub, mayPublish: p.role === 'admin' || p.role === 'supervisor' });
const isService = (p: Principal) => p.role === 'service';

export const summaryOf = (a: Article, link: (id: string) => string) => ({
  id: a.id,
  language: a.language,
  title: a.title,
  category: a.category,
  tags: a.tags,
  tier: a.tier,
  status: a.status,
  version: a.version,
  updatedAt: a.updatedAt,
  link: link(a.id),
});
export const hitOf = (h: SearchHit, link: (id: string) => string) => ({ ...summaryOf(h.article, link), score: h.score, highlight: highlightHtml(h.fragment), matchedBy: h.matchedBy });

const CreateBody = Type.Object(
  { language: Language, title: Title, body: Body, category: Type.Optional(Category), tags: Type.Optional(Tags), tier: Type.Optional(Tier), translationOf: Type.Optional(Id) },
  { additionalProperties: false },
);
const PatchBody = Type.Object(
  {
    language: Type.Optional(Language),
    title: Type.Optional(Title),
    body: Type.Optional(Body),
    category: Type.Optional(Type.Union([Category, Type.Null()])),
    tags: Type.Optional(Tags),
    tier: Type.Optional(Type.Union([Tier, Type.Null()])),
    expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })),
    note: Type.Optional(Str({ maxLength: 500 })),
  },
  { additionalProperties: false, minProperties: 1 },
);
// no body: a bodyless POST is the natural call; the optional guard against lost updates is a query parameter
const StatusQuery = Type.Object({ expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false });
const Detail = Type.Object({
  article: ArticleView,
  html: Type.String({ description: 'the body rendered from Markdown and sanitised' }),
  link: Type.String(),
  translations: Type.Array(Type.Object({ id: Type.String(), language: Type.String(), title: Type.String(), status: ArticleStatus })),
});

/** Articles: write (agents draft; supervisors and admins publish), read, search, versions, uses, drafts from solved cases. */
export const articleRoutes: FastifyPluginAsync<ArticleRouteDeps> = async (app, { pool, history, articleLink }) => {
  const detail = async (a: Article) => ({ article: a, html: renderMarkdown(a.body), link: articleLink(a.id), translations: await translationsOf(pool, a) });

  app.post<{ Body: typeof CreateBody.static }>(
    '/v1/articles',
    {
      config: { auth: { roles: STAFF } },
      schema: { description: 'Writes a new article as a draft (optionally the translation of another).', body: CreateBody, response: { 201: Detail, '4xx': ErrorRef } },
    },
    async (req, reply) => {
      const a = await createArticle(pool, req.body, editorOf(principalOf(req)));
      return reply.status(201).send(await detail(a));
    },
  );

  app.get<{ Querystring: { q?: string; language?: string; category?: string; status?: 'draft' | 'published' | 'any'; limit: number } }>(
    '/v1/articles',
    {
      config: { auth: { roles: [...STAFF, 'service'], scopes: ['knowledge:read'] } },
      schema: {
        description:
          'Lists articles, or with q searches them: full text in the language\'s configuration, accent-insensitive, ranked, with highlights, tolerant of typos. Services see published articles only.',
        querystring: Type.Object(
          {
            q: Type.Optional(Str({ minLength: 1, maxLength: 500 })),
            language: Type.Optional(Language),
            category: Type.Optional(Category),
            status: Type.Optional(Type.Union([ArticleStatus, Type.Literal('any')])),
            limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ articles: Type.Array(SearchHitView) }), '4xx': ErrorRef },
      },
    },
    async (req) => {
      const who = principalOf(req);
      const status = isService(who) ? 'published' : (req.query.status ?? 'published');
      if (req.query.q !== undefined) {
        const hits = await searchArticles(pool, {
          text: req.query.q,
          mode: 'all-words',
          ...(req.query.language ? { language: req.query.language } : {}),
          ...(req.query.category ? { category: req.query.category, categoryMode: 'filter' as const } : {}),
          includeDrafts: status !== 'published',
          limit: req.query.limit,
        });
        return { articles: hits.filter((h) => status === 'any' || h.article.status === status).map((h) => hitOf(h, articleLink)) };
      }
      const r = await pool.query(
        `SELECT ${ARTICLE_COLUMNS} FROM knowledge.articles a WHERE ($1::text = 'any' OR a.status = $1::text) AND ($2::text IS NULL OR a.language = $2::text)
           AND ($3::text IS NULL OR a.category = $3::text) ORDER BY a.updated_at DESC, a.id DESC LIMIT $4::int`,
        [status, req.query.language ?? null, req.query.category ?? null, req.query.limit],
      );
      return { articles: r.rows.map((row) => ({ ...summaryOf(articleOf(row), articleLink), score: 0, highlight: '', matchedBy: [] })) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/articles/:id',
    {
      config: { auth: { roles: [...STAFF, 'service'], scopes: ['knowledge:read'] } },
      schema: { description: 'One article with its sanitised HTML and its translations.', params: IdParams, response: { 200: Detail, '4xx': ErrorRef } },
    },
    async (req) => {
      const a = await getArticle(pool, req.params.id);
      if (!a || (isService(principalOf(req)) && a.status !== 'published')) throw new AppError('NOT_FOUND', `article ${req.params.id} not found`, [{ field: 'params.id', reason: 'unknown article' }]);
      return detail(a);
    },
  );

  app.patch<{ Params: { id: string }; Body: typeof PatchBody.static }>(
    '/v1/articles/:id',
    {
      config: { auth: { roles: STAFF } },
      schema: {
        description: 'Edits an article as a new version (agents: only their own drafts). expectedVersion guards against lost updates (409).',
        params: IdParams,
        body: PatchBody,
        response: { 200: Detail, '4xx': ErrorRef },
      },
    },
    async (req) => detail(await updateArticle(pool, req.params.id, req.body, editorOf(principalOf(req)))),
  );

  for (const [path, status] of [['publish', 'published'], ['unpublish', 'draft']] as const) {
    app.post<{ Params: { id: string }; Querystring: { expectedVersion?: number } }>(
      `/v1/articles/:id/${path}`,
      {
        config: { auth: { roles: ['supervisor'] } },
        schema: { description: `${path === 'publish' ? 'Publishes' : 'Takes back to draft'} an article (a new version).`, params: IdParams, querystring: StatusQuery, response: { 200: Detail, '4xx': ErrorRef } },
      },
      async (req) => detail(await setStatus(pool, req.params.id, status, editorOf(principalOf(req)), req.query.expectedVersion)),
    );
  }

  app.get<{ Params: { id: string } }>(
    '/v1/articles/:id/versions',
    {
      config: { auth: { roles: STAFF } },
      schema: {
        description: 'Every version of an article with its author and time, newest first.',
        params: IdParams,
        response: {
          200: Type.Object({
            versions: Type.Array(
              Type.Object({
                version: Type.Integer(),
                title: Type.String(),
                body: Type.String(),
                category: Type.Union([Type.String(), Type.Null()]),
                tags: Type.Array(Type.String()),
                tier: Type.Union([Type.Integer(), Type.Null()]),
                status: ArticleStatus,
                author: Type.String(),
                authoredAt: Type.String(),
                note: Type.Union([Type.String(), Type.Null()]),
              }),
            ),
          }),
          '4xx': ErrorRef,
        },
      },
    },
    async (req) => {
      const versions = await versionsOf(pool, req.params.id);
      if (!versions.length) throw new AppError('NOT_FOUND', `article ${req.params.id} not found`, [{ field: 'params.id', reason: 'unknown article' }]);
      return { versions };
    },
  );

  app.post<{ Params: { id: string }; Body: { conversationId: string } }>(
    '/v1/articles/:id/uses',
    {
      config: { auth: { roles: [...STAFF, 'service'], scopes: ['knowledge:write'] } },
      schema: {
        description: 'Records that the article was used (inserted into a reply) in a conversation: the helped rate counts it. Once per article and conversation (a repeat answers 200).',
        params: IdParams,
        body: Type.Object({ conversationId: Id }, { additionalProperties: false }),
        response: { 200: Type.Object({ articleId: Type.String(), conversationId: Type.String(), usedAt: Type.String() }), 201: Type.Object({ articleId: Type.String(), conversationId: Type.String(), usedAt: Type.String() }), '4xx': ErrorRef },
      },
    },
    async (req, reply) => {
      const r = await recordUse(pool, req.params.id, req.body.conversationId, principalOf(req).sub);
      return reply.status(r.created ? 201 : 200).send({ articleId: req.params.id, conversationId: req.body.conversationId, usedAt: r.usedAt });
    },
  );

  app.post<{ Params: { id: string }; Querystring: { language?: string } }>(
    '/v1/articles/from-conversation/:id',
    {
      config: { auth: { roles: STAFF } },
      schema: {
        description:
          'A draft article pre-filled from a resolved conversation (question, what was tried from the handoff notes, the answer), read from history\'s transcript. Agents: only conversations they served. A supervisor reviews and publishes it.',
        params: IdParams,
        querystring: Type.Object({ language: Type.Optional(Language) }, { additionalProperties: false }),
        response: { 201: Detail, '4xx': ErrorRef },
      },
    },
    async (req, reply) => {
      const who = principalOf(req);
      const t = await history.transcript(req.params.id);
      const notFound = () => new AppError('NOT_FOUND', `conversation ${req.params.id} not found`, [{ field: 'params.id', reason: 'unknown conversation' }]);
      if (!t) throw notFound();
      // an agent drafts only from conversations it served (as history's own agent rule)
      if (who.role === 'agent' && !t.conversation.agents.includes(who.sub)) throw notFound();
      if (t.conversation.status !== 'resolved' && t.conversation.status !== 'closed') {
        throw new AppError('CONFLICT', `conversation ${req.params.id} is ${t.conversation.status}, not resolved`, [{ field: 'params.id', reason: 'conversation not resolved' }]);
      }
      const d = draftFromTranscript(t);
      const a = await createArticle(
        pool,
        { language: req.query.language ?? d.language ?? 'en', title: d.title, body: d.body, tags: d.tags, ...(d.category ? { category: d.category } : {}), sourceConversationId: t.conversation.id },
        editorOf(who),
      );
      return reply.status(201).send(await detail(a));
    },
  );
};

export { ArticleSummary };
