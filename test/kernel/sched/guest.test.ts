/**
 * The guest-execution extension point with a fake guest (a counter of "instructions" with scripted stops):
 * CPU assignment, quanta bounded by the timer, timer and IPI interrupts at instruction boundaries,
 * preemption only at a timer interrupt, migration, faults resolved by the kernel or fixed up by the runner,
 * guest syscalls, signals and death while in guest mode.
 */
import { describe, expect, it } from 'vitest';
import { type CpuFault, DR6_BS, debugTrap, fault, PfErr, pf, Vector } from '../../../src/hw/index';
import {
  CLONE_THREAD_FLAGS,
  type GuestContext,
  type GuestRunner,
  type GuestStep,
  type GuestStop,
  Kernel,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  NR,
  PROT_READ,
  PROT_WRITE,
  SI_KERNEL,
  SIGKILL,
  SIGSEGV,
  SIGTRAP,
  SIGUSR1,
  type Sys,
  TRAP_BRKPT,
  TRAP_HWBKPT,
  TRAP_TRACE,
} from '../../../src/kernel/index';
import { statusText } from '../fixtures/kernel';

interface Event {
  readonly kind: string;
  readonly cpu: number;
  readonly at: number;
  readonly detail?: unknown;
}

/** A guest that runs `total` instructions, with optional scripted stops at given instruction counts. */
class FakeGuest implements GuestRunner {
  done = 0;
  readonly events: Event[] = [];
  readonly budgets: number[] = [];
  private readonly stops = new Map<number, () => GuestStop | undefined>();
  aborted = false;
  fixups = 0;

  constructor(
    readonly total: number,
    readonly kernel: Kernel,
  ) {}

  stopAt(n: number, f: () => GuestStop | undefined): this {
    this.stops.set(n, f);
    return this;
  }

  run(ctx: GuestContext, budget: number): GuestStep {
    this.budgets.push(budget);
    this.events.push({ kind: 'run', cpu: ctx.cpu, at: this.done });
    let executed = 0;
    while (executed < budget) {
      const s = this.stops.get(this.done);
      if (s) {
        const stop = s();
        if (stop?.kind === 'syscall') {
          // SYSCALL completes (RIP moves past it) before the kernel runs the call.
          this.stops.delete(this.done);
          this.done++;
          return { stop, executed: executed + 1 };
        }
        if (stop) return { stop, executed };
        this.stops.delete(this.done);
      }
      if (this.done >= this.total) return { stop: { kind: 'return', value: this.done }, executed };
      this.done++;
      executed++;
    }
    return { stop: { kind: 'budget' }, executed };
  }

  interrupt(ctx: GuestContext, reason: 'timer' | 'ipi'): void {
    this.events.push({ kind: reason, cpu: ctx.cpu, at: this.done });
  }

  fixup(_ctx: GuestContext, f: CpuFault, sig: number): GuestStop | undefined {
    this.fixups++;
    if (f.addr === 0xdead000) return { kind: 'return', value: `fixed ${sig}` };
    return undefined;
  }

  syscallReturn(_ctx: GuestContext, ret: number): void {
    this.events.push({ kind: 'sysret', cpu: _ctx.cpu, at: this.done, detail: ret });
  }

  abort(ctx: GuestContext): void {
    this.aborted = true;
    this.events.push({ kind: 'abort', cpu: ctx.cpu, at: this.done });
  }
}

/** Yields until only the calling thread is left in its process. */
async function joinThreads(sys: Sys): Promise<void> {
  for (;;) {
    let alive = 0;
    await sys.kcall('threads', (t) => {
      alive = t.process.threads.length;
      return 0;
    });
    if (alive === 1) return;
    await sys.sched_yield();
  }
}

function kernel(cpus = 2) {
  return new Kernel({
    seed: 3,
    cpus,
    costs: { tickCycles: 100_000, timesliceCycles: 150_000, guestQuantum: 30_000, cyclesPerInstruction: 1 },
  });
}

