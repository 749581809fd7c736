/** The uniform shape of syscall handlers and of the declarative table (gVisor linux64.go). */
import type { Errno, SyscallName } from '../abi/index';
import type { Kernel } from '../kernel';
import type { Task } from '../proc/task';
import type { Cpu } from '../sched/cpu';
import type { Block } from '../sched/wait-queue';

/** What a handler returns: a value, an Errno (the entry makes it -errno), or a request to sleep. */
export type SyscallResult = number | Errno | Block;

/** Per-call context. `state` persists while the same call is re-run after a sleep. */
export interface SyscallCtx {
  readonly k: Kernel;
  readonly state: Record<string, unknown>;
  readonly cpu: Cpu;
}

/** Raw arguments: numbers for registers; a few calls also take host values (functions, objects). */
export type SyscallArgs = readonly unknown[];

export type SyscallHandler = (t: Task, args: SyscallArgs, ctx: SyscallCtx) => SyscallResult;

/** How complete the model of a syscall is. */
export type Support = 'full' | 'partial' | 'unimplemented';

/** One row of the syscall table. */
export interface SyscallEntry {
  readonly nr: number;
  readonly name: SyscallName;
  readonly handler: SyscallHandler;
  readonly support: Support;
  /** What is left out, for 'partial' and 'unimplemented'. */
  readonly note?: string;
}
