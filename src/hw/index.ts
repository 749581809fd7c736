// The hardware layer's public surface. Higher layers import from here only.
export * from './cost-model';
export * from './cpu/index';
export * from './crypto/index';
export * from './fault';
export * from './mem/index';
export * from './processor/index';
export * from './rng';
export * from './sgx/index';
