import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type } from '@sinclair/typebox';
import { principalOf, type Principal } from '@omni/auth';
import { AppError } from '@omni/service';
import { fillPlaceholders, PLACEHOLDERS } from '../domain/placeholders';
import { getArticle } from '../store/articles';
import { createCannedReply, deleteCannedReply, getCannedReply, listCannedReplies, updateCannedReply, type Caller } from '../store/canned-replies';
import { ErrorRef, Id, IdParams, Language, Str } from './schemas';

const Shortcut = Str({ minLength: 1, maxLength: 64, pattern: '^[\\p{L}\\p{N}_.-]+$', description: 'what the agent types after "/" (letters, digits, _ . -)' });
const ReplyBody = Str({ minLength: 1, maxLength: 10_000, description: `text with placeholders ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}` });
const View = Type.Object({
  id: Type.String(),
  scope: Type.Union([Type.Literal('personal'), Type.Literal('team')]),
  owner: Type.String(),
  shortcut: Type.String(),
  language: Type.String(),
  title: Type.String(),
  body: Type.String(),
  createdBy: Type.String(),
  updatedAt: Type.String(),
});
const callerOf = (p: Principal): Caller => ({ id: p.sub, mayManageTeam: p.role === 'admin' || p.role === 'supervisor' });
const STAFF = ['agent', 'supervisor'] as const;

/** Canned replies: personal (the agent's own) and team (everyone reads, supervisors write), per language, found by shortcut. */
export const cannedReplyRoutes: FastifyPluginAsync<{ pool: Pool; articleLink: (id: string) => string }> = async (app, { pool, articleLink }) => {
  app.get<{ Querystring: { shortcut?: string; language?: string; q?: string; limit: number } }>(
    '/v1/canned-replies',
    {
      config: { auth: { roles: STAFF } },
      schema: {
        description: "The caller's personal replies and the team's, by shortcut prefix, language or words in title/body.",
        querystring: Type.Object(
          { shortcut: Type.Optional(Str({ minLength: 1, maxLength: 64 })), language: Type.Optional(Language), q: Type.Optional(Str({ minLength: 1, maxLength: 200 })), limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ replies: Type.Array(View) }), '4xx': ErrorRef },
      },
    },
    async (req) => ({ replies: await listCannedReplies(pool, req.query, callerOf(principalOf(req))) }),
  );

  app.post<{ Body: { scope: 'personal' | 'team'; team?: string; shortcut: string; language: string; title: string; body: string } }>(
    '/v1/canned-replies',
    {
      config: { auth: { roles: STAFF } },
      schema: {
        description: 'Creates a personal reply (any agent) or a team reply (supervisors, admins).',
        body: Type.Object(
          {
            scope: Type.Union([Type.Literal('personal'), Type.Literal('team')]),
            team: Type.Optional(Str({ maxLength: 64 })),
            shortcut: Shortcut,
            language: Language,
            title: Str({ minLength: 1, maxLength: 200 }),
            body: ReplyBody,
          },
          { additionalProperties: false },
        ),
        response: { 201: View, '4xx': ErrorRef },
      },
    },
    async (req, reply) => reply.status(201).send(await createCannedReply(pool, req.body, callerOf(principalOf(req)))),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/canned-replies/:id',
    { config: { auth: { roles: STAFF } }, schema: { description: 'One reply (own personal or team).', params: IdParams, response: { 200: View, '4xx': ErrorRef } } },
    async (req) => {
      const c = await getCannedReply(pool, req.params.id, callerOf(principalOf(req)));
      if (!c) throw new AppError('NOT_FOUND', `canned reply ${req.params.id} not found`, [{ field: 'params.id', reason: 'unknown reply' }]);
      return c;
    },
  );

  app.patch<{ Params: { id: string }; Body: { shortcut?: string; language?: string; title?: string; body?: string } }>(
    '/v1/canned-replies/:id',
    {
      config: { auth: { roles: STAFF } },
      schema: {
        description: 'Edits a reply (own personal; team ones: supervisors, admins).',
        params: IdParams,
        body: Type.Object({ shortcut: Type.Optional(Shortcut), language: Type.Optional(Language), title: Type.Optional(Str({ minLength: 1, maxLength: 200 })), body: Type.Optional(ReplyBody) }, { additionalProperties: false, minProperties: 1 }),
        response: { 200: View, '4xx': ErrorRef },
      },
    },
    async (req) => updateCannedReply(pool, req.params.id, req.body, callerOf(principalOf(req))),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/canned-replies/:id',
    { config: { auth: { roles: STAFF } }, schema: { description: 'Deletes a reply.', params: IdParams, response: { 204: Type.Null(), '4xx': ErrorRef } } },
    async (req, reply) => {
      await deleteCannedReply(pool, req.params.id, callerOf(principalOf(req)));
      return reply.status(204).send();
    },
  );

  app.post<{ Params: { id: string }; Body: { customerName?: string; agentName?: string; conversationId?: string; articleId?: string } }>(
    '/v1/canned-replies/:id/render',
    {
      config: { auth: { roles: STAFF } },
      schema: {
        description: 'The reply with its placeholders filled; those without a value stay as written and are listed in missing.',
        params: IdParams,
        body: Type.Object(
          { customerName: Type.Optional(Str({ maxLength: 200 })), agentName: Type.Optional(Str({ maxLength: 200 })), conversationId: Type.Optional(Id), articleId: Type.Optional(Id) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ text: Type.String(), missing: Type.Array(Type.String()) }), '4xx': ErrorRef },
      },
    },
    async (req) => {
      const c = await getCannedReply(pool, req.params.id, callerOf(principalOf(req)));
      if (!c) throw new AppError('NOT_FOUND', `canned reply ${req.params.id} not found`, [{ field: 'params.id', reason: 'unknown reply' }]);
      let link: string | undefined;
      if (req.body.articleId) {
        const a = await getArticle(pool, req.body.articleId);
        if (!a || a.status !== 'published') throw new AppError('NOT_FOUND', `article ${req.body.articleId} not found`, [{ field: 'body.articleId', reason: 'unknown or unpublished article' }]);
        link = articleLink(a.id);
      }
      return fillPlaceholders(c.body, {
        ...(req.body.customerName !== undefined ? { customer_name: req.body.customerName } : {}),
        ...(req.body.agentName !== undefined ? { agent_name: req.body.agentName } : {}),
        ...(req.body.conversationId !== undefined ? { conversation_id: req.body.conversationId } : {}),
        ...(link ? { article_link: link } : {}),
      });
    },
  );
};
