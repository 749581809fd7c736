/**
 * How ENCLS leaves reach their operands in this model. Kernel linear addresses equal physical addresses (an
 * identity direct map of the canonical lower half), so:
 * - an address is canonical iff it is below 2^47 (register operands are non-negative safe integers, and the upper
 *   canonical half holds nothing in the model; a pointer there faults with #PF when used);
 * - a non-EPC memory operand (PAGEINFO, SECINFO, SIGSTRUCT, EINITTOKEN, PCMD, source/destination pages) is read
 *   and written with non-enclave semantics: EPC reads as all-ones and writes to EPC are dropped (abort page);
 * - an address with nothing behind it page-faults with P = 0, as an unmapped kernel address would.
 * Faults the EPCM or the "must be EPC" rules cause are #PF with P = 1 and the SGX bit (SDM Vol. 3A §4.7:
 * "the exception is unrelated to paging and resulted from violation of SGX-specific access-control
 * requirements"), plus W when the leaf writes the operand. ENCLS runs at CPL 0, so U = 0.
 * Every aligned ENCLS memory operand fits in one page, so "mapped" is a per-page question.
 */
import { type CpuFault, gp, PfErr, pf } from '../../fault';
import { PAGE_SIZE } from '../../mem/index';
import { DIRECT_MAP_LIMIT, type SgxMachine } from '../sgx-machine';

/** A register operand as an address. A value that is not a non-negative safe integer is a caller bug. */
export function regAddr(v: number | bigint | undefined, name: string): number {
  if (v === undefined) return 0;
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (!Number.isSafeInteger(n) || n < 0 || (typeof v === 'bigint' && BigInt(n) !== v))
    throw new RangeError(`ENCLS ${name} must be a physical address (a non-negative safe integer), got ${String(v)}`);
  return n;
}

/**
 * Canonical (below 2^47 here) and aligned to `align`: otherwise the SDM's #GP(0). `pa` is a non-negative integer
 * (regAddr) and `align` a power of two of at most 4096, which divides 2^32: the low 32 bits decide, and `>>> 0`
 * takes them without the floating-point remainder `%` costs on addresses above 2^31 (every EPC address).
 */
export function addrOk(pa: number, align: number): boolean {
  return pa < DIRECT_MAP_LIMIT && ((pa >>> 0) & (align - 1)) === 0;
}

/**
 * A linear address read from memory (PAGEINFO.SRCPGE, .SECINFO/.PCMD, .SECS): #GP(0) when non-canonical or
 * misaligned; otherwise a number. Upper-half canonical pointers become numbers ≥ 2^47 that fault on use (their
 * CR2 is the nearest double: the model never maps the upper half).
 */
export function pointer(v: bigint, align: number): number | CpuFault {
  const u = BigInt.asUintN(64, v);
  return pointerOf(Number(u & 0xffff_ffffn), Number(u >> 32n), align);
}

/** pointer() of the u64 at byte `at` of `dv`, read as two 32-bit halves: no BigInt (EADD runs it three times a page). */
export function pointerAt(dv: DataView, at: number, align: number): number | CpuFault {
  return pointerOf(dv.getUint32(at, true), dv.getUint32(at + 4, true), align);
}

/** The rule of pointer() on the u64 hi·2^32 + lo. */
function pointerOf(lo: number, hi: number, align: number): number | CpuFault {
  // Alignments are powers of two up to 4096, which divide 2^32: only the low half decides.
  if (lo % align !== 0) return gp();
  // Below 2^47 (DIRECT_MAP_LIMIT: hi < 8000H) or in the upper canonical half (hi ≥ FFFF8000H). hi·2^32 is exact,
  // so the sum rounds once, to the nearest double, as Number(BigInt) does.
  if (hi < DIRECT_MAP_LIMIT / 2 ** 32 || hi >= 0xffff_8000) return hi * 2 ** 32 + lo;
  return gp();
}

/** #PF the EPCM or an EPC-residency rule raises. */
export function sgxPf(addr: number, write: boolean): CpuFault {
  return pf(addr, PfErr.P | PfErr.SGX | (write ? PfErr.W : 0));
}

function mapped(m: SgxMachine, pa: number): boolean {
  return pa < DIRECT_MAP_LIMIT && m.physMem.isMapped(pa);
}

/** "IF (DS:x does not resolve within an EPC) THEN #PF(DS:x)": the EPC page index of `pa`, or the fault. */
export function epcIndex(m: SgxMachine, pa: number, write: boolean): number | CpuFault {
  // EPC sections are regions of physical memory inside the direct map (SgxMachine checks), so an EPC address is
  // mapped: the common case answers with one lookup.
  const index = m.epc.indexOf(pa);
  if (index !== undefined) return index;
  return mapped(m, pa) ? sgxPf(pa, write) : pf(pa, write ? PfErr.W : 0);
}

/** Reads a non-EPC memory operand of `len` bytes (within one page). */
export function readMem(m: SgxMachine, pa: number, len: number): Uint8Array | CpuFault {
  if (!mapped(m, pa)) return pf(pa, 0);
  if (m.epc.isEpc(pa)) return new Uint8Array(len).fill(0xff);
  return m.physMem.read(pa, len);
}

/** What a non-enclave read of EPC returns, a page of it (abort-page semantics). Never written. */
const ONES_PAGE = new Uint8Array(PAGE_SIZE).fill(0xff);

/**
 * The page holding a non-EPC memory operand that lies within one page, for leaves that decode the operand in place
 * at pageOffset(pa) instead of copying it (PAGEINFO and SECINFO are naturally aligned, so never cross a page): the
 * live RAM page (a shared zero page when untouched), or all-ones for EPC. Read-only, and good until the leaf
 * writes memory.
 */
export function operandPage(m: SgxMachine, pa: number): Uint8Array | CpuFault {
  if (!mapped(m, pa)) return pf(pa, 0);
  if (m.epc.isEpc(pa)) return ONES_PAGE;
  return m.physMem.peekPage(Math.floor(pa / PAGE_SIZE));
}

/**
 * As readMem, but a RAM operand within one page comes back as a view of the live page instead of a copy: for
 * leaves that consume the bytes before they write anything (ELDU's ciphertext, EADD's source page).
 */
export function readMemView(m: SgxMachine, pa: number, len: number): Uint8Array | CpuFault {
  if (!mapped(m, pa)) return pf(pa, 0);
  if (m.epc.isEpc(pa)) return new Uint8Array(len).fill(0xff);
  const off = pa % PAGE_SIZE;
  if (off + len > PAGE_SIZE) return m.physMem.read(pa, len);
  return m.physMem.peekPage(Math.floor(pa / PAGE_SIZE)).subarray(off, off + len);
}

/** A write to a non-EPC operand would fault: checked before a leaf commits anything. */
export function writeFault(m: SgxMachine, pa: number): CpuFault | undefined {
  return mapped(m, pa) ? undefined : pf(pa, PfErr.W);
}

/** Writes a non-EPC memory operand (the caller has checked writeFault). Bytes aimed at EPC are dropped. */
export function writeMem(m: SgxMachine, pa: number, bytes: Uint8Array): void {
  if (!m.epc.isEpc(pa)) m.physMem.write(pa, bytes);
}

/** Offset of `pa` (a non-negative integer) within its page: its low 12 bits, as in addrOk. */
export function pageOffset(pa: number): number {
  return (pa >>> 0) & (PAGE_SIZE - 1);
}
