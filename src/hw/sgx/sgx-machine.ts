/**
 * The SGX state of one processor package: physical memory with its EPC, the EPCM, the SGX registers and MSRs
 * (CR_CPUSVN, CR_NEXT_EID, IA32_SGXLEPUBKEYHASH0..3, CR_BASE_PK …), the fuse secrets, what CPUID leaf 12H reports,
 * and which logical processors are inside which enclave. Every ENCLS leaf and (later) ENCLU leaf takes one.
 *
 * Model conventions:
 * - Kernel linear addresses equal physical addresses (an identity direct map of [0, 2^47)); ENCLS operands are
 *   therefore physical addresses, as JS numbers. The EPC sections must lie below 2^47.
 * - Per-SECS hidden state lives in the SECS page (secs-hidden.ts), except the running SHA-256 of an enclave
 *   that is still being built, which this object keeps keyed by EID (its state is opaque to us).
 * - Everything random (fuse keys, the per-boot paging key, the first EID) comes from the seeded Rng.
 */
import type { CryptoBackend } from '../crypto/backend';
import { fromHex, toHex } from '../crypto/bytes';
import { type CpuFault, gp } from '../fault';
import type { PhysMem } from '../mem/index';
import { PAGE_SIZE } from '../mem/index';
import { Rng } from '../rng';
import { AttrFlags, MiscSelect, MSR_IA32_SGXLEPUBKEYHASH0, Xfrm } from './arch';
import { Epc } from './epc';
import { Epcm, type EpcmEntryState } from './epcm';
import type { KeyPlatformInputs } from './keys';
import { dataView } from './layout/index';
import type { Measurement } from './measure';
import { SECS_EID_OFFSET } from './secs-hidden';

/** The model's direct map covers canonical lower-half addresses; physical memory must fit in it. */
export const DIRECT_MAP_LIMIT = 2 ** 47;

/** What CPUID leaf 12H and the launch-control feature report (SDM Vol. 3D §37.7.2, Table 37-6). */
export interface SgxFeatures {
  /** CPUID.(12H,0):EAX[1]: the SGX2 leaves (EAUG, EMODPR, EMODT, EACCEPT …). */
  readonly sgx2: boolean;
  /** Key Separation and Sharing: ATTRIBUTES.KSS may be set, CONFIGID/ISVFAMILYID become usable. */
  readonly kss: boolean;
  /**
   * AEX-Notify: ATTRIBUTES.AEXNOTIFY (bit 10) may be set, TCS.FLAGS.AEXNOTIFY is no longer reserved, ERESUME
   * delivers notifications and ENCLU[EDECCSSA] exists (CPUID.(12H,0):EAX[11]). Without it those are #GP(0).
   */
  readonly aexNotify: boolean;
  /** CPUID.(12H,1):EBX:EAX — the ATTRIBUTES.FLAGS bits ECREATE accepts (CR_SGX_ATTRIBUTES_MASK). */
  readonly allowedAttributes: bigint;
  /** CPUID.(12H,1):EDX:ECX — the XFRM bits ECREATE accepts. */
  readonly allowedXfrm: bigint;
  /** CPUID.(12H,0):EBX — the MISCSELECT bits ECREATE accepts. */
  readonly miscSelect: number;
  /** CPUID.(12H,0):EDX[7:0] — log2 of the maximum enclave size outside 64-bit mode. */
  readonly maxEnclaveSizeLog2Not64: number;
  /** CPUID.(12H,0):EDX[15:8] — log2 of the maximum enclave size in 64-bit mode. */
  readonly maxEnclaveSizeLog2In64: number;
  /**
   * Flexible Launch Control (CPUID.(7,0):ECX[30] with IA32_FEATURE_CONTROL.SGX_LC set): the kernel may write
   * IA32_SGXLEPUBKEYHASH0..3. When false the MSRs are read-only and WRMSR gets #GP(0).
   */
  readonly launchControl: boolean;
  /**
   * EINIT compares all 16 bytes of SIGSTRUCT.HEADER with 06000000E10000000000010000000000 (SDM), so a TYPE of
   * 0x80000000 at bytes 12..15 (the SDK's "debug-signed" marker) fails with SGX_INVALID_SIG_STRUCT. Setting
   * this accepts TYPE 0x80000000 as well (sgx-isa.md §11 item 1: real parts are reported to accept it).
   */
  readonly acceptDebugSigstructType: boolean;
}

