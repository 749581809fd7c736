import { SdkError } from './sdk-error';

/**
 * Why the SDK loader could not build, map or attach an enclave: a syscall or ioctl that failed (with the step and
 * the errno the kernel returned), an ELF without the trusted runtime's metadata, a runtime built for other
 * conventions than this host's, options out of range, or a SIGSTRUCT that does not match the enclave.
 */
export type EnclaveLoadProblem =
  | { readonly kind: 'syscall'; readonly step: string; readonly errno: string }
  | { readonly kind: 'no-runtime'; readonly detail: string }
  | { readonly kind: 'runtime-mismatch'; readonly field: string; readonly value: number; readonly expected: number }
  | { readonly kind: 'tcs-count'; readonly tcs: number; readonly max: number }
  | { readonly kind: 'heap-size'; readonly heapSize: number; readonly min: number }
  | { readonly kind: 'sigstruct-mismatch'; readonly mrEnclave: string; readonly enclaveHash: string }
  | { readonly kind: 'bad-pool'; readonly detail: string }
  /** An Enclave handle used from a thread of another process than the one it belongs to. */
  | { readonly kind: 'wrong-process'; readonly pid: number; readonly owner: number };

function describe(p: EnclaveLoadProblem): string {
  switch (p.kind) {
    case 'syscall':
      return `${p.step} failed: ${p.errno}`;
    case 'no-runtime':
      return `not an enclave on the sgxsim trusted runtime: ${p.detail}`;
    case 'runtime-mismatch':
      return `the enclave's runtime has ${p.field} = ${p.value}, this SDK needs ${p.expected}`;
    case 'tcs-count':
      return `tcs must be an integer from 1 to ${p.max}, got ${p.tcs}`;
    case 'heap-size':
      return `heap must be a multiple of 4096 of at least ${p.min} bytes (the runtime's heap), got ${p.heapSize}`;
    case 'sigstruct-mismatch':
      return `the SIGSTRUCT's ENCLAVEHASH ${p.enclaveHash} is not this enclave's MRENCLAVE ${p.mrEnclave}`;
    case 'bad-pool':
      return `not an sgxsim enclave descriptor: ${p.detail}`;
    case 'wrong-process':
      return p.pid === p.owner
        ? `this Enclave handle already belongs to process ${p.owner}: use on(sys) for its other threads`
        : `this Enclave handle belongs to process ${p.owner}, not ${p.pid}: use forked(sys) in a forked child, attachEnclave() elsewhere`;
    default: {
      const _exhaustive: never = p;
      return String(_exhaustive);
    }
  }
}

/** An enclave the SDK could not load, map or attach. */
export class EnclaveLoadError extends SdkError<'ENCLAVE_LOAD', EnclaveLoadProblem> {
  readonly code = 'ENCLAVE_LOAD';
  override readonly name = 'EnclaveLoadError';

  constructor(problem: EnclaveLoadProblem, options?: { cause?: unknown }) {
    super(describe(problem), problem, options);
  }

  /** The failing step of a `syscall` problem (kept for callers of the former src/cli/sgx-load.ts LoadError). */
  get step(): string | undefined {
    return this.data.kind === 'syscall' ? this.data.step : undefined;
  }

  /** The errno name of a `syscall` problem. */
  get errno(): string | undefined {
    return this.data.kind === 'syscall' ? this.data.errno : undefined;
  }
}