describe('guest execution hooks', () => {
  it('runs guest code in quanta that never cross a timer tick, with timer interrupts between them', async () => {
    const k = kernel();
    const g = new FakeGuest(450_000, k);
    let value: unknown;
    k.spawn(async (sys) => {
      value = await sys.runGuest(g);
      return 0;
    });
    await k.run();
    expect(value).toBe(450_000);
    expect(Math.max(...g.budgets)).toBeLessThanOrEqual(30_000);
    const timers = g.events.filter((e) => e.kind === 'timer');
    expect(timers.length, 'about one tick per 100k cycles').toBeGreaterThanOrEqual(4);
    expect(timers.length).toBeLessThanOrEqual(6);
  });

  it('two guest threads on one CPU share it: preemption happens only at a timer interrupt', async () => {
    const k = kernel(1);
    const a = new FakeGuest(400_000, k);
    const b = new FakeGuest(400_000, k);
    k.spawn(async (sys) => {
      await sys.clone(CLONE_THREAD_FLAGS, async (t) => {
        await t.runGuest(b);
        await t.exit(0);
      });
      await sys.runGuest(a);
      await joinThreads(sys);
      return 0;
    });
    await k.run();
    // Interleaved: a's runs are not all before b's.
    const aRuns = a.events.filter((e) => e.kind === 'run').length;
    expect(aRuns).toBeGreaterThan(14);
    const preempts = k.trace.events.filter((e) => e.ev === 'preempt');
    expect(preempts.length).toBeGreaterThan(2);
    for (const p of preempts) {
      const before = k.trace.events.filter((e) => e.seq < p.seq && e.tid === p.tid).at(-1);
      expect(before?.ev, 'a guest thread is preempted right after a timer interrupt').toBe('interrupt');
    }
  });

  it('an IPI to the CPU running the guest interrupts it at the next instruction boundary', async () => {
    const k = kernel(2);
    const g = new FakeGuest(300_000, k);
    let guestCpu = -1;
    k.spawn(async (sys) => {
      await sys.clone(CLONE_THREAD_FLAGS, async (t) => {
        await t.runGuest(g);
        await t.exit(0);
      });
      for (;;) {
        const running = g.events.find((e) => e.kind === 'run');
        if (running) {
          guestCpu = running.cpu;
          break;
        }
        await sys.sched_yield();
      }
      await sys.kcall('ipi', (t) => {
        t.kernel.sendIpi([guestCpu]);
        return 0;
      });
      await joinThreads(sys);
      return 0;
    });
    await k.run();
    const ipis = g.events.filter((e) => e.kind === 'ipi');
    expect(ipis.length).toBeGreaterThanOrEqual(1);
    expect(ipis[0]!.cpu).toBe(guestCpu);
  });

  it('a TLB shootdown from another thread interrupts the guest on the other CPU', async () => {
    const k = kernel(2);
    const g = new FakeGuest(300_000, k);
    k.spawn(async (sys) => {
      const a = await sys.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.store(a, new Uint8Array([1]));
      await sys.clone(CLONE_THREAD_FLAGS, async (t) => {
        await t.runGuest(g);
        await t.exit(0);
      });
      while (!g.events.some((e) => e.kind === 'run')) await sys.sched_yield();
      await sys.munmap(a, 4096);
      await joinThreads(sys);
      return 0;
    });
    await k.run();
    expect(g.events.some((e) => e.kind === 'ipi')).toBe(true);
  });

  it('a #PF inside a VMA is resolved by the kernel and the guest retries; outside one it becomes SIGSEGV', async () => {
    const k = kernel();
    let base = 0;
    const g = new FakeGuest(1000, k);
    let calls = 0;
    g.stopAt(10, () => {
      calls++;
      // Re-executes until the PTE exists.
      return k.tasks.get(2)!.mm!.pageTable.lookup(base / 4096)
        ? undefined
        : { kind: 'fault', fault: pf(base, PfErr.U | PfErr.W) };
    });
    g.stopAt(20, () => ({ kind: 'fault', fault: pf(0x1000, PfErr.U) }));
    const { pid } = k.spawn(async (sys) => {
      base = await sys.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.runGuest(g);
      return 0;
    });
    await k.run();
    expect(calls).toBe(2);
    expect(statusText(k.exitStatus(pid)!)).toBe(`signal ${SIGSEGV}`);
    expect(g.fixups, 'the runner was asked before the signal').toBe(1);
  });

  it('an unresolved fault the runner fixes up returns to host code instead of a signal (vDSO exception fixup)', async () => {
    const k = kernel();
    const g = new FakeGuest(1000, k).stopAt(5, () => ({
      kind: 'fault',
      fault: pf(0xdead000, PfErr.U | PfErr.P | PfErr.SGX),
    }));
    let value: unknown;
    const { pid } = k.spawn(async (sys) => {
      value = await sys.runGuest(g);
      return 0;
    });
    await k.run();
    expect(value).toBe(`fixed ${SIGSEGV}`);
    expect(statusText(k.exitStatus(pid)!)).toBe('exit 0');
  });

  it('other exceptions map to their signals (#UD → SIGILL, #DE → SIGFPE, #GP → SIGSEGV)', async () => {
    for (const [vector, sig] of [
      [Vector.UD, 4],
      [Vector.DE, 8],
      [Vector.GP, 11],
    ] as const) {
      const k = kernel();
      const g = new FakeGuest(100, k).stopAt(1, () => ({ kind: 'fault', fault: fault(vector) }));
      const { pid } = k.spawn(async (sys) => sys.runGuest(g));
      await k.run();
      expect(statusText(k.exitStatus(pid)!), `vector ${vector}`).toBe(`signal ${sig}`);
    }
  });

  it('#DB and #BP become SIGTRAP with the si_code and si_addr exc_debug_user() and do_int3_user() give', async () => {
    // arch/x86/kernel/traps.c: #DB → send_sigtrap(regs, 0, get_si_code(dr6)), si_addr = regs->ip;
    // #BP → do_trap(X86_TRAP_BP, SIGTRAP, …) → force_sig(): SI_KERNEL, no address.
    const cases: Array<[string, CpuFault, number, number]> = [
      ['single step (DR6.BS)', debugTrap(DR6_BS), TRAP_TRACE, 0x401234],
      ['breakpoint match (DR6.B1)', debugTrap(0b10), TRAP_HWBKPT, 0x401234],
      ['INT1 (no DR6 bits)', debugTrap(0), TRAP_BRKPT, 0x401234],
      ['INT3', fault(Vector.BP), SI_KERNEL, 0],
    ];
    for (const [what, f, code, addr] of cases) {
      const k = kernel();
      // A trap: after the handler the guest goes on (the fault is not raised again).
      let raised = false;
      const g = new FakeGuest(100, k).stopAt(1, (): GuestStop | undefined => {
        if (raised) return undefined;
        raised = true;
        return { kind: 'fault', fault: f };
      });
      const seen: string[] = [];
      (g as GuestRunner).userIp = () => 0x401234;
      k.spawn(async (sys) => {
        await sys.sigaction(SIGTRAP, {
          handler: (_s, sig, info) => void seen.push(`${sig} ${info.si_code} ${info.si_addr}`),
        });
        return sys.runGuest(g);
      });
      await k.run();
      expect(seen, what).toEqual([`${SIGTRAP} ${code} ${addr}`]);
    }
  });

  it('guest syscalls go through the syscall table and their result is handed back', async () => {
    const k = kernel();
    const g = new FakeGuest(100, k)
      .stopAt(3, () => ({ kind: 'syscall', nr: NR.getpid, args: [] }))
      .stopAt(4, () => ({ kind: 'syscall', nr: NR.close, args: [99] }))
      .stopAt(5, () => ({ kind: 'syscall', nr: 999, args: [] }));
    k.spawn(async (sys) => {
      await sys.runGuest(g);
      return 0;
    });
    await k.run();
    const rets = g.events.filter((e) => e.kind === 'sysret').map((e) => e.detail);
    // getpid, close(99) = -EBADF, an unknown number = -ENOSYS
    expect(rets).toEqual([2, -9, -38]);
  });

  it('a signal for a thread in guest code kicks it out; the handler runs; the guest continues', async () => {
    const k = kernel(2);
    const g = new FakeGuest(200_000, k);
    const log: string[] = [];
    let value: unknown;
    k.spawn(async (sys: Sys) => {
      await sys.sigaction(SIGUSR1, { handler: () => void log.push(`handler at ${g.done}`) });
      const me = await sys.gettid();
      await sys.fork(async (c) => {
        while (g.done === 0) await c.sched_yield();
        await c.tkill(me, SIGUSR1);
        return 0;
      });
      value = await sys.runGuest(g);
      return 0;
    });
    await k.run();
    expect(log.length).toBe(1);
    expect(value).toBe(200_000);
  });

  it('killing a process while its thread runs guest code aborts the runner', async () => {
    const k = kernel(2);
    const g = new FakeGuest(10_000_000, k);
    const { pid } = k.spawn(async (sys) => {
      const me = await sys.getpid();
      await sys.fork(async (c) => {
        while (g.done === 0) await c.sched_yield();
        await c.kill(me, SIGKILL);
        return 0;
      });
      await sys.runGuest(g);
      return 0;
    });
    await k.run();
    expect(g.aborted).toBe(true);
    expect(statusText(k.exitStatus(pid)!)).toBe(`signal ${SIGKILL}`);
  });
});
