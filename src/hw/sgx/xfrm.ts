/**
 * XFRM rules for ECREATE: which XSAVE feature masks are legal, and how large an SSA frame must be to hold the
 * XSAVE area, the MISC region and GPRSGX (SDM Vol. 3D §41.2 ECREATE "compute_xsave_size",
 * §39.7.2.2 "SSA Frame Size"; XSAVE layout from SDM Vol. 1 §13.4 and CPUID.(EAX=0DH, ECX=i)).
 */
import { GPRSGX } from './layout/index';

/** One user XSAVE state component in the standard (non-compacted) format: CPUID.(EAX=0DH, ECX=bit).EBX/EAX. */
export interface XsaveComponent {
  readonly bit: number;
  readonly name: string;
  readonly offset: number;
  readonly size: number;
}

/**
 * Offsets and sizes of the user state components the model knows, as CPUID leaf 0DH reports them on every
 * Intel processor that has them (the standard format fixes them). x87 and SSE live in the 512-byte legacy area,
 * followed by the 64-byte XSAVE header.
 */
export const XSAVE_COMPONENTS: readonly XsaveComponent[] = [
  { bit: 2, name: 'AVX (YMM_Hi128)', offset: 576, size: 256 },
  { bit: 3, name: 'MPX BNDREGS', offset: 960, size: 64 },
  { bit: 4, name: 'MPX BNDCSR', offset: 1024, size: 64 },
  { bit: 5, name: 'AVX-512 opmask', offset: 1088, size: 64 },
  { bit: 6, name: 'AVX-512 ZMM_Hi256', offset: 1152, size: 512 },
  { bit: 7, name: 'AVX-512 Hi16_ZMM', offset: 1664, size: 1024 },
  { bit: 9, name: 'PKRU', offset: 2688, size: 8 },
  { bit: 17, name: 'AMX XTILECFG', offset: 2752, size: 64 },
  { bit: 18, name: 'AMX XTILEDATA', offset: 2816, size: 8192 },
];

/** Legacy region (512) plus XSAVE header (64). */
export const XSAVE_LEGACY_AND_HEADER = 576;

/** The XFRM bits the model can size: x87, SSE and the components above. */
export const XFRM_KNOWN = XSAVE_COMPONENTS.reduce((m, c) => m | (1n << BigInt(c.bit)), 3n);

/** xsaveSize() by XFRM: every EENTER, ERESUME and AEX asks for its enclave's. */
const xsaveSizes = new Map<bigint, number>();

/** Size of the standard-format XSAVE area for the features in `xfrm` (x87 and SSE always included). */
export function xsaveSize(xfrm: bigint): number {
  let size = xsaveSizes.get(xfrm);
  if (size !== undefined) return size;
  size = XSAVE_LEGACY_AND_HEADER;
  for (const c of XSAVE_COMPONENTS) if (xfrm & (1n << BigInt(c.bit))) size = Math.max(size, c.offset + c.size);
  // Only XFRMs of known bits are kept, so the table stays small whatever ECREATE is asked to check.
  if ((xfrm & ~XFRM_KNOWN) === 0n) xsaveSizes.set(xfrm, size);
  return size;
}

/** Bytes of the MISC region for a MISCSELECT: EXINFO (bit 0) is 16 bytes (SDM Vol. 3D §38.9.2). */
export function miscRegionSize(miscSelect: number): number {
  return miscSelect & 1 ? 16 : 0;
}

/** The minimum SSA frame in bytes: XSAVE area + MISC region + GPRSGX (ECREATE's TMP_XSIZE). */
export function ssaFrameBytesNeeded(xfrm: bigint, miscSelect: number): number {
  return xsaveSize(xfrm) + miscRegionSize(miscSelect) + GPRSGX.size;
}

/**
 * Whether `xfrm` is a legal XCR0 value as XSETBV defines it (SDM Vol. 1 §13.3): x87 set; AVX needs SSE;
 * the two MPX bits together; the three AVX-512 bits together and with AVX; the two AMX bits together.
 * ECREATE additionally requires SSE (bits 0 and 1) and a subset of the supported mask; the caller checks those.
 */
export function xfrmIsLegal(xfrm: bigint): boolean {
  const bit = (n: number) => (xfrm >> BigInt(n)) & 1n;
  if (bit(0) === 0n) return false;
  if (bit(2) === 1n && bit(1) === 0n) return false;
  if (bit(3) !== bit(4)) return false;
  const avx512 = (xfrm >> 5n) & 7n;
  if (avx512 !== 0n && (avx512 !== 7n || bit(2) === 0n)) return false;
  if (bit(17) !== bit(18)) return false;
  return true;
}
