export * from './topics';
export * from './channels';
export * from './envelopes';
export * from './validate';
export * from './ids';
export * from './storable';
export * from './fit-attachment';
