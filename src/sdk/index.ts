// The SDK layer's public surface.
export * from './elf/index';
export * from './exec/flat-elf';
