/** Per-CPU scheduler state (struct rq plus the bits of cpu_tlbstate the kernel needs). */
import type { Mm } from '../mm/mm';
import type { Task } from '../proc/task';

export class Cpu {
  /** Virtual time of this CPU in cycles. */
  clock = 0;
  /** rq->curr. */
  current: Task | undefined;
  /** The mm loaded in CR3: stays loaded while idle (lazy TLB), like x86's cpu_tlbstate.loaded_mm. */
  activeMm: Mm | null = null;
  /** When the current task got the CPU (for the timeslice). */
  sliceStart = 0;
  /** Time of the next timer interrupt. */
  nextTick: number;
  /** IPIs not yet taken. */
  ipiPending = 0;
  /** A timer interrupt has been delivered to guest code and not yet acted on (preemption point). */
  tickDelivered = false;
  /** Context switches done. */
  switches = 0;

  constructor(
    readonly id: number,
    tickCycles: number,
  ) {
    this.nextTick = tickCycles;
  }

  get idle(): boolean {
    return this.current === undefined;
  }
}
