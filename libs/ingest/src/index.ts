export * from './accept-inbound';
export * from './api-key';
export * from './adapter-route';
export * from './ingest-metrics';
export * from './ingest-service';
export * from './email-thread-token';
export * from './rejection-metrics';
export * from './delivery';
