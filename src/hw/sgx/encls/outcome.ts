/**
 * What an ENCLS leaf leaves behind: a fault, or the registers it wrote. The three shapes mirror the SDM's leaf
 * kinds and the Linux wrappers in arch/x86/kernel/cpu/sgx/encls.h: __encls_2/__encls_1_1 leaves (ECREATE, EADD,
 * EEXTEND, EPA) only fault or complete; __encls_ret_* leaves return a status in EAX with ZF/CF.
 */
import type { CpuFault } from '../../fault';
import { SgxStatus, type SgxStatusCode } from '../errors';
import type { SgxMachine } from '../sgx-machine';

/** The register operands of ENCLS (RBX, RCX, RDX). Addresses are physical (= kernel linear) as JS numbers. */
export interface EnclsRegs {
  /** An address for most leaves; PT_VA for EPA; the data to write (64-bit) for EDBGWR. */
  readonly rbx?: number | bigint;
  readonly rcx?: number;
  readonly rdx?: number;
}

export type EnclsOutcome =
  /** The leaf faulted; nothing architectural changed (RIP stays at ENCLS). */
  | { readonly kind: 'fault'; readonly fault: CpuFault }
  /** A fault-only leaf completed; RAX and RFLAGS are unchanged ("Flags Affected: None"). */
  | { readonly kind: 'done' }
  /** A status leaf completed: RAX, ZF and CF as written (PF, AF, OF, SF are cleared); RBX for EDBGRD. */
  | {
      readonly kind: 'status';
      readonly rax: SgxStatusCode;
      readonly zf: boolean;
      readonly cf: boolean;
      readonly rbx?: bigint;
    };

export type EnclsHandler = (m: SgxMachine, regs: EnclsRegs) => EnclsOutcome;

export const DONE: EnclsOutcome = Object.freeze({ kind: 'done' });

export function faulted(fault: CpuFault): EnclsOutcome {
  return { kind: 'fault', fault };
}

/** RAX = 0, ZF = 0, CF = 0. */
export function success(rbx?: bigint): EnclsOutcome {
  return rbx === undefined
    ? { kind: 'status', rax: SgxStatus.SUCCESS, zf: false, cf: false }
    : { kind: 'status', rax: SgxStatus.SUCCESS, zf: false, cf: false, rbx };
}

/** An error status: RAX = code, ZF = 1, CF = 0 (the common SDM error exit). */
export function failure(rax: SgxStatusCode): EnclsOutcome {
  return { kind: 'status', rax, zf: true, cf: false };
}

/** A status with explicit flags (EBLOCK's CF-only codes, EWB's SGX_VA_SLOT_OCCUPIED). */
export function statusWith(rax: SgxStatusCode, zf: boolean, cf: boolean): EnclsOutcome {
  return { kind: 'status', rax, zf, cf };
}
