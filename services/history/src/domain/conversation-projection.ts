/** A timeline row as the projection sees it (one event of one conversation). */
export interface ConversationRow {
  eventId: string;
  seq: number;
  kind: string;
  occurredAt: string;
  customerId: string;
  channel: string;
  threadKey: string | null;
  tier: number | null;
  agentId: string | null;
  payload: Record<string, unknown>;
}

export interface Escalation {
  fromTier: number | null;
  toTier: number;
  at: string;
  agentId: string | null;
  handoffNote: string | null;
  reason: string | null;
  kind: 'escalated' | 'transferred' | 'overflowed';
}

export interface QueueWait {
  tier: number;
  queuedAt: string;
  servedAt: string;
  ms: number;
}

/**
 * The wait the router estimated when the conversation was first queued (data.estimate of the FIRST
 * `conversation.queued`) and the wait that followed: first queued → first `accepted` or `assigned`
 * after it (an offer can be declined or expire, so being offered is not being served; the customer
 * stops waiting when an agent takes the conversation). `servedAt`/`actualMs` null while waiting.
 */
export interface WaitEstimateRecord {
  tier: number;
  position: number;
  estimateMs: number;
  estimator: string;
  queuedAt: string;
  servedAt: string | null;
  actualMs: number | null;
}

/** Everything the KPIs and the transcript need about one conversation. */
export interface ConversationProjection {
  id: string;
  customerId: string;
  channel: string;
  threadKey: string | null;
  category: string | null;
  status: string;
  firstTier: number | null;
  tier: number | null;
  resolvedTier: number | null;
  tierPath: number[];
  agents: string[];
  escalations: Escalation[];
  queueWaits: QueueWait[];
  messageIds: string[];
  openedAt: string | null;
  firstResponseAt: string | null;
  resolvedAt: string | null;
  csatScore: number | null;
  csatComment: string | null;
  csatAt: string | null;
  lastEventAt: string;
  waitEstimate: WaitEstimateRecord | null;
  /** tier 0: the customer was offered articles before a human (conversation.self-service-offered) */
  selfServiceOffered: boolean;
  /** the `reason` of the resolution that stands (`self-served` when the customer said YES) */
  resolvedReason: string | null;
}

const STATUS_OF: Record<string, string> = {
  'conversation.opened': 'open',
  'conversation.queued': 'queued',
  'conversation.requeued': 'queued',
  'conversation.overflowed': 'queued',
  'conversation.offer-expired': 'queued',
  'conversation.rejected': 'queued',
  'conversation.offered': 'offered',
  'conversation.accepted': 'assigned',
  'conversation.assigned': 'assigned',
  'conversation.escalated': 'escalated',
  'conversation.transferred': 'transferred',
  'conversation.resolved': 'resolved',
  'conversation.reopened': 'open',
  'conversation.closed': 'closed',
};
const WAIT_STARTS = new Set(['conversation.queued', 'conversation.requeued', 'conversation.overflowed']);
const WAIT_ENDS = new Set(['conversation.offered', 'conversation.assigned', 'conversation.accepted']);

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const int = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : null);
const SERVED = new Set(['conversation.accepted', 'conversation.assigned']);

/** The router's `data.estimate` if it has the documented shape (a hostile or older producer's junk is ignored). */
export function readEstimate(v: unknown): { position: number; estimateMs: number; estimator: string } | null {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const e = v as Record<string, unknown>;
  const position = int(e.position);
  const estimateMs = typeof e.estimateMs === 'number' && Number.isFinite(e.estimateMs) && e.estimateMs >= 0 && e.estimateMs <= 365 * 86_400_000 ? e.estimateMs : null;
  const estimator = typeof e.estimator === 'string' && e.estimator.length > 0 ? e.estimator.slice(0, 64) : null;
  if (position === null || position < 0 || estimateMs === null || estimator === null) return null;
  return { position, estimateMs, estimator };
}

/**
 * Replays a conversation's timeline rows (any order, duplicates impossible since rows are unique by
 * event id) into its projection. Pure: the consumer recomputes it whenever a row arrives, so the
 * result never depends on delivery order across topics.
 */
