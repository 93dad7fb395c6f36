import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type } from '@sinclair/typebox';
import { AppError } from '@omni/service';
import { articleKpis, recurringWithoutArticle } from '../store/kpis';
import { ErrorRef } from './schemas';

const DateTime = Type.String({ format: 'date-time', maxLength: 40 });

/** Knowledge KPIs: helped rate per article, recurring problems without an article. */
export const kpiRoutes: FastifyPluginAsync<{ pool: Pool }> = async (app, { pool }) => {
  app.get<{ Querystring: { from?: string; to?: string; minConversations: number; limit: number } }>(
    '/v1/kpis/knowledge',
    {
      config: { auth: { roles: ['supervisor', 'service'], scopes: ['kpis:read'] } },
      schema: {
        description:
          'Per article: uses, helped (used and then resolved without escalation) and the helped rate; categories with volume and escalations but no published article. Default window: the last 30 days.',
        querystring: Type.Object(
          { from: Type.Optional(DateTime), to: Type.Optional(DateTime), minConversations: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 5 }), limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            from: Type.String(),
            to: Type.String(),
            articles: Type.Array(
              Type.Object({
                articleId: Type.String(),
                title: Type.String(),
                language: Type.String(),
                category: Type.Union([Type.String(), Type.Null()]),
                uses: Type.Integer(),
                decided: Type.Integer(),
                helped: Type.Integer(),
                helpedRate: Type.Union([Type.Number(), Type.Null()]),
              }),
            ),
            recurringWithoutArticle: Type.Array(Type.Object({ category: Type.String(), conversations: Type.Integer(), escalated: Type.Integer(), escalationRate: Type.Number() })),
          }),
          '4xx': ErrorRef,
        },
      },
    },
    async (req) => {
      const to = req.query.to ? new Date(req.query.to) : new Date();
      const from = req.query.from ? new Date(req.query.from) : new Date(to.getTime() - 30 * 86400_000);
      if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from.getFullYear() < 1 || to.getFullYear() > 9999) {
        throw new AppError('VALIDATION', 'from/to: not a usable date', [{ field: 'querystring.from', reason: 'out of range' }]);
      }
      if (from >= to) throw new AppError('VALIDATION', 'querystring.from: must be before to', [{ field: 'querystring.from', reason: 'must be before to' }]);
      const f = from.toISOString(), t = to.toISOString();
      return { from: f, to: t, articles: await articleKpis(pool, f, t, req.query.limit), recurringWithoutArticle: await recurringWithoutArticle(pool, f, t, req.query.minConversations) };
    },
  );
};
