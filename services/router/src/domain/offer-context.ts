import type { Conversation } from './conversation';

/** One of the customer's recent conversations, as shown beside an offer. */
export interface RecentConversation {
  id: string;
  tier: number;
  category: string;
  status: string;
  opened_at: Date;
}

export const RECENT_SHOWN = 5;

/** Customer context shown with an offer or an invitation: who, what, and what earlier agents wrote when escalating. */
export function offerContext(conv: Conversation, recentRows: RecentConversation[]): Record<string, unknown> {
  const recent = recentRows
    .filter((r) => r.id !== conv.id)
    .slice(0, RECENT_SHOWN)
    .map((r) => ({ conversationId: r.id, tier: r.tier, category: r.category, status: r.status, openedAt: r.opened_at.toISOString() }));
  return {
    conversationId: conv.id,
    channel: conv.channel,
    threadKey: conv.threadKey,
    tier: conv.tier,
    category: conv.category,
    priority: conv.priority,
    language: conv.language,
    requiredSkills: conv.requiredSkills,
    customer: {
      name: conv.customer.name ?? null,
      identity: `${conv.customer.channel}:${conv.customer.address}`,
      address: conv.customer.address,
      ...(conv.customer.email ? { email: conv.customer.email } : {}),
      ...(conv.customer.phone ? { phone: conv.customer.phone } : {}),
      attributes: conv.customerAttributes,
    },
    lastText: conv.lastText,
    handoffNotes: conv.handoffNotes,
    recentConversations: recent,
    openedAt: conv.openedAt.toISOString(),
  };
}
