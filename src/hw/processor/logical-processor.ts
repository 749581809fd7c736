/**
 * A logical processor: one `Cpu` (the x86-64 interpreter with its MMU and TLB), its number, and the package's
 * `SgxMachine`. It is what the kernel's scheduler drives. `run(budget)` executes guest code and performs ENCLU
 * leaves as the hardware would, inline, returning only what the kernel must see; `interrupt()` is an interrupt or
 * IPI arriving (an AEX when the processor is in enclave mode); cycles are charged per the cost model so the
 * kernel can advance virtual time.
 *
 * Exceptions are delivered as the hardware delivers them: one raised in enclave mode (by enclave code or by a
 * leaf such as EGETKEY) first causes an AEX (sgx/aex.ts), so the kernel finds RIP = the AEP, RAX = ERESUME,
 * RBX = the TCS, and the stop says `aex: true`; a leaf that faults outside enclave mode (EENTER on a busy TCS is
 * #GP(0)) leaves RIP at the ENCLU instruction with `aex: false`.
 */
import { type CostItem, CostModel } from '../cost-model';
import {
  type CodeCache,
  type Cpu,
  type CpuOptions,
  type CpuState,
  createCpu,
  type PageTable,
  restoreCpu,
  run,
  saveCpu,
} from '../cpu/index';
import { type CpuFault, DR6_BS, debugTrap } from '../fault';
import type { Rng } from '../rng';
import { aex, type EncluContext, EncluLeaf, enclaveAccessHook, enclu, type SgxMachine } from '../sgx/index';

/** How a LogicalProcessor is built. */
export interface LogicalProcessorOptions {
  /** The processor's number: CPUID's APIC id, IA32_TSC_AUX, and the key of SGX's tracking of threads inside. */
  readonly id: number;
  readonly machine: SgxMachine;
  /** The address space it starts in (CR3); `setPageTable` switches it. */
  readonly pageTable: PageTable;
  /** The machine's shared decoded-instruction cache (one per PhysMem); a private one by default. */
  readonly cache?: CodeCache;
  /** RDRAND/RDSEED source (a fork of the machine's seeded Rng). */
  readonly rng?: Rng;
  /** Virtual time-stamp counter for RDTSC; defaults to the retired-instruction count. */
  readonly tsc?: () => number;
  /** Further CPUID overrides, consulted before the SGX leaf 12H answer and the built-in table. */
  readonly cpuid?: CpuOptions['cpuid'];
  readonly jit?: boolean;
  readonly jitThreshold?: number;
}

/** Why `run` returned: the stops the kernel handles. ENCLU never surfaces; it is executed inline. */
export type LpStop =
  /** The budget is spent; RIP is at the next instruction (possibly inside an enclave). */
  | { readonly kind: 'budget' }
  /**
   * An exception for the kernel to deliver. `aex`: it was raised in enclave mode and an AEX already happened
   * (RIP = AEP; for #PF, `fault.addr` has bits 11:0 cleared). Otherwise RIP is at the faulting instruction, or
   * after it for a trap (`trap`: #BP, #DB).
   */
  | { readonly kind: 'exception'; readonly fault: CpuFault; readonly trap: boolean; readonly aex: boolean }
  /** SYSCALL: RCX = return RIP, R11 = RFLAGS, RIP after the instruction. */
  | { readonly kind: 'syscall' }
  /** HLT at CPL 0; RIP after the instruction. */
  | { readonly kind: 'hlt' }
  /** INT n (n ≠ 3, not in enclave mode); RIP after the instruction. */
  | { readonly kind: 'int'; readonly vector: number };

export interface LpRunResult {
  readonly stop: LpStop;
  /** Instructions retired by this call, each ENCLU counted once. */
  readonly executed: number;
  /** Cycles charged by this call (cost model: instructions, ENCLU leaves, AEX). */
  readonly cycles: number;
}

/** What `interrupt` did. */
export interface InterruptResult {
  /** Whether the processor was in enclave mode and took an AEX. */
  readonly aex: boolean;
  readonly cycles: number;
}

/** Why an interrupt arrives; the AEX is the same for all of them (EXITINFO.VALID = 0). */
export type InterruptReason = 'timer' | 'ipi' | 'device';

/** A LogicalProcessor as plain JSON: the CPU's state, enclave-mode registers included, and its cycle count. */
export interface LogicalProcessorState {
  readonly id: number;
  readonly cpu: CpuState;
  readonly cycles: number;
}

/** ENCLU leaves and what each costs (cost-model.ts). */
const LEAF_COST: Readonly<Record<number, CostItem>> = {
  [EncluLeaf.EREPORT]: 'ereport',
  [EncluLeaf.EGETKEY]: 'egetkey',
  [EncluLeaf.EENTER]: 'eenter',
  [EncluLeaf.ERESUME]: 'eresume',
  [EncluLeaf.EEXIT]: 'eexit',
  [EncluLeaf.EDECCSSA]: 'edeccssa',
};

export class LogicalProcessor {
  readonly id: number;
  readonly machine: SgxMachine;
  readonly cpu: Cpu;
  /** Cycles charged since creation (or as restored). */
  cycles = 0;
  private readonly ctx: EncluContext;

