/**
 * Accesses to process memory through the page tables, faulting pages in as the MMU would
 * (arch/x86/include/asm/uaccess.h, mm/maccess.c). Two flavours:
 * - kernel accesses (copy_from_user / copy_to_user / strncpy_from_user): an unresolvable fault is EFAULT;
 * - user-mode accesses by host code (a C program dereferencing a pointer): an unresolvable fault is returned
 *   as the signal to raise.
 * Both see EPC the way a non-enclave access does: reads give all-ones, writes are dropped (abort page).
 */
import { PAGE_SIZE, PfErr, PTE_A, PTE_D, PTE_P, PTE_W } from '../../hw/index';
import { EFAULT, ERESTARTNOINTR, type Errno } from '../abi/index';
import { doUserAddrFault } from './fault';
import { type Mm, TASK_SIZE } from './mm';
import type { FaultOutcome } from './types';

/** How many times one page may be re-faulted before giving up for this scheduling quantum. */
const MAX_FAULT_RETRIES = 4;

/** access_ok(): the range lies below TASK_SIZE and does not wrap. */
export function accessOk(addr: number, len: number): boolean {
  return Number.isSafeInteger(addr) && addr >= 0 && len >= 0 && addr + len <= TASK_SIZE;
}

/** Translates one page for an access, resolving faults. @returns the frame, or the failed fault outcome. */
export function translate(mm: Mm, addr: number, write: boolean, user: boolean): number | FaultOutcome {
  const vpn = Math.floor(addr / PAGE_SIZE);
  for (let i = 0; i <= MAX_FAULT_RETRIES; i++) {
    const pte = mm.pageTable.lookup(vpn);
    if (pte && pte.flags & PTE_P && (!write || pte.flags & PTE_W)) {
      // The page walker sets Accessed, and Dirty on a write (SDM Vol. 3A §4.8).
      pte.flags |= PTE_A | (write ? PTE_D : 0);
      return pte.pfn;
    }
    const errorCode = (pte && pte.flags & PTE_P ? PfErr.P : 0) | (write ? PfErr.W : 0) | (user ? PfErr.U : 0);
    const r = doUserAddrFault(mm, addr, errorCode);
    if (r.kind !== 'ok') return r;
  }
  return { kind: 'retry' };
}

function readPhys(mm: Mm, pfn: number, off: number, out: Uint8Array, at: number, n: number): void {
  out.set(mm.ctx.mem.readNonEnclave(pfn * PAGE_SIZE + off, n), at);
}

function writePhys(mm: Mm, pfn: number, off: number, src: Uint8Array): void {
  mm.ctx.mem.writeNonEnclave(pfn * PAGE_SIZE + off, src);
}

/** Result of a user-mode access: the bytes (for a read), or the fault to turn into a signal. */
export type UserAccessResult =
  | { readonly kind: 'ok'; readonly data: Uint8Array }
  | { readonly kind: 'fault'; readonly fault: Exclude<FaultOutcome, { kind: 'ok' }> };

const OK_EMPTY: UserAccessResult = Object.freeze({ kind: 'ok', data: new Uint8Array(0) });

/**
 * A user-mode access of `len` bytes at `addr` (a read when `data` is undefined, else a write of `data`).
 * Pages before a faulting page are already read or written, as with real loads and stores.
 */
