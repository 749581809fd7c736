/**
 * Just enough of the trusted runtime's host ABI (enclaves/runtime/README.md) to drive compute.elf through the vDSO
 * in tests: an ECALL with a call block in untrusted memory, and the exception entry. Ocalls are not served (the
 * SDK does that).
 */

import { decode, encode } from '../../src/hw/index';
import { Libc, type Sys } from '../../src/kernel/index';
import type { LoadedEnclave } from '../../src/sdk/index';
import { buildEnclaveWithDriver, CALL_BLOCK, type EnclaveLayout, EnclCommand } from '../../src/sdk/index';
import { type VdsoExitInfo, vdsoSgxEnterEnclave } from '../../src/vdso/index';
import { ecallNames, readMeta } from '../enclaves/native-enclave';
import { elf, image, type Run } from './fixture';

export const COMPUTE = 'compute.elf';

/** compute.elf built with the heap its metadata asks for. */
export function computeImage(): { layout: EnclaveLayout; sigstruct: Uint8Array } {
  return image(COMPUTE, Number(readMeta(elf(COMPUTE)).heapSize));
}

/** The ecall number of `name` in compute.elf. */
export function ecallIndex(name: string): number {
  const i = ecallNames(elf(COMPUTE)).indexOf(name);
  if (i < 0) throw new Error(`no ecall ${name}`);
  return i;
}

/** Builds and maps compute.elf in the calling process. */
export async function buildCompute(sys: Sys): Promise<LoadedEnclave & { layout: EnclaveLayout }> {
  const { layout, sigstruct } = computeImage();
  return { ...(await buildEnclaveWithDriver(sys, new Libc(sys), { layout, sigstruct })), layout };
}

export interface EcallResult {
  /** vdsoSgxEnterEnclave's return value. */
  readonly ret: number;
  /** The run struct's function after the call. */
  readonly fn: number;
  /** RDI and RSI at EEXIT (status, value). */
  readonly status: bigint;
  readonly value: bigint;
  readonly out: Uint8Array;
}

/** One ECALL through the vDSO on `run`'s TCS; buffers in fresh untrusted memory. */
export async function ecall(
  sys: Sys,
  libc: Libc,
  run: Run,
  index: number,
  input: Uint8Array,
  outLen: number,
): Promise<EcallResult & { block: number; outAt: number }> {
  const inAt = await libc.alloc(Math.max(input.length, 16));
  if (input.length) await sys.store(inAt, input);
  const outAt = await libc.alloc(Math.max(outLen, 16));
  const block = await libc.bytes(
    encode(CALL_BLOCK, { in: BigInt(inAt), inLen: BigInt(input.length), out: BigInt(outAt), outLen: BigInt(outLen) }),
  );
  const x: VdsoExitInfo = {};
  const ret = await vdsoSgxEnterEnclave(
    sys,
    { rdi: EnclCommand.ECALL, rsi: index, rdx: block, fn: 2, run: run.addr },
    x,
  );
  const r = await run.read();
  return {
    ret,
    fn: r.function,
    status: x.regs!.rdi,
    value: x.regs!.rsi,
    out: await sys.load(outAt, Math.max(outLen, 1)),
    block,
    outAt,
  };
}

/** The call block's status and ret fields. */
export async function callBlockResult(sys: Sys, block: number): Promise<{ status: bigint; ret: bigint }> {
  const b = decode(CALL_BLOCK, await sys.load(block, CALL_BLOCK.size));
  return { status: b.status, ret: b.ret };
}

/** u32 little-endian words. */
export function u32s(...v: number[]): Uint8Array {
  const b = new Uint8Array(4 * v.length);
  const dv = new DataView(b.buffer);
  v.forEach((x, i) => {
    dv.setUint32(4 * i, x >>> 0, true);
  });
  return b;
}
