/**
 * Virtual time. Every CPU has a cycle counter that advances by this cost model, so a run reports roughly
 * what it would cost on hardware and timeouts/sleeps have a meaning. The numbers are round figures from
 * published measurements, not a claim of precision:
 * - a null syscall (SYSCALL/SYSRET plus entry code) is ~100 ns on recent x86 with mitigations: ~200 cycles
 *   at 2 GHz (lmbench lat_syscall null);
 * - a minor page fault with zeroing is ~0.5-1 µs (lmbench lat_pagefault; "Page fault latency" LWN 2021);
 * - a context switch is ~1-2 µs (lmbench lat_ctx 2p/0k);
 * - fork of a small process ~50-100 µs, exit ~20 µs (lmbench lat_proc fork);
 * - a signal delivery ~1 µs (lmbench lat_sig catch); an IPI ~1 µs round trip;
 * - HZ=250 and EEVDF's 0.75 ms base slice (sysctl_sched_base_slice, Linux 6.6+).
 * Guest code costs cyclesPerInstruction each (IPC ~1); the guest runner may charge more (e.g. for ENCLU).
 */
import type { SyscallName } from '../abi/index';

export interface CostModel {
  /** Clock rate used to convert cycles to time (clock_gettime, nanosleep, rusage). */
  readonly cpuHz: number;
  /** Kernel entry and exit of any syscall. */
  readonly syscallEntry: number;
  /** Extra work of particular syscalls, on top of syscallEntry. */
  readonly syscall: Readonly<Partial<Record<SyscallName, number>>>;
  /** Host code between two kernel entries (the JS of a host program is not measured). */
  readonly userStep: number;
  /** One minor fault resolved (allocation and zeroing or copy included). */
  readonly pageFault: number;
  readonly contextSwitch: number;
  readonly signalDelivery: number;
  /** Extra for each byte copied through sockets. */
  readonly perByte: number;
  readonly ipi: number;
  readonly cyclesPerInstruction: number;
  /** Timer interrupt period (1/HZ). */
  readonly tickCycles: number;
  /** Time a task runs before another runnable task gets the CPU. */
  readonly timesliceCycles: number;
  /** Most guest instructions run between two interrupt checks. */
  readonly guestQuantum: number;
}

export const DEFAULT_COSTS: CostModel = Object.freeze({
  cpuHz: 2_000_000_000,
  syscallEntry: 200,
  syscall: Object.freeze({
    open: 2_000,
    openat: 2_000,
    close: 300,
    read: 300,
    write: 300,
    ioctl: 300,
    mmap: 1_500,
    munmap: 2_000,
    mprotect: 1_200,
    mremap: 2_000,
    fork: 100_000,
    clone: 30_000,
    exit: 20_000,
    exit_group: 20_000,
    wait4: 1_000,
    kill: 800,
    tgkill: 800,
    socketpair: 4_000,
    sendmsg: 1_500,
    recvmsg: 1_500,
    futex: 400,
    nanosleep: 400,
  }),
  userStep: 50,
  pageFault: 1_500,
  contextSwitch: 3_000,
  signalDelivery: 2_000,
  perByte: 0.25,
  ipi: 2_000,
  cyclesPerInstruction: 1,
  tickCycles: 8_000_000,
  timesliceCycles: 1_500_000,
  guestQuantum: 10_000,
});
