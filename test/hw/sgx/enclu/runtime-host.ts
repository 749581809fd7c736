// The host side of the trusted runtime's ABI (enclaves/runtime/README.md) on a LogicalProcessor: ecalls with their
// call block, ocalls served by a callback, and the exception flow (AEX → EENTER with EXCEPTION → EEXIT → ERESUME),
// as the vDSO plus an untrusted runtime would drive it. Optional timer interrupts at given instruction counts.
import { type CpuFault, EncluLeaf, encode, type LogicalProcessor, type LpStop } from '../../../../src/hw/index';
import { CALL_BLOCK, EnclCommand, EnclStatus } from '../../../../src/sdk/index';
import { ecallNames } from '../../../enclaves/native-enclave';
import { AFTER_ENCLU, atStub, DATA, type Enclave, type Platform, R, STUB } from './fixture';

export const CALL_BLOCK_VA = DATA;
export const IN_VA = DATA + 0x1000;
export const OUT_VA = DATA + 0x4000;
export const SCRATCH_VA = DATA + 0x8000;
export const SCRATCH_LEN = 0x4000;
const BUDGET = 50_000_000;

export interface EcallOptions {
  /** Serves ocall `index` with its input; returns RSI for ORET and up to `outLen` bytes of output. */
  readonly onOcall?: (index: number, input: Uint8Array, outLen: number) => { ret: bigint; out?: Uint8Array };
  /** Instruction counts (since the ecall began) at which a timer interrupt arrives. */
  readonly interruptAt?: readonly number[];
  /** Called after each AEX'ed exception, before the EXCEPTION entry (e.g. to interrupt the handler). */
  readonly afterException?: (fault: CpuFault) => void;
  /** Budget of each run before the host gets control (default: until something happens). */
  readonly step?: number;
  /** Called whenever the processor stops on its budget; 'stop' ends the drive there (status −1). */
  readonly onBudget?: () => unknown;
}

export interface EcallResult {
  readonly status: number;
  readonly ret: bigint;
  readonly out: Uint8Array;
  /** Exceptions reported after an AEX, in order. */
  readonly exceptions: CpuFault[];
  /** Every EEXIT status seen (ocalls, exception entries, the final one). */
  readonly exits: number[];
  /** Instructions retired. */
  readonly executed: number;
  /** Interrupts that found the processor in enclave mode. */
  readonly aexInterrupts: number;
}

/** The ecall numbers of an enclave ELF by name. */
export function ecallIndex(elf: Uint8Array): (name: string) => number {
  const names = ecallNames(elf);
  return (name) => {
    const i = names.indexOf(name);
    if (i < 0) throw new Error(`no ecall ${name}`);
    return i;
  };
}

/** Untrusted memory as the host sees it (a FlatAddressSpace, or a view of a restored machine). */
export interface HostMemory {
  read(va: number, len: number): Uint8Array;
  write(va: number, bytes: Uint8Array): void;
}

/** Runs one ecall on `lp` through TCS number `tcsIndex` of `e`. */
export function ecall(
  p: Platform,
  lp: LogicalProcessor,
  e: Enclave,
  tcsIndex: number,
  index: number,
  input: Uint8Array,
  outLen: number,
  opts: EcallOptions = {},
): EcallResult {
  beginEcall(p.space, lp, e.tcs[tcsIndex]!, index, input, outLen);
  return driveEcall(p.space, lp, e.tcs[tcsIndex]!, outLen, opts);
}

