// Shared fixture for the ENCLS tests: a small machine, fixed scratch addresses in RAM, and helpers that lay out
// PAGEINFO/SECINFO/source pages byte by byte (offsets from SDM Vol. 3D ch. 38, checked in layout.test.ts).
import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CryptoBackend,
  DEFAULT_EPC_BASE,
  type EnclsOutcome,
  type EnclsRegs,
  encls,
  fromHex,
  nobleBackend,
  PhysMem,
  Rng,
  type SgxFeatures,
  SgxMachine,
} from '../../../src/hw/index';

export const PAGE = 4096;
export const EPC_BASE = DEFAULT_EPC_BASE;
export const EPC_PAGES = 64;
export const RAM_BYTES = 1 << 20;

// Scratch addresses in RAM (all suitably aligned).
export const PAGEINFO_PA = 0x1000;
export const SECINFO_PA = 0x1040;
export const PCMD_PA = 0x1080;
export const TOKEN_PA = 0x1200;
export const SIGSTRUCT_PA = 0x2000;
export const SRC_PA = 0x3000;
/** A RAM page nothing is written to by the helpers. */
export const SPARE_PA = 0x4000;
/** Backing pages for EWB: BACKING_PA + i*PAGE, with PCMDs at PCMD_AREA + i*128. */
export const BACKING_PA = 0x10000;
export const PCMD_AREA = 0x8000;
/** A physical address nothing decodes (between RAM and EPC). */
export const HOLE_PA = 0x2000_0000;

export const Leaf = {
  ECREATE: 0,
  EADD: 1,
  EINIT: 2,
  EREMOVE: 3,
  EDBGRD: 4,
  EDBGWR: 5,
  EEXTEND: 6,
  ELDB: 7,
  ELDU: 8,
  EBLOCK: 9,
  EPA: 10,
  EWB: 11,
  ETRACK: 12,
} as const;

export function epcPa(index: number): number {
  return EPC_BASE + index * PAGE;
}

export interface TestMachineOptions {
  readonly crypto?: CryptoBackend;
  readonly features?: Partial<SgxFeatures>;
  readonly epcPages?: number;
  readonly seed?: number | string;
}

export function makeTestMachine(opts: TestMachineOptions = {}): SgxMachine {
  const physMem = new PhysMem({
    ramBytes: RAM_BYTES,
    epcSections: [{ base: EPC_BASE, size: (opts.epcPages ?? EPC_PAGES) * PAGE }],
  });
  return new SgxMachine({
    physMem,
    crypto: opts.crypto ?? nobleBackend,
    rng: new Rng(opts.seed ?? 'encls-test'),
    features: opts.features,
  });
}

function u64(buf: Uint8Array, off: number, v: bigint): void {
  new DataView(buf.buffer, buf.byteOffset).setBigUint64(off, BigInt.asUintN(64, v), true);
}

function u32(buf: Uint8Array, off: number, v: number): void {
  new DataView(buf.buffer, buf.byteOffset).setUint32(off, v >>> 0, true);
}

/** PAGEINFO: LINADDR @0, SRCPGE @8, SECINFO/PCMD @16, SECS @24. */
export function writePageinfo(
  m: SgxMachine,
  f: { linAddr?: bigint; srcPge?: bigint | number; secinfo?: bigint | number; secs?: bigint | number },
  at = PAGEINFO_PA,
): void {
  const b = new Uint8Array(32);
  u64(b, 0, f.linAddr ?? 0n);
  u64(b, 8, BigInt(f.srcPge ?? 0));
  u64(b, 16, BigInt(f.secinfo ?? 0));
  u64(b, 24, BigInt(f.secs ?? 0));
  m.physMem.write(at, b);
}

/** SECINFO: FLAGS @0, then 56 reserved bytes. */
export function writeSecinfo(m: SgxMachine, flags: bigint, at = SECINFO_PA): void {
  const b = new Uint8Array(64);
  u64(b, 0, flags);
  m.physMem.write(at, b);
}

export interface SecsFields {
  size?: bigint;
  baseAddr?: bigint;
  ssaFrameSize?: number;
  miscSelect?: number;
  attributes?: bigint;
  xfrm?: bigint;
  configSvn?: number;
}

/** A SECS image: SIZE @0, BASEADDR @8, SSAFRAMESIZE @16, MISCSELECT @20, ATTRIBUTES @48, XFRM @56, CONFIGSVN @260. */
export function secsImage(f: SecsFields = {}): Uint8Array {
  const b = new Uint8Array(PAGE);
  u64(b, 0, f.size ?? 0x4000n);
  u64(b, 8, f.baseAddr ?? 0x10_0000n);
  u32(b, 16, f.ssaFrameSize ?? 1);
  u32(b, 20, f.miscSelect ?? 0);
  u64(b, 48, f.attributes ?? 0x4n);
  u64(b, 56, f.xfrm ?? 0x3n);
  new DataView(b.buffer).setUint16(260, f.configSvn ?? 0, true);
  return b;
}

