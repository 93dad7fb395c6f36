import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type } from '@sinclair/typebox';
import { badField } from '@omni/service';
import { computeCategoryKpis, computeDeflection, computeEstimateError, computeKpis, computeTierSla, type SlaTargets } from '../domain/kpis';
import { computeOccupancy } from '../domain/occupancy';
import { loadKpiFacts } from '../store/kpi-facts';
import { loadOccupancyFacts } from '../store/occupancy-facts';
import type { CalendarsAnswer } from '../router-calendars';
import type { KnowledgeKpis } from '../knowledge-kpis';
import { ChannelParam, ErrorRef } from './schemas';

const Num = Type.Union([Type.Number(), Type.Null()]);
const Durations = Type.Object({ count: Type.Integer(), averageMs: Num, p50Ms: Num, p95Ms: Num });
const Window = Type.Object({ from: Type.String(), to: Type.String(), tier: Type.Union([Type.Integer(), Type.Null()]), channel: Type.Union([Type.String(), Type.Null()]), recontactDays: Type.Integer() });
const Rate = Type.Object({ met: Type.Integer(), of: Type.Integer(), rate: Num });
const WallBusiness = Type.Object({ wall: Durations, business: Type.Union([Durations, Type.Null()]) });
const SlaWallBusiness = Type.Object({ wall: Rate, business: Type.Union([Rate, Type.Null()]) });
const Deflection = { conversations: Type.Integer(), offered: Type.Integer(), selfServed: Type.Integer(), rateOfOffered: Num, rateOfAll: Num };
const Occupancy = {
  loggedInMs: Type.Number(),
  handlingMs: Type.Number(),
  idleMs: Type.Number(),
  awayMs: Type.Number(),
  awayByReason: Type.Array(Type.Object({ reason: Type.String(), ms: Type.Number(), share: Num })),
  occupancy: Num,
  utilisation: Num,
};
const Knowledge = Type.Object({
  available: Type.Boolean(),
  reason: Type.Union([Type.String(), Type.Null()]),
  articles: Type.Array(
    Type.Object({ articleId: Type.String(), title: Type.String(), language: Type.String(), category: Type.Union([Type.String(), Type.Null()]), uses: Type.Number(), decided: Type.Number(), helped: Type.Number(), helpedRate: Num }),
  ),
  recurringWithoutArticle: Type.Array(Type.Object({ category: Type.String(), conversations: Type.Number(), escalated: Type.Number(), escalationRate: Type.Number() })),
});

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
  businessTime: Type.Object({
    available: Type.Boolean(),
    reason: Type.Union([Type.String(), Type.Null()]),
    /** the calendar versions history knows (the one in force when a conversation opened applies to it) */
    versions: Type.Array(Type.Integer()),
    targets: Type.Object({ firstResponseMs: Type.Integer(), resolutionMs: Type.Integer() }),
  }),
  sla: Type.Array(
    Type.Object({
      tier: Type.Integer(),
      conversations: Type.Integer(),
      firstResponseTime: WallBusiness,
      resolutionTime: WallBusiness,
      queueWait: WallBusiness,
      slaMet: Type.Object({ firstResponse: SlaWallBusiness, resolution: SlaWallBusiness }),
      businessUnknown: Type.Integer(),
    }),
  ),
  waitEstimateError: Type.Array(
    Type.Object({
      tier: Type.Integer(),
      count: Type.Integer(),
      medianAbsErrorMs: Num,
      p90AbsErrorMs: Num,
      medianRelativeError: Num,
      p90RelativeError: Num,
      relativeCount: Type.Integer(),
      estimators: Type.Array(Type.Object({ estimator: Type.String(), count: Type.Integer() })),
    }),
  ),
  deflection: Type.Object({
    ...Deflection,
    byCategory: Type.Array(Type.Object({ category: Type.String(), ...Deflection })),
    byChannel: Type.Array(Type.Object({ channel: Type.String(), ...Deflection })),
  }),
  occupancy: Type.Object({
    agents: Type.Array(Type.Object({ agentId: Type.String(), tiers: Type.Array(Type.Integer()), ...Occupancy })),
    byTier: Type.Array(Type.Object({ tier: Type.Integer(), agents: Type.Integer(), ...Occupancy })),
  }),
  knowledge: Knowledge,
});

const Category = Type.Object({
  category: Type.String(),
  conversations: Type.Integer(),
  escalated: Type.Integer(),
  escalationRate: Num,
  resolved: Type.Integer(),
  recontacted: Type.Integer(),
  recontactRate: Num,
  selfServiceOffered: Type.Integer(),
  selfServed: Type.Integer(),
  deflectionRate: Num,
});

const KpiQuery = Type.Object({
  from: Type.Optional(Type.String({ format: 'date-time', description: 'conversations opened at or after (default: 30 days before `to`)' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'conversations opened before (default: now)' })),
  tier: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, description: 'the tier the conversation entered at' })),
  channel: Type.Optional(ChannelParam),
  slaFirstResponseMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 90 * 86_400_000, description: 'first-response SLA target in ms (default SLA_FIRST_RESPONSE_MS)' })),
  slaResolutionMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 90 * 86_400_000, description: 'resolution SLA target in ms (default SLA_RESOLUTION_MS)' })),
});
type KpiQueryT = { from?: string; to?: string; tier?: number; channel?: string; slaFirstResponseMs?: number; slaResolutionMs?: number };

