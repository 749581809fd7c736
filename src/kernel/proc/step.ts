/**
 * One scheduling step of a task: run its kernel entry (syscall, user-mode access, guest quantum, kernel
 * function), then the return to user mode (exit_to_user_mode_loop(): signals, stops, syscall restart) and
 * the host code up to its next kernel entry. The syscall's Errno becomes -errno here and nowhere else.
 *
 * The kernel half is synchronous. When it hands the CPU to host code, `stepTask` returns true and the step ends
 * when that code enters the kernel again (Task.enter() → Scheduler.hostStopped() → `returnedFromUser`), usually
 * one microtask later: no promise chain of the kernel's own sits between two kernel entries.
 */
import { type CpuFault, DR6_B0_B3, DR6_BS, Vector } from '../../hw/index';
import {
  BUS_ADRALN,
  EINTR,
  ERESTARTNOHAND,
  ERESTARTNOINTR,
  ERESTARTSYS,
  isErrno,
  SA_RESTART,
  SI_KERNEL,
  SIGBUS,
  SIGFPE,
  SIGILL,
  SIGSEGV,
  SIGTRAP,
  TRAP_BRKPT,
  TRAP_HWBKPT,
  TRAP_TRACE,
  wExited,
} from '../abi/index';
import type { Kernel } from '../kernel';
import { doUserAddrFault } from '../mm/fault';
import type { FaultOutcome } from '../mm/types';
import { userAccess } from '../mm/uaccess';
import type { Cpu } from '../sched/cpu';
import type { GuestContext, GuestRunner, GuestStop } from '../sched/guest';
import { type Block, isBlock } from '../sched/wait-queue';
import { dispatchSyscall } from '../syscalls/entry';
import { outOfMemory } from './oom';
import type { Entry, EntryResult, Task } from './task';

/** Outcome of executing an entry. */
type Exec =
  | { readonly kind: 'value'; readonly value: unknown }
  | { readonly kind: 'block'; readonly block: Block }
  | { readonly kind: 'dead' };

function isRestart(v: unknown): boolean {
  return v === ERESTARTSYS || v === ERESTARTNOHAND || v === ERESTARTNOINTR;
}

/** The user-visible form of a kernel return value: an Errno becomes -errno (the x86-64 RAX convention). */
export function toUser(v: unknown): unknown {
  if (isErrno(v)) return -v.number;
  return v;
}

/** Charges `cycles` of kernel time to `t` on `cpu`. */
function chargeSys(t: Task, cpu: Cpu, cycles: number): void {
  cpu.clock += cycles;
  t.stime += cycles;
}

/** A Block unless a signal is already pending for an interruptible sleep (then the sleep's intr errno). */
function blockOrIntr(t: Task, b: Block): Exec {
  if (t.kthread) return { kind: 'block', block: b };
  if (t.signalPending() && (!b.uninterruptible || t.fatalSignalPending())) return { kind: 'value', value: b.intr };
  return { kind: 'block', block: b };
}

/** pagefault_out_of_memory(): the allocator's OOM kill did not help; kill again (possibly ourselves). */
export function oomKill(k: Kernel, faulting: Task): void {
  if (faulting.process.groupExit === undefined) outOfMemory(k);
}

/** Turns an unresolved fault into its signal (force_sig_fault()), or kills for OOM. */
function raiseFault(k: Kernel, t: Task, f: Exclude<FaultOutcome, { kind: 'ok' }>): void {
  switch (f.kind) {
    case 'retry':
      return;
    case 'oom':
      oomKill(k, t);
      return;
    case 'sigsegv':
      k.traceTask(t, 'fault', { addr: f.addr, sig: 'SIGSEGV', code: f.code });
      k.signals.forceSigFault(t, SIGSEGV, f.code, f.addr);
      return;
    case 'sigbus':
      k.traceTask(t, 'fault', { addr: f.addr, sig: 'SIGBUS', code: f.code });
      k.signals.forceSigFault(t, SIGBUS, f.code, f.addr);
      return;
    default: {
      const _exhaustive: never = f;
      throw new Error(`unknown fault outcome ${JSON.stringify(_exhaustive)}`);
    }
  }
}

