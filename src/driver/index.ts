// The driver layer's public surface (DESIGN.md §4). Higher layers import from here only.
export * from './sgx/index';
