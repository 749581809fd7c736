/**
 * One pass of __vdso_sgx_enter_enclave() as guest code, from .Lenter_enclave to .Lhandle_exit (arch/x86/entry/vdso/
 * vsgx.S): the vDSO's loads of `run`, the ENCLU that runs EENTER or ERESUME, enclave code in the kernel's quanta, and
 * the vDSO's stores of the exit into `run` — all user-mode code of the calling thread on its CPU, as on Linux, so one
 * kernel entry (`sys.runGuest`) instead of one per access. The runner moves through three stages:
 *
 *   load    the reserved bytes checked and run->tcs read through the processor's MMU (a #PF here is a user fault:
 *           resolved and retried, or a signal — the vDSO has no exception-table entry for it); RAX = leaf,
 *           RBX = tcs, RCX = the AEP; ~116 instructions of vsgx.S
 *   enclu   the ENCLU and the enclave, until the CPU reaches the instruction after ENCLU through EEXIT, or an
 *           exception on the ENCLU is fixed up (fixup_vdso_exception() sends the CPU to .Lhandle_exception)
 *   store   run->function (+ exception_*) written, run->user_handler read; 8 or 12 instructions
 *
 * Each stage runs in a quantum that has room for its instructions (else the quantum spins to the interrupt and the
 * stage runs after it), so the kernel's interrupts, signals and preemption fall between them as they would between
 * instructions. A signal handler the kernel runs in between returns to the same stage (the entry restarts).
 *
 * Everything inside the enclu stage is the hardware and the kernel doing their jobs, invisibly to the caller:
 * - a timer tick or IPI in enclave mode is an AEX; the CPU is then at the AEP (the same ENCLU) with
 *   RAX = ERESUME, the kernel may run another thread, and the next quantum — on whatever CPU — ERESUMEs;
 * - an exception in enclave mode AEXes too and goes to the kernel at the AEP; a #PF the kernel resolves (a PTE
 *   zapped by the reclaimer, a page ELDU'd back) lets the ERESUME at the AEP retry the access;
 * - what the kernel cannot resolve becomes, for a fault on the vDSO's ENCLU, fixup_vdso_exception(): RDI, RSI,
 *   RDX = trap number, error code, address, and the vDSO reports it (arch/x86/entry/vdso/extable.c). #DB and #BP
 *   are never fixed up; they become SIGTRAP as anywhere else.
 */

import { CostModel, type Cpu, type CpuFault, EncluLeaf, GPR64_NAMES, gp, isFault, offsetOf, Vector } from '../hw/index';
import type { GuestContext, GuestRunner, GuestStep, GuestStop } from '../kernel/index';
import type { GuestThread } from './guest-cpus';
import { aexOnInterrupt, type Platform } from './platform';
import { SGX_ENCLAVE_RUN } from './sgx-enclave-run';
import { VDSO_EEXIT_LANDING_OFFSET, VDSO_ENCLU_OFFSET, VDSO_HOSTCALL_LENGTH, VDSO_HOSTCALL_VECTOR } from './vdso-image';

/** The 16 general-purpose registers as unsigned 64-bit values. */
export interface VdsoRegisters {
  rax: bigint;
  rcx: bigint;
  rdx: bigint;
  rbx: bigint;
  rsp: bigint;
  rbp: bigint;
  rsi: bigint;
  rdi: bigint;
  r8: bigint;
  r9: bigint;
  r10: bigint;
  r11: bigint;
  r12: bigint;
  r13: bigint;
  r14: bigint;
  r15: bigint;
}

/** GPR numbers in ModRM order, as `Cpu.r` stores them. */
export const GPR_NAMES = GPR64_NAMES satisfies ReadonlyArray<keyof VdsoRegisters>;

/** How the ENCLU ended, for the vDSO's host half. */
export type EncluExit =
  /** EEXIT reached the instruction after ENCLU; `regs` as the enclave left them. */
  | { readonly kind: 'eexit'; readonly regs: VdsoRegisters }
  /**
   * An exception on the ENCLU the kernel could not resolve, fixed up: `leaf` is EAX then (EENTER, or ERESUME after
   * an AEX); `regs` are after the fixup (RDI = vector, RSI = error code, RDX = address).
   */
  | {
      readonly kind: 'exception';
      readonly leaf: number;
      readonly vector: number;
      readonly errorCode: number;
      readonly addr: bigint;
      readonly regs: VdsoRegisters;
    };

