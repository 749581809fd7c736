/**
 * The seeded deterministic scheduler. Tasks run over N logical CPUs in virtual time:
 * - an idle CPU takes a runnable task chosen by the seeded Rng;
 * - the busy CPU with the lowest clock advances by one step (a kernel entry, or one guest quantum); CPUs
 *   tied on time are chosen by the Rng. So every syscall is a scheduling point, and the same seed gives the
 *   same interleaving;
 * - a task keeps its CPU until it blocks, exits, or its timeslice is used up while another task waits
 *   (guest code is only preempted at a timer interrupt, as on hardware);
 * - sleepers with a deadline are woken when virtual time reaches it; idle time jumps forward.
 * Wake-ups happen at the waker's current time.
 */
import type { Rng } from '../../hw/index';
import type { Mm } from '../mm/mm';
import type { Task, WakeReason } from '../proc/task';
import type { CostModel } from './cost-model';
import { Cpu } from './cpu';
import type { Trace } from './trace';

/** How a run ended. */
export type RunResult =
  /** No user task is left. */
  | { readonly kind: 'idle'; readonly steps: number }
  /** User tasks remain, all blocked with nothing that could wake them. */
  | { readonly kind: 'deadlock'; readonly steps: number; readonly blocked: readonly number[] }
  /** The step or time limit was reached. */
  | { readonly kind: 'limit'; readonly steps: number };

export interface RunOptions {
  /** Stop after this many steps. */
  readonly maxSteps?: number;
  /** Stop once every CPU clock passes this time (cycles). */
  readonly until?: number;
}

/** What the scheduler needs to know from the rest of the kernel. */
export interface SchedulerHooks {
  /** User tasks still alive: a run ends when none is left (kernel threads are daemons). */
  liveUserTasks(): number;
  /** Tids of blocked user tasks, to report a deadlock. */
  blockedUserTids(): number[];
  /** A CPU switches address spaces (switch_mm()). */
  onSwitchMm(cpu: Cpu, prev: Mm | null, next: Mm | null): void;
  /** The host code a step resumed entered the kernel again: the rest of that step (proc/step.ts). */
  returnedFromUser(t: Task, cpu: Cpu): void;
}

/**
 * One scheduling step of a task on a CPU; supplied by the kernel (proc/step.ts). It runs synchronously, and returns
 * true when it handed the CPU to host code that has not yet entered the kernel again: the step ends when it does
 * (`Scheduler.hostStopped`).
 */
export type Stepper = (t: Task, cpu: Cpu) => boolean;

/** The run in progress: its limits, and how to settle Kernel.run()'s promise. */
interface ActiveRun {
  readonly opts: RunOptions;
  readonly start: number;
  readonly resolve: (r: RunResult) => void;
  readonly reject: (e: unknown) => void;
}

interface Timer {
  readonly at: number;
  readonly task: Task;
  readonly seq: number;
}

export class Scheduler {
  readonly cpus: Cpu[];
  /** Runnable tasks not on a CPU, in the order they became runnable. */
  private readonly runqueue: Task[] = [];
  private timers: Timer[] = [];
  private timerSeq = 0;
  /** The CPU whose step is executing, for "now". */
  private current: Cpu | undefined;
  /** Virtual time of the event being processed when no CPU step is running (timer firing). */
  private eventTime = 0;
  steps = 0;
  running = false;
  private active: ActiveRun | undefined;
  /** The loop is on the stack (a host call coming back inside it only ends the step; the loop goes on). */
  private pumping = false;
  /** The task whose host code the current step resumed, on `current`, while it runs. */
  private awaiting: Task | undefined;

  constructor(
    nrCpus: number,
    private readonly rng: Rng,
    private readonly costs: CostModel,
    private readonly trace: Trace,
    private readonly stepper: Stepper,
    private readonly hooks: SchedulerHooks,
  ) {
    this.cpus = Array.from({ length: nrCpus }, (_, i) => new Cpu(i, costs.tickCycles));
  }

  /** The virtual time seen by `t` (its CPU's clock), or the time of the current event. */
  now(t?: Task): number {
    if (t?.cpu !== undefined) return this.cpus[t.cpu]!.clock;
    return this.current?.clock ?? this.eventTime;
  }

  /** The CPU executing the current step, if any. */
  get currentCpu(): Cpu | undefined {
    return this.current;
  }

