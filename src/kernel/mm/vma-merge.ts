/**
 * VMA merging, following mm/vma.c: vma_merge_new_range() for a new mapping next to existing ones,
 * vma_merge_existing_range() and vma_modify() for a range whose flags change (mprotect), and the
 * compatibility rules they share (is_mergeable_vma, is_mergeable_anon_vma, can_vma_merge_before/after).
 */
import { PAGE_SIZE } from '../../hw/index';
import { type Errno, isErrno } from '../abi/index';
import type { OpenFile } from '../fd/file';
import type { AnonVma } from './anon-vma';
import type { Mm } from './mm';
import { VM_SOFTDIRTY, VM_SPECIAL } from './vm-flags';
import type { Vma } from './vma';
import { splitVma } from './vma-split';

/** struct vma_merge_struct: the proposed range and its properties. */
export interface VmaMergeState {
  readonly mm: Mm;
  prev: Vma | undefined;
  next: Vma | undefined;
  /** The VMA being modified (existing-range merges) or the one expanded (result). */
  vma: Vma | undefined;
  start: number;
  end: number;
  pgoff: number;
  flags: number;
  file: OpenFile | null;
  anonVma: AnonVma | null;
}

function isMergeableVma(vmg: VmaMergeState, vma: Vma): boolean {
  // "VM_SOFTDIRTY should not prevent from VMA merging" - is_mergeable_vma()
  if ((vma.flags ^ vmg.flags) & ~VM_SOFTDIRTY) return false;
  return vma.file === vmg.file;
}

/**
 * vma_had_uncowed_parents(): a VMA cloned by fork() whose anon_vma chain still has the parent's entries.
 * "The list_is_singular() test is to avoid merging VMA cloned from parents."
 */
function hadUncowedParents(vma: Vma | undefined): boolean {
  return vma !== undefined && vma.anonVma !== null && vma.anonVmaChain.length !== 1;
}

/**
 * is_mergeable_anon_vma() (Linux 6.17+, "mm/vma: fix incorrectly disallowed anonymous VMA merges"): the
 * source is the VMA being modified (none for a new range); one side without an anon_vma takes the other's,
 * unless that one came from a fork.
 */
function isMergeableAnonVma(vmg: VmaMergeState, tgt: Vma): boolean {
  const src = vmg.vma;
  const tgtAnon = tgt.anonVma;
  const srcAnon = vmg.anonVma;
  if (!tgtAnon && srcAnon) return !hadUncowedParents(src);
  if (tgtAnon && !srcAnon) return !hadUncowedParents(tgt);
  return srcAnon === tgtAnon;
}

function canMergeBefore(vmg: VmaMergeState): boolean {
  const next = vmg.next!;
  const pglen = (vmg.end - vmg.start) / PAGE_SIZE;
  return isMergeableVma(vmg, next) && isMergeableAnonVma(vmg, next) && next.pgoff === vmg.pgoff + pglen;
}

function canMergeAfter(vmg: VmaMergeState): boolean {
  const prev = vmg.prev!;
  return isMergeableVma(vmg, prev) && isMergeableAnonVma(vmg, prev) && prev.pgoff + prev.pages === vmg.pgoff;
}

function canMergeLeft(vmg: VmaMergeState): boolean {
  return vmg.prev !== undefined && vmg.prev.end === vmg.start && canMergeAfter(vmg);
}

function canMergeRight(vmg: VmaMergeState, canLeft: boolean): boolean {
  if (!vmg.next || vmg.end !== vmg.next.start || !canMergeBefore(vmg)) return false;
  if (!canLeft) return true;
  // "this does not mean prev and next are compatible with EACH OTHER" - can_vma_merge_right()
  const pa = vmg.prev!.anonVma;
  const na = vmg.next.anonVma;
  return !pa || !na || pa === na;
}

/** can_merge_remove_vma(): "We can only remove VMAs when merging if they do not have a close hook." */
function canRemove(vma: Vma): boolean {
  return !vma.ops?.close;
}

/** dup_anon_vma(): the expanding VMA inherits the anon_vma of the one it absorbs. */
function dupAnonVma(dst: Vma, src: Vma): void {
  if (src.anonVma && !dst.anonVma) {
    dst.anonVma = src.anonVma;
    dst.anonVmaChain = [...src.anonVmaChain];
  }
}

/** Removes a VMA absorbed by a merge: no vm_ops->close (merging refuses those), but the file reference goes. */
function removeMerged(mm: Mm, vma: Vma): void {
  mm.vmas.remove(vma);
  vma.file?.put();
}

/**
 * vma_merge_new_range(): tries to extend prev and/or next over [start, end) instead of creating a VMA.
 * @returns the expanded VMA, or undefined when no merge is possible.
 */
