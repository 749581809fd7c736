/**
 * SSA frames (SDM Vol. 3D §38.9 "State Save Area (SSA) Frame"): frame i of a TCS starts at
 * BASEADDR + TCS.OSSA + i × 4096 × SECS.SSAFRAMESIZE; the XSAVE area is at its start, GPRSGX in its last 184
 * bytes and the MISC region (EXINFO) just below GPRSGX. EENTER, ERESUME and EDECCSSA check a frame's pages and
 * cache their physical addresses (CR_XSAVE_PAGE_n, CR_GPR_PA), which is where an AEX later saves the state
 * without touching the page tables.
 */

import { GPR64_NAMES } from '../../cpu/gpr-names';
import type { Cpu } from '../../cpu/index';
import type { CpuFault } from '../../fault';
import { PAGE_SIZE } from '../../mem/index';
import { PageType } from '../arch';
import { EXINFO, GPRSGX } from '../layout/index';
import type { SgxMachine } from '../sgx-machine';
import { xsaveSize } from '../xfrm';
import { canonicalLinear, pageOf, sgxPf, u64Linear, walk } from './operands';

/** A checked SSA frame: where its XSAVE area and GPRSGX are in physical memory. */
export interface SsaFrame {
  /** Linear address of the frame (TMP_SSA). */
  readonly linear: number;
  /** CR_XSAVE_PAGE_n: the pages holding the XSAVE area, in order. */
  readonly xsavePages: readonly number[];
  /** CR_GPR_PA. */
  readonly gprPa: number;
}

/** TMP_SSA of frame `index` (64-bit arithmetic), or undefined when it is not canonical. */
export function ssaFrameLinear(base: bigint, ossa: bigint, frameSize: number, index: number): number | undefined {
  return canonicalLinear(base + ossa + BigInt(PAGE_SIZE * frameSize) * BigInt(index));
}

/**
 * One page of an SSA frame: "Check that DS:x is read/write accessible", then #PF(x) unless it resolves to an EPC
 * page that is VALID, not BLOCKED, not PENDING or MODIFIED, at its own linear address, PT_REG, of this enclave,
 * readable and writable (SDM Vol. 3D §41.4 EENTER, ERESUME; the same list in EDECCSSA).
 */
function checkFramePage(m: SgxMachine, cpu: Cpu, linear: number, secsIndex: number): number | CpuFault {
  const pa = walk(cpu, linear, true);
  if (typeof pa !== 'number') return pa;
  const index = m.epc.indexOf(pa);
  if (index === undefined) return sgxPf(linear, true);
  const e = m.epcm.get(index);
  if (!e) return sgxPf(linear, true);
  if (e.blocked) return sgxPf(linear, true);
  if (e.pending || e.modified) return sgxPf(linear, true);
  if (
    e.enclaveAddress !== u64Linear(pageOf(linear)) ||
    e.pt !== PageType.REG ||
    e.enclaveSecs !== secsIndex ||
    !e.r ||
    !e.w
  )
    return sgxPf(linear, true);
  return pa;
}

/**
 * The frame checks: "FOR EACH TMP_SSA_PAGE = TMP_SSA to TMP_SSA + TMP_XSIZE" (the pages of the XSAVE area for
 * SECS.XFRM), then TMP_GPR = TMP_SSA + 4096 × SSAFRAMESIZE − sizeof(GPRSGX).
 * @returns the frame's physical addresses, or the first #GP/#PF.
 */
export function checkSsaFrame(
  m: SgxMachine,
  cpu: Cpu,
  frame: number,
  frameSize: number,
  xfrm: bigint,
  secsIndex: number,
): SsaFrame | CpuFault {
  const xsavePages: number[] = [];
  const xsize = xsaveSize(xfrm);
  for (let page = frame; page < frame + xsize; page += PAGE_SIZE) {
    const pa = checkFramePage(m, cpu, page, secsIndex);
    if (typeof pa !== 'number') return pa;
    xsavePages.push(pa - (pa % PAGE_SIZE));
  }
  const gpr = frame + PAGE_SIZE * frameSize - GPRSGX.size;
  const gprPa = checkFramePage(m, cpu, gpr, secsIndex);
  if (typeof gprPa !== 'number') return gprPa;
  return { linear: frame, xsavePages, gprPa };
}

/** GPRSGX's register fields in the CPU's register numbering (RAX = 0 … R15 = 15), which is also their order. */
export const GPRSGX_REGS = GPR64_NAMES;

/** The storage of the page holding GPRSGX, and GPRSGX's offset in it (GPRSGX never crosses a page). */
export function gprLocation(m: SgxMachine, gprPa: number): { readonly page: Uint8Array; readonly offset: number } {
  return { page: m.physMem.page(Math.floor(gprPa / PAGE_SIZE)), offset: gprPa % PAGE_SIZE };
}

/** Offset of EXINFO (the first MISC component) below GPRSGX, in the same page (SDM Vol. 3D Table 38-11). */
export const EXINFO_BELOW_GPRSGX = EXINFO.size;

/**
 * The legacy region and XSAVE header (576 bytes) of a frame, as a view of the frame's first page: a frame is page
 * aligned, so they always lie there. They are all the interpreter's XCR0 (x87 | SSE) lets an enclave use; EENTER
 * refuses any XFRM beyond XCR0.
 */
export function xsaveArea(m: SgxMachine, pages: readonly number[]): Uint8Array {
  const first = m.physMem.page(pages[0]! / PAGE_SIZE);
  return first.subarray(0, 576);
}
