/**
 * The agent console's state, changed only by router events (docs/agent-protocol.md) and by the
 * agent's own choices. No DOM here: the reducer is unit- and property-tested on its own.
 *
 * The one rule that keeps a blinking network invisible: an event whose `seq` is not above `lastSeq`
 * was already applied and is ignored, and the console reconnects with that `lastSeq`, so the router
 * replays exactly what is missing. Messages are also keyed by id, so the history timeline and the
 * live stream can both deliver the same message and it is shown once.
 */
export type Channel = 'chat' | 'email' | 'phone' | 'social' | string;

export interface ConversationInfo {
  channel: Channel;
  threadKey?: string;
  tier: number;
  category: string | null;
  priority?: number | string | null;
  language?: string | null;
  requiredSkills?: string[];
  customer?: { name?: string | null; identity?: string; address?: string; email?: string | null; phone?: string | null };
  lastText?: string | null;
  handoffNotes?: { fromTier: number | null; toTier: number; agentId: string | null; note: string; at: string }[];
  recentConversations?: { conversationId: string; tier: number; category: string | null; status: string; openedAt: string }[];
  openedAt?: string;
}

export interface ThreadItem {
  id: string;
  direction: 'in' | 'out' | 'event';
  text: string;
  subject?: string;
  at: string;
  channel?: string;
  conversationId?: string | null;
  /** from the customer's earlier conversations (history), not this one */
  earlier?: boolean;
}

/** A suggested article as the router's offer frame carries it. */
export interface OfferSuggestion {
  id: string;
  language: string;
  title: string;
  link: string;
  category: string | null;
  highlight: string;
}

export interface Conversation {
  id: string;
  status: 'offered' | 'assigned' | 'observer' | 'helper';
  deadline?: string;
  info?: ConversationInfo;
  /** knowledge suggestions the router put on the offer (docs/agent-protocol.md); absent: the console asks knowledge itself */
  suggestions?: OfferSuggestion[];
  items: ThreadItem[];
  unread: number;
  failures: { outboundId: string; channel: string; to: string; reason: string; callback: boolean; at: string }[];
}

export interface AgentState {
  lastSeq: number;
  presence: 'online' | 'away' | 'offline';
  /** why the agent is away (kept by the console: the protocol's presence command has no reason) */
  awayReason: string | null;
  conversations: Record<string, Conversation>;
  /** ids in arrival order (offers first in the list view is a rendering choice) */
  order: string[];
  active: string | null;
  /** short notices for the agent ("offer expired", "escalated") */
  notices: { at: string; key: string; conversationId: string }[];
}

export const emptyState = (): AgentState => ({ lastSeq: 0, presence: 'offline', awayReason: null, conversations: {}, order: [], active: null, notices: [] });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RouterEvent = { type: string; seq?: number; at?: string; conversationId?: string; [k: string]: any };

function withConv(s: AgentState, id: string, f: (c: Conversation | undefined) => Conversation | undefined): AgentState {
  const next = f(s.conversations[id]);
  const conversations = { ...s.conversations };
  let order = s.order;
  let active = s.active;
  if (next) {
    if (!conversations[id]) order = [...order, id];
    conversations[id] = next;
  } else if (conversations[id]) {
    delete conversations[id];
    order = order.filter((x) => x !== id);
    if (active === id) active = order.find((x) => conversations[x]!.status !== 'offered') ?? null;
  }
  return { ...s, conversations, order, active };
}

const fresh = (id: string, status: Conversation['status']): Conversation => ({ id, status, items: [], unread: 0, failures: [] });

/** Adds thread items, keeping one per id, in time order. */
export function mergeItems(items: ThreadItem[], add: ThreadItem[]): ThreadItem[] {
  const byId = new Map(items.map((i) => [i.id, i]));
  let changed = false;
  for (const a of add) {
    if (byId.has(a.id)) continue;
    byId.set(a.id, a);
    changed = true;
  }
  if (!changed) return items;
  return [...byId.values()].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
}