  constructor(opts: LogicalProcessorOptions) {
    this.id = opts.id;
    this.machine = opts.machine;
    const m = opts.machine;
    const extra = opts.cpuid;
    this.cpu = createCpu({
      mem: m.physMem,
      pageTable: opts.pageTable,
      accessHook: enclaveAccessHook(m),
      // CPUID.(EAX=12H): the SGX capabilities and EPC sections (SDM Vol. 3D §37.7.2).
      cpuid: (leaf, sub) => {
        const over = extra?.(leaf, sub);
        if (over) return over;
        if (leaf !== 0x12) return undefined;
        const r = m.cpuid12(sub);
        return [r.eax, r.ebx, r.ecx, r.edx];
      },
      tscAux: opts.id,
      ...(opts.cache && { cache: opts.cache }),
      ...(opts.rng && { rng: opts.rng }),
      ...(opts.tsc && { tsc: opts.tsc }),
      ...(opts.jit !== undefined && { jit: opts.jit }),
      ...(opts.jitThreshold !== undefined && { jitThreshold: opts.jitThreshold }),
    });
    this.ctx = { m, cpu: this.cpu, cpuId: opts.id };
  }

  /** Whether the processor is in enclave mode (CR_ENCLAVE_MODE). */
  get inEnclave(): boolean {
    return this.cpu.enclave !== null;
  }

  /**
   * Switches address space (MOV CR3): flushes this processor's TLB. Only outside enclave mode: a context switch
   * always follows the interrupt or exception whose AEX already left the enclave.
   */
  setPageTable(pt: PageTable): void {
    if (this.cpu.enclave) throw new Error(`CPU ${this.id}: address-space switch in enclave mode`);
    this.cpu.setPageTable(pt);
  }

  /**
   * Drops TLB entries after the kernel changed page tables: one linear page (INVLPG), or everything (a CR3 reload
   * without PCID). A PTE change is seen only after this, as on hardware: translations are checked at TLB fill.
   */
  flushTlb(linear?: number): void {
    if (linear === undefined) this.cpu.m.flushAll();
    else this.cpu.m.flushPage(linear);
  }

  /**
   * Executes up to `budget` instructions (ENCLU leaves count as one each and are performed inline).
   * @returns the stop, the instructions retired and the cycles charged.
   */
  run(budget: number): LpRunResult {
    const cpu = this.cpu;
    let executed = 0;
    let cycles = 0;
    for (;;) {
      if (executed >= budget) return this.done(executed, cycles, { kind: 'budget' });
      const r = run(cpu, budget - executed);
      executed += r.executed;
      cycles += r.executed * CostModel.instruction;
      const stop = r.stop;
      switch (stop.kind) {
        case 'budget':
          return this.done(executed, cycles, { kind: 'budget' });
        case 'fault':
          cycles += this.deliverCost();
          return this.done(executed, cycles, this.deliver(stop.fault, stop.trap));
        case 'enclu': {
          const o = enclu(this.ctx, stop.leaf);
          if (o.kind === 'fault') {
            cycles += this.deliverCost();
            return this.done(executed, cycles, this.deliver(o.fault, false));
          }
          executed += 1;
          cpu.icount += 1;
          // A leaf without a row in the cost model (none today) is charged as one instruction.
          const item = LEAF_COST[stop.leaf >>> 0];
          cycles += item ? CostModel[item] : CostModel.instruction;
          // "Pend a single-step #DB at the end of" EENTER/EEXIT: a trap with RIP where the leaf left it.
          if (o.pendingDb) {
            cycles += this.deliverCost();
            return this.done(executed, cycles, this.deliver(debugTrap(DR6_BS), true));
          }
          continue;
        }
        case 'syscall':
        case 'hlt':
          return this.done(executed, cycles, { kind: stop.kind });
        case 'int':
          return this.done(executed, cycles, { kind: 'int', vector: stop.vector });
        case 'encls':
          // The kernel executes ENCLS as a function call (encls()), never as interpreted CPL-0 code.
          throw new Error(`CPU ${this.id}: ENCLS in interpreted CPL-0 code is not modelled; call encls() instead`);
        default: {
          const _exhaustive: never = stop;
          throw new Error(`unknown stop ${JSON.stringify(_exhaustive)}`);
        }
      }
    }
  }

  /** What run() returns, with its cycles added to the processor's count. */
  private done(executed: number, cycles: number, stop: LpStop): LpRunResult {
    this.cycles += cycles;
    return { stop, executed, cycles };
  }

  /**
   * An interrupt or IPI arrives between two instructions: in enclave mode an AEX (EXITINFO.VALID = 0) leaves the
   * enclave with RIP = the AEP; outside it nothing changes here (the kernel takes the interrupt).
   */
  interrupt(_reason: InterruptReason): InterruptResult {
    if (!this.cpu.enclave) return { aex: false, cycles: 0 };
    aex(this.ctx, { kind: 'interrupt' });
    this.cycles += CostModel.aex;
    return { aex: true, cycles: CostModel.aex };
  }

  /** The processor's state as plain JSON (the TLB is not state). */
  save(): LogicalProcessorState {
    return { id: this.id, cpu: structuredClone(saveCpu(this.cpu)), cycles: this.cycles };
  }

  /**
   * Loads a saved state (TLB flushed). The SgxMachine's record of which processors are inside which enclave is
   * the machine's state (SgxMachine.save/restore), not this processor's.
   */
  restore(state: LogicalProcessorState): void {
    if (state.id !== this.id) throw new Error(`state of CPU ${state.id} restored into CPU ${this.id}`);
    restoreCpu(this.cpu, structuredClone(state.cpu));
    this.cycles = state.cycles;
  }

  private deliverCost(): number {
    return this.cpu.enclave ? CostModel.aex : 0;
  }

  /** Delivers an exception: an AEX first in enclave mode. */
  private deliver(f: CpuFault, trap: boolean): LpStop {
    if (!this.cpu.enclave) return { kind: 'exception', fault: f, trap, aex: false };
    const delivered = aex(this.ctx, { kind: 'exception', fault: f, trap }) ?? f;
    return { kind: 'exception', fault: delivered, trap, aex: true };
  }
}
