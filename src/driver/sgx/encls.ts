/**
 * The kernel's ENCLS wrappers (arch/x86/kernel/cpu/sgx/encls.h): one function per leaf with the Linux return
 * convention, so driver code reads like the C it follows.
 * - Leaves that return a status (EINIT, EREMOVE, ETRACK, ELDU, EBLOCK, EWB) give the SGX code, 0 on success.
 * - Leaves that can only fault (ECREATE, EADD, EEXTEND, EPA, EDBGRD, EDBGWR) give 0, or the trap number with
 *   SGX_ENCLS_FAULT_FLAG set (the exception-table fixup EX_TYPE_FAULT_SGX).
 * Every call is charged to the current CPU (hw cost model) and recorded in the kernel trace as an `encls` event.
 */
import {
  type CostItem,
  CostModel,
  EnclsLeaf,
  type EnclsOutcome,
  type EnclsRegs,
  encls,
  PageType,
  sgxStatusName,
} from '../../hw/index';
import type { Sgx } from './sgx';

/** encls.h: bit 30 marks "this value is a trap number, not an SGX code". */
export const SGX_ENCLS_FAULT_FLAG = 0x40000000;
/** X86_TRAP_PF. */
export const X86_TRAP_PF = 14;

/** encls_faulted(). */
export function enclsFaulted(ret: number): boolean {
  return (ret & SGX_ENCLS_FAULT_FLAG) !== 0;
}

/** ENCLS_TRAPNR(). */
export function enclsTrapnr(ret: number): number {
  return ret & ~SGX_ENCLS_FAULT_FLAG;
}

/** encls_failed(): a fault other than #PF (an EPCM conflict is expected), or any non-zero SGX code. */
export function enclsFailed(ret: number): boolean {
  if (enclsFaulted(ret)) return enclsTrapnr(ret) !== X86_TRAP_PF;
  return ret !== 0;
}

/** "EWB returned 11 (0xb)"-style text, naming the code or the trap. */
export function describeEnclsRet(ret: number): string {
  if (enclsFaulted(ret)) return `trap ${enclsTrapnr(ret)}`;
  return sgxStatusName(ret);
}

const LEAF_NAME: Record<number, string> = Object.fromEntries(Object.entries(EnclsLeaf).map(([k, v]) => [v, k]));

const LEAF_COST: Partial<Record<number, CostItem>> = {
  [EnclsLeaf.ECREATE]: 'ecreate',
  [EnclsLeaf.EADD]: 'eadd',
  [EnclsLeaf.EEXTEND]: 'eextend',
  [EnclsLeaf.EINIT]: 'einit',
  [EnclsLeaf.EREMOVE]: 'eremove',
  [EnclsLeaf.EPA]: 'epa',
  [EnclsLeaf.EBLOCK]: 'eblock',
  [EnclsLeaf.ETRACK]: 'etrack',
  [EnclsLeaf.EWB]: 'ewb',
  [EnclsLeaf.ELDU]: 'eldu',
  [EnclsLeaf.EDBGRD]: 'edbg',
  [EnclsLeaf.EDBGWR]: 'edbg',
};

/** Extra trace fields (which enclave and page the leaf works on). */
export type EnclsTraceInfo = Readonly<Record<string, string | number | boolean>>;

/** Executes one leaf and converts the outcome to the encls.h return value. */
function run(sgx: Sgx, leaf: number, regs: EnclsRegs, info?: EnclsTraceInfo): { ret: number; o: EnclsOutcome } {
  const o = encls(sgx.m, leaf, regs);
  const cost = LEAF_COST[leaf];
  if (cost) sgx.charge(CostModel[cost]);
  let ret: number;
  switch (o.kind) {
    case 'fault':
      ret = o.fault.vector | SGX_ENCLS_FAULT_FLAG;
      break;
    case 'done':
      ret = 0;
      break;
    case 'status':
      ret = o.rax;
      break;
    default: {
      const _exhaustive: never = o;
      throw new Error(`unknown ENCLS outcome ${JSON.stringify(_exhaustive)}`);
    }
  }
  sgx.stats.encls[LEAF_NAME[leaf]!] = (sgx.stats.encls[LEAF_NAME[leaf]!] ?? 0) + 1;
  sgx.trace('encls', { leaf: LEAF_NAME[leaf]!, ret: describeEnclsRet(ret), ...info });
  return { ret, o };
}