/**
 * Values for some GPRs (lo/hi int32 pairs in Cpu.r order); bit n of `mask` says GPR n is given. Plain arrays: a
 * typed array costs more to allocate than these few values cost to copy.
 */
export interface RegisterSet {
  readonly r: number[];
  mask: number;
}

/** A RegisterSet with nothing in it. */
export function registerSet(): RegisterSet {
  return { r: new Array<number>(32).fill(0), mask: 0 };
}

/** Puts `v` (any 64-bit pattern; a negative number is two's complement) for GPR `n` into `set`. */
export function setGpr(set: RegisterSet, n: number, v: bigint | number): void {
  if (typeof v === 'number') {
    // ToUint32 is arithmetic modulo 2^32, so the low half of any integer below 2^53 in magnitude.
    set.r[2 * n] = v | 0;
    set.r[2 * n + 1] = Math.floor(v / 4294967296) | 0;
  } else {
    set.r[2 * n] = Number(BigInt.asUintN(32, v)) | 0;
    set.r[2 * n + 1] = Number(BigInt.asUintN(32, v >> 32n)) | 0;
  }
  set.mask |= 1 << n;
}

function gprOf(r: readonly number[], n: number): bigint {
  const hi = r[2 * n + 1]!;
  const lo = BigInt(r[2 * n]! >>> 0);
  return hi === 0 ? lo : (BigInt(hi >>> 0) << 32n) | lo;
}

/** The GPRs at an exit: a copy of Cpu.r, each register made a bigint when it is read. */
class RegisterSnapshot {
  constructor(readonly gpr: number[]) {}
}
for (const [n, name] of GPR_NAMES.entries()) {
  Object.defineProperty(RegisterSnapshot.prototype, name, {
    enumerable: true,
    get(this: RegisterSnapshot): bigint {
      return gprOf(this.gpr, n);
    },
    set(this: RegisterSnapshot, v: bigint): void {
      const s: RegisterSet = { r: this.gpr, mask: 0 };
      setGpr(s, n, v);
    },
  });
}

/** All GPRs of `c` as they are now. */
export function readRegisters(c: Cpu): VdsoRegisters {
  const gpr = new Array<number>(32);
  for (let i = 0; i < 32; i++) gpr[i] = c.r[i]!;
  return new RegisterSnapshot(gpr) as unknown as VdsoRegisters;
}

/** What one pass of vsgx.S gets from its caller: the leaf (EAX), `run`, and the registers to pass as-is. */
export interface EncluEntry {
  readonly leaf: number;
  /** User address of struct sgx_enclave_run. */
  readonly run: number;
  /** Registers to load before ENCLU; the others keep the thread's values ("passed as-is"). */
  readonly set: RegisterSet;
}

/** How a pass of vsgx.S ended (the `runGuest` value). */
export type VsgxOutcome =
  /** "Validate that the reserved area contains only zeros" failed: -EINVAL, nothing entered. */
  | { readonly kind: 'einval' }
  /** .Lhandle_exit, with run->user_handler as read there. */
  | { readonly kind: 'exit'; readonly exit: EncluExit; readonly userHandler: bigint };

/**
 * Instructions of vsgx.S from .Lenter_enclave to ENCLU: the two leaf compares, loading `run`, the loop over the 27
 * reserved quadwords (cmpq, jne, add, cmpq, jne), run->tcs and the AEP.
 */
const VSGX_ENTRY_INSTRUCTIONS = 6 + 27 * 4 + 2;
/** After EEXIT: load `run`, store run->function, .Lhandle_exit's compare and branch, xor, pop, leave, ret. */
const VSGX_EEXIT_INSTRUCTIONS = 8;
/** .Lhandle_exception's four stores, its load of `run` and jump, then .Lhandle_exit as after EEXIT. */
const VSGX_EXCEPTION_INSTRUCTIONS = 12;

const RUN_SIZE = SGX_ENCLAVE_RUN.size;
const RUN_TCS = offsetOf(SGX_ENCLAVE_RUN, 'tcs');
const RUN_RESERVED = offsetOf(SGX_ENCLAVE_RUN, 'reserved');
const RUN_FUNCTION = offsetOf(SGX_ENCLAVE_RUN, 'function');
const RUN_VECTOR = offsetOf(SGX_ENCLAVE_RUN, 'exception_vector');
const RUN_ERROR_CODE = offsetOf(SGX_ENCLAVE_RUN, 'exception_error_code');
const RUN_ADDR = offsetOf(SGX_ENCLAVE_RUN, 'exception_addr');
const RUN_USER_HANDLER = offsetOf(SGX_ENCLAVE_RUN, 'user_handler');

