import { Type, type TSchema } from '@sinclair/typebox';

/** Shared request and response schemas of the knowledge API (one source for validation and OpenAPI). */
export const ErrorRef = { $ref: 'ErrorBody#' };
const NullableStr = Type.Union([Type.String(), Type.Null()]);

// Every string that reaches PostgreSQL must be storable (no NUL, no lone surrogate): refused with a
// 400 naming the field (the `storable` keyword of libs/contracts, installed in every service's ajv).
export const Str = (opts: { minLength?: number; maxLength: number; pattern?: string; description?: string }) => Type.String({ minLength: 0, ...opts, storable: 'refuse' } as never);

export const Id = Str({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$' });
export const IdParams = Type.Object({ id: Id }, { additionalProperties: false });
/** BCP 47-ish language tag: "es", "en", "pt-BR" */
export const Language = Str({ minLength: 2, maxLength: 35, pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$', description: 'BCP 47 language tag (es, en, pt-BR)' });
/** a classifier category (services/router/src/domain/default-rules.ts), or one an admin's rules add */
export const Category = Str({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });
export const Tier = Type.Integer({ minimum: 0, maximum: 5, description: '0 = self-service, 1–5 support tiers' });
export const Tags = Type.Array(Str({ minLength: 1, maxLength: 64 }), { maxItems: 20 });
export const Title = Str({ minLength: 1, maxLength: 300 });
export const Body = Str({ minLength: 1, maxLength: 100_000, description: 'Markdown (rendered sanitised; raw HTML is not rendered)' });
export const ArticleStatus = Type.Union([Type.Literal('draft'), Type.Literal('published')]);

export const ArticleView = Type.Object({
  id: Type.String(),
  translationGroup: Type.String(),
  language: Type.String(),
  title: Type.String(),
  body: Type.String(),
  category: NullableStr,
  tags: Type.Array(Type.String()),
  tier: Type.Union([Type.Integer(), Type.Null()]),
  status: ArticleStatus,
  version: Type.Integer(),
  sourceConversationId: NullableStr,
  createdBy: Type.String(),
  createdAt: Type.String(),
  updatedBy: Type.String(),
  updatedAt: Type.String(),
  publishedBy: NullableStr,
  publishedAt: NullableStr,
});

export const ArticleSummary = Type.Object({
  id: Type.String(),
  language: Type.String(),
  title: Type.String(),
  category: NullableStr,
  tags: Type.Array(Type.String()),
  tier: Type.Union([Type.Integer(), Type.Null()]),
  status: ArticleStatus,
  version: Type.Integer(),
  updatedAt: Type.String(),
  link: Type.String(),
});

export const SearchHitView = Type.Object({
  ...ArticleSummary.properties,
  score: Type.Number(),
  highlight: Type.String({ description: 'HTML-escaped fragment of title and body with <mark> around the matched words' }),
  matchedBy: Type.Array(Type.String()),
});

export const list = <T extends TSchema>(name: string, item: T) => Type.Object({ [name]: Type.Array(item) });