  /** A new or woken task becomes runnable at `at`. */
  enqueue(t: Task, at = this.now()): void {
    t.state = 'runnable';
    t.readyAt = at;
    this.runqueue.push(t);
  }

  /** Parks a task that is on a CPU (it blocked or stopped): the CPU becomes free. */
  deschedule(t: Task): void {
    if (t.cpu !== undefined) {
      const cpu = this.cpus[t.cpu]!;
      if (cpu.current === t) cpu.current = undefined;
      t.lastCpu = t.cpu;
      t.cpu = undefined;
    }
  }

  /** Puts `t` to sleep until woken or until `deadline`. */
  sleep(t: Task, deadline: number | undefined): void {
    this.deschedule(t);
    t.state = 'blocked';
    t.wakeReason = undefined;
    if (deadline !== undefined) {
      this.timers.push({ at: deadline, task: t, seq: this.timerSeq++ });
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    }
  }

  /** try_to_wake_up(): a blocked task becomes runnable now. */
  wakeTask(t: Task, reason: WakeReason): void {
    if (t.state !== 'blocked') return;
    if (t.blockedOn) for (const q of t.blockedOn.queues) q.remove(t);
    if (this.timers.length > 0) this.timers = this.timers.filter((x) => x.task !== t);
    t.wakeReason = reason;
    this.enqueue(t);
  }

  /** Takes a stopped task back (SIGCONT). */
  resumeStopped(t: Task): void {
    if (t.state === 'stopped') this.enqueue(t);
  }

  /** Removes a task from every scheduler structure (it is dead). */
  remove(t: Task): void {
    const i = this.runqueue.indexOf(t);
    if (i >= 0) this.runqueue.splice(i, 1);
    if (t.blockedOn) for (const q of t.blockedOn.queues) q.remove(t);
    this.timers = this.timers.filter((x) => x.task !== t);
    this.deschedule(t);
    t.state = 'dead';
  }

  /** Moves the running task off its CPU back to the runqueue (preemption, sched_yield). */
  preempt(t: Task): void {
    const cpu = t.cpu === undefined ? undefined : this.cpus[t.cpu];
    this.deschedule(t);
    this.enqueue(t, cpu?.clock ?? this.now());
  }

  /** Sends an IPI to each CPU in `cpus` (a running guest sees it at its next instruction boundary). */
  sendIpi(cpus: Iterable<number>, from?: Task): void {
    const targets = [...cpus].filter((c) => c >= 0 && c < this.cpus.length).sort((a, b) => a - b);
    for (const c of targets) this.cpus[c]!.ipiPending++;
    if (targets.length > 0) {
      const cpu = this.current;
      if (cpu) cpu.clock += this.costs.ipi;
      this.trace.emit({
        t: this.now(),
        cpu: cpu?.id ?? -1,
        pid: from?.tgid ?? 0,
        tid: from?.tid ?? 0,
        ev: 'ipi',
        data: { cpus: targets },
      });
    }
  }

  /** Tasks waiting for a CPU (for snapshots). */
  runnable(): readonly Task[] {
    return this.runqueue;
  }

  private fillIdleCpus(): void {
    for (const cpu of this.cpus) {
      if (!cpu.idle || this.runqueue.length === 0) continue;
      const t = this.runqueue.splice(this.rng.below(this.runqueue.length), 1)[0]!;
      const prev = cpu.activeMm;
      cpu.clock = Math.max(cpu.clock, t.readyAt) + this.costs.contextSwitch;
      cpu.current = t;
      cpu.sliceStart = cpu.clock;
      cpu.switches++;
      t.cpu = cpu.id;
      if (t.state === 'runnable') t.state = 'running';
      if (t.mm !== prev && t.mm !== null) {
        cpu.activeMm = t.mm;
        this.hooks.onSwitchMm(cpu, prev, t.mm);
      }
      this.trace.record(cpu.clock, cpu.id, t.tgid, t.tid, 'switch');
    }
  }

  /** The busy CPU with the lowest clock; a tie is broken by the Rng over the tied CPUs in CPU order. */
  private pickCpu(): Cpu | undefined {
    let best: Cpu | undefined;
    let ties = 0;
    for (const cpu of this.cpus) {
      if (cpu.idle) continue;
      if (!best || cpu.clock < best.clock) {
        best = cpu;
        ties = 1;
      } else if (cpu.clock === best.clock) ties++;
    }
    if (ties <= 1) return best;
    let k = this.rng.below(ties);
    for (const cpu of this.cpus) {
      if (cpu.idle || cpu.clock !== best!.clock) continue;
      if (k-- === 0) return cpu;
    }
    return undefined;
  }

