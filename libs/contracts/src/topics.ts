/** Base names of every topic the system uses; a breaking envelope change gets a new version suffix. */
export const TOPIC_BASE = {
  inbound: 'omni.inbound.v1',
  conversations: 'omni.conversations.v1',
  outbound: 'omni.outbound.v1',
  delivery: 'omni.delivery.v1',
  customers: 'omni.customers.v1',
  dlq: 'omni.dlq.v1',
  erasures: 'omni.erasures.v1',
  agents: 'omni.agents.v1',
} as const;

export type TopicKey = keyof typeof TOPIC_BASE;
export type TopicNames = { [K in TopicKey]: string };

/**
 * Topic names with an optional suffix. Production uses no suffix; tests pass a unique suffix so
 * that test files sharing one broker never read each other's messages.
 */
export function topicNames(suffix = ''): TopicNames {
  const out = {} as TopicNames;
  for (const key of Object.keys(TOPIC_BASE) as TopicKey[]) out[key] = TOPIC_BASE[key] + suffix;
  return out;
}

/** Topics that are compacted (one record per key) rather than time-retained. */
export const COMPACTED_TOPICS: readonly TopicKey[] = ['customers'];