export function projectConversation(id: string, input: ConversationRow[]): ConversationProjection | null {
  const rows = [...input].sort((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt) || a.seq - b.seq);
  const first = rows[0];
  if (!first) return null;
  const opened = rows.find((r) => r.kind === 'conversation.opened');
  const p: ConversationProjection = {
    id,
    customerId: (opened ?? first).customerId,
    channel: (opened ?? first).channel,
    threadKey: (opened ?? first).threadKey,
    category: null,
    status: 'open',
    firstTier: null,
    tier: null,
    resolvedTier: null,
    tierPath: [],
    agents: [],
    escalations: [],
    queueWaits: [],
    messageIds: [],
    openedAt: opened?.occurredAt ?? null,
    firstResponseAt: null,
    resolvedAt: null,
    csatScore: null,
    csatComment: null,
    csatAt: null,
    lastEventAt: first.occurredAt,
    waitEstimate: null,
    selfServiceOffered: false,
    resolvedReason: null,
  };
  let firstQueued = false;
  let waiting: { tier: number; at: string } | null = null;
  const addAgent = (a: string | null) => {
    if (a && !p.agents.includes(a)) p.agents.push(a);
  };
  for (const r of rows) {
    p.lastEventAt = r.occurredAt;
    const isConv = r.kind.startsWith('conversation.');
    if (isConv) {
      const pay = r.payload;
      const tier = int(pay.tier) ?? r.tier;
      const prevTier = p.tier;
      if (tier !== null) {
        if (p.firstTier === null) p.firstTier = tier;
        if (p.tierPath[p.tierPath.length - 1] !== tier) p.tierPath.push(tier);
        p.tier = tier;
      }
      p.openedAt ??= r.occurredAt;
      const category = str(pay.category);
      if (category) p.category = category;
      const messageId = str(pay.messageId);
      if (messageId && !p.messageIds.includes(messageId)) p.messageIds.push(messageId);
      addAgent(r.agentId ?? str(pay.agentId));
      addAgent(str(pay.toAgentId));
      const status = STATUS_OF[r.kind];
      if (status) p.status = status;
      if (r.kind === 'conversation.escalated' || r.kind === 'conversation.transferred' || r.kind === 'conversation.overflowed') {
        const fromTier = int(pay.fromTier) ?? prevTier;
        if (r.kind === 'conversation.escalated' || (fromTier !== null && tier !== null && fromTier !== tier)) {
          p.escalations.push({
            kind: r.kind.slice('conversation.'.length) as Escalation['kind'],
            fromTier,
            toTier: tier ?? 0,
            at: r.occurredAt,
            agentId: r.agentId ?? str(pay.agentId),
            handoffNote: str(pay.handoffNote),
            reason: str(pay.reason),
          });
        }
      }
      if (WAIT_STARTS.has(r.kind) && tier !== null && (!waiting || waiting.tier !== tier)) waiting = { tier, at: r.occurredAt };
      else if (WAIT_ENDS.has(r.kind) && waiting) {
        p.queueWaits.push({ tier: waiting.tier, queuedAt: waiting.at, servedAt: r.occurredAt, ms: Date.parse(r.occurredAt) - Date.parse(waiting.at) });
        waiting = null;
      }
      if (r.kind === 'conversation.queued' && !firstQueued) {
        firstQueued = true;
        const e = readEstimate(pay.estimate);
        if (e && tier !== null) p.waitEstimate = { tier, ...e, queuedAt: r.occurredAt, servedAt: null, actualMs: null };
      } else if (SERVED.has(r.kind) && p.waitEstimate && p.waitEstimate.servedAt === null) {
        p.waitEstimate.servedAt = r.occurredAt;
        p.waitEstimate.actualMs = Date.parse(r.occurredAt) - Date.parse(p.waitEstimate.queuedAt);
      }
      if (r.kind === 'conversation.self-service-offered') p.selfServiceOffered = true;
      if (r.kind === 'conversation.resolved') {
        p.resolvedAt = r.occurredAt;
        p.resolvedTier = tier;
        p.resolvedReason = str(pay.reason);
        waiting = null;
      } else if (r.kind === 'conversation.reopened') {
        p.resolvedAt = null;
        p.resolvedTier = null;
        p.resolvedReason = null;
      } else if (r.kind === 'conversation.closed') waiting = null;
    } else if (r.kind === 'message.outbound') {
      // automatic answers of the router (sender `system:…`, e.g. the outside-hours notice) are not a
      // person's response: they neither stop the first-response clock nor count as an agent
      if (r.agentId?.startsWith('system:')) continue;
      p.firstResponseAt ??= r.occurredAt;
      addAgent(r.agentId);
    } else if (r.kind === 'csat.submitted') {
      p.csatScore = int(r.payload.score);
      p.csatComment = str(r.payload.comment);
      p.csatAt = r.occurredAt;
    }
  }
  // Only escalations that moved to a different tier count as escalations for the KPIs; a
  // transfer within the tier is a hand-over between agents.
  p.escalations = p.escalations.filter((e) => e.kind === 'escalated' || e.fromTier !== e.toTier);
  return p;
}
