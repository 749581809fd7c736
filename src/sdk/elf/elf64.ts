/**
 * A hand-written ELF64 little-endian reader (System V gABI, "ELF-64 Object File Format" v1.5; x86-64 psABI).
 * It reads what an enclave loader and the `exec` command need: the file header, program headers, section
 * headers, symbols and RELA relocations. Every offset and size is bounds-checked: malformed input gives an
 * ElfError whose one-line message names the problem, never an out-of-range read.
 */

export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_GNU_STACK = 0x6474e551;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_X86_64 = 62;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_DYNSYM = 11;
export const SHF_EXECINSTR = 4;
export const R_X86_64_RELATIVE = 8;
export const R_X86_64_64 = 1;

export class ElfError extends Error {
  readonly code = 'ELF_MALFORMED';
  constructor(message: string) {
    super(message);
    this.name = 'ElfError';
  }
}

export interface ElfHeader {
  readonly type: number;
  readonly machine: number;
  readonly entry: number;
  readonly phoff: number;
  readonly shoff: number;
  readonly phnum: number;
  readonly shnum: number;
  readonly shstrndx: number;
}

export interface ProgramHeader {
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly vaddr: number;
  readonly filesz: number;
  readonly memsz: number;
  readonly align: number;
}

export interface SectionHeader {
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  readonly addr: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly entsize: number;
}

export interface ElfSymbol {
  readonly name: string;
  readonly value: number;
  readonly size: number;
  /** STT_* (low nibble of st_info). */
  readonly type: number;
  /** STB_* (high nibble of st_info). */
  readonly bind: number;
  readonly shndx: number;
}

export interface ElfRela {
  readonly offset: number;
  readonly type: number;
  readonly sym: number;
  readonly addend: bigint;
}

export interface ElfFile {
  readonly bytes: Uint8Array;
  readonly header: ElfHeader;
  readonly segments: readonly ProgramHeader[];
  readonly sections: readonly SectionHeader[];
  /** .symtab symbols, or .dynsym when the file is stripped. */
  readonly symbols: readonly ElfSymbol[];
  readonly relocations: readonly ElfRela[];
}

class Reader {
  private readonly dv: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(off: number, len: number, what: string): void {
    if (!Number.isSafeInteger(off) || off < 0 || len < 0 || off + len > this.bytes.length) {
      throw new ElfError(`${what} at offset ${off} (+${len}) is outside the ${this.bytes.length}-byte file`);
    }
  }
  u8(o: number): number {
    return this.dv.getUint8(o);
  }
  u16(o: number): number {
    return this.dv.getUint16(o, true);
  }
  u32(o: number): number {
    return this.dv.getUint32(o, true);
  }
  /** A u64 that must fit in a JS number (all addresses and sizes of a sane user-space ELF do). */
  u64n(o: number, what: string): number {
    const v = this.dv.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(`${what} 0x${v.toString(16)} is too large`);
    return Number(v);
  }
  i64(o: number): bigint {
    return this.dv.getBigInt64(o, true);
  }
  cstr(o: number, limit: number, what: string): string {
    if (o >= limit) throw new ElfError(`${what} name offset ${o} is outside its string table`);
    let end = o;
    while (end < limit && this.bytes[end] !== 0) end++;
    if (end >= limit) throw new ElfError(`${what} name at ${o} is not NUL-terminated`);
    return new TextDecoder().decode(this.bytes.subarray(o, end));
  }
}

