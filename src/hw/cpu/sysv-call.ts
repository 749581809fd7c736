/**
 * Calling a function with the System V AMD64 ABI (psABI §3.2.3): integer/pointer arguments in RDI, RSI, RDX,
 * RCX, R8, R9 (then the stack), doubles in XMM0-7, a 16-byte aligned stack at the call, and a return address.
 * The return address is an unmapped sentinel page: the function's RET fetches from it and the resulting #PF
 * (instruction fetch) marks the return, with RAX/RDX/XMM0 untouched.
 */

import { PfErr, Vector } from '../fault';
import { type Cpu, setNum } from './cpu';
import { run, type StopReason } from './run';

/** Where a called function returns to: never mapped. */
export const RETURN_SENTINEL = 0x7ffe_0000_0000;

const INT_REGS = [7, 6, 2, 1, 8, 9];

export interface CallArgs {
  /** Integer arguments as unsigned or signed 64-bit bigints. */
  readonly ints?: readonly bigint[];
  /** Floating arguments (doubles) for XMM0-7. */
  readonly doubles?: readonly number[];
  /** Initial RSP (16-byte aligned); the return address is pushed below it. */
  readonly stackTop: number;
  /** Instruction budget before giving up. */
  readonly budget?: number;
}

export type CallOutcome =
  | { readonly kind: 'returned'; readonly executed: number }
  | { readonly kind: 'stopped'; readonly stop: StopReason; readonly executed: number };

/** Sets up the registers and stack for a call to `addr` and runs until it returns or stops. */
export function callFunction(c: Cpu, addr: number, args: CallArgs): CallOutcome {
  const ints = args.ints ?? [];
  if (ints.length > INT_REGS.length) throw new Error('more than 6 integer arguments are not supported');
  for (let k = 0; k < ints.length; k++) c.setReg64(INT_REGS[k]!, ints[k]!);
  const doubles = args.doubles ?? [];
  for (let k = 0; k < doubles.length; k++) {
    c.xf64[k * 2] = doubles[k]!;
    c.x32[k * 4 + 2] = 0;
    c.x32[k * 4 + 3] = 0;
  }
  // RAX carries the number of vector registers used by a variadic callee (psABI §3.5.7).
  c.setRegNum(0, (args.doubles ?? []).length);
  const sp = args.stackTop - 8;
  c.m.wr64(sp, (RETURN_SENTINEL % 2 ** 32) | 0, Math.floor(RETURN_SENTINEL / 2 ** 32));
  setNum(c.r, 8, sp);
  c.rip = addr;
  let executed = 0;
  const budget = args.budget ?? 1e10;
  for (;;) {
    const res = run(c, Math.min(budget - executed, 1e8));
    executed += res.executed;
    const s = res.stop;
    if (
      s.kind === 'fault' &&
      s.fault.vector === Vector.PF &&
      s.fault.addr === RETURN_SENTINEL &&
      s.fault.errorCode & PfErr.I
    ) {
      return { kind: 'returned', executed };
    }
    if (s.kind !== 'budget' || executed >= budget) return { kind: 'stopped', stop: s, executed };
  }
}
