// first: kafkajs' idle request-queue loop is fixed before any client exists (see the file)
export { kafkajsIdleFix } from './kafkajs-idle-fix';
export * from './client';
export * from './topics';
export * from './publisher';
export * from './consumer';
export * from './outbox';
export * from './message-size';