/** Applies one router frame. Events at or below lastSeq are duplicates of what was applied: ignored. */
export function applyFrame(s: AgentState, ev: RouterEvent): AgentState {
  if (ev.type === 'welcome') {
    let next: AgentState = { ...s, presence: ev.presence ?? s.presence, lastSeq: Math.max(s.lastSeq, Number(ev.resumeFrom ?? 0)) };
    for (const c of (ev.conversations ?? []) as { conversationId: string; status: 'offered' | 'assigned'; offerDeadline?: string | null }[]) {
      next = withConv(next, c.conversationId, (old) => ({ ...(old ?? fresh(c.conversationId, c.status)), status: c.status, ...(c.offerDeadline ? { deadline: c.offerDeadline } : {}) }));
    }
    return next;
  }
  if (typeof ev.seq !== 'number') return s; // ack, error: replies, not events
  if (ev.seq <= s.lastSeq) return s;
  let n: AgentState = { ...s, lastSeq: ev.seq };
  const id = ev.conversationId as string;
  const at = ev.at ?? new Date(0).toISOString();
  const notice = (key: string) => ({ ...n, notices: [...n.notices.slice(-19), { at, key, conversationId: id }] });
  switch (ev.type) {
    case 'offer':
      return withConv(n, id, (old) => ({
        ...(old ?? fresh(id, 'offered')),
        status: 'offered',
        deadline: ev.deadline,
        info: ev.conversation,
        ...(Array.isArray(ev.suggestions) && ev.suggestions.length ? { suggestions: ev.suggestions as OfferSuggestion[] } : {}),
      }));
    case 'offer-closed':
      n = notice(`offerClosed.${ev.reason}`);
      return withConv(n, id, (old) => (old && old.status === 'offered' ? undefined : old));
    case 'assigned': {
      n = withConv(n, id, (old) => ({ ...(old ?? fresh(id, 'assigned')), status: 'assigned', deadline: undefined as never }));
      return n.active ? n : { ...n, active: id };
    }
    case 'unassigned':
    case 'left':
      n = notice(`${ev.type}.${ev.reason}`);
      return withConv(n, id, () => undefined);
    case 'joined':
      return withConv(n, id, (old) => ({ ...(old ?? fresh(id, ev.role)), status: ev.role, info: ev.conversation ?? old?.info }));
    case 'message':
      return withConv(n, id, (old) => {
        const c = old ?? fresh(id, 'assigned');
        const items = mergeItems(c.items, [{ id: ev.messageId, direction: 'in', text: ev.text ?? '', ...(ev.subject ? { subject: ev.subject } : {}), at: ev.sentAt ?? at, conversationId: id, channel: c.info?.channel }]);
        if (items === c.items) return c;
        const info = c.info ? { ...c.info, lastText: ev.text ?? c.info.lastText } : c.info;
        return { ...c, items, info: info as ConversationInfo, unread: n.active === id ? c.unread : c.unread + 1 };
      });
    case 'delivery-failed':
    case 'callback-task':
      return withConv(n, id, (old) =>
        old ? { ...old, failures: [...old.failures, { outboundId: ev.outboundId, channel: ev.channel, to: ev.to, reason: ev.reason, callback: ev.type === 'callback-task', at }] } : old,
      );
    case 'presence':
      return { ...n, presence: ev.presence, awayReason: ev.presence === 'away' ? n.awayReason : null };
    default:
      return n;
  }
}

/** The agent opens a conversation: it becomes active and its unread count is cleared. */
export function select(s: AgentState, id: string): AgentState {
  const c = s.conversations[id];
  if (!c) return s;
  return { ...s, active: id, conversations: { ...s.conversations, [id]: { ...c, unread: 0 } } };
}

/** Items read from elsewhere (history timeline, the agent's own sent replies), merged by id. */
export function addItems(s: AgentState, id: string, items: ThreadItem[]): AgentState {
  const c = s.conversations[id];
  if (!c) return s;
  const merged = mergeItems(c.items, items);
  return merged === c.items ? s : { ...s, conversations: { ...s.conversations, [id]: { ...c, items: merged } } };
}

/** Number of messages waiting to be read, over every conversation. */
export const totalUnread = (s: AgentState) => Object.values(s.conversations).reduce((n, c) => n + c.unread, 0);
