/**
 * A minimal ELF64 writer for tests: an ELF header, program headers, and bytes placed at chosen file offsets.
 * It lets layout tests state exact segment geometry (including broken geometry) without a toolchain. `readelf`
 * reads these files too, which keeps the oracles independent of sgxsim's own ELF reader.
 */

export interface PhdrSpec {
  readonly type?: number;
  /** PF_X = 1, PF_W = 2, PF_R = 4. */
  readonly flags: number;
  readonly offset: number;
  readonly vaddr: number;
  readonly filesz: number;
  readonly memsz?: number;
}

export interface ElfSpec {
  readonly phdrs: readonly PhdrSpec[];
  /** Byte runs to place in the file: [file offset, bytes]. */
  readonly contents?: ReadonlyArray<readonly [number, Uint8Array]>;
  /** Total file size; defaults to the end of the last segment or content. */
  readonly size?: number;
}

export function buildElf(spec: ElfSpec): Uint8Array {
  const ends = [
    64 + 56 * spec.phdrs.length,
    ...spec.phdrs.map((p) => p.offset + p.filesz),
    ...(spec.contents ?? []).map(([o, b]) => o + b.length),
  ];
  const out = new Uint8Array(spec.size ?? Math.max(...ends));
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // ELFCLASS64, ELFDATA2LSB, EV_CURRENT
  dv.setUint16(16, 3, true); // ET_DYN
  dv.setUint16(18, 62, true); // EM_X86_64
  dv.setUint32(20, 1, true);
  dv.setBigUint64(32, 64n, true); // e_phoff
  dv.setUint16(52, 64, true); // e_ehsize
  dv.setUint16(54, 56, true); // e_phentsize
  dv.setUint16(56, spec.phdrs.length, true);
  dv.setUint16(58, 64, true); // e_shentsize
  for (const [i, p] of spec.phdrs.entries()) {
    const o = 64 + 56 * i;
    dv.setUint32(o, p.type ?? 1, true); // PT_LOAD
    dv.setUint32(o + 4, p.flags, true);
    dv.setBigUint64(o + 8, BigInt(p.offset), true);
    dv.setBigUint64(o + 16, BigInt(p.vaddr), true);
    dv.setBigUint64(o + 24, BigInt(p.vaddr), true);
    dv.setBigUint64(o + 32, BigInt(p.filesz), true);
    dv.setBigUint64(o + 40, BigInt(p.memsz ?? p.filesz), true);
    dv.setBigUint64(o + 48, 0x1000n, true);
  }
  for (const [o, b] of spec.contents ?? []) out.set(b, o);
  return out;
}
