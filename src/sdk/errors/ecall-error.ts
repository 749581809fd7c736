import { SdkError } from './sdk-error';

/**
 * An ecall that did not complete normally for a reason on the host's side of the ABI (enclaves/runtime/README.md):
 * a name the enclave does not export, a status the runtime refused the call with, or an ocall the host could
 * not serve. An enclave that aborted is an EnclaveAbortedError instead.
 */
export type EcallProblem =
  | { readonly kind: 'unknown-ecall'; readonly ecall: string; readonly known: readonly string[] }
  /** The runtime's exit status (BAD_POINTER, TOO_LARGE, BAD_STATE, BAD_TCS, …) with RSI. */
  | {
      readonly kind: 'status';
      readonly ecall: string;
      readonly status: number;
      readonly statusName: string;
      readonly ret: string;
    }
  /** An ocall with no registered handler; the enclave got −ENOSYS as its result and the ecall went on. */
  | { readonly kind: 'no-ocall-handler'; readonly ecall: string; readonly ocall: string; readonly index: number }
  /** An ocall handler threw; the enclave got −EIO as its result and the ecall went on. */
  | { readonly kind: 'ocall-threw'; readonly ecall: string; readonly ocall: string; readonly message: string }
  /** The vDSO call itself failed (a negative return: −EINVAL for a bad leaf or a dirty run struct). */
  | { readonly kind: 'vdso'; readonly ecall: string; readonly ret: number }
  /** The enclave faulted while entering or exiting (not inside an ecall's code), e.g. EENTER on a TCS in use. */
  | {
      readonly kind: 'entry-fault';
      readonly ecall: string;
      readonly vector: number;
      readonly errorCode: number;
      readonly addr: string;
    };

function describe(p: EcallProblem): string {
  switch (p.kind) {
    case 'unknown-ecall':
      return `the enclave has no ecall "${p.ecall}" (it has: ${p.known.join(', ') || 'none'})`;
    case 'status':
      return `ecall ${p.ecall}: the enclave refused it with ${p.statusName} (${p.status}, RSI ${p.ret})`;
    case 'no-ocall-handler':
      return `ecall ${p.ecall}: no handler for ocall "${p.ocall}" (#${p.index}); register one with onOcall()`;
    case 'ocall-threw':
      return `ecall ${p.ecall}: the handler of ocall "${p.ocall}" threw: ${p.message}`;
    case 'vdso':
      return `ecall ${p.ecall}: __vdso_sgx_enter_enclave returned ${p.ret}`;
    case 'entry-fault':
      return `ecall ${p.ecall}: ENCLU faulted with vector ${p.vector} (error code 0x${p.errorCode.toString(16)}, address ${p.addr})`;
    default: {
      const _exhaustive: never = p;
      return String(_exhaustive);
    }
  }
}

/** An ecall the host could not complete. */
export class EcallError extends SdkError<'ECALL', EcallProblem> {
  readonly code = 'ECALL';
  override readonly name = 'EcallError';

  constructor(problem: EcallProblem, options?: { cause?: unknown }) {
    super(describe(problem), problem, options);
  }
}
