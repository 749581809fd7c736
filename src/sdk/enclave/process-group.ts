/**
 * A host program that spreads work on one enclave over several processes and threads, the three ways a Linux
 * process can come to use an enclave (linux-driver.md §1 "fork / fd passing"):
 *
 * - process 0 loads it (open /dev/sgx_enclave, the ioctls, mmap);
 * - process 1 is fork()ed from it afterwards and inherits the fds and the mappings;
 * - processes 2 … were fork()ed before the enclave existed; each receives the enclave fd and the shared region's
 *   fd over its own unix socket (SCM_RIGHTS) and maps them itself (attachEnclave).
 *
 * Each process runs its share of the threads (its main thread and clone()d ones) and joins them with a futex, and
 * process 0 waits for every child. Work that fails is reported to `onError` and makes its process exit with
 * status 1.
 */
import {
  AF_UNIX,
  CLONE_THREAD_FLAGS,
  FUTEX_WAIT_PRIVATE,
  FUTEX_WAKE_PRIVATE,
  Libc,
  SOCK_STREAM,
  type Sys,
  WEXITSTATUS,
  WIFEXITED,
} from '../../kernel/index';
import { check } from '../loader/driver-build';
import { attachEnclave, type Enclave } from './enclave';

/** Who a worker is. */
export interface WorkerInfo {
  /** Process number (0 loader, 1 forked, ≥ 2 received the fds) and thread number within it. */
  readonly proc: number;
  readonly thread: number;
  /** Index among all workers. */
  readonly worker: number;
}

export interface ProcessGroupOptions {
  readonly procs: number;
  /** Threads in all, spread as evenly as possible (process i gets one more while i < threads % procs). */
  readonly threads: number;
  /** Builds the enclave in process 0. */
  readonly load: (sys: Sys) => Promise<Enclave>;
  /** Per-process set-up once the process has its handle (ocall handlers, for example). */
  readonly setup?: (e: Enclave, proc: number) => void;
  readonly work: (e: Enclave, w: WorkerInfo) => Promise<void>;
  /** Told about work that threw (the process then exits with status 1). */
  readonly onError?: (error: unknown, w: WorkerInfo) => void;
  /** Called in process 0 after every process has finished, before it returns. */
  readonly after?: (e: Enclave) => Promise<void>;
}

/** How the processes ended. */
export interface ProcessGroupResult {
  readonly pids: readonly number[];
  /** Exit status of each child (process 0 is the caller). */
  readonly childStatus: readonly number[];
  readonly failed: number;
}

/** Threads of process `p`. */
export function threadsOf(p: number, o: { procs: number; threads: number }): number {
  return Math.floor(o.threads / o.procs) + (p < o.threads % o.procs ? 1 : 0);
}

/** Runs process `p`'s workers on `sys` and clones, joined through a futex word. @returns failures. */
async function runThreads(sys: Sys, e: Enclave, p: number, o: ProcessGroupOptions): Promise<number> {
  const n = threadsOf(p, o);
  if (n === 0) return 0;
  const first = Array.from({ length: p }, (_, q) => threadsOf(q, o)).reduce((a, b) => a + b, 0);
  let failed = 0;
  const one = async (s: Sys, thread: number) => {
    const w: WorkerInfo = { proc: p, thread, worker: first + thread };
    try {
      await o.work(e.on(s), w);
    } catch (err) {
      failed++;
      o.onError?.(err, w);
    }
  };
  const libc = new Libc(sys);
  const joined = check('malloc', await libc.alloc(4));
  await libc.writeU32(joined, 0);
  for (let i = 1; i < n; i++) {
    check(
      'clone',
      await sys.clone(CLONE_THREAD_FLAGS, async (ts) => {
        await one(ts, i);
        await new Libc(ts).fetchAddU32(joined, 1);
        await ts.futex(joined, FUTEX_WAKE_PRIVATE, 1);
        return 0;
      }),
    );
  }
  await one(sys, 0);
  for (;;) {
    const done = await libc.readU32(joined);
    if (done === n - 1) break;
    await sys.futex(joined, FUTEX_WAIT_PRIVATE, done);
  }
  return failed;
}

/**
 * Runs the group from the calling thread (process 0).
 * @returns the children's pids and exit statuses and how many workers failed in process 0.
 * @throws whatever `load` throws (the children are then told to exit).
 */
export async function runProcessGroup(sys: Sys, o: ProcessGroupOptions): Promise<ProcessGroupResult> {
  const libc = new Libc(sys);
  const pids: number[] = [sys.task.tgid];
  // Receivers first: they must not inherit anything of the enclave.
  const sockets: number[] = [];
  const receivers: number[] = [];
  for (let p = 2; p < o.procs; p++) {
    const sv = await libc.socketpair(AF_UNIX, SOCK_STREAM);
    if (typeof sv === 'number') check('socketpair', sv);
    const [mine, theirs] = sv as [number, number];
    const pid = check(
      'fork',
      await sys.fork(async (c) => {
        const cl = new Libc(c);
        await c.close(mine);
        const got = await cl.recvmsg(theirs, 1, 2);
        // An empty message without fds: process 0 could not load the enclave.
        if (got.fds.length !== 2) return 2;
        const e = await attachEnclave(c, got.fds[0]!, got.fds[1]!);
        o.setup?.(e, p);
        const failed = await runThreads(c, e, p, o);
        return failed ? 1 : 0;
      }),
    );
    await sys.close(theirs);
    sockets.push(mine);
    receivers.push(pid);
  }
  let e: Enclave;
  try {
    e = await o.load(sys);
  } catch (err) {
    for (const s of sockets) await libc.sendmsg(s, Uint8Array.of(0));
    for (const pid of receivers) await libc.waitpid(pid);
    throw err;
  }
  o.setup?.(e, 0);
  for (const s of sockets) {
    check('sendmsg SCM_RIGHTS', await libc.sendmsg(s, Uint8Array.of(1), [e.fds.enclave, e.fds.share]));
    await sys.close(s);
  }
  const children: number[] = [];
  if (o.procs >= 2) {
    const pid = check(
      'fork',
      await sys.fork(async (c) => {
        const ce = e.forked(c);
        const failed = await runThreads(c, ce, 1, o);
        return failed ? 1 : 0;
      }),
    );
    children.push(pid);
  }
  children.push(...receivers);
  pids.push(...children);
  const failed = await runThreads(sys, e, 0, o);
  const childStatus: number[] = [];
  for (const pid of children) childStatus.push((await libc.waitpid(pid)).status);
  await o.after?.(e);
  const childFailed = childStatus.filter((s) => !WIFEXITED(s) || WEXITSTATUS(s) !== 0).length;
  return { pids, childStatus, failed: failed + childFailed };
}
