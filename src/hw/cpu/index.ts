// The CPU's public surface: state, execution, MMU/TLB hooks, decoder and disassembler.
export * from './cpu';
export * from './decode-cache';
export * from './decoder';
export { MXCSR_MASK, XCR0, x87SseInit, xrstorFromArea, xsaveToArea } from './exec-sys';
export * from './flat-address-space';
export * from './format';
export * from './gpr-names';
export * from './mmu';
export * from './opcodes';
export * from './page-table';
export * from './register-file';
export * from './run';
export * from './sysv-call';
