/**
 * Special mappings: a VMA backed by an array of kernel pages rather than a file or anonymous memory, such as the
 * vDSO text (mm/mmap.c _install_special_mapping(), special_mapping_fault(), special_mapping_split(),
 * special_mapping_mremap(), special_mapping_name()). The pages are the kernel's: each PTE takes a reference, the
 * mapping never frees them.
 */
import { PAGE_SIZE } from '../../hw/index';
import { EINVAL, ENOMEM, type Errno } from '../abi/index';
import type { Mm } from './mm';
import { VM_FAULT_SIGBUS, type VmOperations } from './types';
import { VM_DONTEXPAND, VM_SOFTDIRTY } from './vm-flags';
import { Vma } from './vma';

/** struct vm_special_mapping. */
export interface SpecialMapping {
  /** The name /proc/<pid>/maps shows, e.g. "[vdso]". */
  readonly name: string;
  /** RAM frames backing the mapping, in order; a fault past the last one is SIGBUS. */
  readonly pages: readonly number[];
  /** The mapping was moved by mremap (vdso_mremap() records the new address). Return 0 or an Errno. */
  mremap?(vma: Vma): 0 | Errno;
}

/** special_mapping_vmops. */
function specialMappingOps(mm: Mm, sm: SpecialMapping): VmOperations {
  return {
    // special_mapping_fault(): the page at the fault's offset, with a reference for the PTE.
    fault: (vmf) => {
      const pfn = sm.pages[vmf.pgoff];
      if (pfn === undefined) return VM_FAULT_SIGBUS;
      mm.ctx.pages.get(pfn);
      return { kind: 'PAGE', pfn };
    },
    // special_mapping_split(): "Forbid splitting special mappings - kernel has expectations over the number of
    // pages in mapping."
    may_split: () => EINVAL,
    mremap: (vma) => sm.mremap?.(vma) ?? 0,
    name: () => sm.name,
  };
}

/**
 * _install_special_mapping(): maps `sm`'s pages at [addr, addr + len) of `mm` with `vmFlags` (plus VM_DONTEXPAND
 * and VM_SOFTDIRTY, as __install_special_mapping() adds). Faults map the pages lazily.
 * @returns the new VMA, or EINVAL (unaligned), ENOMEM (the range is taken — insert_vm_struct() — or
 *   vm.max_map_count is reached).
 */
export function installSpecialMapping(
  mm: Mm,
  addr: number,
  len: number,
  vmFlags: number,
  sm: SpecialMapping,
): Vma | Errno {
  if (addr % PAGE_SIZE !== 0 || len <= 0 || len % PAGE_SIZE !== 0) return EINVAL;
  if (mm.mapCount >= mm.ctx.maxMapCount) return ENOMEM;
  if (mm.vmas.intersection(addr, addr + len)) return ENOMEM;
  const vma = new Vma(mm, addr, addr + len, 0, vmFlags | VM_DONTEXPAND | VM_SOFTDIRTY);
  vma.ops = specialMappingOps(mm, sm);
  vma.privateData = sm;
  mm.vmas.insert(vma);
  // vm_stat_account()
  mm.totalVm += len / PAGE_SIZE;
  return vma;
}
