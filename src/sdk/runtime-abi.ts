/**
 * The host ↔ enclave ABI of sgxsim's trusted runtime (enclaves/runtime/): entry commands, exit statuses, the
 * call block in untrusted memory, the thread-block convention a loader follows, and the metadata the host reads
 * from the enclave ELF. enclaves/runtime/README.md is the specification and enclaves/runtime/include/encl/abi.h
 * the C side; test/sdk/runtime-abi.test.ts compiles that header and checks every value here against it.
 *
 * Registers (all 64-bit):
 * - EENTER: RDI = command, RSI = its argument, RDX = a call block; the CPU sets RAX = CSSA, RBX = TCS,
 *   RCX = the return address (SDM Vol. 3D §40 EENTER).
 * - EEXIT: RDI = status, RSI = value (ecall result, ocall index, abort reason), RDX/R8/R9 = ocall input length,
 *   output offset, output length (zero otherwise); RSP/RBP = the URSP/URBP EENTER saved; R12–R15 as at that
 *   entry; RAX = 4 (the EEXIT leaf), RBX = the target, RCX = the AEP (set by EEXIT); R10, R11, XMM0–15 zero;
 *   DF = 0, CF = OF = SF = AF = 0, ZF = PF = 1; MXCSR = 0x1F80.
 */
import { defineLayout } from '../hw/index';

/** encl_rt_meta.version. */
export const RUNTIME_ABI_VERSION = 1;

/** encl_rt_meta.magic: "SGXSIMRT" read as a little-endian u64. */
export const RUNTIME_MAGIC = 0x54524d4953584753n;

/** The ELF symbol (in .symtab) of the runtime metadata; its value is an enclave offset. */
export const RUNTIME_META_SYMBOL = 'encl_rt_meta';

/** RDI at EENTER. */
export const EnclCommand = {
  /** RSI = ecall index, RDX = call block (inputs read once, then checked). */
  ECALL: 1,
  /** RSI = the ocall's return value, RDX = the same call block as the ecall. */
  ORET: 2,
  /** Only with CSSA > 0, after an exception's AEX; RDX = a call block for the status (may be 0). */
  EXCEPTION: 3,
} as const;
export type EnclCommandNumber = (typeof EnclCommand)[keyof typeof EnclCommand];

/** RDI at EEXIT, also written to call_block.status. */
export const EnclStatus = {
  /** The ecall returned; RSI = its return value; the output buffer holds out_len bytes. */
  OK: 0,
  /** An ocall: RSI = index, RDX = input length (at scratch + 0), R8 = output offset, R9 = output length. */
  OCALL: 1,
  /** EXCEPTION entry: the handler fixed the interrupted context; ERESUME it. RSI = EXITINFO. */
  EXCEPTION_HANDLED: 2,
  /** EXCEPTION entry: not handled; ERESUME anyway, and the ecall then ends with ABORT. RSI = the reason. */
  EXCEPTION_ABORTED: 3,
  /** The ecall aborted (panic, unhandled exception): RSI = reason; the enclave refuses everything after. */
  ABORT: 4,
  /** Refused: the enclave aborted earlier. */
  DEAD: 5,
  /** RDI is not a command. */
  BAD_COMMAND: 6,
  /** A command the thread cannot take now: ECALL while an ecall is pending or with CSSA > 0, ORET without a
   *  pending ocall or with CSSA > 0, EXCEPTION with CSSA = 0. */
  BAD_STATE: 7,
  /** The ecall index is not below encl_rt_meta.nr_ecalls (RSI = the index). */
  BAD_ECALL: 8,
  /** The call block or a buffer is not wholly outside ELRANGE, wraps, or the block is not 8-aligned; or an
   *  ORET names another call block. */
  BAD_POINTER: 9,
  /** The ecall's input and output do not fit the edge buffer (see RuntimeThreads.EDGE_BUF_SIZE). */
  TOO_LARGE: 10,
  /** The TCS breaks the thread-block convention (threadBlockOffset returns null). */
  BAD_TCS: 11,
} as const;
export type EnclStatusNumber = (typeof EnclStatus)[keyof typeof EnclStatus];

/** RSI with EnclStatus.ABORT: a panic code (bits 61:0), or one of these. */
export const AbortReason = {
  /** | EXITINFO of an exception no handler took. */
  EXCEPTION: 1n << 63n,
  /** | one of the runtime's own panic codes below. */
  RUNTIME: 1n << 62n,
  PANIC_CODE_MASK: (1n << 62n) - 1n,
  /** RDRAND failed ten times in a row. */
  RDRAND: 1n,
  /** ocall() with an index the enclave does not declare. */
  OCALL_INDEX: 2n,
  /** ocall() outside an ecall (e.g. from an exception handler). */
  OCALL_CONTEXT: 3n,
} as const;

/** What ocall() returns inside the enclave, without exiting, when the scratch area cannot hold the arguments. */
export const OCALL_NO_SCRATCH = -(1n << 63n);

/** Inputs and outputs are placed at offset 0 and at the input length rounded up to this (edge buffer, scratch). */
export const EDGE_ALIGN = 16;

/**
 * The thread convention (abi.h). Each TCS owns a thread block of THREAD_SIZE bytes aligned to THREAD_SIZE:
 * SSA frames at +SSA (TCS.OSSA points there, NSSA frames of SSA_FRAME_PAGES pages), the edge buffer, the ecall
 * stack, the exception-entry stack and the runtime's thread data at the top. A fresh block is all zeros.
 */
