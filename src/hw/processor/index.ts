// The logical processor the kernel's scheduler drives: the CPU, ENCLU and AEX together.
export * from './logical-processor';
