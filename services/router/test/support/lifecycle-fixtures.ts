import type { InboundMessage } from '@omni/contracts';
import type { Conversation } from '../../src/domain/conversation';
import type { LifecyclePolicy } from '../../src/domain/lifecycle';

export const T0 = new Date('2026-01-01T10:00:00Z');
export const at = (ms: number) => new Date(T0.getTime() + ms);

export const policy: LifecyclePolicy = {
  offerTimeoutMs: 20_000,
  reopenWindowMs: 3_600_000,
  slaMsByTier: { 1: 120_000, 2: 300_000, 3: 600_000, 4: 900_000, 5: 1_800_000 },
  overflowMode: 'widen',
  maxConsecutiveOfferTimeouts: 2,
};

export function message(threadKey: string, n: number, extra: Partial<InboundMessage> = {}): InboundMessage {
  return {
    schema: 'omni.inbound.v1',
    messageId: `msg-${threadKey}-${n}`,
    channel: 'chat',
    provider: 'test',
    providerMessageId: `p-${threadKey}-${n}`,
    threadKey,
    from: { channel: 'chat', address: `cust-${threadKey}` },
    sentAt: T0.toISOString(),
    receivedAt: T0.toISOString(),
    text: `hello ${n}`,
    ...extra,
  };
}

export function conversation(extra: Partial<Conversation> = {}): Conversation {
  return {
    id: 'c1',
    threadKey: 't1',
    channel: 'chat',
    customer: { channel: 'chat', address: 'cust-t1' },
    customerKey: 'chat:cust-t1',
    status: 'queued',
    tier: 1,
    category: 'general',
    priority: 50,
    language: null,
    agentId: null,
    requiredSkills: [],
    customerAttributes: {},
    waitingSince: T0,
    offerDeadline: null,
    declinedAgents: [],
    handoffNotes: [],
    escalations: 0,
    lastAgentId: null,
    lastMessageId: 'msg-t1-0',
    lastText: 'hello 0',
    openedAt: T0,
    resolvedAt: null,
    queue: { tiers: [1], priority: 50, waitingSince: T0, slaDeadline: at(120_000), overflows: 0, preferredAgentId: null },
    participants: [],
    ...extra,
  };
}