export function vmaMergeNewRange(vmg: VmaMergeState): Vma | undefined {
  const { prev, next, start, end } = vmg;
  const pglen = (end - start) / PAGE_SIZE;
  if (vmg.flags & VM_SPECIAL || (!prev && !next)) return undefined;
  const left = canMergeLeft(vmg);
  const right = canMergeRight(vmg, left);
  let target: Vma | undefined;
  let newStart = start;
  let newEnd = end;
  let newPgoff = vmg.pgoff;
  if (right) {
    newEnd = next!.end;
    target = next;
    newPgoff = next!.pgoff - pglen;
  }
  if (left) {
    newStart = prev!.start;
    target = prev;
    newPgoff = prev!.pgoff;
    if (right && !canRemove(next!)) newEnd = end;
  }
  if (!target) return undefined;
  // vma_expand(): absorb next when the expansion reaches its end.
  if (next && target !== next && newEnd === next.end) {
    dupAnonVma(target, next);
    removeMerged(vmg.mm, next);
  }
  target.start = newStart;
  target.end = newEnd;
  target.pgoff = newPgoff;
  return target;
}

/**
 * vma_merge_existing_range(): [start, end) inside vmg.vma is getting vmg.flags; merge it into prev and/or
 * next when they are compatible. The cases and their diagrams are in mm/vma.c.
 * @returns the VMA now covering [start, end), or undefined when nothing merged.
 */
export function vmaMergeExistingRange(vmg: VmaMergeState): Vma | undefined {
  const vma = vmg.vma!;
  const prev = vmg.prev;
  const { start, end } = vmg;
  const leftSide = start === vma.start;
  const rightSide = end === vma.end;
  if (vmg.flags & VM_SPECIAL || (!leftSide && !rightSide)) return undefined;

  const mergeLeft = leftSide ? canMergeLeft(vmg) : false;
  let next: Vma | undefined;
  let mergeRight = false;
  if (rightSide) {
    next = vmg.next = vmg.mm.vmas.next(vma);
    mergeRight = canMergeRight(vmg, mergeLeft);
  }
  if (!mergeLeft && !mergeRight) return undefined;
  let mergeBoth = mergeLeft && mergeRight;
  const willDeleteVma = leftSide && rightSide;
  if (willDeleteVma && !canRemove(vma)) return undefined;
  if (mergeBoth && !canRemove(next!)) {
    mergeRight = false;
    mergeBoth = false;
  }
  const mm = vmg.mm;
  if (mergeBoth) {
    //         |<----->|
    // |-------*********-------|
    //   prev     vma     next
    dupAnonVma(prev!, next!.anonVma ? next! : vma);
    const newEnd = next!.end;
    removeMerged(mm, vma);
    removeMerged(mm, next!);
    prev!.end = newEnd;
    return prev;
  }
  if (mergeLeft) {
    // prev extends to `end`; vma shrinks from the left or disappears.
    dupAnonVma(prev!, vma);
    if (willDeleteVma) {
      removeMerged(mm, vma);
    } else {
      vma.pgoff += (end - vma.start) / PAGE_SIZE;
      vma.start = end;
    }
    prev!.end = end;
    return prev;
  }
  // merge right: next extends down to `start`; vma shrinks from the right or disappears.
  const pglen = (end - start) / PAGE_SIZE;
  dupAnonVma(next!, vma);
  if (willDeleteVma) {
    removeMerged(mm, vma);
    next!.pgoff -= pglen;
    next!.start = start;
  } else {
    vma.end = start;
    next!.pgoff -= pglen;
    next!.start = start;
  }
  return next;
}

/**
 * vma_modify_flags(): gives [start, end) of `vma` the flags `newFlags`, by merging with a neighbour when
 * possible and otherwise by splitting off the parts outside the range. `prev` is the VMA before the range
 * (equal to `vma` when the range starts inside it). The caller then stores `newFlags` in the result.
 * @returns the VMA covering exactly [start, end), or ENOMEM / a may_split Errno from a split.
 */
export function vmaModifyFlags(
  mm: Mm,
  prev: Vma | undefined,
  vma: Vma,
  start: number,
  end: number,
  newFlags: number,
): Vma | Errno {
  const vmg: VmaMergeState = {
    mm,
    prev,
    next: undefined,
    vma,
    start,
    end,
    pgoff: vma.pgoff + (start - vma.start) / PAGE_SIZE,
    flags: newFlags,
    file: vma.file,
    anonVma: vma.anonVma,
  };
  const merged = vmaMergeExistingRange(vmg);
  if (merged) return merged;
  if (vma.start < start) {
    const r = splitVma(vma, start, true);
    if (isErrno(r)) return r;
  }
  if (vma.end > end) {
    const r = splitVma(vma, end, false);
    if (isErrno(r)) return r;
  }
  return vma;
}