/** The ATTRIBUTES bits a part without KSS reports: DEBUG, MODE64BIT, PROVISIONKEY, EINITTOKENKEY (0x36). */
const BASE_ATTRIBUTES = AttrFlags.DEBUG | AttrFlags.MODE64BIT | AttrFlags.PROVISIONKEY | AttrFlags.EINITTOKENKEY;

/** Defaults: an SGX1 part with flexible launch control, EXINFO, x87+SSE only (what the interpreter executes). */
export function defaultSgxFeatures(overrides: Partial<SgxFeatures> = {}): SgxFeatures {
  const kss = overrides.kss ?? false;
  const aexNotify = overrides.aexNotify ?? false;
  return {
    sgx2: false,
    kss,
    aexNotify,
    allowedAttributes: BASE_ATTRIBUTES | (kss ? AttrFlags.KSS : 0n) | (aexNotify ? AttrFlags.AEXNOTIFY : 0n),
    allowedXfrm: Xfrm.LEGACY,
    miscSelect: MiscSelect.EXINFO,
    maxEnclaveSizeLog2Not64: 31,
    maxEnclaveSizeLog2In64: 36,
    launchControl: true,
    acceptDebugSigstructType: false,
    ...overrides,
  };
}

/**
 * The reset value of IA32_SGXLEPUBKEYHASH0..3, "the digest of Intel's signing key" (SDM Vol. 4 Table 2-2), as
 * four MSR values (torvalds/linux arch/x86/kvm/vmx/sgx.c setup_default_sgx_lepubkeyhash(); QEMU uses the same).
 */
export const INTEL_LE_PUBKEY_HASH_MSRS: readonly bigint[] = [
  0xa6053e051270b7acn,
  0x6cfbe8ba8b3b413dn,
  0xc4916d99f2b3735dn,
  0xd4f8c05909f9bb3bn,
];

/**
 * The default CR_CPUSVN: the Intel SDK simulation's DEFAULT value (sgx-isa.md §6.2). The encoding of real
 * CPUSVNs is not public; the model reads one as 16 independent 8-bit SVN components.
 */
export const DEFAULT_CPUSVN = fromHex('4820f3376ae6b2f2034d3b7a4b48a778');

/** Per-package secrets. Hardware fuses and per-boot registers; never visible to software. */
export interface PackageSecrets {
  /** Root provisioning key fuse: the base of every key derivation (keys.ts). */
  readonly rootProvisioningKey: Uint8Array;
  /** Root seal key fuse, the SEAL_KEY_FUSES derivation input (CR_SEAL_FUSES). */
  readonly sealKeyFuses: Uint8Array;
  /** CR_SGXOWNEREPOCH: set by firmware from the owner's secret; changing it changes every seal key. */
  readonly ownerEpoch: Uint8Array;
  /** CR_BASE_PK: the per-boot paging key for EWB/ELDB/ELDU. */
  readonly pagingKey: Uint8Array;
  /** CR_REPORT_KEYID: the per-boot KEYID EREPORT puts in every REPORT. */
  readonly reportKeyId: Uint8Array;
}

/** A logical processor inside an enclave: which SECS (EPC page index) and the entry epoch it entered in. */
export interface LpInside {
  readonly secs: number;
  readonly epoch: number;
}

export interface SgxMachineOptions {
  readonly physMem: PhysMem;
  readonly crypto: CryptoBackend;
  /** The machine's seeded randomness; the fuses and per-boot values come from forks of it. */
  readonly rng: Rng;
  readonly features?: Partial<SgxFeatures>;
  readonly cpuSvn?: Uint8Array;
  /** Overrides the owner epoch drawn from the Rng (to model an owner change). */
  readonly ownerEpoch?: Uint8Array;
  /** Restore path: use these secrets instead of drawing them from the Rng. */
  readonly secrets?: PackageSecrets;
}

/** SgxMachine state as plain JSON (physical memory is saved by its owner). */
export interface SgxMachineState {
  readonly features: Record<keyof SgxFeatures, string | number | boolean>;
  readonly cpuSvn: string;
  readonly secrets: Record<keyof PackageSecrets, string>;
  readonly nextEid: string;
  readonly nextVersion: string;
  readonly lePubKeyHash: readonly string[];
  readonly epcm: readonly EpcmEntryState[];
  readonly lps: ReadonlyArray<readonly [number, number, number]>;
}

export class SgxMachine {
  readonly physMem: PhysMem;
  readonly crypto: CryptoBackend;
  readonly epc: Epc;
  readonly epcm: Epcm;
  readonly features: SgxFeatures;
  /** CR_CPUSVN. */
  readonly cpuSvn: Uint8Array;
  readonly secrets: PackageSecrets;
  /**
   * The "unmasked event pending" hook: EINIT polls it in its event window and fails with SGX_UNMASKED_EVENT when
   * it returns true (SDM Vol. 3D §41.2 EINIT). The scheduler installs one that reports a pending interrupt.
   */
  pendingUnmaskedEvent: () => boolean = () => false;

