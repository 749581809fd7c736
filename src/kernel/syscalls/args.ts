/**
 * Decoding raw syscall arguments into named locals. Registers are 64-bit; a JS number holds any address
 * below 2^53. `int`-typed arguments are truncated to 32 bits and sign-extended, as the kernel's C
 * prototypes do.
 */
import type { SyscallArgs } from './types';

/** A 64-bit register argument (unsigned long / pointer / size_t). Missing means 0. */
export function argU64(a: SyscallArgs, i: number): number {
  const v = a[i];
  if (typeof v === 'bigint') return Number(BigInt.asUintN(64, v));
  if (typeof v === 'number') return v;
  return 0;
}

/** An `int` argument: the low 32 bits, signed. */
export function argInt(a: SyscallArgs, i: number): number {
  const v = a[i];
  if (typeof v === 'bigint') return Number(BigInt.asIntN(32, v));
  if (typeof v === 'number') return v | 0;
  return 0;
}

/** An `unsigned int` argument. */
export function argUint(a: SyscallArgs, i: number): number {
  return argInt(a, i) >>> 0;
}

/** A `long`/`pid_t`-style signed argument kept at full width. */
export function argLong(a: SyscallArgs, i: number): number {
  const v = a[i];
  if (typeof v === 'bigint') return Number(BigInt.asIntN(64, v));
  if (typeof v === 'number') return v;
  return 0;
}

/** A host value argument (function or object), as passed. */
export function argHost<T>(a: SyscallArgs, i: number): T | undefined {
  return a[i] as T | undefined;
}

/** A plain-JSON rendering of the arguments for the trace (host values are named, not serialized). */
export function traceArgs(a: SyscallArgs): unknown[] {
  return a.map((v) => {
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || v === null) return v;
    if (typeof v === 'bigint') return v.toString();
    if (v === undefined) return null;
    if (typeof v === 'function') return '<fn>';
    return '<obj>';
  });
}
