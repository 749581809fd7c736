/**
 * anon_vma identity, as far as VMA merging needs it (mm/rmap.c). We do not need reverse mapping (no swap of
 * anonymous memory), but the merge rules depend on whether two VMAs share an anon_vma and on whether a VMA's
 * anon_vma_chain is a single entry (it is longer in a child after fork()). Identity is the object itself.
 */
export class AnonVma {
  constructor(readonly parent: AnonVma | null = null) {}
}