export function run(m: SgxMachine, leaf: number, regs: EnclsRegs): EnclsOutcome {
  return encls(m, leaf, regs);
}

/** ECREATE of `image` into EPC page `index`. */
export function doEcreate(m: SgxMachine, index: number, image: Uint8Array = secsImage()): EnclsOutcome {
  m.physMem.write(SRC_PA, image);
  writeSecinfo(m, 0x000n);
  writePageinfo(m, { srcPge: SRC_PA, secinfo: SECINFO_PA });
  return run(m, Leaf.ECREATE, { rbx: PAGEINFO_PA, rcx: epcPa(index) });
}

/** EADD of `content` at `linAddr` into EPC page `index` of the enclave whose SECS is EPC page `secs`. */
export function doEadd(
  m: SgxMachine,
  index: number,
  secs: number,
  linAddr: bigint,
  flags: bigint,
  content: Uint8Array = new Uint8Array(PAGE),
): EnclsOutcome {
  m.physMem.write(SRC_PA, content);
  writeSecinfo(m, flags);
  writePageinfo(m, { linAddr, srcPge: SRC_PA, secinfo: SECINFO_PA, secs: epcPa(secs) });
  return run(m, Leaf.EADD, { rbx: PAGEINFO_PA, rcx: epcPa(index) });
}

/** Sixteen EEXTENDs over EPC page `index`. */
export function doEextendPage(m: SgxMachine, secs: number, index: number): EnclsOutcome[] {
  const out: EnclsOutcome[] = [];
  for (let c = 0; c < PAGE; c += 256) out.push(run(m, Leaf.EEXTEND, { rbx: epcPa(secs), rcx: epcPa(index) + c }));
  return out;
}

export const DONE = { kind: 'done' } as const;
export const OK = { kind: 'status', rax: 0, zf: false, cf: false } as const;

export function gpFault(): EnclsOutcome {
  return { kind: 'fault', fault: { kind: 'fault', vector: 13, errorCode: 0, addr: 0 } };
}

/** #PF at `addr`: P | SGX (| W) for EPCM/EPC rules; `unmapped` for a plain not-present fault. */
export function pfFault(addr: number, opts: { write?: boolean; unmapped?: boolean } = {}): EnclsOutcome {
  const w = opts.write ? 2 : 0;
  const errorCode = opts.unmapped ? w : 1 | w | 0x8000;
  return { kind: 'fault', fault: { kind: 'fault', vector: 14, errorCode, addr } };
}

export function status(rax: number, zf = rax !== 0, cf = false): EnclsOutcome {
  return { kind: 'status', rax, zf, cf } as EnclsOutcome;
}

// --- The §7.2 V2 enclave and a SIGSTRUCT for it, built independently of src/ ---------------------------------

export const V2_MRENCLAVE = 'd8c33a61ea1d7a61c4ebb0050f4221cafd1b27c66e9b7eaa8ed10b597b3d2430';
export const SELFTEST_MRSIGNER = '2f9f8fd4fe12d77232f1d87571ca8252ca27714efe7705e46222cffd5a22e8c4';
export const V2_BASE = 0x10_0000n;

export function v2Pages(): { tcs: Uint8Array; zero: Uint8Array; code: Uint8Array } {
  const tcs = new Uint8Array(PAGE);
  const dv = new DataView(tcs.buffer);
  dv.setBigUint64(16, 0x1000n, true);
  dv.setUint32(28, 1, true);
  dv.setBigUint64(32, 0x2000n, true);
  dv.setUint32(64, 0xffffffff, true);
  dv.setUint32(68, 0xffffffff, true);
  const code = Uint8Array.from({ length: PAGE }, (_, i) => i & 0xff);
  return { tcs, zero: new Uint8Array(PAGE), code };
}

/**
 * Builds the V2 enclave with the real leaves: SECS in EPC page `secs`, pages in secs+1..secs+4.
 * Returns the EPC indices of the four pages.
 */
export function buildV2(m: SgxMachine, secs = 0, attributes = 0x4n): number[] {
  const { tcs, zero, code } = v2Pages();
  const must = (o: EnclsOutcome, what: string) => {
    if (o.kind !== 'done') throw new Error(`${what}: ${JSON.stringify(o)}`);
  };
  must(doEcreate(m, secs, secsImage({ size: 0x4000n, baseAddr: V2_BASE, ssaFrameSize: 1, attributes })), 'ECREATE');
  const pages: Array<[bigint, bigint, Uint8Array, boolean]> = [
    [0x0000n, 0x100n, tcs, true],
    [0x1000n, 0x203n, zero, true],
    [0x2000n, 0x205n, code, true],
    [0x3000n, 0x203n, zero, false],
  ];
  const out: number[] = [];
  pages.forEach(([off, flags, data, measured], i) => {
    const idx = secs + 1 + i;
    must(doEadd(m, idx, secs, V2_BASE + off, flags, data), `EADD ${i}`);
    if (measured) for (const o of doEextendPage(m, secs, idx)) must(o, `EEXTEND ${i}`);
    out.push(idx);
  });
  return out;
}

