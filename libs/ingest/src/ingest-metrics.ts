import { Counter, type Registry } from 'prom-client';

/** Per-channel ingest counters: accepted, duplicate, rejected by reason. */
export interface IngestMetrics {
  accepted: Counter<'channel' | 'provider'>;
  duplicate: Counter<'channel' | 'provider'>;
  rejected: Counter<'channel' | 'provider' | 'reason'>;
}

export function createIngestMetrics(registry: Registry): IngestMetrics {
  return {
    accepted: new Counter({ name: 'ingest_messages_accepted_total', help: 'Inbound messages published to Kafka', labelNames: ['channel', 'provider'], registers: [registry] }),
    duplicate: new Counter({ name: 'ingest_messages_duplicate_total', help: 'Inbound deliveries recognised as already published', labelNames: ['channel', 'provider'], registers: [registry] }),
    rejected: new Counter({ name: 'ingest_messages_rejected_total', help: 'Inbound deliveries rejected', labelNames: ['channel', 'provider', 'reason'], registers: [registry] }),
  };
}
