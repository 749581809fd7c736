/**
 * /proc/<pid>/maps lines, byte for byte as fs/proc/task_mmu.c show_map_vma() prints them:
 * "%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu " then, when the VMA has a name, padding to column 73
 * (seq_setwidth(25 + 6 * sizeof(void *) - 1) and seq_pad(' ')) and the name.
 */
import { PAGE_SIZE } from '../../hw/index';
import type { Mm } from './mm';
import { VM_EXEC, VM_MAYSHARE, VM_READ, VM_WRITE } from './vm-flags';
import type { Vma } from './vma';

const PAD_TO = 25 + 6 * 8 - 1;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** The name column: the file's path, the driver's ->name, or nothing for anonymous memory. */
export function vmaName(vma: Vma): string | undefined {
  if (vma.file) return vma.file.inode.path;
  return vma.ops?.name?.(vma);
}

/** One maps line for `vma` (no trailing newline). */
export function formatMapsLine(vma: Vma): string {
  const f = vma.flags;
  const perms =
    (f & VM_READ ? 'r' : '-') + (f & VM_WRITE ? 'w' : '-') + (f & VM_EXEC ? 'x' : '-') + (f & VM_MAYSHARE ? 's' : 'p');
  const file = vma.file;
  const pgoff = file ? vma.pgoff * PAGE_SIZE : 0;
  const [maj, min] = file ? file.inode.dev : [0, 0];
  const ino = file ? file.inode.ino : 0;
  const head = `${hex(vma.start, 8)}-${hex(vma.end, 8)} ${perms} ${hex(pgoff, 8)} ${hex(maj, 2)}:${hex(min, 2)} ${ino} `;
  const name = vmaName(vma);
  if (name === undefined) return head;
  return `${head.padEnd(PAD_TO, ' ')} ${name}`;
}

/** The whole maps file of `mm`. */
export function procMaps(mm: Mm): string {
  return mm.vmas
    .all()
    .map((v) => `${formatMapsLine(v)}\n`)
    .join('');
}
