/**
 * The syscall entry: table lookup, cost, trace. Handlers return values or Errno objects; the single mapping
 * of an Errno to the -errno a process sees happens on the way back to user mode (proc/step.ts toUser()).
 */
import { ENOSYS, isErrno } from '../abi/index';
import type { Kernel } from '../kernel';
import type { Task } from '../proc/task';
import type { Cpu } from '../sched/cpu';
import { isBlock } from '../sched/wait-queue';
import { traceArgs } from './args';
import { SYSCALLS_BY_NR } from './table';
import type { SyscallArgs, SyscallResult } from './types';

export function dispatchSyscall(
  k: Kernel,
  t: Task,
  nr: number,
  args: SyscallArgs,
  state: Record<string, unknown>,
  cpu: Cpu,
): SyscallResult {
  const entry = SYSCALLS_BY_NR.get(nr);
  const name = entry?.name ?? `nr${nr}`;
  if (!state.traced) {
    state.traced = true;
    cpu.clock += entry ? (k.costs.syscall[entry.name] ?? 0) : 0;
    k.traceTask(t, 'syscall', { name, args: traceArgs(args) });
  }
  if (!entry) return ENOSYS;
  const r = entry.handler(t, args, { k, state, cpu });
  if (!isBlock(r) && t.state !== 'dead') {
    k.traceTask(t, 'sysret', { name, ret: isErrno(r) ? r.name : r });
  }
  return r;
}
