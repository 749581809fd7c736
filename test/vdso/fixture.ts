/**
 * Fixtures for vDSO and conformance tests: a booted platform, the sample enclave built the selftests' way
 * (load.c encl_build(): reserve, CREATE, ADD_PAGES per segment, INIT, mmap MAP_SHARED|MAP_FIXED), the selftests'
 * op structs (defines.h) in untrusted memory, and a zeroed struct sgx_enclave_run per call site.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode, encode, PAGE_SIZE } from '../../src/hw/index';
import { Libc, type Sys } from '../../src/kernel/index';
import { nodeBackend, readSigningKey } from '../../src/node/index';
import {
  buildEnclaveLayout,
  buildEnclaveWithDriver,
  type EnclaveLayout,
  type LoadedEnclave,
  measureEnclave,
  signSigstruct,
} from '../../src/sdk/index';
import {
  bootPlatform,
  type Platform,
  type PlatformOptions,
  SGX_ENCLAVE_RUN,
  type VdsoEnterArgs,
  type VdsoExitInfo,
  vdsoSgxEnterEnclave,
} from '../../src/vdso/index';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const P = PAGE_SIZE;

/** The selftests' magic values (main.c). */
export const MAGIC = 0x1122334455667788n;
export const MAGIC2 = 0x8877665544332211n;

/** enum encl_op_type (selftests defines.h, enclaves/sample/ops.h). */
export const Op = {
  PUT_TO_BUFFER: 0n,
  GET_FROM_BUFFER: 1n,
  PUT_TO_ADDRESS: 2n,
  GET_FROM_ADDRESS: 3n,
  NOP: 4n,
  EACCEPT: 5n,
  EMODPE: 6n,
  INIT_TCS_PAGE: 7n,
  /** sgxsim's deliberate exceptions (enclaves/sample/ops.h). */
  UD: 0x100n,
  PF: 0x101n,
  BP: 0x102n,
  TF: 0x103n,
} as const;

const KEY = readSigningKey(join(ROOT, 'test/fixtures/selftest-sign_key.pem'));
const ELFS = new Map<string, Uint8Array>();
export function elf(name: string): Uint8Array {
  let e = ELFS.get(name);
  if (!e) {
    e = new Uint8Array(readFileSync(join(ROOT, 'enclaves/prebuilt', name)));
    ELFS.set(name, e);
  }
  return e;
}

const built = new Map<string, { layout: EnclaveLayout; sigstruct: Uint8Array }>();
/** An enclave image laid out with `heapSize` bytes of heap and signed with the selftests' key (cached). */
export function image(name: string, heapSize = P): { layout: EnclaveLayout; sigstruct: Uint8Array } {
  const k = `${name}:${heapSize}`;
  let e = built.get(k);
  if (!e) {
    const layout = buildEnclaveLayout(elf(name), { heapSize });
    e = { layout, sigstruct: signSigstruct(nodeBackend, KEY, { enclaveHash: measureEnclave(nodeBackend, layout) }) };
    built.set(k, e);
  }
  return e;
}

/** A platform with the node crypto backend and a small EPC. */
export function platform(o: Partial<PlatformOptions> = {}): Platform {
  return bootPlatform({ crypto: nodeBackend, epcPages: 256, seed: 1, ...o });
}

/** The sample enclave's data segment (encl_buffer's pages start there). */
export function dataSegment(layout: EnclaveLayout) {
  return layout.segments.find((s) => s.kind === 'load' && s.prot === 3)!;
}

/** Builds and maps the sample enclave in the calling process (load.c). */
export async function buildSample(sys: Sys, heapSize = P): Promise<LoadedEnclave & { layout: EnclaveLayout }> {
  const { layout, sigstruct } = image('sample.elf', heapSize);
  const e = await buildEnclaveWithDriver(sys, new Libc(sys), { layout, sigstruct });
  return { ...e, layout };
}

/** One selftests op struct in untrusted memory: [type, f1, f2, f3] as u64s. */
export class OpStruct {
  private constructor(
    readonly sys: Sys,
    readonly addr: number,
  ) {}

  static async alloc(sys: Sys, libc: Libc, words = 4): Promise<OpStruct> {
    return new OpStruct(sys, await libc.alloc(8 * words));
  }

  async set(...words: bigint[]): Promise<number> {
    const b = new Uint8Array(8 * words.length);
    const dv = new DataView(b.buffer);
    words.forEach((w, i) => {
      dv.setBigUint64(8 * i, BigInt.asUintN(64, w), true);
    });
    await this.sys.store(this.addr, b);
    return this.addr;
  }

  async word(i: number): Promise<bigint> {
    const b = await this.sys.load(this.addr + 8 * i, 8);
    return new DataView(b.buffer, b.byteOffset).getBigUint64(0, true);
  }
}

/** A zeroed struct sgx_enclave_run in untrusted memory (the selftests memset it in FIXTURE_SETUP). */
export class Run {
  private constructor(
    readonly sys: Sys,
    readonly addr: number,
  ) {}

  static async alloc(sys: Sys, libc: Libc, tcs: number): Promise<Run> {
    const addr = await libc.alloc(SGX_ENCLAVE_RUN.size);
    const r = new Run(sys, addr);
    await r.write({ tcs: BigInt(tcs) });
    return r;
  }

  async read() {
    return decode(SGX_ENCLAVE_RUN, await this.sys.load(this.addr, SGX_ENCLAVE_RUN.size));
  }

  /** Replaces the whole struct (unnamed fields zero). */
  async write(v: Parameters<typeof encode<typeof SGX_ENCLAVE_RUN>>[1]): Promise<void> {
    await this.sys.store(this.addr, encode(SGX_ENCLAVE_RUN, v));
  }

  /** Updates some fields, keeping the others. */
  async update(v: Parameters<typeof encode<typeof SGX_ENCLAVE_RUN>>[1]): Promise<void> {
    await this.write({ ...(await this.read()), ...v });
  }

  /** The exception fields and function. */
  async exception(): Promise<{ function: number; vector: number; errorCode: number; addr: bigint }> {
    const r = await this.read();
    return {
      function: r.function,
      vector: r.exception_vector,
      errorCode: r.exception_error_code,
      addr: r.exception_addr,
    };
  }

  /** Zeroes the exception fields (the selftests do it between calls). */
  async clearException(): Promise<void> {
    await this.update({ function: 0, exception_vector: 0, exception_error_code: 0, exception_addr: 0n });
  }
}

/** The direct ("clobbered") vDSO call: vdso_sgx_enter_enclave(op, 0, 0, fn, 0, 0, run). */
export function enclCall(
  sys: Sys,
  op: number,
  run: Run,
  fn = 2,
  out?: VdsoExitInfo,
  extra: Partial<VdsoEnterArgs> = {},
): Promise<number> {
  return vdsoSgxEnterEnclave(sys, { rdi: op, rsi: 0, rdx: 0, fn, r8: 0, r9: 0, run: run.addr, ...extra }, out);
}
