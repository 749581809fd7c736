/**
 * The enclave image a loader adds page by page: which pages, at which enclave offsets, with which SECINFO and
 * whether EEXTEND measures them. It follows the Linux SGX selftests' loader (tools/testing/selftests/sgx/
 * load.c, encl_load()), so an enclave built the selftests' way (test_encl.lds) gets the MRENCLAVE their
 * sigstruct.c computes:
 *
 * - every PT_LOAD segment becomes one run of pages; the first one holds the TCS pages and must be exactly RW,
 *   its pages are added as PT_TCS with R/W/X clear ("SGX_PAGE_TYPE_TCS << 8"); the others are PT_REG with the
 *   segment's R/W/X ("(SGX_PAGE_TYPE_REG << 8) | prot");
 * - enclave offset = page-aligned p_offset − the first segment's page-aligned p_offset; size = p_filesz
 *   rounded up to whole pages, with the bytes of those pages taken from the file as load.c maps them;
 * - after the last segment comes a heap of zero pages, RW, added without EEXTEND (load.c: measure = false);
 * - the enclave size is the smallest power of two ≥ the end of the heap, at least one page.
 *
 * We refuse ELF files on which that recipe would build a broken enclave (overlapping segments, a file layout
 * that differs from the memory layout, .bss that would not be added) with an EnclaveLayoutError naming the problem.
 */
import { decode, PAGE_SIZE, PageType, type PageTypeNumber, SecinfoFlags, TCS } from '../../hw/index';
import { ElfError, type ElfFile, loadSegments, PF_R, PF_W, PF_X, parseElf64 } from '../elf/index';
import { EnclaveLayoutError } from '../errors/index';

/** The selftests' default heap (main.h: ENCL_HEAP_SIZE_DEFAULT). */
export const DEFAULT_HEAP_SIZE = 4096;

/** The selftests' SSA frame size in pages (load.c encl_ioc_create(): secs->ssa_frame_size = 1). */
export const DEFAULT_SSA_FRAME_SIZE = 1;

/** mmap protection bits, equal to SECINFO R/W/X (the selftests rely on PROT_READ = 1 = SECINFO.R, …). */
export const Prot = { READ: 1, WRITE: 2, EXEC: 4 } as const;

interface SegmentBase {
  /** Enclave offset of the first page (page aligned). */
  readonly offset: number;
  /** Length in bytes (a whole number of pages). */
  readonly size: number;
  /** SECINFO.FLAGS for every page: PAGE_TYPE << 8 | R/W/X. */
  readonly secinfoFlags: bigint;
  /** The protection the selftests map the segment with afterwards (PROT_READ | PROT_WRITE | PROT_EXEC bits). */
  readonly prot: number;
  /** Whether ENCLAVE_ADD_PAGES gets SGX_PAGE_MEASURE, i.e. 16 EEXTENDs per page. */
  readonly measure: boolean;
}

/** One ENCLAVE_ADD_PAGES call's worth: a run of pages with the same SECINFO and measure flag. */
export type EnclaveSegment =
  | (SegmentBase & {
      /** The TCS segment (PT_LOAD #0) or a later PT_LOAD segment. */
      readonly kind: 'tcs' | 'load';
      /** Index of the program header in the ELF. */
      readonly phdr: number;
      /** The `size` bytes to add, as load.c maps them from the file (past end of file: zeros). */
      readonly bytes: Uint8Array;
    })
  | (SegmentBase & {
      /** The trailing heap: anonymous zero memory. */
      readonly kind: 'heap';
      readonly phdr: -1;
      readonly bytes: null;
    })
  | (SegmentBase & {
      /** Added by a loader beyond the ELF (e.g. an extra TCS page or its thread block); measured. */
      readonly kind: 'thread';
      readonly phdr: -1;
      readonly bytes: Uint8Array;
    });

/** One page as ENCLS[EADD] sees it. */
export interface EnclavePage {
  readonly offset: number;
  readonly secinfoFlags: bigint;
  readonly pageType: PageTypeNumber;
  readonly measure: boolean;
  /** 4096 bytes. A view into the ELF file or a shared zero page: read it, do not write it. */
  readonly bytes: Uint8Array;
  /** Index into `EnclaveLayout.segments`. */
  readonly segment: number;
}

/** A TCS page of the image, decoded (SDM Vol. 3D §38.8). OSSA, OENTRY and the FS/GS bases are enclave offsets. */
export interface TcsPage {
  readonly offset: number;
  readonly flags: bigint;
  readonly ossa: bigint;
  readonly nssa: number;
  readonly oentry: bigint;
  readonly ofsBase: bigint;
  readonly ogsBase: bigint;
  readonly fsLimit: number;
  readonly gsLimit: number;
}

