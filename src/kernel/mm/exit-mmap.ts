/**
 * Address-space teardown: exit_mmap() (mm/mmap.c). The mmu notifiers hear release() first (the SGX driver
 * drops the mm from its enclave's mm_list there), then every PTE goes and every VMA is closed and drops its
 * file reference - which can run a driver's ->release when that was the last reference.
 */
import type { Mm } from './mm';

export function exitMmap(mm: Mm): void {
  if (mm.dead) return;
  // mmu_notifier_release(): each subscription is called once and then removed.
  const subs = mm.notifiers.splice(0);
  for (const n of subs) n.release?.(mm);
  const vmas = mm.vmas.all();
  for (const v of vmas) mm.zapRange(v, v.start, v.end);
  for (const v of vmas) {
    mm.vmas.remove(v);
    v.ops?.close?.(v);
    v.file?.put();
  }
  mm.totalVm = 0;
  mm.dead = true;
  mm.cpumask.clear();
}
