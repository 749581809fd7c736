/**
 * __vdso_sgx_enter_enclave() for host programs (arch/x86/entry/vdso/vsgx.S; the uAPI contract in
 * arch/x86/include/uapi/asm/sgx.h; /work/shared/reference/linux-driver.md §5). Everything vsgx.S does from
 * .Lenter_enclave to the test of run->user_handler is user-mode code of the thread on its CPU, so it runs as one
 * guest entry (enclu-runner.ts: the loads of `run`, the ENCLU, the stores of the exit); this is the rest, step by
 * step as vsgx.S does it:
 *
 *   .Lenter_enclave:  EENTER ≤ function ≤ ERESUME, else -EINVAL        (here)
 *                     run->reserved all zero, else -EINVAL; RBX = run->tcs, RCX = the AEP; ENCLU   (the runner)
 *   after EEXIT:      run->function = EEXIT                                       ─┐       (the runner)
 *   .Lhandle_exception (fixup_vdso_exception): run->function = EAX, exception_*    ─┤       (the runner)
 *   .Lhandle_exit:    run->user_handler == 0 → return 0 ("ENCLU was attempted") ◄─┘       (read by the runner)
 *                     else ret = handler(rdi, rsi, rdx, rsp, r8, r9, run): ≤ 0 → return ret; > 0 → .Lenter_enclave
 *
 * The return value is 0 after an exception too (the uAPI comment's -EFAULT is stale): callers check run->function.
 * The vDSO never clears the exception fields.
 */
import { PAGE_SIZE } from '../hw/index';
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
import {
  EENTER,
  type EncluExit,
  EncluRunner,
  ERESUME,
  GPR_NAMES,
  registerSet,
  setGpr,
  type VdsoRegisters,
  type VsgxOutcome,
} from './enclu-runner';
import type { GuestThread } from './guest-cpus';
import { type Platform, platformOf } from './platform';
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

/** GPR numbers of the registers the vDSO's C signature passes (Cpu.r order). */
const RDX = 2;
const RSP = 4;
const RBP = 5;
const RSI = 6;
const RDI = 7;
const R8 = 8;
const R9 = 9;

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
  const top = g.stackTop || (await stackTop(sys, g));
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
  const rbp = top - 16;
  let set = registerSet();
  if (a.regs) {
    for (const [name, v] of Object.entries(a.regs))
      if (v !== undefined) setGpr(set, GPR_NAMES.indexOf(name as 'r10'), v);
  }
  setGpr(set, RDI, a.rdi ?? 0);
  setGpr(set, RSI, a.rsi ?? 0);
  setGpr(set, RDX, a.rdx ?? 0);
  setGpr(set, R8, a.r8 ?? 0);
  setGpr(set, R9, a.r9 ?? 0);
  setGpr(set, RSP, top - 24);
  setGpr(set, RBP, rbp);
  for (;;) {
    // "EENTER <= function <= ERESUME", unsigned.
    if (leaf < EENTER || leaf > ERESUME) return -EINVAL.number;
    // A host thread always has an mm (only kernel threads lack one).
    const base = p.vdso.base(sys.task.mm!);
    // The vDSO was unmapped: the call jumps to nothing (re-executed after a SIGSEGV handler, as on hardware).
    if (base === undefined) for (;;) await callBadPointer(sys, 0n);
    // From .Lenter_enclave to .Lhandle_exit's test of run->user_handler: user-mode code on the thread's CPU.
    const o = await sys.runGuest<VsgxOutcome>(new EncluRunner(p, g, base, { leaf, run: a.run, set }));
    if (o.kind === 'einval') return -EINVAL.number;
    const x = o.exit;
    if (out) {
      out.regs = x.regs;
      out.exit = x;
    }
    const handler = o.userHandler;
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
    set = registerSet();
    setGpr(set, RSP, x.regs.rsp);
    setGpr(set, RBP, rbp);
    if (typeof r === 'object') {
      if (r.rdi !== undefined) setGpr(set, RDI, r.rdi);
      if (r.rsi !== undefined) setGpr(set, RSI, r.rsi);
      if (r.rdx !== undefined) setGpr(set, RDX, r.rdx);
      if (r.r8 !== undefined) setGpr(set, R8, r.r8);
      if (r.r9 !== undefined) setGpr(set, R9, r.r9);
    }
  }
}
