/**
 * The logical processors the kernel's CPUs stand for, and which thread's registers each one holds.
 *
 * A thread running guest code keeps its architectural state in a `RegisterFile` while it is off a CPU. Switching is
 * lazy, as Linux's FPU state is: a processor keeps the last thread's registers until another thread needs the
 * processor, or the thread needs them on another one; then typed-array copies move them (`storeRegisters` /
 * `loadRegisters`). A thread that is not running is never in enclave mode — the kernel preempts guest code only
 * after a timer interrupt, whose AEX left the enclave (SDM Vol. 3D §40.4), and an IPI AEXes a CPU in enclave mode
 * at once — so a processor in enclave mode always belongs to the task its CPU is running; the switch asserts it.
 */
import { type LogicalProcessor, loadRegisters, RegisterFile, storeRegisters } from '../hw/index';
import type { Kernel, Task } from '../kernel/index';

/** One thread's guest-visible CPU state while it runs the vDSO and enclave code. */
export class GuestThread {
  /** Its registers while no processor holds them. */
  readonly regs = new RegisterFile();
  /** The processor holding its registers, if any. */
  lp: LogicalProcessor | undefined;
  /** Cycles owed to the thread's CPU clock (an AEX taken between two of its quanta). */
  pendingCycles = 0;
  /** An AEX left the thread at the AEP; its next quantum begins with the ERESUME there. */
  aexPending = false;
  /** Its untrusted stack for the vDSO frame: [stackBase, stackTop). 0 until mapped. */
  stackTop = 0;
  /** vDSO calls in progress on this thread (more than one only from a signal handler). */
  depth = 0;

  constructor(readonly task: Task) {}
}

export class GuestCpus {
  /** The thread whose registers each processor holds. */
  private readonly owner: Array<GuestThread | undefined>;
  private readonly threads = new WeakMap<Task, GuestThread>();

  constructor(
    private readonly k: Kernel,
    readonly lps: readonly LogicalProcessor[],
  ) {
    this.owner = lps.map(() => undefined);
  }

  /** The guest state of `t` (created on first use). */
  thread(t: Task): GuestThread {
    let g = this.threads.get(t);
    if (!g) {
      g = new GuestThread(t);
      this.threads.set(t, g);
    }
    return g;
  }

  /** The thread whose registers processor `cpu` holds. */
  ownerOf(cpu: number): GuestThread | undefined {
    return this.owner[cpu];
  }

  /**
   * Puts `g`'s registers on processor `cpu` (a context switch, done lazily) and returns it.
   * Throws if a processor holding a thread that is not running is still in enclave mode.
   */
  bind(g: GuestThread, cpu: number): LogicalProcessor {
    const lp = this.lps[cpu]!;
    if (this.owner[cpu] === g) return lp;
    if (g.lp) this.evict(g.lp.id);
    this.evict(cpu);
    loadRegisters(lp.cpu, g.regs);
    this.owner[cpu] = g;
    g.lp = lp;
    return lp;
  }

  /** Saves the registers processor `cpu` holds back to their thread, leaving the processor unowned. */
  evict(cpu: number): void {
    const prev = this.owner[cpu];
    if (!prev) return;
    const lp = this.lps[cpu]!;
    this.assertOutside(lp, prev);
    storeRegisters(lp.cpu, prev.regs);
    prev.lp = undefined;
    this.owner[cpu] = undefined;
  }

  /** A copy of `g`'s registers, wherever they are. */
  snapshot(g: GuestThread): RegisterFile {
    if (g.lp) storeRegisters(g.lp.cpu, g.regs);
    return g.regs.clone();
  }

  /** Replaces `g`'s registers (outside enclave mode). */
  restore(g: GuestThread, rf: RegisterFile): void {
    g.regs.copyFrom(rf);
    if (g.lp) loadRegisters(g.lp.cpu, g.regs);
  }

  /** Forgets `g` (the thread is dying); its processor must already be out of enclave mode. */
  release(g: GuestThread): void {
    if (g.lp) {
      this.assertOutside(g.lp, g);
      this.owner[g.lp.id] = undefined;
      g.lp = undefined;
    }
    this.threads.delete(g.task);
  }

  /** The invariant: only the running task's processor can be in enclave mode. */
  private assertOutside(lp: LogicalProcessor, g: GuestThread): void {
    if (!lp.inEnclave) return;
    const running = this.k.sched.cpus[lp.id]?.current;
    throw new Error(
      `CPU ${lp.id} is in enclave mode with the registers of tid ${g.task.tid}, which is ${running === g.task ? 'running' : 'not running'}: a thread must leave (AEX) before it loses its CPU`,
    );
  }
}
