/**
 * __access_remote_vm() (mm/memory.c): how ptrace(PEEKDATA/POKEDATA) and /proc/<pid>/mem reach another process's
 * memory. Pages get_user_pages() can pin are copied through the kernel's direct map; a VMA it refuses (VM_IO,
 * VM_PFNMAP: device and enclave memory) is offered to its vm_ops->access, which is how the SGX driver lets a
 * debugger read a debug enclave with EDBGRD.
 */
import { PAGE_SIZE } from '../../hw/index';
import { isErrno } from '../abi/index';
import { getUserPages } from './gup';
import type { Mm } from './mm';
import { VM_WRITE } from './vm-flags';

/**
 * Reads (`write` false: fills `buf`) or writes (`write` true: stores `buf`) `buf.length` bytes at `addr` of `mm`
 * (FOLL_FORCE reads; writes only where the VMA is writable).
 * @returns the number of bytes done (less than asked at the first page neither route could reach; 0 when none).
 */
export function accessRemoteVm(mm: Mm, addr: number, buf: Uint8Array, write: boolean): number {
  const mem = mm.ctx.mem;
  let done = 0;
  while (done < buf.length) {
    const a = addr + done;
    const off = a % PAGE_SIZE;
    const n = Math.min(buf.length - done, PAGE_SIZE - off);
    const vma = mm.vmas.lookup(a);
    if (!vma) break;
    // FOLL_FORCE's write to a read-only private page (a COW break ptrace may do) is not modelled: such a write
    // stops here, as if the page could not be reached.
    const pinned = write && !(vma.flags & VM_WRITE) ? undefined : getUserPages(mm, a, 1, write, { force: true });
    if (pinned !== undefined && !isErrno(pinned)) {
      const pa = pinned.pfns[0]! * PAGE_SIZE + off;
      if (write) mem.writeNonEnclave(pa, buf.subarray(done, done + n));
      else buf.set(mem.readNonEnclave(pa, n), done);
      pinned.release();
      done += n;
      continue;
    }
    // "if (vma->vm_ops && vma->vm_ops->access) bytes = vma->vm_ops->access(vma, addr, buf, len, write)"
    if (!vma.ops?.access) break;
    const chunk = buf.subarray(done);
    const r = vma.ops.access(vma, a, chunk, write);
    if (typeof r !== 'number' || r <= 0) break;
    done += r;
  }
  return done;
}