const BUDGET_STOP: GuestStop = Object.freeze({ kind: 'budget' });

type Stage = 'load' | 'enclu' | 'store';

export class EncluRunner implements GuestRunner {
  private stage: Stage = 'load';
  /** How the ENCLU ended, from the enclu stage to the store stage. */
  private exit: EncluExit | undefined;

  constructor(
    private readonly p: Platform,
    private readonly g: GuestThread,
    /** The vDSO's base in this mm (mm->context.vdso). */
    private readonly base: number,
    private readonly entry: EncluEntry,
  ) {}

  private get enclu(): number {
    return this.base + VDSO_ENCLU_OFFSET;
  }

  // The current quantum's count (fields rather than closures: run() is the hottest path of an ecall).
  private executed = 0;
  private cycles = 0;
  private budget = 0;
  /** What the load stage read: a non-zero reserved quadword, or run->tcs. */
  private nonZero = false;
  private tcsLo = 0;
  private tcsHi = 0;
  /** run->user_handler as the store stage read it. */
  private userHandler = 0n;

  private step(stop: GuestStop): GuestStep {
    return { stop, executed: this.executed, cycles: this.cycles };
  }

  /**
   * Whether the quantum has room for a stage of `n` instructions. If not, the quantum runs out first (the interrupt
   * falls before the stage, whose loads are simply done again after it).
   */
  private fits(n: number): boolean {
    const left = this.budget - this.executed;
    if (left >= n) return true;
    this.cycles += left * CostModel.instruction;
    this.executed = this.budget;
    return false;
  }

  /** Instructions of a stage that ran. */
  private retire(n: number): void {
    this.executed += n;
    this.cycles += n * CostModel.instruction;
  }

