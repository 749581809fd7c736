// The SDK layer's public surface.
export * from './elf/index';
export * from './enclave/index';
export * from './errors/index';
export * from './exec/flat-elf';
export * from './layout/index';
export { DEMO_SIGNING_KEY } from './loader/demo-key';
export * from './loader/index';
export * from './pool/index';
export * from './runtime-abi';
export * from './sign/index';
export * from './trace/index';