export function userAccess(mm: Mm, addr: number, len: number, data?: Uint8Array): UserAccessResult {
  const write = data !== undefined;
  // Most accesses (a pool word, a run struct, a call block) lie in one page: one translation, no staging copy.
  const off = addr % PAGE_SIZE;
  if (len > 0 && addr >= 0 && addr + len <= TASK_SIZE && off + len <= PAGE_SIZE) {
    const pfn = translate(mm, addr, write, true);
    if (typeof pfn !== 'number') return { kind: 'fault', fault: pfn as Exclude<FaultOutcome, { kind: 'ok' }> };
    const mem = mm.ctx.mem;
    // EPC reached from outside enclave mode is an abort page: reads give all-ones, writes are dropped.
    const epc = mem.isEpc(pfn * PAGE_SIZE);
    if (write) {
      // page() tells the write observers (decoded code there goes stale), as PhysMem.write() does.
      if (!epc) mem.page(pfn).set(data, off);
      return OK_EMPTY;
    }
    const out = new Uint8Array(len);
    if (epc) out.fill(0xff);
    else {
      const page = mem.peekPage(pfn);
      if (len <= 32) for (let i = 0; i < len; i++) out[i] = page[off + i]!;
      else out.set(page.subarray(off, off + len));
    }
    return { kind: 'ok', data: out };
  }
  const out = new Uint8Array(write ? 0 : len);
  let done = 0;
  while (done < len) {
    const a = addr + done;
    if (a < 0 || a >= TASK_SIZE) {
      // A non-canonical or kernel address: #GP/#PF that no VMA resolves.
      return { kind: 'fault', fault: { kind: 'sigsegv', code: 1, addr: a } };
    }
    const off = a % PAGE_SIZE;
    const n = Math.min(len - done, PAGE_SIZE - off);
    const pfn = translate(mm, a, write, true);
    if (typeof pfn !== 'number') return { kind: 'fault', fault: pfn as Exclude<FaultOutcome, { kind: 'ok' }> };
    if (write) writePhys(mm, pfn, off, data.subarray(done, done + n));
    else readPhys(mm, pfn, off, out, done, n);
    done += n;
  }
  return { kind: 'ok', data: out };
}

/**
 * copy_from_user(): all of it or EFAULT. A fault that stays transient (a driver returning NOPAGE while it
 * waits for something) gives ERESTARTNOINTR, which makes the syscall restart at the next scheduling point.
 */
export function copyFromUser(mm: Mm, addr: number, len: number): Uint8Array | Errno {
  if (!accessOk(addr, len)) return EFAULT;
  const out = new Uint8Array(len);
  let done = 0;
  while (done < len) {
    const a = addr + done;
    const off = a % PAGE_SIZE;
    const n = Math.min(len - done, PAGE_SIZE - off);
    const pfn = translate(mm, a, false, false);
    if (typeof pfn !== 'number') return pfn.kind === 'retry' ? ERESTARTNOINTR : EFAULT;
    readPhys(mm, pfn, off, out, done, n);
    done += n;
  }
  return out;
}

/** copy_to_user(): all of it or EFAULT (bytes before the faulting page are written, as in Linux). */
export function copyToUser(mm: Mm, addr: number, src: Uint8Array): 0 | Errno {
  if (!accessOk(addr, src.length)) return EFAULT;
  let done = 0;
  while (done < src.length) {
    const a = addr + done;
    const off = a % PAGE_SIZE;
    const n = Math.min(src.length - done, PAGE_SIZE - off);
    const pfn = translate(mm, a, true, false);
    if (typeof pfn !== 'number') return pfn.kind === 'retry' ? ERESTARTNOINTR : EFAULT;
    writePhys(mm, pfn, off, src.subarray(done, done + n));
    done += n;
  }
  return 0;
}

/**
 * strncpy_from_user(): the NUL-terminated string at `addr`, at most `max` bytes including the NUL.
 * @returns the bytes without the NUL, `undefined` when no NUL was found within `max` (callers turn that into
 *   ENAMETOOLONG), or EFAULT.
 */
export function strncpyFromUser(mm: Mm, addr: number, max: number): Uint8Array | undefined | Errno {
  const bytes: number[] = [];
  let a = addr;
  while (bytes.length < max) {
    if (!accessOk(a, 1)) return EFAULT;
    const off = a % PAGE_SIZE;
    const n = Math.min(max - bytes.length, PAGE_SIZE - off);
    const pfn = translate(mm, a, false, false);
    if (typeof pfn !== 'number') return pfn.kind === 'retry' ? ERESTARTNOINTR : EFAULT;
    const chunk = mm.ctx.mem.readNonEnclave(pfn * PAGE_SIZE + off, n);
    const z = chunk.indexOf(0);
    if (z >= 0) {
      for (let i = 0; i < z; i++) bytes.push(chunk[i]!);
      return Uint8Array.from(bytes);
    }
    for (const b of chunk) bytes.push(b);
    a += n;
  }
  return undefined;
}
