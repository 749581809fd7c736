// A small platform for the ENCLU and LogicalProcessor tests: RAM + EPC, logical processors over one flat
// address space, enclaves built from the prebuilt ELFs with ENCLS (ECREATE, EADD, EEXTEND, EINIT as the driver
// sequences them), ELRANGE mapped page by page onto the EPC pages, and an untrusted stub "ENCLU; INT 0x80":
// the AEP is the ENCLU itself (the vDSO's convention) and the enclave EEXITs to the INT 0x80 after it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AttrFlags,
  computeMrSigner,
  DEFAULT_EPC_BASE,
  DecodeCache,
  describeFault,
  EnclsLeaf,
  type EnclsOutcome,
  encls,
  encode,
  FlatAddressSpace,
  LogicalProcessor,
  MSR_IA32_SGXLEPUBKEYHASH0,
  PAGE_SIZE,
  PAGEINFO,
  PhysMem,
  PTE_NX,
  PTE_P,
  PTE_U,
  PTE_W,
  Rng,
  SECINFO,
  SECS,
  type SgxFeatures,
  SgxMachine,
  sgxStatusName,
  TCS,
} from '../../../../src/hw/index';
import { nodeBackend, parseSigningKeyPem } from '../../../../src/node/index';
import {
  buildEnclaveLayout,
  type EnclaveLayout,
  measureEnclave,
  Prot,
  type SigstructFields,
  signSigstruct,
} from '../../../../src/sdk/index';
import { readMeta } from '../../../enclaves/native-enclave';

export const PREBUILT = join(__dirname, '../../../../enclaves/prebuilt');
export const SAMPLE_ELF = new Uint8Array(readFileSync(join(PREBUILT, 'sample.elf')));
export const COMPUTE_ELF = new Uint8Array(readFileSync(join(PREBUILT, 'compute.elf')));
export const SEAL_ELF = new Uint8Array(readFileSync(join(PREBUILT, 'seal.elf')));
const SIGNING_KEY = parseSigningKeyPem(
  readFileSync(join(__dirname, '../../../fixtures/selftest-sign_key.pem'), 'utf8'),
);

const MiB = 2 ** 20;
/** The untrusted stub: ENCLU at STUB (the AEP), INT 0x80 at STUB + 3 (where EEXIT lands). */
export const STUB = 0x40_0000;
export const AFTER_ENCLU = STUB + 3;
/** Untrusted data and stack. */
export const DATA = 0x1000_0000;
export const DATA_SIZE = 16 * 4096;
export const STACK_TOP = 0x2000_0000;
/** Where the first enclave goes; later ones follow at 1 MiB steps. */
export const ENCLAVE_BASE = 0x7f00_0000_0000;

/** Bump allocator over a physical range, standing in for the kernel's page allocators. */
class Bump {
  constructor(private next: number) {}
  take(): number {
    const pa = this.next;
    this.next += PAGE_SIZE;
    return pa;
  }
}

export interface Platform {
  readonly m: SgxMachine;
  readonly space: FlatAddressSpace;
  readonly cache: DecodeCache;
  readonly lps: LogicalProcessor[];
  /** ENCLS operand pages (PAGEINFO, SECINFO, source pages) high in RAM, away from the flat space's pages. */
  readonly scratch: Bump;
  readonly epc: Bump;
  nextBase: number;
}

export interface PlatformOptions {
  readonly cpus?: number;
  readonly features?: Partial<SgxFeatures>;
  readonly seed?: string;
}

export function makePlatform(opts: PlatformOptions = {}): Platform {
  const physMem = new PhysMem({ ramBytes: 256 * MiB, epcSections: [{ base: DEFAULT_EPC_BASE, size: 8 * MiB }] });
  const rng = new Rng(opts.seed ?? 'enclu-test');
  const m = new SgxMachine({ physMem, crypto: nodeBackend, rng, features: opts.features });
  const space = new FlatAddressSpace(physMem);
  const cache = new DecodeCache();
  const lps = Array.from(
    { length: opts.cpus ?? 1 },
    (_, id) => new LogicalProcessor({ id, machine: m, pageTable: space, cache, rng: rng.fork(`cpu${id}`) }),
  );
  space.map(STUB, 4096, { exec: true });
  space.write(STUB, Uint8Array.of(0x0f, 0x01, 0xd7, 0xcd, 0x80));
  space.map(DATA, DATA_SIZE, { write: true });
  space.map(STACK_TOP - 16 * 4096, 16 * 4096, { write: true });
  return {
    m,
    space,
    cache,
    lps,
    scratch: new Bump(192 * MiB),
    epc: new Bump(DEFAULT_EPC_BASE),
    nextBase: ENCLAVE_BASE,
  };
}