  private readonly msrLePubKeyHash: bigint[];
  private eidCounter: bigint;
  private versionCounter: bigint;
  /** Running MRENCLAVE of enclaves EINIT has not finalized, by EID. */
  private readonly measurements = new Map<bigint, Measurement>();
  /**
   * measurementOf's one-entry cache: the last EID looked up, as its two u32 halves (-1: none), and what
   * `measurements` held for it. Any change to `measurements` clears it; it holds nothing read from a SECS page.
   */
  private lastEidLo = -1;
  private lastEidHi = -1;
  private lastMeasurement: Measurement | undefined;
  /** Logical processors in enclave mode, by CPU id. */
  private readonly lps = new Map<number, LpInside>();

  constructor(opts: SgxMachineOptions) {
    this.physMem = opts.physMem;
    this.crypto = opts.crypto;
    for (const r of opts.physMem.regions) {
      if (r.base + r.size > DIRECT_MAP_LIMIT)
        throw new RangeError(`memory region ${r.kind}@0x${r.base.toString(16)} lies beyond the 2^47 direct map`);
    }
    this.epc = new Epc(opts.physMem);
    this.epcm = new Epcm();
    this.features = defaultSgxFeatures(opts.features);
    this.cpuSvn = Uint8Array.from(opts.cpuSvn ?? DEFAULT_CPUSVN);
    if (this.cpuSvn.length !== 16) throw new RangeError('CPUSVN must be 16 bytes');
    const fuses = opts.rng.fork('sgx-package-fuses');
    const boot = opts.rng.fork('sgx-boot');
    this.secrets = opts.secrets ?? {
      rootProvisioningKey: fuses.bytes(16),
      sealKeyFuses: fuses.bytes(16),
      ownerEpoch: opts.ownerEpoch ? Uint8Array.from(opts.ownerEpoch) : fuses.bytes(16),
      pagingKey: boot.bytes(16),
      reportKeyId: boot.bytes(32),
    };
    if (this.secrets.ownerEpoch.length !== 16) throw new RangeError('owner epoch must be 16 bytes');
    this.eidCounter = boot.nextU64();
    // Versions start at a random non-zero value; zero marks an empty VA slot.
    this.versionCounter = BigInt(boot.nextU32()) + 1n;
    this.msrLePubKeyHash = [...INTEL_LE_PUBKEY_HASH_MSRS];
  }

  // --- Registers -------------------------------------------------------------------------------------------

  /** CPUID.(EAX=12H, ECX=subleaf) as the Linux driver parses it (arch/x86/kernel/cpu/sgx/main.c sgx_page_cache_init). */
  cpuid12(subleaf: number): { eax: number; ebx: number; ecx: number; edx: number } {
    const f = this.features;
    const lo = (x: bigint) => Number(x & 0xffff_ffffn);
    const hi = (x: bigint) => Number((x >> 32n) & 0xffff_ffffn);
    if (subleaf === 0) {
      return {
        // EAX[11]: ENCLU[EDECCSSA], which comes with AEX-Notify.
        eax: 1 | (f.sgx2 ? 2 : 0) | (f.aexNotify ? 1 << 11 : 0),
        ebx: f.miscSelect >>> 0,
        ecx: 0,
        edx: ((f.maxEnclaveSizeLog2In64 & 0xff) << 8) | (f.maxEnclaveSizeLog2Not64 & 0xff),
      };
    }
    if (subleaf === 1) {
      return {
        eax: lo(f.allowedAttributes),
        ebx: hi(f.allowedAttributes),
        ecx: lo(f.allowedXfrm),
        edx: hi(f.allowedXfrm),
      };
    }
    // Sub-leaf type 0 ends the enumeration; type 1 is an EPC section. ECX[3:0] = 1: confidentiality, integrity
    // and replay protection. Bases and sizes split into bits 31:12 and 51:32 (sgx_calc_section_metric()).
    const s = subleaf >= 2 ? this.epc.sections[subleaf - 2] : undefined;
    if (s === undefined) return { eax: 0, ebx: 0, ecx: 0, edx: 0 };
    const low = (x: number) => ((x % 2 ** 32) & 0xffff_f000) >>> 0;
    const high = (x: number) => Math.floor(x / 2 ** 32) & 0xfffff;
    return { eax: (low(s.base) | 1) >>> 0, ebx: high(s.base), ecx: (low(s.size) | 1) >>> 0, edx: high(s.size) };
  }

