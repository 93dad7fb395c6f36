export * from './roles';
export * from './tokens';
export * from './route-guard';
export * from './passwords';
export * from './csat-token';
export * from './secrets';
export * from './audit';
export * from './auth-env';
