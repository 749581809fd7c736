/**
 * Loads a freestanding static-pie ELF into a flat user address space (no kernel): PT_LOAD segments at a load
 * bias with their permissions, R_X86_64_RELATIVE relocations applied (psABI §4.4: B + A), and a stack.
 * This is what `sgxsim exec` and the CPU's differential tests run C functions on.
 */

import { type Cpu, createCpu, FlatAddressSpace, PAGE_SIZE } from '../../hw/index';
import { ElfError, type ElfFile, loadSegments, PF_W, PF_X, parseElf64, R_X86_64_RELATIVE } from '../elf/index';

/** Where a position-independent image is placed. */
export const LOAD_BIAS = 0x5555_5555_4000;
export const STACK_TOP = 0x7fff_ff00_0000;
export const STACK_SIZE = 1 << 20;

export interface FlatProgram {
  readonly elf: ElfFile;
  readonly space: FlatAddressSpace;
  readonly cpu: Cpu;
  /** Added to every ELF virtual address. */
  readonly bias: number;
  readonly stackTop: number;
  /** The run-time address of a symbol (throws ElfError naming it when absent). */
  symbol(name: string): number;
}

/** Parses and loads `bytes`; throws ElfError with a one-line message for malformed or unsupported files. */
export function loadFlatElf(bytes: Uint8Array): FlatProgram {
  const elf = parseElf64(bytes);
  const bias = elf.header.type === 3 ? LOAD_BIAS : 0;
  const space = new FlatAddressSpace();
  const segs = loadSegments(elf);
  if (segs.length === 0) throw new ElfError('ELF has no PT_LOAD segments');
  for (const ph of segs) {
    const start = bias + ph.vaddr;
    // Map writable first to copy the contents, then set the real permissions.
    space.map(start, ph.memsz, { write: true });
    space.write(start, elf.bytes.subarray(ph.offset, ph.offset + ph.filesz));
  }
  for (const rel of elf.relocations) {
    if (rel.type !== R_X86_64_RELATIVE) {
      throw new ElfError(
        `relocation type ${rel.type} at 0x${rel.offset.toString(16)} is not supported (only R_X86_64_RELATIVE)`,
      );
    }
    const v = BigInt(bias) + rel.addend;
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
    space.write(bias + rel.offset, b);
  }
  // Final permissions; pages shared by two segments get the union (as the kernel's page granularity does).
  const perms = new Map<number, { w: boolean; x: boolean }>();
  for (const ph of segs) {
    const first = Math.floor((bias + ph.vaddr) / PAGE_SIZE);
    const last = Math.floor((bias + ph.vaddr + Math.max(ph.memsz, 1) - 1) / PAGE_SIZE);
    for (let v = first; v <= last; v++) {
      const p = perms.get(v) ?? { w: false, x: false };
      perms.set(v, { w: p.w || (ph.flags & PF_W) !== 0, x: p.x || (ph.flags & PF_X) !== 0 });
    }
  }
  for (const [v, p] of perms) space.map(v * PAGE_SIZE, PAGE_SIZE, { write: p.w, exec: p.x });
  space.map(STACK_TOP - STACK_SIZE, STACK_SIZE, { write: true });
  const cpu = createCpu({ mem: space.mem, pageTable: space });
  return {
    elf,
    space,
    cpu,
    bias,
    stackTop: STACK_TOP,
    symbol(name: string): number {
      const s = elf.symbols.find((x) => x.name === name && x.shndx !== 0);
      if (!s) throw new ElfError(`symbol '${name}' is not defined in the ELF`);
      return bias + s.value;
    },
  };
}