/** Everything a loader needs for ENCLAVE_CREATE, ENCLAVE_ADD_PAGES and the SIGSTRUCT's MRENCLAVE. */
export interface EnclaveLayout {
  readonly elf: ElfFile;
  /** In load order: the TCS segment, the other PT_LOAD segments in file order, then the heap (if any). */
  readonly segments: readonly EnclaveSegment[];
  /** Every page of every segment, in EADD order. */
  readonly pages: readonly EnclavePage[];
  readonly tcs: readonly TcsPage[];
  /** End of the heap: the bytes actually populated (load.c's src_size / contents_size). */
  readonly imageSize: number;
  /** SECS.SIZE: the smallest power of two ≥ imageSize, at least one page. */
  readonly size: number;
  /** SECS.SSAFRAMESIZE in pages. */
  readonly ssaFrameSize: number;
  readonly heapSize: number;
}

export interface EnclaveLayoutOptions {
  /** Bytes of unmeasured RW heap after the image, a multiple of 4096 (default 4096; 0 for none). */
  readonly heapSize?: number;
  /** SECS.SSAFRAMESIZE in pages (default 1). */
  readonly ssaFrameSize?: number;
}

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

const pageDown = (x: number) => x - (x % PAGE_SIZE);
const pageUp = (x: number) => Math.ceil(x / PAGE_SIZE) * PAGE_SIZE;

/** Smallest power of two ≥ `imageSize`, starting at one page (load.c: `for (encl_size = 4096; …; ) <<= 1`). */
export function enclaveSizeFor(imageSize: number): number {
  let size = PAGE_SIZE;
  while (size < imageSize) size *= 2;
  return size;
}

function protOf(pflags: number): number {
  return (pflags & PF_R ? Prot.READ : 0) | (pflags & PF_W ? Prot.WRITE : 0) | (pflags & PF_X ? Prot.EXEC : 0);
}

/** `size` bytes of the file from `start`, zero past its end (an mmap of the file reads zeros there). */
function fileBytes(file: Uint8Array, start: number, size: number): Uint8Array {
  if (start + size <= file.length) return file.subarray(start, start + size);
  const out = new Uint8Array(size);
  out.set(file.subarray(start, Math.min(file.length, start + size)));
  return out;
}

function parse(bytes: Uint8Array): ElfFile {
  try {
    return parseElf64(bytes);
  } catch (e) {
    if (e instanceof ElfError) throw new EnclaveLayoutError({ kind: 'elf', detail: e.message }, { cause: e });
    throw e;
  }
}

/**
 * Lays out an enclave ELF the way the selftests' loader does.
 * @param file the ELF file's bytes (not copied; the layout's page bytes are views into it).
 * @returns the segments, pages, TCS pages, image and enclave size, and the ELF.
 * @throws EnclaveLayoutError naming the problem: `elf` (malformed ELF), `no-tcs-segment`, `segment-flags`,
 *   `tcs-flags`, `empty-tcs-segment`, `empty-segment`, `unaligned-segment`, `file-layout`, `overlap`, `bss`, `heap-size`,
 *   `ssa-frame-size`.
 */
