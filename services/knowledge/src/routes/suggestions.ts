import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type } from '@sinclair/typebox';
import { withinBestScore } from '../domain/suggestion-cutoff';
import { searchArticles } from '../store/search';
import { hitOf } from './articles';
import { Category, ErrorRef, Language, SearchHitView, Str, Tier } from './schemas';

/**
 * Suggestions for a conversation (what the router's offer will carry and the console shows): the
 * published articles of its category and text, one per translation group, in the customer's
 * language first.
 */
export const suggestionRoutes: FastifyPluginAsync<{ pool: Pool; articleLink: (id: string) => string }> = async (app, { pool, articleLink }) => {
  app.get<{ Querystring: { category?: string; language?: string; text?: string; tier?: number; limit: number } }>(
    '/v1/suggestions',
    {
      config: { auth: { roles: ['agent', 'supervisor', 'service'], scopes: ['knowledge:read'] } },
      schema: {
        description: "Top published articles for a conversation's category and text, in the customer's language first.",
        querystring: Type.Object(
          {
            category: Type.Optional(Category),
            language: Type.Optional(Language),
            text: Type.Optional(Str({ maxLength: 2000 })),
            /** only articles of this tier: 0 for the router's self-service answer (articles written for customers) */
            tier: Type.Optional(Tier),
            limit: Type.Integer({ minimum: 1, maximum: 20, default: 3 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ suggestions: Type.Array(SearchHitView) }), '4xx': ErrorRef },
      },
    },
    async (req) => {
      const { category, language, text, tier, limit } = req.query;
      if (!category && !text?.trim()) return { suggestions: [] };
      const hits = await searchArticles(pool, {
        text: text ?? '',
        mode: 'any-word',
        ...(language ? { language } : {}),
        ...(category ? { category, categoryMode: 'prefer' as const } : {}),
        ...(tier !== undefined ? { tier } : {}),
        limit,
      });
      // an article far below the best one matched a common word, not the problem
      return { suggestions: withinBestScore(hits).map((h) => hitOf(h, articleLink)) };
    },
  );
};
