// The kernel layer's public surface (DESIGN.md §3). Higher layers import from here only.
export * from './abi/index';
export { FdTable } from './fd/fd-table';
export type { FileOperations, FileOpResult, Inode, InodeKind } from './fd/file';
export { FMODE_READ, FMODE_WRITE, OpenFile } from './fd/file';
export type { DeviceOpts } from './fd/vfs';
export { DEVTMPFS_DEV } from './fd/vfs';
export {
  DEFAULT_LIMITS,
  type HostMain,
  Kernel,
  type KernelLimits,
  type KernelOptions,
  type KthreadHandle,
  type TlbFlushEvent,
} from './kernel';
export { Libc, type Received } from './libc/libc';
export { accessRemoteVm } from './mm/access-vm';
export { accessError, doUserAddrFault, handleMmFault } from './mm/fault';
export { mmGetUnmappedArea } from './mm/get-unmapped-area';
export { getUserPages, type PinnedPages } from './mm/gup';
export { DEFAULT_MMAP_BASE, MMAP_MIN_ADDR, Mm, type MmContext, TASK_SIZE } from './mm/mm';
export { mmuNotifierRegister, mmuNotifierUnregister } from './mm/mmu-notifier';
export { PageAllocator } from './mm/page-allocator';
export { MmPageTable } from './mm/page-table';
export { followPte, ptepTestAndClearYoung, vmfInsertPfn, zapVmaPtes } from './mm/pfn';
export { formatMapsLine, procMaps, vmaName } from './mm/proc-maps';
export { installSpecialMapping, type SpecialMapping } from './mm/special-mapping';
export {
  FAULT_FLAG_INSTRUCTION,
  FAULT_FLAG_USER,
  FAULT_FLAG_WRITE,
  type FaultOutcome,
  type MmuNotifier,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  VM_FAULT_SIGSEGV,
  type VmFault,
  type VmFaultResult,
  type VmOperations,
} from './mm/types';
export { copyFromUser, copyToUser, strncpyFromUser } from './mm/uaccess';
export * from './mm/vm-flags';
export { Vma } from './mm/vma';
export { Process } from './proc/process';
export type { SigAction, SigDisposition, SignalHandler } from './proc/sighand';
export { toUser } from './proc/step';
export type { CallResult, KernelRequest, Task, TaskState } from './proc/task';
export { formatPs, type KernelSnapshot, type ProcessSnapshot, snapshot } from './ps';
export { type CostModel, DEFAULT_COSTS } from './sched/cost-model';
export type { Cpu } from './sched/cpu';
export type { GuestContext, GuestRunner, GuestStep, GuestStop, InterruptReason } from './sched/guest';
export type { RunOptions, RunResult } from './sched/scheduler';
export { Trace, type TraceEvent, type TraceHashForm } from './sched/trace';
export { type Block, block, isBlock, WaitQueue } from './sched/wait-queue';
export { Sys } from './syscalls/sys';
export type { SigActionArg, SigActionOut } from './syscalls/sys-signal';
export { SYSCALL_TABLE } from './syscalls/table';
export type { Support, SyscallEntry } from './syscalls/types';
