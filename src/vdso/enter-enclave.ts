/**
 * __vdso_sgx_enter_enclave() for host programs (arch/x86/entry/vdso/vsgx.S; the uAPI contract in
 * arch/x86/include/uapi/asm/sgx.h; /work/shared/reference/linux-driver.md §5). The ENCLU itself runs as guest code
 * on the thread's CPU (enclu-runner.ts); this is the rest of the function, step by step as vsgx.S does it:
 *
 *   .Lenter_enclave:  EENTER ≤ function ≤ ERESUME, else -EINVAL; run->reserved all zero, else -EINVAL;
 *                     RBX = run->tcs, RCX = the AEP; ENCLU
 *   after EEXIT:      run->function = EEXIT                                       ─┐
 *   .Lhandle_exception (fixup_vdso_exception): run->function = EAX, exception_*    ─┤
 *   .Lhandle_exit:    run->user_handler == 0 → return 0 ("ENCLU was attempted") ◄─┘
 *                     else ret = handler(rdi, rsi, rdx, rsp, r8, r9, run): ≤ 0 → return ret; > 0 → .Lenter_enclave
 *
 * The return value is 0 after an exception too (the uAPI comment's -EFAULT is stale): callers check run->function.
 * The vDSO never clears the exception fields.
 */
import { encode, getField, PAGE_SIZE, reservedAreZero } from '../hw/index';
import {
  EINVAL,
  errnoOfReturn,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_STACK,
  PROT_READ,
  PROT_WRITE,
  SEGV_MAPERR,
  SIGSEGV,
  type Sys,
} from '../kernel/index';
import { EENTER, EEXIT, type EncluExit, EncluRunner, ERESUME, type VdsoRegisters } from './enclu-runner';
import type { GuestThread } from './guest-cpus';
import { type Platform, platformOf } from './platform';
import { SGX_ENCLAVE_RUN } from './sgx-enclave-run';
import { lookupUserHandler, type VdsoHandlerResult } from './user-handler';

/** The C arguments of __vdso_sgx_enter_enclave(rdi, rsi, rdx, function, r8, r9, run). */
export interface VdsoEnterArgs {
  /** Pass-through values (default 0). */
  readonly rdi?: bigint | number;
  readonly rsi?: bigint | number;
  readonly rdx?: bigint | number;
  readonly r8?: bigint | number;
  readonly r9?: bigint | number;
  /** The ENCLU function, EENTER (2) or ERESUME (3); passed in ECX, so only its low 32 bits count. */
  readonly fn: number;
  /** User address of the 256-byte struct sgx_enclave_run. */
  readonly run: number;
  /**
   * The caller's other registers, passed to the enclave as-is ("All general purpose registers except RAX, RBX and
   * RCX are passed as-is"); those not given keep the thread's values from its previous ENCLU.
   */
  readonly regs?: Partial<Pick<VdsoRegisters, 'r10' | 'r11' | 'r12' | 'r13' | 'r14' | 'r15'>>;
}

/** What the last ENCLU left, for a caller that cannot read registers after a C call. */
export interface VdsoExitInfo {
  /** The GPRs at the enclave's exit (after the fixup's RDI/RSI/RDX for an exception). */
  regs?: VdsoRegisters;
  /** How the last ENCLU ended. */
  exit?: EncluExit;
}

/** The untrusted stack each thread gets for the vDSO frame (a pthread stack's role). */
const STACK_SIZE = 16 * PAGE_SIZE;

const u64 = (v: bigint | number | undefined): bigint => BigInt.asUintN(64, BigInt(v ?? 0));

/**
 * The thread's untrusted stack, mapped on its first call like the stack a C caller would already have.
 * @returns the top, or a negative errno from mmap.
 */