  run(ctx: GuestContext, budget: number): GuestStep {
    const { p, g } = this;
    const lp = p.cpus.bind(g, ctx.cpu);
    const c = lp.cpu;
    this.executed = 0;
    this.cycles = g.pendingCycles;
    this.budget = budget;
    g.pendingCycles = 0;

    if (this.stage === 'load') {
      if (!this.fits(VSGX_ENTRY_INSTRUCTIONS)) return this.step(BUDGET_STOP);
      const f = this.loadRun(c);
      if (f) return this.step({ kind: 'fault', fault: f });
      this.retire(VSGX_ENTRY_INSTRUCTIONS);
      if (this.nonZero) return this.step({ kind: 'return', value: EINVAL_OUTCOME });
      const leaf = this.entry.leaf;
      if (leaf === EENTER) p.stats.eenter++;
      else p.stats.eresume++;
      const { tcsLo, tcsHi } = this;
      p.k.traceTask(g.task, 'vdso_enter', { leaf, tcs: (tcsHi >>> 0) * 4294967296 + (tcsLo >>> 0) });
      // vsgx.S: RAX = function, RBX = run->tcs, RCX = the AEP (the ENCLU itself); the rest passed as-is.
      const { r, mask } = this.entry.set;
      for (let n = 0; n < 16; n++) {
        if (!(mask & (1 << n))) continue;
        c.r[2 * n] = r[2 * n]!;
        c.r[2 * n + 1] = r[2 * n + 1]!;
      }
      c.setRegNum(0, leaf);
      c.r[6] = tcsLo;
      c.r[7] = tcsHi;
      c.setRegNum(1, this.enclu);
      c.rip = this.enclu;
      this.stage = 'enclu';
    }

    if (this.stage === 'enclu') {
      if (g.aexPending && !lp.inEnclave && c.rip === this.enclu) {
        // The CPU is back at the AEP after an AEX: this quantum starts with ERESUME (RAX = 3 from the AEX).
        g.aexPending = false;
        p.stats.aepResume++;
        p.k.traceTask(g.task, 'eresume', { tcs: c.getRegNum(3) });
      }
      const res = lp.run(budget - this.executed);
      this.executed += res.executed;
      this.cycles += res.cycles;
      const s = res.stop;
      switch (s.kind) {
        case 'budget':
          return this.step(BUDGET_STOP);
        case 'exception':
          if (s.aex) {
            g.aexPending = true;
            p.stats.aexException++;
            p.k.traceTask(g.task, 'aex', { vector: s.fault.vector, err: s.fault.errorCode, addr: s.fault.addr });
          }
          return this.step({ kind: 'fault', fault: s.fault });
        case 'int': {
          if (
            s.vector === VDSO_HOSTCALL_VECTOR &&
            !lp.inEnclave &&
            c.rip === this.base + VDSO_EEXIT_LANDING_OFFSET + VDSO_HOSTCALL_LENGTH
          ) {
            p.stats.eexit++;
            p.k.traceTask(g.task, 'eexit', {});
            this.exit = { kind: 'eexit', regs: readRegisters(c) };
            this.stage = 'store';
            break;
          }
          // Anywhere else INT n goes through a DPL-0 IDT gate from CPL 3: #GP with the IDT vector as the error
          // code, RIP at the instruction (arch/x86/kernel/idt.c; SDM Vol. 3A §6.12.1.1). (int $0x80, the ia32
          // syscall gate, is not modelled: host programs have no 32-bit code.)
          c.rip -= VDSO_HOSTCALL_LENGTH;
          return this.step({ kind: 'fault', fault: gp((s.vector << 3) | 2) });
        }
        case 'syscall':
          // Only reachable if an enclave EEXITs into code of the process that makes a system call.
          return this.step({
            kind: 'syscall',
            nr: c.getRegNum(0),
            args: [7, 6, 2, 10, 8, 9].map((n) => c.getRegNum(n)),
          });
        case 'hlt':
          throw new Error(`CPU ${lp.id}: HLT stop at CPL ${c.cpl} in guest code`);
        default: {
          const _exhaustive: never = s;
          throw new Error(`unknown stop ${JSON.stringify(_exhaustive)}`);
        }
      }
    }

    // The store stage: after EEXIT, or after fixup_vdso_exception() sent the CPU to .Lhandle_exception.
    const x = this.exit!;
    const n = x.kind === 'eexit' ? VSGX_EEXIT_INSTRUCTIONS : VSGX_EXCEPTION_INSTRUCTIONS;
    if (!this.fits(n)) return this.step(BUDGET_STOP);
    const f = this.storeExit(c, x);
    if (f) return this.step({ kind: 'fault', fault: f });
    this.retire(n);
    this.stage = 'load';
    return this.step({
      kind: 'return',
      value: { kind: 'exit', exit: x, userHandler: this.userHandler } satisfies VsgxOutcome,
    });
  }

  /**
   * "Validate that the reserved area contains only zeros": cmpq $0 over each quadword in order, then
   * "mov SGX_ENCLAVE_RUN_TCS(%rcx), %rbx". User-mode loads through the MMU: a fault stops at that load.
   * @returns the fault, if one was raised.
   */
  private loadRun(c: Cpu): CpuFault | undefined {
    const run = this.entry.run;
    const m = c.m;
    try {
      this.nonZero = false;
      for (let off = RUN_RESERVED; off < RUN_SIZE; off += 8) {
        if (m.rd64(run + off) !== 0 || m.hi !== 0) {
          this.nonZero = true;
          return undefined;
        }
      }
      this.tcsLo = m.rd64(run + RUN_TCS);
      this.tcsHi = m.hi;
      return undefined;
    } catch (e) {
      if (isFault(e)) return e;
      throw e;
    }
  }

  /**
   * After EEXIT "movl $EEXIT, SGX_ENCLAVE_RUN_LEAF(%rbx)" (only the function field), or .Lhandle_exception's
   * function = EAX, vector = DI, error code = SI, addr = RDX; then .Lhandle_exit's
   * "cmpq $0, SGX_ENCLAVE_RUN_USER_HANDLER(%rbx)". @returns the fault, if one was raised.
   */
  private storeExit(c: Cpu, x: EncluExit): CpuFault | undefined {
    const run = this.entry.run;
    const m = c.m;
    try {
      if (x.kind === 'eexit') m.wr32(run + RUN_FUNCTION, EEXIT);
      else {
        m.probeW(run + RUN_FUNCTION, RUN_ADDR + 8 - RUN_FUNCTION);
        m.wr32(run + RUN_FUNCTION, x.leaf);
        m.wr16(run + RUN_VECTOR, x.vector & 0xffff);
        m.wr16(run + RUN_ERROR_CODE, x.errorCode & 0xffff);
        m.wr64(run + RUN_ADDR, Number(BigInt.asIntN(32, x.addr)) | 0, Number(BigInt.asIntN(32, x.addr >> 32n)) | 0);
      }
      const lo = m.rd64(run + RUN_USER_HANDLER);
      this.userHandler = lo === 0 && m.hi === 0 ? 0n : (BigInt(m.hi >>> 0) << 32n) | BigInt(lo >>> 0);
      return undefined;
    } catch (e) {
      if (isFault(e)) return e;
      throw e;
    }
  }

