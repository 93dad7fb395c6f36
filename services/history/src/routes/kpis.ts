import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type } from '@sinclair/typebox';
import { badField } from '@omni/service';
import { computeCategoryKpis, computeKpis } from '../domain/kpis';
import { loadKpiFacts } from '../store/kpi-facts';
import { ChannelParam, ErrorRef } from './schemas';

const Num = Type.Union([Type.Number(), Type.Null()]);
const Durations = Type.Object({ count: Type.Integer(), averageMs: Num, p50Ms: Num, p95Ms: Num });
const Window = Type.Object({ from: Type.String(), to: Type.String(), tier: Type.Union([Type.Integer(), Type.Null()]), channel: Type.Union([Type.String(), Type.Null()]), recontactDays: Type.Integer() });

const KpiBody = Type.Object({
  window: Window,
  conversations: Type.Integer(),
  resolved: Type.Integer(),
  firstContactResolution: Type.Object({ rate: Num, count: Type.Integer(), of: Type.Integer() }),
  firstResponseTime: Durations,
  resolutionTime: Durations,
  escalation: Type.Object({
    rate: Num,
    escalated: Type.Integer(),
    of: Type.Integer(),
    byTier: Type.Array(Type.Object({ tier: Type.Integer(), handled: Type.Integer(), escalated: Type.Integer(), rate: Num })),
    paths: Type.Array(Type.Object({ fromTier: Type.Union([Type.Integer(), Type.Null()]), toTier: Type.Integer(), count: Type.Integer() })),
  }),
  queueWait: Type.Array(Type.Object({ tier: Type.Integer(), count: Type.Integer(), averageMs: Num, p50Ms: Num, p95Ms: Num })),
  tier1Resolution: Type.Object({ share: Num, count: Type.Integer(), of: Type.Integer() }),
  csat: Type.Object({ average: Num, responses: Type.Integer(), responseRate: Num, of: Type.Integer() }),
});

const Category = Type.Object({
  category: Type.String(),
  conversations: Type.Integer(),
  escalated: Type.Integer(),
  escalationRate: Num,
  resolved: Type.Integer(),
  recontacted: Type.Integer(),
  recontactRate: Num,
});

const KpiQuery = Type.Object({
  from: Type.Optional(Type.String({ format: 'date-time', description: 'conversations opened at or after (default: 30 days before `to`)' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'conversations opened before (default: now)' })),
  tier: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, description: 'the tier the conversation entered at' })),
  channel: Type.Optional(ChannelParam),
});
type KpiQueryT = { from?: string; to?: string; tier?: number; channel?: string };

function window(q: KpiQueryT, recontactDays: number) {
  const to = q.to ?? new Date().toISOString();
  const from = q.from ?? new Date(Date.parse(to) - 30 * 86_400_000).toISOString();
  if (Date.parse(from) >= Date.parse(to)) throw badField('querystring.to', 'must be after from');
  return { from, to, tier: q.tier ?? null, channel: q.channel ?? null, recontactDays };
}

/** Support KPIs over conversations opened in a window. */
export const kpiRoutes: FastifyPluginAsync<{ pool: Pool; recontactDays: number }> = async (app, { pool, recontactDays }) => {
  const facts = (w: ReturnType<typeof window>) =>
    loadKpiFacts(pool, { from: w.from, to: w.to, recontactDays, ...(w.tier ? { tier: w.tier } : {}), ...(w.channel ? { channel: w.channel } : {}) });

  app.get<{ Querystring: KpiQueryT }>(
    '/v1/kpis',
    { config: { auth: { roles: ['supervisor', 'service'], scopes: ['kpis:read'] } }, schema: { description: 'FCR, first response and resolution times, escalations, queue waits, tier-1 share, CSAT.', querystring: KpiQuery, response: { 200: KpiBody, '4xx': ErrorRef } } },
    async (req) => {
      const w = window(req.query, recontactDays);
      return { window: w, ...computeKpis(await facts(w)) };
    },
  );
  app.get<{ Querystring: KpiQueryT }>(
    '/v1/kpis/categories',
    {
      config: { auth: { roles: ['supervisor', 'service'], scopes: ['kpis:read'] } },
      schema: {
        description: 'Recurring problems: categories by volume, escalation rate and recontact rate.',
        querystring: KpiQuery,
        response: {
          200: Type.Object({ window: Window, categories: Type.Array(Category), byEscalationRate: Type.Array(Type.String()), byRecontactRate: Type.Array(Type.String()) }),
          '4xx': ErrorRef,
        },
      },
    },
    async (req) => {
      const w = window(req.query, recontactDays);
      const categories = computeCategoryKpis(await facts(w));
      const by = (k: 'escalationRate' | 'recontactRate') =>
        [...categories].sort((a, b) => (b[k] ?? -1) - (a[k] ?? -1) || b.conversations - a.conversations).map((c) => c.category);
      return { window: w, categories, byEscalationRate: by('escalationRate'), byRecontactRate: by('recontactRate') };
    },
  );
};
