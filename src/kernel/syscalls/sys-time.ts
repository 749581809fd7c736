/** Time syscalls over virtual time (kernel/time/): nanosleep, clock_gettime. */
import {
  CLOCK_BOOTTIME,
  CLOCK_MONOTONIC,
  CLOCK_MONOTONIC_RAW,
  CLOCK_PROCESS_CPUTIME_ID,
  CLOCK_REALTIME,
  CLOCK_THREAD_CPUTIME_ID,
  EINVAL,
  ERESTARTNOHAND,
  type Errno,
  isErrno,
  NSEC_PER_SEC,
} from '../abi/index';
import type { Task } from '../proc/task';
import { block } from '../sched/wait-queue';
import { argInt, argU64 } from './args';
import type { SyscallArgs, SyscallCtx, SyscallResult } from './types';

/** CLOCK_REALTIME at boot: 2024-01-01T00:00:00Z, fixed so runs are reproducible. */
export const BOOT_EPOCH_SEC = 1_704_067_200;

/** Reads a struct timespec and converts it to cycles. @returns cycles, or EFAULT / EINVAL (bad fields). */
export function readTimespec(t: Task, addr: number): number | Errno {
  const b = t.copyFromUser(addr, 16);
  if (isErrno(b)) return b;
  const dv = new DataView(b.buffer);
  const sec = dv.getBigInt64(0, true);
  const nsec = dv.getBigInt64(8, true);
  if (sec < 0n || nsec < 0n || nsec >= BigInt(NSEC_PER_SEC)) return EINVAL;
  const hz = t.kernel.costs.cpuHz;
  return Number(sec) * hz + Math.floor((Number(nsec) * hz) / NSEC_PER_SEC);
}

function writeTimespec(t: Task, addr: number, ns: number): 0 | Errno {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setBigInt64(0, BigInt(Math.floor(ns / NSEC_PER_SEC)), true);
  dv.setBigInt64(8, BigInt(Math.floor(ns % NSEC_PER_SEC)), true);
  return t.copyToUser(addr, b);
}

function cyclesToNs(t: Task, cycles: number): number {
  return Math.floor((cycles * NSEC_PER_SEC) / t.kernel.costs.cpuHz);
}

/**
 * nanosleep(2) in virtual time. A signal with a handler ends it early with EINTR and the remaining time in
 * *rem; without a handler it resumes (the restart_block behaviour).
 * @returns 0, or EFAULT, EINVAL, EINTR.
 */
export function sysNanosleep(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const req = argU64(a, 0);
  const rem = argU64(a, 1);
  const st = ctx.state;
  if (st.deadline === undefined) {
    const c = readTimespec(t, req);
    if (isErrno(c)) return c;
    st.deadline = t.now() + c;
  }
  const deadline = st.deadline as number;
  if (t.now() >= deadline) return 0;
  if (t.signalPending()) {
    if (rem) {
      const e = writeTimespec(t, rem, cyclesToNs(t, deadline - t.now()));
      if (e !== 0) return e;
    }
    return ERESTARTNOHAND;
  }
  return block([], { deadline, intr: ERESTARTNOHAND });
}

/**
 * clock_gettime(2): REALTIME is a fixed boot epoch plus virtual time; MONOTONIC/BOOTTIME/RAW are virtual
 * time; the CPU-time clocks count the cycles charged to the process or thread.
 * @returns 0, or EINVAL (unknown clock), EFAULT.
 */
export function sysClockGettime(t: Task, a: SyscallArgs): SyscallResult {
  const clk = argInt(a, 0);
  const tp = argU64(a, 1);
  let ns: number;
  switch (clk) {
    case CLOCK_REALTIME:
      ns = BOOT_EPOCH_SEC * NSEC_PER_SEC + cyclesToNs(t, t.now());
      break;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_BOOTTIME:
      ns = cyclesToNs(t, t.now());
      break;
    case CLOCK_PROCESS_CPUTIME_ID: {
      const { utime, stime } = t.process.times();
      ns = cyclesToNs(t, utime + stime);
      break;
    }
    case CLOCK_THREAD_CPUTIME_ID:
      ns = cyclesToNs(t, t.utime + t.stime);
      break;
    default:
      return EINVAL;
  }
  return writeTimespec(t, tp, ns);
}