/** An enclave built on the platform. */
export interface Enclave {
  readonly base: number;
  readonly size: number;
  readonly secsPa: number;
  readonly secsIndex: number;
  /** Linear addresses of the TCS pages. */
  readonly tcs: readonly number[];
  /** Physical address of the EPC page at each enclave offset. */
  readonly pageAt: ReadonlyMap<number, number>;
  readonly layout: EnclaveLayout;
  readonly mrEnclave: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly attributes: bigint;
  readonly miscSelect: number;
}

export interface LoadOptions {
  readonly heapSize?: number;
  readonly attributes?: bigint;
  readonly miscSelect?: number;
  readonly sigstruct?: Partial<SigstructFields>;
  /** Rewrites a page's bytes before EADD (measured as rewritten): e.g. TCS flags for the AEX-Notify tests. */
  readonly patch?: (offset: number, bytes: Uint8Array) => Uint8Array;
  /** SECS.SSAFRAMESIZE in pages (default 1). */
  readonly ssaFrameSize?: number;
  /** SECS.XFRM (default x87 | SSE). */
  readonly xfrm?: bigint;
  /** BASEADDR (default: the platform's next 1 MiB slot high in the lower half). */
  readonly base?: number;
  /** Stop before EINIT (default false). */
  readonly uninitialized?: boolean;
}

function check(what: string, o: EnclsOutcome): void {
  if (o.kind === 'fault') throw new Error(`${what} faulted: ${describeFault(o.fault)}`);
  if (o.kind === 'status' && o.rax !== 0) throw new Error(`${what} returned ${sgxStatusName(o.rax)}`);
}

/** ECREATE, EADD + EEXTEND per the layout, EINIT; then maps ELRANGE with the segments' protections. */
export function loadEnclave(p: Platform, elf: Uint8Array, opts: LoadOptions = {}): Enclave {
  const { m } = p;
  const layout = buildEnclaveLayout(elf, { heapSize: opts.heapSize ?? 4096, ssaFrameSize: opts.ssaFrameSize ?? 1 });
  const attributes = opts.attributes ?? AttrFlags.MODE64BIT;
  const miscSelect = opts.miscSelect ?? 1;
  const base = opts.base ?? p.nextBase;
  if (opts.base === undefined) p.nextBase += Math.max(layout.size, MiB);
  const pages = layout.pages.map((pg) => ({ ...pg, bytes: opts.patch ? opts.patch(pg.offset, pg.bytes) : pg.bytes }));
  const mrEnclave = measureEnclave(m.crypto, { ...layout, pages });
  const sigstruct = signSigstruct(m.crypto, SIGNING_KEY, { ...opts.sigstruct, enclaveHash: mrEnclave });
  const mrSigner = computeMrSigner(m.crypto, sigstruct);

  const src = p.scratch.take();
  const pageinfo = p.scratch.take();
  const secinfo = pageinfo + 64;
  m.physMem.write(
    src,
    encode(SECS, {
      size: BigInt(layout.size),
      baseAddr: BigInt(base),
      ssaFrameSize: layout.ssaFrameSize,
      miscSelect,
      attributes,
      xfrm: opts.xfrm ?? 3n,
    }),
  );
  m.physMem.write(pageinfo, encode(PAGEINFO, { srcPge: BigInt(src), secinfo: BigInt(secinfo) }));
  m.physMem.write(secinfo, new Uint8Array(64));
  const secsPa = p.epc.take();
  check('ECREATE', encls(m, EnclsLeaf.ECREATE, { rbx: pageinfo, rcx: secsPa }));
  const pageAt = new Map<number, number>();
  for (const page of pages) {
    const dst = p.epc.take();
    m.physMem.write(src, page.bytes);
    m.physMem.write(secinfo, encode(SECINFO, { flags: page.secinfoFlags }));
    m.physMem.write(
      pageinfo,
      encode(PAGEINFO, {
        linAddr: BigInt(base + page.offset),
        srcPge: BigInt(src),
        secinfo: BigInt(secinfo),
        secs: BigInt(secsPa),
      }),
    );
    check(`EADD 0x${page.offset.toString(16)}`, encls(m, EnclsLeaf.EADD, { rbx: pageinfo, rcx: dst }));
    if (page.measure)
      for (let c = 0; c < PAGE_SIZE; c += 256)
        check('EEXTEND', encls(m, EnclsLeaf.EEXTEND, { rbx: secsPa, rcx: dst + c }));
    pageAt.set(page.offset, dst);
  }
  if (opts.uninitialized) return finish();
  const dv = new DataView(mrSigner.buffer, mrSigner.byteOffset, 32);
  for (let i = 0; i < 4; i++) m.wrmsr(MSR_IA32_SGXLEPUBKEYHASH0 + i, dv.getBigUint64(8 * i, true));
  const sig = p.scratch.take();
  m.physMem.write(sig, sigstruct);
  m.physMem.write(sig + 2048, new Uint8Array(304));
  check('EINIT', encls(m, EnclsLeaf.EINIT, { rbx: sig, rcx: secsPa, rdx: sig + 2048 }));
  return finish();

  function finish(): Enclave {
    // Map ELRANGE as the selftests do: each segment with its protection (the TCS segment RW).
    for (const seg of layout.segments) {
      for (let off = seg.offset; off < seg.offset + seg.size; off += PAGE_SIZE) {
        const pa = pageAt.get(off)!;
        const flags = PTE_P | PTE_U | (seg.prot & Prot.WRITE ? PTE_W : 0) | (seg.prot & Prot.EXEC ? 0 : PTE_NX);
        p.space.mapPfn(base + off, pa / PAGE_SIZE, flags);
      }
    }
    return {
      base,
      size: layout.size,
      secsPa,
      secsIndex: m.epc.indexOf(secsPa)!,
      tcs: layout.tcs.map((t) => base + t.offset),
      pageAt,
      layout,
      mrEnclave,
      mrSigner,
      attributes: opts.uninitialized ? attributes : attributes | AttrFlags.INIT,
      miscSelect,
    };
  }
}