export function buildEnclaveLayout(file: Uint8Array, options: EnclaveLayoutOptions = {}): EnclaveLayout {
  const heapSize = options.heapSize ?? DEFAULT_HEAP_SIZE;
  const ssaFrameSize = options.ssaFrameSize ?? DEFAULT_SSA_FRAME_SIZE;
  if (!Number.isSafeInteger(heapSize) || heapSize < 0 || heapSize % PAGE_SIZE !== 0)
    throw new EnclaveLayoutError({ kind: 'heap-size', heapSize });
  if (!Number.isInteger(ssaFrameSize) || ssaFrameSize < 1 || ssaFrameSize > 0xffff_ffff)
    throw new EnclaveLayoutError({ kind: 'ssa-frame-size', ssaFrameSize });

  const elf = parse(file);
  const loads = loadSegments(elf);
  const first = loads[0];
  if (!first) throw new EnclaveLayoutError({ kind: 'no-tcs-segment' });
  const srcOffset = pageDown(first.offset);

  const segments: EnclaveSegment[] = [];
  let prevEnd = 0;
  let prevPhdr = -1;
  for (const [j, ph] of loads.entries()) {
    const phdr = elf.segments.indexOf(ph);
    // load.c: "%d has invalid segment flags", then "TCS has invalid segment flags" for PT_LOAD #0.
    if (ph.flags & ~(PF_R | PF_W | PF_X))
      throw new EnclaveLayoutError({ kind: 'segment-flags', phdr, flags: ph.flags });
    if (j === 0 && ph.flags !== (PF_R | PF_W))
      throw new EnclaveLayoutError({ kind: 'tcs-flags', phdr, flags: ph.flags });
    if (j === 0 && ph.filesz === 0) throw new EnclaveLayoutError({ kind: 'empty-tcs-segment', phdr });
    // load.c would pass length 0 to ENCLAVE_ADD_PAGES, which fails with EINVAL (sgx_validate_offset_length()).
    if (ph.filesz === 0) throw new EnclaveLayoutError({ kind: 'empty-segment', phdr });
    // load.c takes p_offset & PAGE_MASK and rounds p_filesz alone, which drops the tail of an unaligned segment.
    if (ph.offset % PAGE_SIZE !== 0)
      throw new EnclaveLayoutError({ kind: 'unaligned-segment', phdr, fileOffset: ph.offset });
    // load.c places segments by file offset; the code was linked for their addresses. Both must agree.
    const expectedVaddr = first.vaddr + (ph.offset - first.offset);
    if (ph.vaddr !== expectedVaddr)
      throw new EnclaveLayoutError({
        kind: 'file-layout',
        phdr,
        fileOffset: ph.offset,
        vaddr: ph.vaddr,
        expectedVaddr,
      });
    if (ph.memsz > ph.filesz) throw new EnclaveLayoutError({ kind: 'bss', phdr, filesz: ph.filesz, memsz: ph.memsz });

    const offset = ph.offset - srcOffset;
    const size = pageUp(ph.filesz);
    if (j > 0 && offset < prevEnd)
      throw new EnclaveLayoutError({ kind: 'overlap', phdr, previousPhdr: prevPhdr, enclaveOffset: offset });

    const prot = j === 0 ? Prot.READ | Prot.WRITE : protOf(ph.flags);
    segments.push({
      kind: j === 0 ? 'tcs' : 'load',
      phdr,
      offset,
      size,
      // TCS pages carry no R/W/X in SECINFO (load.c: flags = SGX_PAGE_TYPE_TCS << 8).
      secinfoFlags:
        j === 0
          ? BigInt(PageType.TCS) << SecinfoFlags.PAGE_TYPE_SHIFT
          : (BigInt(PageType.REG) << SecinfoFlags.PAGE_TYPE_SHIFT) | BigInt(prot),
      prot,
      measure: true,
      bytes: fileBytes(file, ph.offset, size),
    });
    prevEnd = offset + size;
    prevPhdr = phdr;
  }

  if (heapSize > 0) {
    segments.push({
      kind: 'heap',
      phdr: -1,
      offset: prevEnd,
      size: heapSize,
      secinfoFlags: (BigInt(PageType.REG) << SecinfoFlags.PAGE_TYPE_SHIFT) | BigInt(Prot.READ | Prot.WRITE),
      prot: Prot.READ | Prot.WRITE,
      measure: false,
      bytes: null,
    });
  }
  const imageSize = prevEnd + heapSize;
  const { pages, tcs } = segmentPages(segments);
  return { elf, segments, pages, tcs, imageSize, size: enclaveSizeFor(imageSize), ssaFrameSize, heapSize };
}

/**
 * The pages of `segments` in EADD order, and the TCS pages among them decoded (every page whose SECINFO type is
 * PT_TCS). For loaders that assemble a layout from their own segments.
 */
export function segmentPages(segments: readonly EnclaveSegment[]): { pages: EnclavePage[]; tcs: TcsPage[] } {
  const pages: EnclavePage[] = [];
  const tcs: TcsPage[] = [];
  for (const [i, seg] of segments.entries()) {
    const pageType = Number((seg.secinfoFlags & SecinfoFlags.PAGE_TYPE_MASK) >> SecinfoFlags.PAGE_TYPE_SHIFT);
    for (let o = 0; o < seg.size; o += PAGE_SIZE) {
      const bytes = seg.bytes ? seg.bytes.subarray(o, o + PAGE_SIZE) : ZERO_PAGE;
      pages.push({
        offset: seg.offset + o,
        secinfoFlags: seg.secinfoFlags,
        pageType: pageType as PageTypeNumber,
        measure: seg.measure,
        bytes,
        segment: i,
      });
      if (pageType === PageType.TCS) tcs.push(decodeTcs(seg.offset + o, bytes));
    }
  }
  return { pages, tcs };
}

function decodeTcs(offset: number, page: Uint8Array): TcsPage {
  const t = decode(TCS, page);
  return {
    offset,
    flags: t.flags,
    ossa: t.ossa,
    nssa: t.nssa,
    oentry: t.oentry,
    ofsBase: t.ofsBase,
    ogsBase: t.ogsBase,
    fsLimit: t.fsLimit,
    gsLimit: t.gsLimit,
  };
}
