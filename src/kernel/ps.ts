/**
 * A ps-style snapshot: processes, their threads, memory maps (the /proc/<pid>/maps lines and the VMA fields)
 * and fds with what each refers to (the /proc/<pid>/fd link text). Plain data, for the CLI and the demo.
 */
import { signalName, WEXITSTATUS, WIFEXITED, WTERMSIG } from './abi/index';
import type { Kernel } from './kernel';
import { formatMapsLine, vmaName } from './mm/proc-maps';
import { vmFlagNames } from './mm/vm-flags';
import type { Process } from './proc/process';
import type { Task } from './proc/task';

export interface ThreadSnapshot {
  readonly tid: number;
  readonly state: string;
  readonly cpu: number | null;
  readonly utime: number;
  readonly stime: number;
  readonly inGuest: boolean;
}

export interface VmaSnapshot {
  readonly start: number;
  readonly end: number;
  readonly perms: string;
  readonly pgoff: number;
  readonly flags: readonly string[];
  readonly name: string | null;
  readonly line: string;
  /** Pages with a PTE. */
  readonly resident: number;
}

export interface FdSnapshot {
  readonly fd: number;
  readonly cloexec: boolean;
  /** What /proc/<pid>/fd/<n> points to: "/dev/null", "socket:[12]", ... */
  readonly target: string;
  readonly kind: string;
  /** Open file description id and its reference count (fds + mappings + in-flight SCM_RIGHTS). */
  readonly file: number;
  readonly refcount: number;
  readonly flags: number;
  readonly pos: number;
}

export interface ProcessSnapshot {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  readonly comm: string;
  /** ps STAT letter: R running/runnable, S sleeping, T stopped, Z zombie. */
  readonly stat: string;
  readonly exit: string | null;
  readonly threads: readonly ThreadSnapshot[];
  readonly maps: readonly VmaSnapshot[];
  readonly fds: readonly FdSnapshot[];
  readonly rss: number;
}

export interface KernelSnapshot {
  readonly time: readonly number[];
  readonly processes: readonly ProcessSnapshot[];
  readonly ramPagesUsed: number;
  readonly ramPagesTotal: number;
}

function stat(p: Process): string {
  if (p.state === 'zombie') return 'Z';
  if (p.threads.some((t) => t.state === 'running' || t.state === 'runnable' || t.state === 'new')) return 'R';
  if (p.threads.length > 0 && p.threads.every((t) => t.state === 'stopped')) return 'T';
  return 'S';
}

function describeExit(status: number | undefined): string | null {
  if (status === undefined) return null;
  if (WIFEXITED(status)) return `exited ${WEXITSTATUS(status)}`;
  return `killed by ${signalName(WTERMSIG(status))}`;
}

function thread(t: Task): ThreadSnapshot {
  return {
    tid: t.tid,
    state: t.state,
    cpu: t.cpu ?? null,
    utime: t.utime,
    stime: t.stime,
    inGuest: t.guest !== undefined,
  };
}

export function snapshot(k: Kernel): KernelSnapshot {
  const processes: ProcessSnapshot[] = [];
  for (const p of [...k.processes.values()].sort((a, b) => a.pid - b.pid)) {
    const lead = p.threads[0];
    const mm = lead?.mm;
    const maps: VmaSnapshot[] = [];
    if (mm) {
      for (const v of mm.vmas.all()) {
        const line = formatMapsLine(v);
        maps.push({
          start: v.start,
          end: v.end,
          perms: line.split(' ')[1]!,
          pgoff: v.pgoff,
          flags: vmFlagNames(v.flags),
          name: vmaName(v) ?? null,
          line,
          resident: mm.pageTable.vpnsIn(v.start / 4096, v.end / 4096).length,
        });
      }
    }
    const fds: FdSnapshot[] = (lead?.files?.list() ?? []).map(([fd, e]) => ({
      fd,
      cloexec: e.cloexec,
      target: e.file.inode.path,
      kind: e.file.inode.kind,
      file: e.file.id,
      refcount: e.file.refcount,
      flags: e.file.flags,
      pos: e.file.pos,
    }));
    processes.push({
      pid: p.pid,
      ppid: p.parent?.pid ?? 0,
      pgid: p.pgid,
      comm: p.comm,
      stat: stat(p),
      exit: describeExit(p.exitStatus),
      threads: p.threads.map(thread),
      maps,
      fds,
      rss: mm?.rss ?? 0,
    });
  }
  return {
    time: k.sched.cpus.map((c) => c.clock),
    processes,
    ramPagesUsed: k.pages.usedPages,
    ramPagesTotal: k.pages.totalPages,
  };
}

/** A `ps -eLf`-like text table. */
export function formatPs(s: KernelSnapshot): string {
  const rows = ['  PID  PPID   TID STAT COMM'];
  for (const p of s.processes) {
    if (p.threads.length === 0) rows.push(`${pad(p.pid)} ${pad(p.ppid)} ${pad(p.pid)} ${p.stat.padEnd(4)} ${p.comm}`);
    for (const t of p.threads) rows.push(`${pad(p.pid)} ${pad(p.ppid)} ${pad(t.tid)} ${p.stat.padEnd(4)} ${p.comm}`);
  }
  return `${rows.join('\n')}\n`;
}

function pad(n: number): string {
  return String(n).padStart(5);
}