  interrupt(ctx: GuestContext, reason: 'timer' | 'ipi'): void {
    // In enclave mode the processor holds this (running) thread's registers; aexOnInterrupt() checks it.
    aexOnInterrupt(this.p, ctx.cpu, reason);
  }

  /** After an AEX this is the AEP: the enclave's RIP is in the SSA, out of the kernel's sight. */
  userIp(ctx: GuestContext): number | undefined {
    return this.processorOn(ctx)?.cpu.rip;
  }

  /** The processor holding this thread's registers, if it is the one the kernel runs the thread on. */
  private processorOn(ctx: GuestContext) {
    const lp = this.g.lp;
    return lp && lp.id === ctx.cpu ? lp : undefined;
  }

  /** fixup_vdso_exception() (arch/x86/entry/vdso/extable.c). */
  fixup(ctx: GuestContext, fault: CpuFault, _signal: number): GuestStop | undefined {
    // Only the ENCLU has an exception-table entry: the vDSO's loads and stores of `run` fault like any code.
    if (this.stage !== 'enclu') return undefined;
    // "Do not attempt to fixup #DB or #BP. It's impossible to identify whether or not a #DB/#BP originated from
    // within an SGX enclave and SGX enclaves are currently the only use case for vDSO fixup."
    if (fault.vector === Vector.DB || fault.vector === Vector.BP) return undefined;
    const lp = this.processorOn(ctx);
    if (!lp) return undefined;
    const c = lp.cpu;
    // "if (regs->ip == base + extable[i].insn)": only the vDSO's ENCLU has an entry.
    if (lp.inEnclave || c.rip !== this.enclu) return undefined;
    // do_trap()/exc_general_protection() pass no address; the #PF paths pass CR2.
    const addr = fault.vector === Vector.PF ? BigInt.asUintN(64, BigInt(fault.addr)) : 0n;
    c.setRegNum(7, fault.vector);
    c.setRegNum(6, fault.errorCode >>> 0);
    c.setReg64(2, addr);
    // .Lhandle_exception stores EAX as run->function: EENTER, or ERESUME (the AEX's synthetic RAX).
    const leaf = c.r[0]! >>> 0;
    this.g.aexPending = false;
    this.p.stats.reported++;
    this.p.k.traceTask(this.g.task, 'vdso_exception', {
      leaf,
      vector: fault.vector,
      err: fault.errorCode,
      addr: Number(addr),
    });
    this.exit = {
      kind: 'exception',
      leaf,
      vector: fault.vector,
      errorCode: fault.errorCode,
      addr,
      regs: readRegisters(c),
    };
    // The CPU continues at .Lhandle_exception: the store stage, in the next quantum.
    this.stage = 'store';
    return BUDGET_STOP;
  }

  syscallReturn(ctx: GuestContext, ret: number): void {
    const lp = this.p.cpus.bind(this.g, ctx.cpu);
    lp.cpu.setRegNum(0, ret);
  }

  /** The thread dies in guest mode: leave the enclave if still inside (the kill's interrupt), forget the state. */
  abort(_ctx: GuestContext): void {
    const lp = this.g.lp;
    if (lp?.inEnclave) {
      const r = lp.interrupt('ipi');
      this.p.stats.aexInterrupt++;
      this.g.pendingCycles += r.cycles;
    }
    this.p.cpus.release(this.g);
  }
}

const EINVAL_OUTCOME: VsgxOutcome = Object.freeze({ kind: 'einval' });

/** EEXIT, ERESUME and EENTER as the leaves the vDSO accepts. */
export const { EENTER, ERESUME, EEXIT } = EncluLeaf;
