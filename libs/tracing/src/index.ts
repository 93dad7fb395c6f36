export * from './start-tracing';
export * from './propagation';
export * from './http-spans';
