export * from '@omni/business-time';
