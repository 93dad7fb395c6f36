export * from './accept-inbound';
export * from './api-key';
export * from './adapter-route';
export * from './ingest-metrics';
export * from './ingest-service';
export * from './delivery';
