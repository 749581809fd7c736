/**
 * The TCS pool: host threads of every process that maps the enclave share its TCS pages. A thread takes a free
 * TCS or sleeps until one is free, in FIFO order, and no TCS is ever handed to two threads at once (EENTER on a
 * TCS that is in use is a #GP: "IF (TCS.BUSY) THEN #GP(0)", SDM Vol. 3D §40 EENTER — and a TCS between an AEX and
 * its ERESUME, or between an OCALL exit and its ORET, is in use too, so it stays with its thread until the ecall
 * ends).
 *
 * A ticket semaphore with nTcs permits in the shared region (enclave-share.ts), used by every process through
 * its own mapping:
 *
 *   acquire: t = LOCK XADD tail, 1        (the ticket fixes the order: FIFO by the scheduler's interleaving)
 *            if t − done < nTcs: admitted  (the uncontended path: two memory accesses)
 *            else loop: v = wake[t % slots]; d = done
 *                       if t − d < nTcs: admitted
 *                       futex(&wake[t % slots], FUTEX_WAIT, v)     (shared: the futex key is the memfd's page)
 *            claim the lowest free owner slot with LOCK CMPXCHG 0 → tid (admission leaves one free)
 *   release: owner[i] = 0; d = LOCK XADD done, 1 + 1
 *            if ticket d + nTcs − 1 was taken: LOCK XADD wake[(d + nTcs − 1) % slots], 1; FUTEX_WAKE all on it
 *
 * A waiter reads its wake word before `done`, and a releaser bumps `done` before the wake word, so a release
 * between the waiter's check and its FUTEX_WAIT changes the word and the wait returns EAGAIN (no lost wake-up).
 * Counters wrap at 2^32; differences are taken as signed 32-bit values.
 */
import { FUTEX_WAIT, FUTEX_WAKE, type Sys } from '../../kernel/index';
import type { PoolWords } from './enclave-share';

const INT_MAX = 0x7fff_ffff;

/** A little-endian u32 from the first four bytes of `b`. */
function u32(b: Uint8Array): number {
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}

/** Writes `v` as a little-endian u32 into the first four bytes of `b`. */
function putU32(b: Uint8Array, v: number): Uint8Array {
  b[0] = v;
  b[1] = v >>> 8;
  b[2] = v >>> 16;
  b[3] = v >>> 24;
  return b;
}

/** LOCK XADD on a u32. @returns the old value. */
async function fetchAdd(sys: Sys, addr: number, delta: number): Promise<number> {
  return u32(await sys.atomic(addr, 4, (b) => putU32(b, u32(b) + delta)));
}

/** LOCK CMPXCHG on a u32. @returns the old value. */
async function cmpxchg(sys: Sys, addr: number, expected: number, desired: number): Promise<number> {
  return u32(await sys.atomic(addr, 4, (b) => (u32(b) === expected ? putU32(b, desired) : b)));
}

async function load32(sys: Sys, addr: number): Promise<number> {
  return u32(await sys.load(addr, 4));
}

async function store32(sys: Sys, addr: number, v: number): Promise<void> {
  await sys.store(addr, putU32(new Uint8Array(4), v));
}

/** Whether `ticket` may take a TCS once `done` have been released. */
function admitted(ticket: number, done: number, nTcs: number): boolean {
  return ((ticket - done) | 0) < nTcs;
}

/** A TCS held by a thread. */
export interface TcsGrant {
  /** Index in the pool (and in the descriptor's TCS list). */
  readonly index: number;
  /** The ticket it was admitted with (its place in the FIFO). */
  readonly ticket: number;
  /** Whether the thread slept before it was admitted. */
  readonly waited: boolean;
}

/** A snapshot of the pool's shared words. */
export interface TcsPoolState {
  /** Tid holding each TCS, 0 when free. */
  readonly owners: readonly number[];
  /** How many times each TCS was taken. */
  readonly uses: readonly number[];
  /** Acquisitions in all (the sum of `uses`). */
  readonly acquired: number;
  readonly waited: number;
  /** Threads admitted or waiting that have not released yet: tail − done. */
  readonly outstanding: number;
}