/** Parses an ELF64 x86-64 file. Throws ElfError naming the first problem found. */
export function parseElf64(bytes: Uint8Array): ElfFile {
  const r = new Reader(bytes);
  if (bytes.length < 64) throw new ElfError(`file is ${bytes.length} bytes, too short for an ELF header`);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46)
    throw new ElfError('not an ELF file (bad magic)');
  if (bytes[4] !== 2) throw new ElfError('not a 64-bit ELF (EI_CLASS is not ELFCLASS64)');
  if (bytes[5] !== 1) throw new ElfError('not a little-endian ELF (EI_DATA is not ELFDATA2LSB)');
  if (bytes[6] !== 1) throw new ElfError(`unsupported ELF version ${bytes[6]}`);
  const header: ElfHeader = {
    type: r.u16(16),
    machine: r.u16(18),
    entry: r.u64n(24, 'e_entry'),
    phoff: r.u64n(32, 'e_phoff'),
    shoff: r.u64n(40, 'e_shoff'),
    phnum: r.u16(56),
    shnum: r.u16(60),
    shstrndx: r.u16(62),
  };
  if (header.machine !== EM_X86_64) throw new ElfError(`e_machine is ${header.machine}, not x86-64 (62)`);
  if (header.type !== ET_DYN && header.type !== ET_EXEC)
    throw new ElfError(`e_type is ${header.type}, not an executable`);
  const phentsize = r.u16(54);
  const shentsize = r.u16(58);
  if (header.phnum && phentsize !== 56) throw new ElfError(`e_phentsize is ${phentsize}, expected 56`);
  if (header.shnum && shentsize !== 64) throw new ElfError(`e_shentsize is ${shentsize}, expected 64`);

  r.need(header.phoff, header.phnum * 56, 'program header table');
  const segments: ProgramHeader[] = [];
  for (let i = 0; i < header.phnum; i++) {
    const o = header.phoff + i * 56;
    const ph: ProgramHeader = {
      type: r.u32(o),
      flags: r.u32(o + 4),
      offset: r.u64n(o + 8, `segment ${i} p_offset`),
      vaddr: r.u64n(o + 16, `segment ${i} p_vaddr`),
      filesz: r.u64n(o + 32, `segment ${i} p_filesz`),
      memsz: r.u64n(o + 40, `segment ${i} p_memsz`),
      align: r.u64n(o + 48, `segment ${i} p_align`),
    };
    if (ph.type === PT_LOAD) {
      r.need(ph.offset, ph.filesz, `segment ${i} contents`);
      if (ph.filesz > ph.memsz) throw new ElfError(`segment ${i} has p_filesz > p_memsz`);
    }
    segments.push(ph);
  }

  const sections: SectionHeader[] = [];
  if (header.shnum) {
    r.need(header.shoff, header.shnum * 64, 'section header table');
    if (header.shstrndx >= header.shnum) throw new ElfError(`e_shstrndx ${header.shstrndx} is out of range`);
    const raw = Array.from({ length: header.shnum }, (_, i) => {
      const o = header.shoff + i * 64;
      return {
        nameOff: r.u32(o),
        type: r.u32(o + 4),
        flags: r.u64n(o + 8, `section ${i} sh_flags`),
        addr: r.u64n(o + 16, `section ${i} sh_addr`),
        offset: r.u64n(o + 24, `section ${i} sh_offset`),
        size: r.u64n(o + 32, `section ${i} sh_size`),
        link: r.u32(o + 40),
        entsize: r.u64n(o + 56, `section ${i} sh_entsize`),
      };
    });
    const shstr = raw[header.shstrndx]!;
    r.need(shstr.offset, shstr.size, 'section name string table');
    for (const [i, s] of raw.entries()) {
      const NOBITS = 8;
      if (s.type !== NOBITS && s.type !== 0) r.need(s.offset, s.size, `section ${i} contents`);
      sections.push({
        name: r.cstr(shstr.offset + s.nameOff, shstr.offset + shstr.size, `section ${i}`),
        type: s.type,
        flags: s.flags,
        addr: s.addr,
        offset: s.offset,
        size: s.size,
        link: s.link,
        entsize: s.entsize,
      });
    }
  }

  const symtab = sections.find((s) => s.type === SHT_SYMTAB) ?? sections.find((s) => s.type === SHT_DYNSYM);
  const symbols: ElfSymbol[] = [];
  if (symtab) {
    const strtab = sections[symtab.link];
    if (!strtab || strtab.type !== SHT_STRTAB)
      throw new ElfError(`symbol table links to section ${symtab.link}, not a string table`);
    if (symtab.size % 24 !== 0) throw new ElfError('symbol table size is not a multiple of 24');
    for (let o = symtab.offset; o < symtab.offset + symtab.size; o += 24) {
      const info = r.u8(o + 4);
      symbols.push({
        name: r.cstr(strtab.offset + r.u32(o), strtab.offset + strtab.size, 'symbol'),
        type: info & 0xf,
        bind: info >> 4,
        shndx: r.u16(o + 6),
        value: r.u64n(o + 8, 'st_value'),
        size: r.u64n(o + 16, 'st_size'),
      });
    }
  }

  const relocations: ElfRela[] = [];
  for (const s of sections) {
    if (s.type !== SHT_RELA) continue;
    if (s.size % 24 !== 0) throw new ElfError(`relocation section ${s.name} size is not a multiple of 24`);
    for (let o = s.offset; o < s.offset + s.size; o += 24) {
      const info = r.i64(o + 8);
      relocations.push({
        offset: r.u64n(o, 'r_offset'),
        type: Number(BigInt.asUintN(32, info)),
        sym: Number(BigInt.asUintN(32, info >> 32n)),
        addend: r.i64(o + 16),
      });
    }
  }

  return { bytes, header, segments, sections, symbols, relocations };
}

/** The named function or object symbol, if defined. */
export function findSymbol(elf: ElfFile, name: string): ElfSymbol | undefined {
  return elf.symbols.find((s) => s.name === name && s.shndx !== 0);
}

/** PT_LOAD segments in file order. */
export function loadSegments(elf: ElfFile): ProgramHeader[] {
  return elf.segments.filter((s) => s.type === PT_LOAD);
}

/** "r-x"-style permission string of a segment. */
export function segmentPerms(ph: ProgramHeader): string {
  return `${ph.flags & PF_R ? 'r' : '-'}${ph.flags & PF_W ? 'w' : '-'}${ph.flags & PF_X ? 'x' : '-'}`;
}
