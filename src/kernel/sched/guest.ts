/**
 * The extension point for threads that execute guest (x86) code on a logical CPU. The kernel owns the
 * CPUs: it decides which CPU a thread runs on, how long a quantum is, when a timer tick or an IPI
 * interrupts it, and it handles the faults and syscalls the guest stops on. The runner (the vDSO/CPU layer)
 * owns the architectural state: it runs instructions, and on `interrupt()` does what the hardware does
 * (an AEX when the CPU is in enclave mode).
 *
 *   sys.runGuest(runner) ──► [on a CPU] run(ctx, budget) ─► stop
 *        ▲                    │  budget ──► tick/IPI pending? interrupt(ctx, why) ─► maybe preempt ─┐
 *        │                    │  fault  ──► do_user_addr_fault ─► resolved? run again             │
 *        │                    │             └► fixup(ctx, fault)? else signal (handler or death)  │
 *        │                    │  syscall ──► syscall table ─► syscallReturn(ctx, ret)             │
 *        └──── value ◄─────── │  return                                                         ◄─┘
 */
import type { CpuFault } from '../../hw/index';
import type { Mm } from '../mm/mm';
import type { Task } from '../proc/task';

/** Why a guest run stopped. */
export type GuestStop =
  /** The budget is spent; the guest can continue. */
  | { readonly kind: 'budget' }
  /** The guest is done for now: `runGuest` resolves with `value` (e.g. the vDSO returning after EEXIT). */
  | { readonly kind: 'return'; readonly value: unknown }
  /** An exception for the kernel: a #PF goes to the fault handler, others become signals. */
  | { readonly kind: 'fault'; readonly fault: CpuFault }
  /** A SYSCALL instruction with its number and arguments (RAX, RDI, RSI, RDX, R10, R8, R9). */
  | { readonly kind: 'syscall'; readonly nr: number; readonly args: readonly number[] };

/** One call's result: the stop and the instructions executed (cycles default to executed × CPI). */
export interface GuestStep {
  readonly stop: GuestStop;
  readonly executed: number;
  /** Override of the cycles this step cost (e.g. to charge ENCLU leaves). */
  readonly cycles?: number;
}

/** An asynchronous event at an instruction boundary. */
export type InterruptReason = 'timer' | 'ipi';

/** What a runner sees on each call. `cpu` may differ between calls: the kernel migrates threads. */
export interface GuestContext {
  readonly task: Task;
  /** The logical CPU this call runs on. */
  readonly cpu: number;
  readonly mm: Mm;
}

/** The callback set a guest-executing thread provides. */
export interface GuestRunner {
  /** Runs up to `budget` instructions. Must not run past the budget. */
  run(ctx: GuestContext, budget: number): GuestStep;
  /** A timer tick or IPI arrived at an instruction boundary (do an AEX when in enclave mode). */
  interrupt?(ctx: GuestContext, reason: InterruptReason): void;
  /**
   * A fault the kernel could not resolve. Return a stop to replace the signal (Linux's
   * fixup_vdso_exception(): the vDSO reports the exception to its caller instead), or undefined for the
   * signal to be delivered.
   */
  fixup?(ctx: GuestContext, fault: CpuFault, signal: number): GuestStop | undefined;
  /** The user RIP the kernel's pt_regs hold after the stop (si_addr of a #DB's SIGTRAP), if known. */
  userIp?(ctx: GuestContext): number | undefined;
  /** The result of a guest syscall, to put in RAX. */
  syscallReturn?(ctx: GuestContext, ret: number): void;
  /** The thread is dying while in guest mode (killed); drop any state tied to it. */
  abort?(ctx: GuestContext): void;
}