  private fireTimer(timer: Timer): void {
    this.timers.shift();
    this.eventTime = timer.at;
    this.wakeTask(timer.task, 'timeout');
  }

  /**
   * Runs until no user task is left, a deadlock, or a limit. The loop is synchronous: it runs kernel steps until one
   * hands the CPU to host code, then waits for that code to enter the kernel again (hostStopped()), which usually
   * continues the loop inside that very call, one microtask later.
   */
  run(opts: RunOptions = {}): Promise<RunResult> {
    if (this.running) return Promise.reject(new Error('Kernel.run() is already running'));
    this.running = true;
    return new Promise<RunResult>((resolve, reject) => {
      this.active = { opts, start: this.steps, resolve, reject };
      this.pump();
    });
  }

  /**
   * The host code that the current step resumed is back in the kernel (Task.enter()): the step ends and the loop
   * continues. A thread function starting synchronously inside its step comes back while the loop is on the stack;
   * the step function sees that itself.
   */
  hostStopped(t: Task): void {
    if (this.pumping || this.awaiting !== t) return;
    this.awaiting = undefined;
    const cpu = this.current!;
    try {
      this.hooks.returnedFromUser(t, cpu);
      this.endStep(cpu);
    } catch (e) {
      this.fail(e);
      return;
    }
    this.pump();
  }

  /** The scheduling loop, until a step resumes host code or the run ends. */
  private pump(): void {
    const a = this.active;
    if (!a) return;
    const { opts, start } = a;
    this.pumping = true;
    try {
      for (;;) {
        if (opts.maxSteps !== undefined && this.steps - start >= opts.maxSteps) {
          this.finish({ kind: 'limit', steps: this.steps - start });
          return;
        }
        if (this.hooks.liveUserTasks() === 0) {
          this.finish({ kind: 'idle', steps: this.steps - start });
          return;
        }
        this.fillIdleCpus();
        const cpu = this.pickCpu();
        const timer = this.timers[0];
        if (timer && (!cpu || timer.at <= cpu.clock)) {
          if (opts.until !== undefined && timer.at > opts.until) {
            this.finish({ kind: 'limit', steps: this.steps - start });
            return;
          }
          this.fireTimer(timer);
          continue;
        }
        if (!cpu) {
          this.finish({ kind: 'deadlock', steps: this.steps - start, blocked: this.hooks.blockedUserTids() });
          return;
        }
        if (opts.until !== undefined && cpu.clock > opts.until) {
          this.finish({ kind: 'limit', steps: this.steps - start });
          return;
        }
        const t = cpu.current!;
        this.current = cpu;
        this.steps++;
        if (this.stepper(t, cpu)) {
          this.awaiting = t;
          return;
        }
        this.endStep(cpu);
      }
    } catch (e) {
      this.fail(e);
    } finally {
      this.pumping = false;
    }
  }

  /** After a step: the time of the next event, and need_resched. */
  private endStep(cpu: Cpu): void {
    this.eventTime = cpu.clock;
    this.current = undefined;
    this.maybePreempt(cpu);
  }

  private finish(r: RunResult): void {
    const a = this.active!;
    this.active = undefined;
    this.running = false;
    a.resolve(r);
  }

  /** A simulator bug (or a host error the kernel rethrows) ends the run: Kernel.run() rejects with it. */
  private fail(e: unknown): void {
    const a = this.active;
    if (this.current) this.eventTime = this.current.clock;
    this.current = undefined;
    this.awaiting = undefined;
    this.active = undefined;
    this.running = false;
    a?.reject(e);
  }

  private maybePreempt(cpu: Cpu): void {
    const t = cpu.current;
    if (!t) {
      cpu.ipiPending = 0;
      return;
    }
    // Host code sees IPIs only as (no-op) interrupts; guest code takes them in its step.
    if (!t.guest) cpu.ipiPending = 0;
    if (this.runqueue.length === 0) return;
    if (cpu.clock - cpu.sliceStart < this.costs.timesliceCycles) return;
    // Guest code can only lose the CPU at an interrupt, i.e. after a delivered timer tick.
    if (t.guest && !cpu.tickDelivered) return;
    cpu.tickDelivered = false;
    this.trace.record(cpu.clock, cpu.id, t.tgid, t.tid, 'preempt');
    this.preempt(t);
  }
}