function execute(k: Kernel, t: Task, cpu: Cpu, e: Entry): Exec {
  t.blockedOn = undefined;
  const req = e.req;
  switch (req.kind) {
    case 'start':
      return { kind: 'value', value: 0 };
    case 'syscall': {
      chargeSys(t, cpu, k.costs.syscallEntry);
      const r = dispatchSyscall(k, t, req.nr, req.args, e.state, cpu);
      t.wakeReason = undefined;
      if (t.state === 'dead') return { kind: 'dead' };
      if (isBlock(r)) return blockOrIntr(t, r);
      return { kind: 'value', value: r };
    }
    case 'call': {
      const r = req.fn(t);
      t.wakeReason = undefined;
      if (t.state === 'dead') return { kind: 'dead' };
      if (isBlock(r)) return blockOrIntr(t, r);
      return { kind: 'value', value: r };
    }
    case 'access': {
      const mm = t.mm;
      if (!mm) throw new Error('user access from a kernel thread');
      const before = mm.faults;
      let r = userAccess(mm, req.addr, req.len, req.data);
      // A locked read-modify-write: nothing else runs between its load and its store (SDM Vol. 3A §9.1.2.2).
      // A store fault after the load leaves memory unchanged, and the whole instruction is re-executed.
      if (req.rmw && r.kind === 'ok') {
        const old = r.data;
        const w = userAccess(mm, req.addr, req.len, req.rmw(old.slice()));
        r = w.kind === 'ok' ? { kind: 'ok', data: old } : w;
      }
      const faults = mm.faults - before;
      t.minflt += faults;
      chargeSys(t, cpu, faults * k.costs.pageFault);
      t.utime += 1;
      cpu.clock += 1;
      // A store returns nothing (Sys.store() resolves to undefined), a load the bytes.
      if (r.kind === 'ok') return { kind: 'value', value: req.data ? undefined : r.data };
      raiseFault(k, t, r.fault);
      if (t.state === 'dead') return { kind: 'dead' };
      // The faulting instruction is re-executed after the handler (or the retry).
      return { kind: 'value', value: ERESTARTNOINTR };
    }
    case 'return': {
      const v = req.value;
      const code = typeof v === 'number' ? v & 0xff : 0;
      if (t.groupMain) k.exits.groupExit(t.process, wExited(code));
      else k.exits.exitThread(t, wExited(code));
      return { kind: 'dead' };
    }
    case 'throw':
      k.hostThrew(t, req.error);
      if (t.state !== 'dead') k.exits.killThread(t);
      return { kind: 'dead' };
    case 'guest':
      throw new Error('guest entries are stepped by guestStep');
    default: {
      const _exhaustive: never = req;
      return _exhaustive;
    }
  }
}

/**
 * Resolves the host side's pending call, which runs host code until it is back in the kernel.
 * @returns true while that code runs (the scheduler waits for it), false if it already came back.
 */
function resumeUser(k: Kernel, t: Task, cpu: Cpu, resolve: () => void): boolean {
  t.entry = undefined;
  t.hostRunning = true;
  resolve();
  // Only the first start of a thread function runs host code synchronously, up to its first kernel entry.
  if (t.hostRunning) return true;
  returnedFromUser(k, t, cpu);
  return false;
}

/** The host code resumed by a step entered the kernel again: charge its time (the end of the step). */
export function returnedFromUser(k: Kernel, t: Task, cpu: Cpu): void {
  cpu.clock += k.costs.userStep;
  t.utime += k.costs.userStep;
}

