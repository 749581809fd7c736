/** Resource limits (kernel/sys.c do_prlimit()). */
import { encode } from '../../hw/index';
import { EFAULT, EINVAL, EPERM, ESRCH, isErrno, RLIM_NLIMITS, RLIMIT_AS, RLIMIT_NOFILE, RLIMIT64 } from '../abi/index';
import type { Process } from '../proc/process';
import type { Task } from '../proc/task';
import { argInt, argU64 } from './args';
import type { SyscallArgs, SyscallCtx, SyscallResult } from './types';

/** fs.nr_open default: RLIMIT_NOFILE may not exceed it. */
const NR_OPEN = 1_048_576;
const INF64 = 0xffff_ffff_ffff_ffffn;

function toU64(v: number): bigint {
  return Number.isFinite(v) ? BigInt(v) : INF64;
}

function fromU64(v: bigint): number {
  return v === INF64 || v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(v);
}

function doPrlimit(t: Task, p: Process, resource: number, newAddr: number, oldAddr: number): SyscallResult {
  if (resource < 0 || resource >= RLIM_NLIMITS) return EINVAL;
  let next: { cur: number; max: number } | undefined;
  if (newAddr) {
    const b = t.copyFromUser(newAddr, 16);
    if (isErrno(b)) return EFAULT;
    const dv = new DataView(b.buffer);
    next = { cur: fromU64(dv.getBigUint64(0, true)), max: fromU64(dv.getBigUint64(8, true)) };
    if (next.cur > next.max) return EINVAL;
    if (resource === RLIMIT_NOFILE && next.max > NR_OPEN) return EPERM;
  }
  const old = p.rlimit(resource);
  if (oldAddr) {
    const e = t.copyToUser(oldAddr, encode(RLIMIT64, { rlim_cur: toU64(old.cur), rlim_max: toU64(old.max) }));
    if (e !== 0) return e;
  }
  if (next) {
    p.rlimits.set(resource, next);
    if (resource === RLIMIT_AS) for (const x of p.threads) if (x.mm) x.mm.asLimit = next.cur;
  }
  return 0;
}

/** getrlimit(2). @returns 0, or EINVAL, EFAULT. */
export function sysGetrlimit(t: Task, a: SyscallArgs): SyscallResult {
  return doPrlimit(t, t.process, argInt(a, 0), 0, argU64(a, 1));
}

/** setrlimit(2) (we run as root: raising the hard limit is allowed). @returns 0, or EINVAL, EFAULT, EPERM. */
export function sysSetrlimit(t: Task, a: SyscallArgs): SyscallResult {
  return doPrlimit(t, t.process, argInt(a, 0), argU64(a, 1), 0);
}

/** prlimit64(2). @returns 0, or ESRCH, EINVAL, EFAULT, EPERM. */
export function sysPrlimit64(t: Task, a: SyscallArgs, ctx: SyscallCtx): SyscallResult {
  const pid = argInt(a, 0);
  const p = pid === 0 ? t.process : ctx.k.processes.get(pid);
  if (p?.state !== 'alive') return ESRCH;
  return doPrlimit(t, p, argInt(a, 1), argU64(a, 2), argU64(a, 3));
}