  /** True for the MSRs this object implements: IA32_SGXLEPUBKEYHASH0..3 (0x8C..0x8F). */
  handlesMsr(msr: number): boolean {
    return msr >= MSR_IA32_SGXLEPUBKEYHASH0 && msr < MSR_IA32_SGXLEPUBKEYHASH0 + 4;
  }

  /** RDMSR of IA32_SGXLEPUBKEYHASHn. */
  rdmsr(msr: number): bigint {
    if (!this.handlesMsr(msr)) throw new RangeError(`MSR 0x${msr.toString(16)} is not an SGX MSR`);
    return this.msrLePubKeyHash[msr - MSR_IA32_SGXLEPUBKEYHASH0]!;
  }

  /** WRMSR of IA32_SGXLEPUBKEYHASHn; #GP(0) unless launch control makes them writable (SDM Vol. 4 Table 2-2). */
  wrmsr(msr: number, value: bigint): CpuFault | undefined {
    if (!this.handlesMsr(msr)) throw new RangeError(`MSR 0x${msr.toString(16)} is not an SGX MSR`);
    if (!this.features.launchControl) return gp();
    this.msrLePubKeyHash[msr - MSR_IA32_SGXLEPUBKEYHASH0] = BigInt.asUintN(64, value);
    return undefined;
  }

  /** IA32_SGXLEPUBKEYHASH as the 32-byte SHA-256 it holds (MSR0 is bytes 0..7, little-endian). */
  lePubKeyHash(): Uint8Array {
    const out = new Uint8Array(32);
    const dv = new DataView(out.buffer);
    this.msrLePubKeyHash.forEach((v, i) => {
      dv.setBigUint64(8 * i, v, true);
    });
    return out;
  }

  /** The derivation inputs that come from package registers (keys.ts). */
  keyPlatformInputs(): KeyPlatformInputs {
    return { cpuSvn: this.cpuSvn, ownerEpoch: this.secrets.ownerEpoch, sealKeyFuses: this.secrets.sealKeyFuses };
  }

  /** LockedXAdd(CR_NEXT_EID, 1) (ECREATE). */
  nextEid(): bigint {
    const eid = this.eidCounter;
    this.eidCounter = BigInt.asUintN(64, this.eidCounter + 1n);
    return eid;
  }

  /** A fresh, never-reused, non-zero page version for EWB (the VA slot value and the GCM nonce). */
  nextVersion(): bigint {
    const v = this.versionCounter;
    this.versionCounter += 1n;
    return v;
  }

  // --- EPC pages -------------------------------------------------------------------------------------------

  /** Storage of EPC page `index`, allocated on first use. */
  epcPage(index: number): Uint8Array {
    return this.physMem.page(this.epc.addressOf(index) / PAGE_SIZE);
  }

  /** Releases the storage of an invalid EPC page: its contents are unobservable, so a huge EPC stays cheap. */
  releaseEpcPage(index: number): void {
    this.physMem.freePage(this.epc.addressOf(index) / PAGE_SIZE);
  }

  // --- Hidden state ----------------------------------------------------------------------------------------

  /** The running measurement of an enclave being built. */
  measurement(eid: bigint): Measurement | undefined {
    return this.measurements.get(eid);
  }

  /**
   * The running measurement of the enclave whose SECS page is `secsPage`, by the EID in the page's hidden state:
   * measurement(hiddenU64(secsPage, 'eid')) without a BigInt when the EID is the one asked for last (EEXTEND
   * runs 16 times a page on one enclave). The EID is read from the page on every call, so a SECS that was
   * evicted and reloaded elsewhere, or removed and replaced by another, is found correctly.
   */
  measurementOf(secsPage: Uint8Array): Measurement | undefined {
    const dv = dataView(secsPage);
    const lo = dv.getUint32(SECS_EID_OFFSET, true);
    const hi = dv.getUint32(SECS_EID_OFFSET + 4, true);
    if (lo !== this.lastEidLo || hi !== this.lastEidHi) {
      this.lastMeasurement = this.measurements.get((BigInt(hi) << 32n) | BigInt(lo));
      this.lastEidLo = lo;
      this.lastEidHi = hi;
    }
    return this.lastMeasurement;
  }

  setMeasurement(eid: bigint, m: Measurement): void {
    this.measurements.set(eid, m);
    this.lastEidLo = -1;
  }

  dropMeasurement(eid: bigint): void {
    this.measurements.delete(eid);
    this.lastEidLo = -1;
  }

