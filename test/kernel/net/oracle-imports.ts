// Re-exports for the socket oracle test (one import list for both halves).

export { encode } from '../../../src/hw/index';
export * from '../../../src/kernel/index';
export const SIG_IGN_HANDLER = 'SIG_IGN';
