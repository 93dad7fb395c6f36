import type { InboundMessage } from '@omni/contracts';

export interface Classification {
  tier: number;
  category: string;
  priority: number;
  language?: string;
}

/**
 * Walking-skeleton classifier: every new conversation starts in the tier-1 queue. The rule engine
 * (issue "Router: tier classification…") replaces this with versioned, data-driven rules.
 */
export function classify(message: InboundMessage): Classification {
  return { tier: 1, category: 'unclassified', priority: 50, ...(message.language ? { language: message.language } : {}) };
}