/** One process's view of the pool: the region's address in this process and the word offsets. */
export class TcsPool {
  constructor(
    /** Where the shared region is mapped in this process. */
    readonly addr: number,
    readonly words: PoolWords,
  ) {}

  get size(): number {
    return this.words.nTcs;
  }

  /**
   * Takes a TCS for the calling thread, sleeping (FUTEX_WAIT) until one is free.
   * @returns the grant. A signal interrupting the sleep only makes the thread check again.
   */
  async acquire(sys: Sys): Promise<TcsGrant> {
    const w = this.words;
    const a = this.addr;
    const ticket = await fetchAdd(sys, a + w.tail, 1);
    const wake = a + w.wake + 4 * (ticket % w.waitSlots);
    // ticket < done + nTcs, as a signed 32-bit difference: done may be far past a ticket whose wake-up came late.
    let waited = false;
    if (!admitted(ticket, await load32(sys, a + w.done), w.nTcs)) {
      waited = true;
      sys.task.kernel.traceTask(sys.task, 'tcs_wait', { ticket });
      for (;;) {
        // The wake word first, then `done` again: a release in between changes the word, so the wait won't sleep.
        const v = await load32(sys, wake);
        if (admitted(ticket, await load32(sys, a + w.done), w.nTcs)) break;
        // 0, EAGAIN (the word moved: a release happened) and EINTR all mean: look again.
        await sys.futex(wake, FUTEX_WAIT, v);
      }
    }
    const tid = sys.task.tid;
    for (;;) {
      for (let i = 0; i < w.nTcs; i++) {
        if ((await cmpxchg(sys, a + w.owners + 4 * i, 0, tid)) !== 0) continue;
        await fetchAdd(sys, a + w.uses + 4 * i, 1);
        if (waited) await fetchAdd(sys, a + w.waited, 1);
        return { index: i, ticket, waited };
      }
      // Admission guarantees a free slot once the releaser that admitted us has cleared its owner word, which
      // it does before counting the release; so a full scan cannot fail. Yield and rescan if it ever did.
      await sys.sched_yield();
    }
  }

  /** Gives the TCS back and wakes the thread whose ticket this release admits. */
  async release(sys: Sys, grant: TcsGrant): Promise<void> {
    const w = this.words;
    const a = this.addr;
    await store32(sys, a + w.owners + 4 * grant.index, 0);
    const done = (await fetchAdd(sys, a + w.done, 1)) + 1;
    const admitted = (done + w.nTcs - 1) >>> 0;
    const tail = await load32(sys, a + w.tail);
    // Was ticket `admitted` handed out? (tail − admitted, as a signed 32-bit difference, is positive.)
    if (((tail - admitted) | 0) > 0) {
      const wake = a + w.wake + 4 * (admitted % w.waitSlots);
      await fetchAdd(sys, wake, 1);
      await sys.futex(wake, FUTEX_WAKE, INT_MAX);
    }
  }

  /** Reads the pool's words (not atomically as a whole: for statistics and tests). */
  async state(sys: Sys): Promise<TcsPoolState> {
    const w = this.words;
    const a = this.addr;
    const owners: number[] = [];
    const uses: number[] = [];
    const ow = await sys.load(a + w.owners, 4 * w.nTcs);
    const us = await sys.load(a + w.uses, 4 * w.nTcs);
    for (let i = 0; i < w.nTcs; i++) {
      owners.push(u32(ow.subarray(4 * i)));
      uses.push(u32(us.subarray(4 * i)));
    }
    const tail = await load32(sys, a + w.tail);
    const done = await load32(sys, a + w.done);
    return {
      owners,
      uses,
      acquired: uses.reduce((x, y) => x + y, 0),
      waited: await load32(sys, a + w.waited),
      outstanding: (tail - done) >>> 0,
    };
  }
}