/**
 * exit_to_user_mode_loop() + handle_signal(): deliver, stop, die, or restart, then return to host code.
 * @returns whether host code now runs (resumeUser).
 */
function exitToUser(k: Kernel, t: Task, cpu: Cpu): boolean {
  const e = t.entry!;
  let value = e.done!.value;
  const g = t.kthread ? ({ kind: 'none' } as const) : k.signals.getSignal(t);
  switch (g.kind) {
    case 'dead':
      return false;
    case 'stop':
      k.sched.deschedule(t);
      t.state = 'stopped';
      k.traceTask(t, 'stopped', {});
      k.signals.threadStopped(t);
      return false;
    case 'none':
      if (isRestart(value)) {
        // No handler to run: restart in the kernel, the same entry runs again at the next scheduling point.
        e.done = undefined;
        return false;
      }
      return resumeUser(k, t, cpu, () => e.resolve(toUser(value)));
    case 'deliver': {
      let restart = false;
      if (value === ERESTARTNOINTR) restart = true;
      else if (value === ERESTARTSYS) {
        if (g.action.flags & SA_RESTART) restart = true;
        else value = EINTR;
      } else if (value === ERESTARTNOHAND) value = EINTR;
      k.signals.enterHandler(t, g.sig, g.action);
      chargeSys(t, cpu, k.costs.signalDelivery);
      k.traceTask(t, 'signal_deliver', { sig: g.sig, restart });
      const handler = g.action.handler as Exclude<typeof g.action.handler, string>;
      const result: EntryResult = {
        value: restart ? undefined : toUser(value),
        deliver: { sig: g.sig, info: g.info, handler },
        restart,
      };
      // The handler is host code: it starts once the scheduler waits for it, like any return to user mode.
      return resumeUser(k, t, cpu, () => e.resolve(Promise.resolve().then(() => t.sys.afterSignal(e.req, result))));
    }
    default: {
      const _exhaustive: never = g;
      throw new Error(`unknown get_signal result ${JSON.stringify(_exhaustive)}`);
    }
  }
}

/** Parks `t` on the queues of `b`. */
function park(k: Kernel, t: Task, b: Block): void {
  t.blockedOn = { queues: b.queues, deadline: b.deadline, block: b };
  for (const q of b.queues) q.add(t);
  k.sched.sleep(t, b.deadline);
  k.traceTask(t, 'block', { deadline: b.deadline ?? null });
}

/**
 * Maps a non-#PF exception to its signal and si_code (arch/x86/kernel/traps.c). `ip` is the user RIP in pt_regs,
 * which send_sigtrap() reports as si_addr for a #DB.
 */
function exceptionSignal(f: CpuFault, ip: number): { sig: number; code: number; addr: number } {
  switch (f.vector) {
    case Vector.DE:
      return { sig: SIGFPE, code: 1 /* FPE_INTDIV */, addr: 0 };
    case Vector.UD:
      return { sig: SIGILL, code: 2 /* ILL_ILLOPN */, addr: 0 };
    case Vector.AC:
      return { sig: SIGBUS, code: BUS_ADRALN, addr: f.addr };
    case Vector.MF:
    case Vector.XM:
      return { sig: SIGFPE, code: 0, addr: 0 };
    case Vector.DB:
      // exc_debug_user() → send_sigtrap(regs, 0, get_si_code(dr6)): TRAP_TRACE for DR_STEP, TRAP_HWBKPT for
      // B0-B3, TRAP_BRKPT otherwise (INT1), with si_addr = regs->ip.
      return { sig: SIGTRAP, code: debugSiCode(f.dr6 ?? 0), addr: ip };
    case Vector.BP:
      // do_int3_user() → do_trap(X86_TRAP_BP, SIGTRAP, "int3", regs, 0, 0, NULL) → force_sig(): SI_KERNEL.
      return { sig: SIGTRAP, code: SI_KERNEL, addr: 0 };
    default:
      // #GP and the rest: do_general_protection() sends SIGSEGV with SI_KERNEL.
      return { sig: SIGSEGV, code: SI_KERNEL, addr: 0 };
  }
}