/** Writes the ecall's input and call block and sets up EENTER(ECALL) at the stub. */
export function beginEcall(
  mem: HostMemory,
  lp: LogicalProcessor,
  tcs: number,
  index: number,
  input: Uint8Array,
  outLen: number,
): void {
  mem.write(IN_VA, input);
  mem.write(OUT_VA, new Uint8Array(outLen));
  mem.write(
    CALL_BLOCK_VA,
    encode(CALL_BLOCK, {
      in: BigInt(IN_VA),
      inLen: BigInt(input.length),
      out: BigInt(OUT_VA),
      outLen: BigInt(outLen),
      scratch: BigInt(SCRATCH_VA),
      scratchLen: BigInt(SCRATCH_LEN),
    }),
  );
  atStub(lp, EncluLeaf.EENTER, tcs, {
    [R.RDI]: BigInt(EnclCommand.ECALL),
    [R.RSI]: BigInt(index),
    [R.RDX]: BigInt(CALL_BLOCK_VA),
  });
}

/**
 * Runs `lp` from wherever it is until the ecall ends, playing the host: ocalls, EXCEPTION entries after an AEX,
 * ERESUME after the exception exits, timer interrupts at the given instruction counts.
 */
export function driveEcall(
  mem: HostMemory,
  lp: LogicalProcessor,
  tcs: number,
  outLen: number,
  opts: EcallOptions = {},
): EcallResult {
  const exceptions: CpuFault[] = [];
  const exits: number[] = [];
  const interrupts = [...(opts.interruptAt ?? [])].sort((a, b) => a - b);
  let executed = 0;
  let aexInterrupts = 0;
  const result = (status: number, ret: bigint, out: Uint8Array): EcallResult => ({
    status,
    ret,
    out,
    exceptions,
    exits,
    executed,
    aexInterrupts,
  });
  for (;;) {
    while (interrupts.length && interrupts[0]! <= executed) {
      interrupts.shift();
      if (lp.interrupt('timer').aex) aexInterrupts++;
    }
    const limit = Math.min(opts.step ?? BUDGET, interrupts.length ? interrupts[0]! - executed : BUDGET);
    const r = lp.run(limit);
    executed += r.executed;
    const stop: LpStop = r.stop;
    if (stop.kind === 'budget') {
      if (executed >= BUDGET) throw new Error('the ecall did not finish');
      if (opts.onBudget?.() === 'stop') return result(-1, 0n, new Uint8Array(0));
      continue;
    }
    if (stop.kind === 'int' && stop.vector === 0x80 && lp.cpu.rip === AFTER_ENCLU + 2) {
      const status = Number(lp.cpu.getReg64(R.RDI));
      exits.push(status);
      if (status === EnclStatus.OCALL) {
        const oi = Number(lp.cpu.getReg64(R.RSI));
        const inLen = Number(lp.cpu.getReg64(R.RDX));
        const outOff = Number(lp.cpu.getReg64(R.R8));
        const oLen = Number(lp.cpu.getReg64(R.R9));
        const reply = opts.onOcall?.(oi, mem.read(SCRATCH_VA, inLen), oLen) ?? { ret: 0n };
        if (reply.out) mem.write(SCRATCH_VA + outOff, reply.out.subarray(0, oLen));
        atStub(lp, EncluLeaf.EENTER, tcs, {
          [R.RDI]: BigInt(EnclCommand.ORET),
          [R.RSI]: BigInt.asUintN(64, reply.ret),
          [R.RDX]: BigInt(CALL_BLOCK_VA),
        });
        continue;
      }
      if (status === EnclStatus.EXCEPTION_HANDLED || status === EnclStatus.EXCEPTION_ABORTED) {
        atStub(lp, EncluLeaf.ERESUME, tcs);
        continue;
      }
      return result(status, lp.cpu.getReg64(R.RSI), mem.read(OUT_VA, outLen));
    }
    if (stop.kind === 'exception' && stop.aex && lp.cpu.rip === STUB) {
      exceptions.push(stop.fault);
      opts.afterException?.(stop.fault);
      atStub(lp, EncluLeaf.EENTER, tcs, { [R.RDI]: BigInt(EnclCommand.EXCEPTION), [R.RDX]: BigInt(CALL_BLOCK_VA) });
      continue;
    }
    throw new Error(`unexpected stop ${JSON.stringify(stop)} at 0x${lp.cpu.rip.toString(16)}`);
  }
}