/** Initialize an EPC page into a SECS (__ecreate). */
export function __ecreate(sgx: Sgx, pginfo: number, secs: number, info?: EnclsTraceInfo): number {
  return run(sgx, EnclsLeaf.ECREATE, { rbx: pginfo, rcx: secs }, info).ret;
}

/** Hash a 256-byte region of an enclave page into MRENCLAVE (__eextend). */
export function __eextend(sgx: Sgx, secs: number, addr: number, info?: EnclsTraceInfo): number {
  return run(sgx, EnclsLeaf.EEXTEND, { rbx: secs, rcx: addr }, info).ret;
}

/** Add a REG or TCS page with its contents (__eadd). */
export function __eadd(sgx: Sgx, pginfo: number, addr: number, info?: EnclsTraceInfo): number {
  return run(sgx, EnclsLeaf.EADD, { rbx: pginfo, rcx: addr }, info).ret;
}

/** Finalize the build (__einit: RBX = SIGSTRUCT, RCX = SECS, RDX = token). */
export function __einit(sgx: Sgx, sigstruct: number, token: number, secs: number, info?: EnclsTraceInfo): number {
  return run(sgx, EnclsLeaf.EINIT, { rbx: sigstruct, rcx: secs, rdx: token }, info).ret;
}

/** Disassociate an EPC page from its enclave (__eremove). */
export function __eremove(sgx: Sgx, addr: number, info?: EnclsTraceInfo): number {
  return run(sgx, EnclsLeaf.EREMOVE, { rcx: addr }, info).ret;
}

/** Write 8 bytes of a debug enclave's page (__edbgwr). */
export function __edbgwr(sgx: Sgx, addr: number, data: bigint, info?: EnclsTraceInfo): number {
  return run(sgx, EnclsLeaf.EDBGWR, { rbx: data, rcx: addr }, info).ret;
}

/** Read 8 bytes of a debug enclave's page (__edbgrd): the return value and, on success, the data. */
export function __edbgrd(sgx: Sgx, addr: number, info?: EnclsTraceInfo): { ret: number; data: bigint } {
  const { ret, o } = run(sgx, EnclsLeaf.EDBGRD, { rcx: addr }, info);
  return { ret, data: o.kind === 'status' && o.rbx !== undefined ? o.rbx : 0n };
}

/** Start a TLB tracking cycle on the SECS (__etrack). */
export function __etrack(sgx: Sgx, secs: number, info?: EnclsTraceInfo): number {
  return run(sgx, EnclsLeaf.ETRACK, { rcx: secs }, info).ret;
}

/** Load, verify and unblock an evicted page (__eldu). */
export function __eldu(sgx: Sgx, pginfo: number, addr: number, va: number, info?: EnclsTraceInfo): number {
  return run(sgx, EnclsLeaf.ELDU, { rbx: pginfo, rcx: addr, rdx: va }, info).ret;
}

/** Block new TLB translations of a page (__eblock). */
export function __eblock(sgx: Sgx, addr: number, info?: EnclsTraceInfo): number {
  return run(sgx, EnclsLeaf.EBLOCK, { rcx: addr }, info).ret;
}

/** Make an EPC page a Version Array (__epa). */
export function __epa(sgx: Sgx, addr: number, info?: EnclsTraceInfo): number {
  return run(sgx, EnclsLeaf.EPA, { rbx: PageType.VA, rcx: addr }, info).ret;
}

/** Evict a page to memory (__ewb). */
export function __ewb(sgx: Sgx, pginfo: number, addr: number, va: number, info?: EnclsTraceInfo): number {
  return run(sgx, EnclsLeaf.EWB, { rbx: pginfo, rcx: addr, rdx: va }, info).ret;
}
