export * from './arch';
export * from './errors';
export * from './layout/index';
export * from './measure';
export * from './sigstruct';