export interface KpiRouteOptions {
  pool: Pool;
  recontactDays: number;
  sla: SlaTargets;
  /** the router's calendars (business time); absent = business time unavailable */
  calendars?: { forRequest: () => Promise<CalendarsAnswer> };
  /** the knowledge service's KPIs for a window; absent = that section unavailable */
  knowledge?: (from: string, to: string) => Promise<KnowledgeKpis>;
}
const NO_KNOWLEDGE: KnowledgeKpis = { available: false, reason: 'knowledge is not configured', articles: [], recurringWithoutArticle: [] };

const YEAR_1 = Date.UTC(1, 0, 1);
const YEAR_9999 = Date.UTC(9999, 11, 31);
function window(q: KpiQueryT, recontactDays: number) {
  const to = q.to ?? new Date().toISOString();
  const toMs = Date.parse(to);
  if (Number.isNaN(toMs) || toMs < YEAR_1 || toMs > YEAR_9999) throw badField('querystring.to', 'not a usable date');
  const from = q.from ?? new Date(Math.max(YEAR_1, toMs - 30 * 86_400_000)).toISOString();
  const fromMs = Date.parse(from);
  if (Number.isNaN(fromMs) || fromMs < YEAR_1 || fromMs > YEAR_9999) throw badField('querystring.from', 'not a usable date');
  if (fromMs >= toMs) throw badField('querystring.to', 'must be after from');
  return { from, to, tier: q.tier ?? null, channel: q.channel ?? null, recontactDays };
}

/** Support KPIs over conversations opened in a window. */
export const kpiRoutes: FastifyPluginAsync<KpiRouteOptions> = async (app, { pool, recontactDays, sla, calendars, knowledge }) => {
  const facts = (w: ReturnType<typeof window>) =>
    loadKpiFacts(pool, { from: w.from, to: w.to, recontactDays, ...(w.tier ? { tier: w.tier } : {}), ...(w.channel ? { channel: w.channel } : {}) });

  app.get<{ Querystring: KpiQueryT }>(
    '/v1/kpis',
    {
      config: { auth: { roles: ['supervisor', 'service'], scopes: ['kpis:read'] } },
      schema: {
        description:
          'FCR, first response and resolution times, escalations, queue waits, tier-1 share, CSAT; per tier SLA figures in wall-clock and business time; wait-estimate error; deflection; occupancy and utilisation; knowledge (article helped rate, recurring problems without an article). A section whose source is unreachable says so (available: false) instead of failing.',
        querystring: KpiQuery,
        response: { 200: KpiBody, '4xx': ErrorRef },
      },
    },
    async (req) => {
      const w = window(req.query, recontactDays);
      const targets = { firstResponseMs: req.query.slaFirstResponseMs ?? sla.firstResponseMs, resolutionMs: req.query.slaResolutionMs ?? sla.resolutionMs };
      const [list, cal, know, occ] = await Promise.all([
        facts(w),
        calendars ? calendars.forRequest() : Promise.resolve<CalendarsAnswer>({ ok: false, reason: 'the router is not configured' }),
        knowledge ? knowledge(w.from, w.to) : Promise.resolve(NO_KNOWLEDGE),
        loadOccupancyFacts(pool, w.from, w.to),
      ]);
      // SLA clocks still running are judged at the end of the window, or now if that is earlier
      const at = new Date(Math.min(Date.parse(w.to), Date.now())).toISOString();
      const occupancy = computeOccupancy(occ.agentEvents, occ.holds, w.from, w.to);
      const byTier = w.tier ? occupancy.byTier.filter((t) => t.tier === w.tier) : occupancy.byTier;
      const agents = w.tier ? occupancy.agents.filter((a) => a.tiers.includes(w.tier!)) : occupancy.agents;
      return {
        window: w,
        ...computeKpis(list),
        businessTime: { available: cal.ok, reason: cal.ok ? null : cal.reason, versions: cal.ok ? cal.versions : [], targets },
        sla: computeTierSla(list, targets, cal.ok ? cal.at : null, at),
        waitEstimateError: computeEstimateError(list),
        deflection: computeDeflection(list),
        occupancy: { agents, byTier },
        knowledge: know,
      };
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
          200: Type.Object({
            window: Window,
            categories: Type.Array(Category),
            byEscalationRate: Type.Array(Type.String()),
            byRecontactRate: Type.Array(Type.String()),
            /** from the knowledge service: categories with volume and escalations but no published article */
            withoutArticle: Type.Object({ available: Type.Boolean(), reason: Type.Union([Type.String(), Type.Null()]), categories: Knowledge.properties.recurringWithoutArticle }),
          }),
          '4xx': ErrorRef,
        },
      },
    },
    async (req) => {
      const w = window(req.query, recontactDays);
      const [list, know] = await Promise.all([facts(w), knowledge ? knowledge(w.from, w.to) : Promise.resolve(NO_KNOWLEDGE)]);
      const categories = computeCategoryKpis(list);
      const by = (k: 'escalationRate' | 'recontactRate') =>
        [...categories].sort((a, b) => (b[k] ?? -1) - (a[k] ?? -1) || b.conversations - a.conversations).map((c) => c.category);
      return {
        window: w,
        categories,
        byEscalationRate: by('escalationRate'),
        byRecontactRate: by('recontactRate'),
        withoutArticle: { available: know.available, reason: know.reason, categories: know.recurringWithoutArticle },
      };
    },
  );
};