/** get_si_code() (arch/x86/include/asm/traps.h). */
function debugSiCode(dr6: number): number {
  if (dr6 & DR6_BS) return TRAP_TRACE;
  if (dr6 & DR6_B0_B3) return TRAP_HWBKPT;
  return TRAP_BRKPT;
}

/** Leaves guest mode with `value` (or a restart) and returns to host code. @returns whether host code runs. */
function leaveGuest(k: Kernel, t: Task, cpu: Cpu, value: unknown): boolean {
  t.guest = undefined;
  t.entry!.done = { value };
  return exitToUser(k, t, cpu);
}

/** One quantum of guest code, with interrupt delivery before it and stop handling after it. */
function guestStep(k: Kernel, t: Task, cpu: Cpu, runner: GuestRunner): boolean {
  const e = t.entry!;
  t.guest = runner;
  const mm = t.mm!;
  const ctx: GuestContext = { task: t, cpu: cpu.id, mm };
  const costs = k.costs;

  // A guest syscall that blocked earlier runs again first.
  const pend = e.state.gsys as { nr: number; args: number[]; state: Record<string, unknown> } | undefined;
  if (pend) {
    t.blockedOn = undefined;
    chargeSys(t, cpu, costs.syscallEntry);
    const r = dispatchSyscall(k, t, pend.nr, pend.args, pend.state, cpu);
    t.wakeReason = undefined;
    if (t.state === 'dead') return false;
    if (isBlock(r)) {
      const x = blockOrIntr(t, r);
      if (x.kind === 'block') {
        park(k, t, x.block);
        return false;
      }
      if (x.kind === 'value') runner.syscallReturn?.(ctx, guestRet(x.value));
    } else {
      runner.syscallReturn?.(ctx, guestRet(r));
    }
    e.state.gsys = undefined;
  }

  // Interrupts arrive at instruction boundaries. Only a tick delivered in this step is a preemption point: one
  // the guest already returned from (the CPU was not taken then) says nothing about where it is now.
  cpu.tickDelivered = false;
  if (cpu.ipiPending > 0) {
    cpu.ipiPending = 0;
    k.traceTask(t, 'interrupt', { reason: 'ipi' });
    runner.interrupt?.(ctx, 'ipi');
  }
  if (cpu.clock >= cpu.nextTick) {
    while (cpu.nextTick <= cpu.clock) cpu.nextTick += costs.tickCycles;
    k.traceTask(t, 'interrupt', { reason: 'timer' });
    runner.interrupt?.(ctx, 'timer');
    cpu.tickDelivered = true;
  }
  if (t.signalPending()) {
    // The interrupt took the CPU out of guest code; deliver on the way back, then continue the guest.
    return leaveGuest(k, t, cpu, ERESTARTNOINTR);
  }
  // The return from the timer interrupt is where need_resched takes the CPU (the scheduler preempts after this
  // step): no guest code runs in between, so the thread leaves the CPU where the interrupt found it. Otherwise
  // the interrupt returns to the guest, and the next preemption point is the next tick.
  if (cpu.tickDelivered) {
    if (k.sched.runnable().length > 0 && cpu.clock - cpu.sliceStart >= costs.timesliceCycles) return false;
    cpu.tickDelivered = false;
  }
  const cpi = costs.cyclesPerInstruction;
  const untilTick = Math.max(1, Math.ceil((cpu.nextTick - cpu.clock) / cpi));
  const budget = Math.max(1, Math.min(costs.guestQuantum, untilTick));
  const step = runner.run(ctx, budget);
  if (step.executed > budget) throw new Error(`guest runner executed ${step.executed} > budget ${budget}`);
  const cycles = step.cycles ?? step.executed * cpi;
  cpu.clock += cycles;
  t.utime += cycles;
  return handleGuestStop(k, t, cpu, ctx, runner, step.stop);
}

