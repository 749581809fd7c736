import { SdkError } from './sdk-error';

/**
 * Why an enclave ELF cannot be laid out the way the Linux SGX selftests' loader lays it out
 * (tools/testing/selftests/sgx/load.c, encl_load()). Offsets and sizes are plain numbers so the
 * payload serialises as JSON.
 */
export type EnclaveLayoutProblem =
  | { readonly kind: 'elf'; readonly detail: string }
  | { readonly kind: 'no-tcs-segment' }
  | { readonly kind: 'segment-flags'; readonly phdr: number; readonly flags: number }
  | { readonly kind: 'tcs-flags'; readonly phdr: number; readonly flags: number }
  | { readonly kind: 'empty-tcs-segment'; readonly phdr: number }
  | { readonly kind: 'empty-segment'; readonly phdr: number }
  | { readonly kind: 'unaligned-segment'; readonly phdr: number; readonly fileOffset: number }
  | {
      readonly kind: 'file-layout';
      readonly phdr: number;
      readonly fileOffset: number;
      readonly vaddr: number;
      readonly expectedVaddr: number;
    }
  | { readonly kind: 'overlap'; readonly phdr: number; readonly previousPhdr: number; readonly enclaveOffset: number }
  | { readonly kind: 'bss'; readonly phdr: number; readonly filesz: number; readonly memsz: number }
  | { readonly kind: 'heap-size'; readonly heapSize: number }
  | { readonly kind: 'ssa-frame-size'; readonly ssaFrameSize: number };

const hex = (n: number) => `0x${n.toString(16)}`;
const perms = (f: number) => `${f & 4 ? 'R' : '-'}${f & 2 ? 'W' : '-'}${f & 1 ? 'X' : '-'}`;

/** One message per kind, kept next to the kinds (Firecracker's displaydoc style). */
function describe(p: EnclaveLayoutProblem): string {
  switch (p.kind) {
    case 'elf':
      return p.detail;
    case 'no-tcs-segment':
      return 'no PT_LOAD segment: the first PT_LOAD must hold the TCS pages';
    case 'segment-flags':
      return `program header ${p.phdr} has invalid segment flags ${hex(p.flags)} (only R, W and X are allowed)`;
    case 'tcs-flags':
      return `the TCS segment (program header ${p.phdr}, the first PT_LOAD) must be exactly RW, not ${perms(p.flags)}`;
    case 'empty-tcs-segment':
      return `the TCS segment (program header ${p.phdr}) has no file contents, so the enclave has no TCS page`;
    case 'empty-segment':
      return `program header ${p.phdr} is an empty PT_LOAD segment (ENCLAVE_ADD_PAGES cannot add 0 bytes)`;
    case 'unaligned-segment':
      return `program header ${p.phdr} starts at file offset ${hex(p.fileOffset)}, which is not page aligned`;
    case 'file-layout':
      return (
        `program header ${p.phdr} is at file offset ${hex(p.fileOffset)} but address ${hex(p.vaddr)} ` +
        `(expected ${hex(p.expectedVaddr)}): segments must sit in the file as they sit in memory`
      );
    case 'overlap':
      return `program headers ${p.previousPhdr} and ${p.phdr} overlap at enclave offset ${hex(p.enclaveOffset)}`;
    case 'bss':
      return (
        `program header ${p.phdr} has p_memsz ${hex(p.memsz)} > p_filesz ${hex(p.filesz)}: only file contents ` +
        'are added to the enclave, so zero-initialised data (.bss) must be in the file'
      );
    case 'heap-size':
      return `heap size ${p.heapSize} is not a non-negative multiple of 4096`;
    case 'ssa-frame-size':
      return `SSA frame size ${p.ssaFrameSize} is not a positive whole number of pages`;
    default: {
      const _exhaustive: never = p;
      return String(_exhaustive);
    }
  }
}

/** An enclave ELF that is malformed or breaks the enclave layout rules. */
export class EnclaveLayoutError extends SdkError<'ENCLAVE_LAYOUT', EnclaveLayoutProblem> {
  readonly code = 'ENCLAVE_LAYOUT';
  override readonly name = 'EnclaveLayoutError';

  constructor(problem: EnclaveLayoutProblem, options?: { cause?: unknown }) {
    super(describe(problem), problem, options);
  }
}