async function stackTop(sys: Sys, g: GuestThread): Promise<number> {
  if (g.stackTop) return g.stackTop;
  const a = await sys.mmap(0, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (errnoOfReturn(a)) return a;
  g.stackTop = a + STACK_SIZE;
  return g.stackTop;
}

/** Calling a function pointer that is not one: #PF on the instruction fetch at `addr`, SIGSEGV. */
async function callBadPointer(sys: Sys, addr: bigint): Promise<void> {
  await sys.kcall('vdso_call_bad_handler', (t) => {
    t.kernel.signals.forceSigFault(t, SIGSEGV, SEGV_MAPERR, Number(BigInt.asIntN(64, addr)));
    return 0;
  });
}

function exitRecord(x: EncluExit): Uint8Array {
  if (x.kind === 'eexit') {
    // "movl $EEXIT, SGX_ENCLAVE_RUN_LEAF(%rbx)": only the function field.
    return encode(SGX_ENCLAVE_RUN, { function: EEXIT }).subarray(8, 12);
  }
  // .Lhandle_exception: function = EAX, vector = DI, error code = SI, addr = RDX (16 bytes from offset 8).
  return encode(SGX_ENCLAVE_RUN, {
    function: x.leaf,
    exception_vector: x.vector & 0xffff,
    exception_error_code: x.errorCode & 0xffff,
    exception_addr: x.addr,
  }).subarray(8, 24);
}

/**
 * __vdso_sgx_enter_enclave(rdi, rsi, rdx, function, r8, r9, run) on the calling thread.
 * @param out receives the registers at the last exit (the values a C caller's handler would see)
 * @returns 0 when ENCLU was attempted (EEXIT or a reported exception: check run.function), -EINVAL (-22) for a
 *   function other than EENTER/ERESUME (also one a user handler returns) or non-zero reserved bytes, the user
 *   handler's return value when it is ≤ 0, or a negative errno if the thread's stack cannot be mapped. A bad `run`
 *   pointer or user handler raises SIGSEGV, as it would in the vDSO.
 */
export async function vdsoSgxEnterEnclave(sys: Sys, a: VdsoEnterArgs, out?: VdsoExitInfo): Promise<number> {
  const p = platformOf(sys.task.kernel);
  // The first check of .Lenter_enclave touches nothing, so it comes before the stack a C caller would have.
  const fn = Number(BigInt.asUintN(32, BigInt(a.fn)));
  if (fn < EENTER || fn > ERESUME) return -EINVAL.number;
  const g = p.cpus.thread(sys.task);
  const top = await stackTop(sys, g);
  if (top < 0) return top;
  // A call from a signal handler interrupts an outer one: its registers come back afterwards.
  const saved = g.depth > 0 ? p.cpus.snapshot(g) : undefined;
  g.depth++;
  try {
    return await enterLoop(sys, p, g, a, top, out);
  } finally {
    g.depth--;
    if (saved) p.cpus.restore(g, saved);
  }
}

async function enterLoop(
  sys: Sys,
  p: Platform,
  g: GuestThread,
  a: VdsoEnterArgs,
  top: number,
  out: VdsoExitInfo | undefined,
): Promise<number> {
  // "mov %ecx, %eax": the function arrives in ECX.
  let leaf = Number(BigInt.asUintN(32, BigInt(a.fn)));
  // The vDSO frame: return address, saved RBP (RBP points here), saved RBX.
  const rbp = BigInt(top - 16);
  let set: Partial<VdsoRegisters> = {
    ...a.regs,
    rdi: u64(a.rdi),
    rsi: u64(a.rsi),
    rdx: u64(a.rdx),
    r8: u64(a.r8),
    r9: u64(a.r9),
    rsp: BigInt(top - 24),
    rbp,
  };
  for (;;) {
    // "EENTER <= function <= ERESUME", unsigned.
    if (leaf < EENTER || leaf > ERESUME) return -EINVAL.number;
    // "Validate that the reserved area contains only zeros", then load TCS and AEP.
    const run = await sys.load(a.run, SGX_ENCLAVE_RUN.size);
    if (!reservedAreZero(SGX_ENCLAVE_RUN, run)) return -EINVAL.number;
    const tcs = getField(SGX_ENCLAVE_RUN, run, 0, 'tcs');
    // A host thread always has an mm (only kernel threads lack one).
    const base = p.vdso.base(sys.task.mm!);
    // The vDSO was unmapped: the call jumps to nothing (re-executed after a SIGSEGV handler, as on hardware).
    if (base === undefined) for (;;) await callBadPointer(sys, 0n);
    if (leaf === EENTER) p.stats.eenter++;
    else p.stats.eresume++;
    sys.task.kernel.traceTask(sys.task, 'vdso_enter', { leaf, tcs: Number(tcs) });
    const x = await sys.runGuest<EncluExit>(new EncluRunner(p, g, base, { leaf, tcs, set }));
    if (out) {
      out.regs = x.regs;
      out.exit = x;
    }
    await sys.store(a.run + 8, exitRecord(x));
    // .Lhandle_exit: "cmpq $0, SGX_ENCLAVE_RUN_USER_HANDLER(%rbx)".
    const uh = await sys.load(a.run + 24, 8);
    const handler = new DataView(uh.buffer, uh.byteOffset, 8).getBigUint64(0, true);
    if (handler === 0n) return 0;
    const fn = lookupUserHandler(sys, sys.task, handler);
    // "call *%rax" to something that is not a registered handler faults, again after any SIGSEGV handler.
    if (!fn) for (;;) await callBadPointer(sys, handler);
    const r: VdsoHandlerResult = await fn({
      sys,
      rdi: x.regs.rdi,
      rsi: x.regs.rsi,
      rdx: x.regs.rdx,
      rsp: x.regs.rsp,
      r8: x.regs.r8,
      r9: x.regs.r9,
      run: a.run,
    });
    // "cmp $0, %eax; jle .Lout": a signed 32-bit comparison.
    const ret = (typeof r === 'number' ? r : r.ret) | 0;
    if (ret <= 0) return ret;
    leaf = ret;
    // Back to .Lenter_enclave with RSP restored to its value at the exit and the handler's argument registers.
    set = { rsp: x.regs.rsp, rbp };
    if (typeof r === 'object') {
      for (const k of ['rdi', 'rsi', 'rdx', 'r8', 'r9'] as const) if (r[k] !== undefined) set[k] = u64(r[k]);
    }
  }
}
