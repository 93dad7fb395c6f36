export * from './errors';
export * from './http-app';
export * from './run-service';
export * from './infra';
export * from './periodic';
export * from './kafka-metrics';
