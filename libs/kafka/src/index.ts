export * from './client';
export * from './topics';
export * from './publisher';
export * from './consumer';
export * from './outbox';
export * from './message-size';
