/**
 * One ENCLU of __vdso_sgx_enter_enclave() as guest code: the thread's registers go onto the processor of its CPU,
 * the vDSO's ENCLU runs EENTER or ERESUME, enclave code runs in the kernel's quanta, and the run ends when the
 * CPU reaches the instruction after ENCLU through EEXIT, or when an exception on the ENCLU is fixed up.
 *
 * Everything in between is the hardware and the kernel doing their jobs, invisibly to the caller:
 * - a timer tick or IPI in enclave mode is an AEX; the CPU is then at the AEP (the same ENCLU) with
 *   RAX = ERESUME, the kernel may run another thread, and the next quantum — on whatever CPU — ERESUMEs;
 * - an exception in enclave mode AEXes too and goes to the kernel at the AEP; a #PF the kernel resolves (a PTE
 *   zapped by the reclaimer, a page ELDU'd back) lets the ERESUME at the AEP retry the access;
 * - what the kernel cannot resolve becomes, for a fault on the vDSO's ENCLU, fixup_vdso_exception(): RDI, RSI,
 *   RDX = trap number, error code, address, and the vDSO reports it (arch/x86/entry/vdso/extable.c). #DB and #BP
 *   are never fixed up; they become SIGTRAP as anywhere else.
 */

import type { CpuFault } from '../hw/index';
import { type Cpu, EncluLeaf, gp, Vector } from '../hw/index';
import type { GuestContext, GuestRunner, GuestStep, GuestStop } from '../kernel/index';
import type { GuestThread } from './guest-cpus';
import { aexOnInterrupt, type Platform } from './platform';
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
export const GPR_NAMES = [
  'rax',
  'rcx',
  'rdx',
  'rbx',
  'rsp',
  'rbp',
  'rsi',
  'rdi',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
] as const satisfies ReadonlyArray<keyof VdsoRegisters>;

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

/** What the vDSO loads before ENCLU. Registers not named keep the thread's values ("passed as-is"). */
export interface EncluEntry {
  readonly leaf: number;
  readonly tcs: bigint;
  readonly set: Partial<VdsoRegisters>;
}

/** All GPRs of `c`. */
export function readRegisters(c: Cpu): VdsoRegisters {
  const out = {} as VdsoRegisters;
  GPR_NAMES.forEach((name, i) => {
    out[name] = BigInt.asUintN(64, c.getReg64(i));
  });
  return out;
}

function writeRegisters(c: Cpu, set: Partial<VdsoRegisters>): void {
  GPR_NAMES.forEach((name, i) => {
    const v = set[name];
    if (v !== undefined) c.setReg64(i, v);
  });
}

const BUDGET_STOP: GuestStop = Object.freeze({ kind: 'budget' });

export class EncluRunner implements GuestRunner {
  private started = false;

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

  run(ctx: GuestContext, budget: number): GuestStep {
    const { p, g } = this;
    const lp = p.cpus.bind(g, ctx.cpu);
    const c = lp.cpu;
    if (!this.started) {
      this.started = true;
      // vsgx.S: RAX = function, RBX = run->tcs, RCX = the AEP (the ENCLU itself); the rest passed as-is.
      writeRegisters(c, {
        ...this.entry.set,
        rax: BigInt(this.entry.leaf),
        rbx: this.entry.tcs,
        rcx: BigInt(this.enclu),
      });
      c.rip = this.enclu;
    } else if (g.aexPending && !lp.inEnclave && c.rip === this.enclu) {
      // The CPU is back at the AEP after an AEX: this quantum starts with ERESUME (RAX = 3 from the AEX).
      g.aexPending = false;
      p.stats.aepResume++;
      p.k.traceTask(g.task, 'eresume', { tcs: Number(c.getReg64(3)) });
    }
    const r = lp.run(budget);
    const cycles = r.cycles + g.pendingCycles;
    g.pendingCycles = 0;
    const step = (stop: GuestStop): GuestStep => ({ stop, executed: r.executed, cycles });
    const s = r.stop;
    switch (s.kind) {
      case 'budget':
        return step(BUDGET_STOP);
      case 'exception':
        if (s.aex) {
          g.aexPending = true;
          p.stats.aexException++;
          p.k.traceTask(g.task, 'aex', { vector: s.fault.vector, err: s.fault.errorCode, addr: s.fault.addr });
        }
        return step({ kind: 'fault', fault: s.fault });
      case 'int': {
        if (
          s.vector === VDSO_HOSTCALL_VECTOR &&
          !lp.inEnclave &&
          c.rip === this.base + VDSO_EEXIT_LANDING_OFFSET + VDSO_HOSTCALL_LENGTH
        ) {
          p.stats.eexit++;
          p.k.traceTask(g.task, 'eexit', {});
          return step({ kind: 'return', value: { kind: 'eexit', regs: readRegisters(c) } satisfies EncluExit });
        }
        // Anywhere else INT n goes through a DPL-0 IDT gate from CPL 3: #GP with the IDT vector as the error code,
        // RIP at the instruction (arch/x86/kernel/idt.c; SDM Vol. 3A §6.12.1.1). (int $0x80, the ia32 syscall
        // gate, is not modelled: host programs have no 32-bit code.)
        c.rip -= VDSO_HOSTCALL_LENGTH;
        return step({ kind: 'fault', fault: gp((s.vector << 3) | 2) });
      }
      case 'syscall':
        // Only reachable if an enclave EEXITs into code of the process that makes a system call.
        return step({
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

  interrupt(ctx: GuestContext, reason: 'timer' | 'ipi'): void {
    // In enclave mode the processor holds this (running) thread's registers; aexOnInterrupt() checks it.
    aexOnInterrupt(this.p, ctx.cpu, reason);
  }

  /** fixup_vdso_exception() (arch/x86/entry/vdso/extable.c). */
  fixup(ctx: GuestContext, fault: CpuFault, _signal: number): GuestStop | undefined {
    // "Do not attempt to fixup #DB or #BP. It's impossible to identify whether or not a #DB/#BP originated from
    // within an SGX enclave and SGX enclaves are currently the only use case for vDSO fixup."
    if (fault.vector === Vector.DB || fault.vector === Vector.BP) return undefined;
    const lp = this.g.lp;
    if (!lp || lp.id !== ctx.cpu) return undefined;
    const c = lp.cpu;
    // "if (regs->ip == base + extable[i].insn)": only the vDSO's ENCLU has an entry.
    if (lp.inEnclave || c.rip !== this.enclu) return undefined;
    // do_trap()/exc_general_protection() pass no address; the #PF paths pass CR2.
    const addr = fault.vector === Vector.PF ? BigInt.asUintN(64, BigInt(fault.addr)) : 0n;
    writeRegisters(c, { rdi: BigInt(fault.vector), rsi: BigInt.asUintN(64, BigInt(fault.errorCode)), rdx: addr });
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
    const exit: EncluExit = {
      kind: 'exception',
      leaf,
      vector: fault.vector,
      errorCode: fault.errorCode,
      addr,
      regs: readRegisters(c),
    };
    return { kind: 'return', value: exit };
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

/** EEXIT, ERESUME and EENTER as the leaves the vDSO accepts. */
export const { EENTER, ERESUME, EEXIT } = EncluLeaf;