export const RuntimeThreads = {
  NR_TCS: 2,
  NSSA: 2,
  /** SECS.SSAFRAMESIZE the runtime is built for; the loader must use it. */
  SSA_FRAME_PAGES: 1,
  THREAD_SIZE: 0x8000,
  SSA: 0x0000,
  EDGE_BUF: 0x2000,
  EDGE_BUF_SIZE: 0x2000,
  STACK: 0x4000,
  STACK_SIZE: 0x3000,
  STACK_TOP: 0x7000,
  XSTACK_TOP: 0x7e00,
  THREAD_DATA: 0x7e00,
  THREAD_DATA_SIZE: 0x200,
  /** The unmeasured heap the layout assumes after the image (encl_rt_meta.heap_size). */
  HEAP_SIZE: 0x1000,
} as const;

/** The call block: 128 bytes of untrusted memory, 8-byte aligned, outside ELRANGE. */
export const CALL_BLOCK = defineLayout('encl_call_block', 128, 8, [
  { name: 'in', offset: 0, size: 8, type: 'u64', doc: 'host → enclave: ecall input buffer' },
  { name: 'inLen', offset: 8, size: 8, type: 'u64' },
  { name: 'out', offset: 16, size: 8, type: 'u64', doc: 'host → enclave: ecall output buffer' },
  { name: 'outLen', offset: 24, size: 8, type: 'u64', doc: 'all of it is written on OK (zeros past the result)' },
  { name: 'scratch', offset: 32, size: 8, type: 'u64', doc: 'host → enclave: per-TCS scratch area for ocalls' },
  { name: 'scratchLen', offset: 40, size: 8, type: 'u64' },
  { name: 'status', offset: 48, size: 8, type: 'u64', doc: 'enclave → host: = RDI at EEXIT' },
  { name: 'ret', offset: 56, size: 8, type: 'u64', doc: 'enclave → host: = RSI at EEXIT' },
  { name: 'ocallIndex', offset: 64, size: 8, type: 'u64', doc: 'enclave → host, OCALL only' },
  { name: 'ocallInLen', offset: 72, size: 8, type: 'u64', doc: 'input at scratch + 0' },
  { name: 'ocallOutOff', offset: 80, size: 8, type: 'u64', doc: 'output at scratch + this' },
  { name: 'ocallOutLen', offset: 88, size: 8, type: 'u64' },
  { name: 'reserved', offset: 96, size: 32, type: 'reserved', doc: 'neither read nor written by the enclave' },
] as const);

/** encl_rt_meta, found through RUNTIME_META_SYMBOL. Every "offset" field is an enclave offset. */
export const RUNTIME_META = defineLayout('encl_rt_meta', 152, 8, [
  { name: 'magic', offset: 0, size: 8, type: 'u64', doc: 'RUNTIME_MAGIC' },
  { name: 'version', offset: 8, size: 8, type: 'u64', doc: 'RUNTIME_ABI_VERSION' },
  { name: 'nrTcs', offset: 16, size: 8, type: 'u64' },
  { name: 'tcs', offset: 24, size: 8, type: 'u64', doc: 'offset of TCS 0 (the TCS pages are PT_LOAD #0)' },
  { name: 'nssa', offset: 32, size: 8, type: 'u64' },
  { name: 'ssaFramePages', offset: 40, size: 8, type: 'u64', doc: 'required SECS.SSAFRAMESIZE' },
  { name: 'threadSize', offset: 48, size: 8, type: 'u64' },
  { name: 'threads', offset: 56, size: 8, type: 'u64', doc: 'offset of thread block 0' },
  { name: 'entry', offset: 64, size: 8, type: 'u64', doc: 'OENTRY' },
  { name: 'heap', offset: 72, size: 8, type: 'u64', doc: 'offset of the heap' },
  { name: 'heapSize', offset: 80, size: 8, type: 'u64', doc: 'the heap the layout assumes' },
  { name: 'enclaveSize', offset: 88, size: 8, type: 'u64', doc: 'required SECS.SIZE' },
  { name: 'edgeBufSize', offset: 96, size: 8, type: 'u64' },
  { name: 'stackSize', offset: 104, size: 8, type: 'u64' },
  { name: 'callBlockSize', offset: 112, size: 8, type: 'u64' },
  { name: 'nrEcalls', offset: 120, size: 8, type: 'u64' },
  { name: 'ecalls', offset: 128, size: 8, type: 'u64', doc: 'offset of nrEcalls ECALL_ENTRY records' },
  { name: 'nrOcalls', offset: 136, size: 8, type: 'u64' },
  { name: 'ocalls', offset: 144, size: 8, type: 'u64', doc: 'offset of nrOcalls u64 name offsets' },
] as const);

/** One ecall table entry; ecall number = index in the table. Names are NUL-terminated strings. */
export const ECALL_ENTRY = defineLayout('encl_ecall', 16, 8, [
  { name: 'fn', offset: 0, size: 8, type: 'u64', doc: 'enclave offset of the function' },
  { name: 'name', offset: 8, size: 8, type: 'u64', doc: 'enclave offset of its name' },
] as const);

/**
 * The enclave offset of the thread block a TCS at `tcsOffset` uses, or null when the runtime refuses that TCS
 * (EnclStatus.BAD_TCS): static TCS i (the image's first nrTcs pages) uses block i at threads + i × threadSize;
 * any other TCS must sit at a multiple of threadSize, with its page inside enclaveSize, and uses the block just
 * below it. That block's first page is where the TCS's OSSA must point.
 */
export function threadBlockOffset(
  tcsOffset: number,
  meta: { readonly nrTcs: number; readonly threads: number; readonly threadSize: number; readonly enclaveSize: number },
): number | null {
  const PAGE = 4096;
  if (tcsOffset < meta.nrTcs * PAGE) return meta.threads + Math.floor(tcsOffset / PAGE) * meta.threadSize;
  if (tcsOffset % meta.threadSize !== 0 || tcsOffset + PAGE > meta.enclaveSize) return null;
  return tcsOffset - meta.threadSize;
}