  /** Where logical processor `cpuId` is, if in enclave mode (tracking.ts drives this). */
  lp(cpuId: number): LpInside | undefined {
    return this.lps.get(cpuId);
  }

  setLp(cpuId: number, inside: LpInside | undefined): void {
    if (inside) this.lps.set(cpuId, inside);
    else this.lps.delete(cpuId);
  }

  /** Logical processors in enclave mode, in CPU order. */
  lpsInside(): Array<readonly [number, LpInside]> {
    return [...this.lps].sort((a, b) => a[0] - b[0]);
  }

  // --- Persistence -----------------------------------------------------------------------------------------

  /**
   * Plain-JSON state. Throws while an enclave is between ECREATE and EINIT: its running SHA-256 lives in an
   * opaque CryptoBackend hash object that cannot be serialized (the one documented exception).
   */
  save(): SgxMachineState {
    const building = this.measurements.keys().next();
    if (!building.done)
      throw new Error(
        `cannot save SGX state while enclave EID ${building.value} is uninitialized: its running MRENCLAVE is opaque`,
      );
    const f = this.features;
    return {
      features: {
        sgx2: f.sgx2,
        kss: f.kss,
        aexNotify: f.aexNotify,
        allowedAttributes: f.allowedAttributes.toString(),
        allowedXfrm: f.allowedXfrm.toString(),
        miscSelect: f.miscSelect,
        maxEnclaveSizeLog2Not64: f.maxEnclaveSizeLog2Not64,
        maxEnclaveSizeLog2In64: f.maxEnclaveSizeLog2In64,
        launchControl: f.launchControl,
        acceptDebugSigstructType: f.acceptDebugSigstructType,
      },
      cpuSvn: toHex(this.cpuSvn),
      secrets: {
        rootProvisioningKey: toHex(this.secrets.rootProvisioningKey),
        sealKeyFuses: toHex(this.secrets.sealKeyFuses),
        ownerEpoch: toHex(this.secrets.ownerEpoch),
        pagingKey: toHex(this.secrets.pagingKey),
        reportKeyId: toHex(this.secrets.reportKeyId),
      },
      nextEid: this.eidCounter.toString(),
      nextVersion: this.versionCounter.toString(),
      lePubKeyHash: this.msrLePubKeyHash.map((v) => v.toString()),
      epcm: this.epcm.save(),
      lps: this.lpsInside().map(([cpu, lp]) => [cpu, lp.secs, lp.epoch] as const),
    };
  }

  /** Rebuilds a machine from `save()` output over the same physical memory. */
  static restore(deps: { physMem: PhysMem; crypto: CryptoBackend }, state: SgxMachineState): SgxMachine {
    const f = state.features;
    const s = state.secrets;
    const m = new SgxMachine({
      physMem: deps.physMem,
      crypto: deps.crypto,
      // Every Rng-derived value is overwritten from the state below.
      rng: new Rng(0),
      secrets: {
        rootProvisioningKey: fromHex(s.rootProvisioningKey),
        sealKeyFuses: fromHex(s.sealKeyFuses),
        ownerEpoch: fromHex(s.ownerEpoch),
        pagingKey: fromHex(s.pagingKey),
        reportKeyId: fromHex(s.reportKeyId),
      },
      features: {
        sgx2: Boolean(f.sgx2),
        kss: Boolean(f.kss),
        // States saved before AEX-Notify was modelled lack the key: those parts had no AEX-Notify.
        aexNotify: Boolean(f.aexNotify ?? false),
        allowedAttributes: BigInt(f.allowedAttributes),
        allowedXfrm: BigInt(f.allowedXfrm),
        miscSelect: Number(f.miscSelect),
        maxEnclaveSizeLog2Not64: Number(f.maxEnclaveSizeLog2Not64),
        maxEnclaveSizeLog2In64: Number(f.maxEnclaveSizeLog2In64),
        launchControl: Boolean(f.launchControl),
        acceptDebugSigstructType: Boolean(f.acceptDebugSigstructType),
      },
      cpuSvn: fromHex(state.cpuSvn),
    });
    for (const e of Epcm.restore(state.epcm).validEntries()) m.epcm.set(e[0], e[1]);
    m.eidCounter = BigInt(state.nextEid);
    m.versionCounter = BigInt(state.nextVersion);
    state.lePubKeyHash.forEach((v, i) => {
      m.msrLePubKeyHash[i] = BigInt(v);
    });
    for (const [cpu, secs, epoch] of state.lps) m.lps.set(cpu, { secs, epoch });
    return m;
  }
}