export const SELFTEST_PEM = readFileSync(join(__dirname, '../../fixtures/selftest-sign_key.pem'), 'utf8');

export interface SigstructFields {
  header?: Uint8Array;
  vendor?: number;
  date?: number;
  header2?: Uint8Array;
  exponent?: number;
  miscSelect?: number;
  miscMask?: number;
  attributes?: bigint;
  xfrm?: bigint;
  attributeMask?: bigint;
  xfrmMask?: bigint;
  enclaveHash?: Uint8Array;
  isvProdId?: number;
  isvSvn?: number;
  isvFamilyId?: Uint8Array;
  /** Writes a non-zero byte at this reserved offset before signing. */
  reservedByte?: number;
  pem?: string;
}

/** A SIGSTRUCT signed with node:crypto (RSA-3072, e = 3), Q1/Q2 computed here; the §7.3 recipe. */
export function buildSigstruct(f: SigstructFields = {}): Uint8Array {
  const key = createPrivateKey(f.pem ?? SELFTEST_PEM);
  const jwk = key.export({ format: 'jwk' }) as { n: string };
  const nBe = Buffer.from(jwk.n, 'base64url');
  const n = BigInt(`0x${nBe.toString('hex')}`);
  const s = new Uint8Array(1808);
  const dv = new DataView(s.buffer);
  s.set(f.header ?? fromHex('06000000E10000000000010000000000'), 0);
  dv.setUint32(16, f.vendor ?? 0, true);
  dv.setUint32(20, f.date ?? 0x20240131, true);
  s.set(f.header2 ?? fromHex('01010000600000006000000001000000'), 24);
  s.set(Uint8Array.from(nBe).reverse(), 128);
  dv.setUint32(512, f.exponent ?? 3, true);
  dv.setUint32(900, f.miscSelect ?? 0, true);
  dv.setUint32(904, f.miscMask ?? 0, true);
  if (f.isvFamilyId) s.set(f.isvFamilyId, 912);
  dv.setBigUint64(928, f.attributes ?? 0x4n, true);
  dv.setBigUint64(936, f.xfrm ?? 0x3n, true);
  dv.setBigUint64(944, f.attributeMask ?? 0xffffffffffffffffn, true);
  dv.setBigUint64(952, f.xfrmMask ?? 0xfffffffffffffffbn, true);
  s.set(f.enclaveHash ?? fromHex(V2_MRENCLAVE), 960);
  dv.setUint16(1024, f.isvProdId ?? 0x1234, true);
  dv.setUint16(1026, f.isvSvn ?? 5, true);
  if (f.reservedByte !== undefined) s[f.reservedByte] = 1;
  const msg = Buffer.concat([s.subarray(0, 128), s.subarray(900, 1028)]);
  const sigBe = sign('sha256', msg, key);
  const sig = BigInt(`0x${sigBe.toString('hex')}`);
  const q1 = (sig * sig) / n;
  const q2 = (sig * sig * sig - q1 * sig * n) / n;
  const le = (x: bigint) => Uint8Array.from(Buffer.from(x.toString(16).padStart(768, '0'), 'hex')).reverse();
  s.set(Uint8Array.from(sigBe).reverse(), 516);
  s.set(le(q1), 1040);
  s.set(le(q2), 1424);
  return s;
}

/** Points IA32_SGXLEPUBKEYHASH at `hashHex` (the Linux driver's sgx_update_lepubkeyhash()). */
export function setLeHash(m: SgxMachine, hashHex: string): void {
  const h = fromHex(hashHex);
  const dv = new DataView(h.buffer);
  for (let i = 0; i < 4; i++) m.wrmsr(0x8c + i, dv.getBigUint64(8 * i, true));
}

/** EINIT with `sig` at SIGSTRUCT_PA and `token` (default: all zero, VALID = 0) at TOKEN_PA. */
export function doEinit(
  m: SgxMachine,
  secs: number,
  sig: Uint8Array,
  token: Uint8Array = new Uint8Array(304),
): EnclsOutcome {
  m.physMem.write(SIGSTRUCT_PA, sig);
  m.physMem.write(TOKEN_PA, token);
  return run(m, Leaf.EINIT, { rbx: SIGSTRUCT_PA, rcx: epcPa(secs), rdx: TOKEN_PA });
}