function guestRet(v: unknown): number {
  if (isErrno(v)) return isRestart(v) ? -EINTR.number : -v.number;
  return typeof v === 'number' ? v : 0;
}

function handleGuestStop(
  k: Kernel,
  t: Task,
  cpu: Cpu,
  ctx: GuestContext,
  runner: GuestRunner,
  stop: GuestStop,
): boolean {
  switch (stop.kind) {
    case 'budget':
      return false;
    case 'return':
      k.traceTask(t, 'guest_return', {});
      return leaveGuest(k, t, cpu, stop.value);
    case 'fault': {
      const f = stop.fault;
      let sig: { sig: number; code: number; addr: number } | undefined;
      if (f.vector === Vector.PF) {
        const r = doUserAddrFault(ctx.mm, f.addr, f.errorCode);
        t.minflt++;
        chargeSys(t, cpu, k.costs.pageFault);
        k.traceTask(t, 'guest_fault', { addr: f.addr, err: f.errorCode, result: r.kind });
        if (r.kind === 'ok' || r.kind === 'retry') return false;
        if (r.kind === 'oom') {
          oomKill(k, t);
          if (t.state === 'dead') return false;
          return false;
        }
        sig = { sig: r.kind === 'sigsegv' ? SIGSEGV : SIGBUS, code: r.code, addr: r.addr };
      } else {
        sig = exceptionSignal(f, runner.userIp?.(ctx) ?? 0);
        k.traceTask(t, 'guest_fault', { vector: f.vector, err: f.errorCode, sig: sig.sig });
      }
      const fix = runner.fixup?.(ctx, f, sig.sig);
      if (fix) {
        return handleGuestStop(k, t, cpu, ctx, runner, fix);
      }
      k.signals.forceSigFault(t, sig.sig, sig.code, sig.addr);
      if (t.state === 'dead') return false;
      return leaveGuest(k, t, cpu, ERESTARTNOINTR);
    }
    case 'syscall': {
      chargeSys(t, cpu, k.costs.syscallEntry);
      const state: Record<string, unknown> = {};
      const r = dispatchSyscall(k, t, stop.nr, stop.args, state, cpu);
      t.wakeReason = undefined;
      if (t.state === 'dead') return false;
      if (isBlock(r)) {
        const x = blockOrIntr(t, r);
        if (x.kind === 'block') {
          t.entry!.state.gsys = { nr: stop.nr, args: stop.args, state };
          park(k, t, x.block);
          return false;
        }
        if (x.kind === 'value') runner.syscallReturn?.(ctx, guestRet(x.value));
        return false;
      }
      runner.syscallReturn?.(ctx, guestRet(r));
      return false;
    }
    default: {
      const _exhaustive: never = stop;
      throw new Error(`unknown guest stop ${JSON.stringify(_exhaustive)}`);
    }
  }
}

/**
 * The scheduler's step function.
 * @returns true when the step handed the CPU to host code that has not entered the kernel again yet.
 */
export function stepTask(k: Kernel, t: Task, cpu: Cpu): boolean {
  if (!t.started) {
    t.started = true;
    t.state = 'running';
    return resumeUser(k, t, cpu, () => t.startHostCode());
  }
  const e = t.entry!;
  if (e.done === undefined) {
    if (e.req.kind === 'guest') {
      return guestStep(k, t, cpu, e.req.runner);
    }
    const out = execute(k, t, cpu, e);
    if (out.kind === 'dead') return false;
    if (out.kind === 'block') {
      park(k, t, out.block);
      return false;
    }
    e.done = { value: out.value };
    // The syscall gave up the CPU (sched_yield): return to user mode when it runs again.
    if (t.cpu === undefined) return false;
  }
  return exitToUser(k, t, cpu);
}
