/**
 * Architectural faults as values (SDM Vol. 3A ch. 6 "Interrupt and Exception Handling").
 * The hardware layer never throws these: it returns them, and the CPU (or the kernel, for ENCLS)
 * delivers them. A thrown JS exception means a simulator bug.
 */

/** Exception vectors the model can raise (SDM Vol. 3A Table 6-1). */
export const Vector = {
  DE: 0,
  DB: 1,
  BP: 3,
  BR: 5,
  UD: 6,
  NM: 7,
  SS: 12,
  GP: 13,
  PF: 14,
  MF: 16,
  AC: 17,
  XM: 19,
} as const;
export type VectorNumber = (typeof Vector)[keyof typeof Vector];

/** #PF error-code bits (SDM Vol. 3A §4.7; bit 15 SGX from Vol. 3D §38.5). */
export const PfErr = {
  P: 1 << 0,
  W: 1 << 1,
  U: 1 << 2,
  RSVD: 1 << 3,
  I: 1 << 4,
  PK: 1 << 5,
  SGX: 1 << 15,
} as const;

/** A fault the processor delivers: vector, error code and (for #PF) the linear address that goes to CR2. */
export interface CpuFault {
  readonly kind: 'fault';
  readonly vector: VectorNumber;
  readonly errorCode: number;
  /** CR2 for #PF; 0 otherwise. */
  readonly addr: number;
  /** The DR6 status a #DB leaves (SDM Vol. 3B §18.2.3): BS for a single-step trap, none for INT1. */
  readonly dr6?: number;
}

/** DR6.BS: the #DB was a single-step trap (RFLAGS.TF). */
export const DR6_BS = 1 << 14;
/** DR6.B0-B3: the #DB was a debug-register breakpoint match. */
export const DR6_B0_B3 = 0xf;

export function isFault(x: unknown): x is CpuFault {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'fault';
}

/** #GP(0). */
export function gp(errorCode = 0): CpuFault {
  return { kind: 'fault', vector: Vector.GP, errorCode, addr: 0 };
}

/** #PF at `addr` with `errorCode` (PfErr bits). */
export function pf(addr: number, errorCode = 0): CpuFault {
  return { kind: 'fault', vector: Vector.PF, errorCode, addr };
}

/** #UD. */
export function ud(): CpuFault {
  return { kind: 'fault', vector: Vector.UD, errorCode: 0, addr: 0 };
}

/** #DE. */
export function de(): CpuFault {
  return { kind: 'fault', vector: Vector.DE, errorCode: 0, addr: 0 };
}

/** Any vector without an error code. */
export function fault(vector: VectorNumber, errorCode = 0, addr = 0): CpuFault {
  return { kind: 'fault', vector, errorCode, addr };
}

/** A #DB trap with its DR6 status: `DR6_BS` after a single step, 0 for INT1 (ICEBP). */
export function debugTrap(dr6: number): CpuFault {
  return { kind: 'fault', vector: Vector.DB, errorCode: 0, addr: 0, dr6 };
}

const NAMES: Record<number, string> = {
  0: 'DE',
  1: 'DB',
  3: 'BP',
  5: 'BR',
  6: 'UD',
  7: 'NM',
  12: 'SS',
  13: 'GP',
  14: 'PF',
  16: 'MF',
  17: 'AC',
  19: 'XM',
};

/** "#PF(0x8007) at 0x7f0000001000" style text for logs and CLI output. */
export function describeFault(f: CpuFault): string {
  const name = `#${NAMES[f.vector] ?? `V${f.vector}`}`;
  if (f.vector === Vector.PF) return `${name}(0x${f.errorCode.toString(16)}) at 0x${f.addr.toString(16)}`;
  return f.errorCode ? `${name}(0x${f.errorCode.toString(16)})` : name;
}
