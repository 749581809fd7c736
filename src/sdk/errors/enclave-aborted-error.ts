import { SdkError } from './sdk-error';

/**
 * The enclave aborted (enclaves/runtime/README.md "Abort"): a panic, an exception no handler took, or one of the
 * runtime's own panics; from then on it refuses every ecall (`dead`). `reason` is RSI at the ABORT exit, in hex.
 */
export type EnclaveAbortProblem =
  | { readonly kind: 'panic'; readonly ecall: string; readonly reason: string; readonly code: string }
  | {
      readonly kind: 'exception';
      readonly ecall: string;
      readonly reason: string;
      /** EXITINFO.VECTOR of the exception nobody handled. */
      readonly vector: number;
    }
  | { readonly kind: 'runtime'; readonly ecall: string; readonly reason: string; readonly panic: string }
  | { readonly kind: 'dead'; readonly ecall: string };

function describe(p: EnclaveAbortProblem): string {
  switch (p.kind) {
    case 'panic':
      return `ecall ${p.ecall}: the enclave panicked with code ${p.code}; it is dead now`;
    case 'exception':
      return `ecall ${p.ecall}: an exception (vector ${p.vector}) nobody handled aborted the enclave; it is dead now`;
    case 'runtime':
      return `ecall ${p.ecall}: the runtime aborted (${p.panic}); the enclave is dead now`;
    case 'dead':
      return `ecall ${p.ecall}: the enclave aborted earlier and refuses every ecall`;
    default: {
      const _exhaustive: never = p;
      return String(_exhaustive);
    }
  }
}

/** An ecall that ended with ABORT or DEAD. */
export class EnclaveAbortedError extends SdkError<'ENCLAVE_ABORTED', EnclaveAbortProblem> {
  readonly code = 'ENCLAVE_ABORTED';
  override readonly name = 'EnclaveAbortedError';

  constructor(problem: EnclaveAbortProblem, options?: { cause?: unknown }) {
    super(describe(problem), problem, options);
  }
}