/** A TCS page image with some fields replaced (for patching before EADD). */
export function patchTcs(bytes: Uint8Array, fields: { flags?: bigint; nssa?: number }): Uint8Array {
  const out = Uint8Array.from(bytes);
  const dv = new DataView(out.buffer);
  if (fields.flags !== undefined) dv.setBigUint64(8, fields.flags, true);
  if (fields.nssa !== undefined) dv.setUint32(28, fields.nssa, true);
  return out;
}

/** Register numbers. */
export const R = { RAX: 0, RCX: 1, RDX: 2, RBX: 3, RSP: 4, RBP: 5, RSI: 6, RDI: 7, R8: 8, R9: 9 } as const;

/** Sets up an ENCLU at the stub: RAX = leaf, RBX = TCS, RCX = AEP (the stub), plus `regs`, RIP = the stub. */
export function atStub(lp: LogicalProcessor, leaf: number, tcs: number, regs: Record<number, bigint> = {}): void {
  const c = lp.cpu;
  c.setReg64(R.RAX, BigInt(leaf));
  c.setReg64(R.RBX, BigInt(tcs));
  c.setReg64(R.RCX, BigInt(STUB));
  c.setReg64(R.RSP, BigInt(STACK_TOP - 64));
  c.setReg64(R.RBP, 0x5151n);
  for (const [r, v] of Object.entries(regs)) c.setReg64(Number(r), v);
  c.rip = STUB;
}

/** Reads a u64 of untrusted memory. */
export function peek64(p: Platform, va: number): bigint {
  return new DataView(p.space.read(va, 8).buffer).getBigUint64(0, true);
}

export function poke64(p: Platform, va: number, v: bigint): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  p.space.write(va, b);
}

/** The TCS page of an enclave TCS as stored in EPC (what the CPU reads). */
export function tcsPage(p: Platform, e: Enclave, i: number): Uint8Array {
  return p.m.physMem.page(e.pageAt.get(e.tcs[i]! - e.base)! / PAGE_SIZE);
}

/** The EPC bytes at an enclave linear address (through the EPC page backing it). */
export function epcBytes(p: Platform, e: Enclave, linear: number, len: number): Uint8Array {
  const off = linear - e.base;
  const page = off - (off % PAGE_SIZE);
  return p.m.physMem.read(e.pageAt.get(page)! + (off % PAGE_SIZE), len);
}

export { readMeta, TCS };
