/**
 * SGX key derivation for all five key names (SDM Vol. 3D §41.2 EINIT, §41.3 EGETKEY and EREPORT pseudo-code:
 * TMP_KEYDEPENDENCIES and derivekey()). The SDM fixes which inputs each key depends on (sgx-isa.md §6.1); the
 * function itself is not public. Ours, fixed forever because sealed data must keep its meaning across releases:
 *
 *   baseKey(name) = AES-128-CMAC(rootProvisioningKey, "SGXSIMBK" ‖ u16le(name) ‖ 0^6)
 *   key           = AES-128-CMAC(baseKey(name), KEY_DEPENDENCIES record)
 *
 * The record below holds every SDM input, each at a fixed offset. Fields a key does not depend on are zero, per
 * the SDM table, so for example a PROVISION key (no owner epoch, no seal fuses) is reproducible from the
 * provisioning fuse alone, while SEAL keys also need the seal fuses, which enter the record as SEAL_KEY_FUSES.
 */
import type { CryptoBackend } from '../crypto/backend';
import { AttrFlags, KeyName, KeyPolicy } from './arch';
import { type Decoded, defineLayout, type EINITTOKEN, encode, type KEYREQUEST } from './layout/index';

/** The derivation record (TMP_KEYDEPENDENCIES), version 1. Never reorder or resize a field. */
export const KEY_DEPENDENCIES = defineLayout('KEYDEPENDENCIES (sgxsim v1)', 656, 16, [
  { name: 'label', offset: 0, size: 8, type: 'bytes', doc: '"SGXSIMK1", the record format tag' },
  { name: 'keyName', offset: 8, size: 2, type: 'u16' },
  { name: 'keyPolicy', offset: 10, size: 2, type: 'u16' },
  { name: 'isvProdId', offset: 12, size: 2, type: 'u16' },
  { name: 'isvSvn', offset: 14, size: 2, type: 'u16' },
  { name: 'cpuSvn', offset: 16, size: 16, type: 'bytes' },
  { name: 'attributes', offset: 32, size: 8, type: 'u64', doc: 'ATTRIBUTES.FLAGS' },
  { name: 'xfrm', offset: 40, size: 8, type: 'u64', doc: 'ATTRIBUTES.XFRM' },
  { name: 'attributeMask', offset: 48, size: 8, type: 'u64', doc: 'ATTRIBUTESMASK.FLAGS' },
  { name: 'xfrmMask', offset: 56, size: 8, type: 'u64', doc: 'ATTRIBUTESMASK.XFRM' },
  { name: 'mrEnclave', offset: 64, size: 32, type: 'bytes' },
  { name: 'mrSigner', offset: 96, size: 32, type: 'bytes' },
  { name: 'keyId', offset: 128, size: 32, type: 'bytes' },
  { name: 'ownerEpoch', offset: 160, size: 16, type: 'bytes', doc: 'SGXOWNEREPOCH' },
  { name: 'sealKeyFuses', offset: 176, size: 16, type: 'bytes', doc: 'SEAL_KEY_FUSES' },
  { name: 'miscSelect', offset: 192, size: 4, type: 'u32' },
  { name: 'miscMask', offset: 196, size: 4, type: 'u32' },
  { name: 'configSvn', offset: 200, size: 2, type: 'u16' },
  { name: 'reserved1', offset: 202, size: 6, type: 'reserved' },
  { name: 'isvFamilyId', offset: 208, size: 16, type: 'bytes' },
  { name: 'isvExtProdId', offset: 224, size: 16, type: 'bytes' },
  { name: 'configId', offset: 240, size: 64, type: 'bytes' },
  { name: 'padding', offset: 304, size: 352, type: 'bytes', doc: 'PADDING (352 bytes)' },
] as const);

/** Every input of a derivation; the format tag and reserved bytes are filled in by encodeKeyDependencies. */
export type KeyDependencies = Omit<Decoded<typeof KEY_DEPENDENCIES>, 'label' | 'reserved1'>;

const RECORD_LABEL = new TextEncoder().encode('SGXSIMK1');
const BASE_KEY_LABEL = new TextEncoder().encode('SGXSIMBK');

/**
 * HARDCODED_PKCS1_5_PADDING of the SDM (EINIT, EGETKEY): 00 01, 330 × FF, then 00 and the SHA-256 DigestInfo
 * prefix — the top 352 bytes of every valid EMSA-PKCS1-v1_5 SHA-256 encoding, big-endian.
 */
export const HARDCODED_PKCS1_5_PADDING: Uint8Array = (() => {
  const p = new Uint8Array(352).fill(0xff);
  p[0] = 0x00;
  p[1] = 0x01;
  p.set(
    [
      0x00, 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
      0x20,
    ],
    332,
  );
  return p;
})();

/** The record bytes for a set of dependencies. */
export function encodeKeyDependencies(deps: KeyDependencies): Uint8Array {
  return encode(KEY_DEPENDENCIES, { ...deps, label: RECORD_LABEL });
}

/** The per-key-name base key, derived from the provisioning fuse. */
export function baseKey(crypto: CryptoBackend, rootProvisioningKey: Uint8Array, keyName: number): Uint8Array {
  const msg = new Uint8Array(16);
  msg.set(BASE_KEY_LABEL, 0);
  new DataView(msg.buffer).setUint16(8, keyName, true);
  return crypto.aesCmac(rootProvisioningKey, msg);
}

/** derivekey(TMP_KEYDEPENDENCIES): the 128-bit key. */
export function deriveKey(crypto: CryptoBackend, rootProvisioningKey: Uint8Array, deps: KeyDependencies): Uint8Array {
  return crypto.aesCmac(baseKey(crypto, rootProvisioningKey, deps.keyName), encodeKeyDependencies(deps));
}

/** Package registers that feed derivations (CR_CPUSVN, CR_SGXOWNEREPOCH, CR_SEAL_FUSES). */
export interface KeyPlatformInputs {
  readonly cpuSvn: Uint8Array;
  readonly ownerEpoch: Uint8Array;
  readonly sealKeyFuses: Uint8Array;
}

/** The SECS fields an EGETKEY derivation reads. */
export interface SecsKeyView {
  readonly attributes: bigint;
  readonly xfrm: bigint;
  readonly miscSelect: number;
  readonly mrEnclave: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly configId: Uint8Array;
  readonly configSvn: number;
  readonly isvFamilyId: Uint8Array;
  readonly isvExtProdId: Uint8Array;
  readonly padding: Uint8Array;
}

/** The identity a REPORT key is derived for: the target enclave (TARGETINFO for EREPORT, the SECS for EGETKEY). */
export interface ReportKeyTarget {
  readonly attributes: bigint;
  readonly xfrm: bigint;
  readonly mrEnclave: Uint8Array;
  readonly miscSelect: number;
  readonly configId: Uint8Array;
  readonly configSvn: number;
}

const Z16 = new Uint8Array(16);
const Z32 = new Uint8Array(32);
const Z64 = new Uint8Array(64);

const U32 = 0xffff_ffff;
const INIT_DEBUG = AttrFlags.INIT | AttrFlags.DEBUG;

/** All-zero dependencies for a key name: the starting point of every SDM assignment list. */
function zeroDeps(keyName: number): KeyDependencies {
  return {
    keyName,
    keyPolicy: 0,
    isvProdId: 0,
    isvSvn: 0,
    cpuSvn: Z16,
    attributes: 0n,
    xfrm: 0n,
    attributeMask: 0n,
    xfrmMask: 0n,
    mrEnclave: Z32,
    mrSigner: Z32,
    keyId: Z32,
    ownerEpoch: Z16,
    sealKeyFuses: Z16,
    miscSelect: 0,
    miscMask: 0,
    configSvn: 0,
    isvFamilyId: Z16,
    isvExtProdId: Z16,
    configId: Z64,
    padding: HARDCODED_PKCS1_5_PADDING,
  };
}

/**
 * TMP_KEYDEPENDENCIES of EGETKEY for one key name (SDM Vol. 3D §41.3 EGETKEY; sgx-isa.md §6.1 table). The
 * caller has already done EGETKEY's checks (reserved fields, KEYPOLICY, ISVSVN/CPUSVN limits, access rights).
 */
export function egetkeyDependencies(
  secs: SecsKeyView,
  req: Decoded<typeof KEYREQUEST>,
  cr: KeyPlatformInputs,
): KeyDependencies {
  const policy = req.keyPolicy;
  // TMP_ATTRIBUTES = (ATTRIBUTEMASK | INIT | DEBUG) & SECS.ATTRIBUTES; TMP_MISCSELECT = MISCMASK & MISCSELECT.
  const attributes = (req.attributeMask | INIT_DEBUG) & secs.attributes;
  const xfrm = req.xfrmMask & secs.xfrm;
  const miscSelect = (req.miscMask & secs.miscSelect) >>> 0;
  const notMiscMask = ~req.miscMask & U32;
  const family = {
    isvFamilyId: policy & KeyPolicy.ISVFAMILYID ? secs.isvFamilyId : Z16,
    isvExtProdId: policy & KeyPolicy.ISVEXTPRODID ? secs.isvExtProdId : Z16,
    configId: policy & KeyPolicy.CONFIGID ? secs.configId : Z64,
    configSvn: policy & KeyPolicy.CONFIGID ? req.configSvn : 0,
  };
  const isvProdId = policy & KeyPolicy.NOISVPRODID ? 0 : secs.isvProdId;
  switch (req.keyName) {
    case KeyName.SEAL:
      return {
        ...zeroDeps(KeyName.SEAL),
        ...family,
        keyPolicy: policy,
        isvProdId,
        isvSvn: req.isvSvn,
        cpuSvn: req.cpuSvn,
        attributes,
        xfrm,
        attributeMask: req.attributeMask,
        xfrmMask: req.xfrmMask,
        mrEnclave: policy & KeyPolicy.MRENCLAVE ? secs.mrEnclave : Z32,
        mrSigner: policy & KeyPolicy.MRSIGNER ? secs.mrSigner : Z32,
        keyId: req.keyId,
        ownerEpoch: cr.ownerEpoch,
        sealKeyFuses: cr.sealKeyFuses,
        miscSelect,
        miscMask: notMiscMask,
        padding: secs.padding,
      };
    case KeyName.REPORT:
      return reportKeyDependencies(secs, req.keyId, cr);
    case KeyName.EINITTOKEN:
      return {
        ...zeroDeps(KeyName.EINITTOKEN),
        isvProdId: secs.isvProdId,
        isvSvn: req.isvSvn,
        cpuSvn: req.cpuSvn,
        attributes,
        xfrm,
        mrSigner: secs.mrSigner,
        keyId: req.keyId,
        ownerEpoch: cr.ownerEpoch,
        sealKeyFuses: cr.sealKeyFuses,
        miscSelect,
        padding: secs.padding,
      };
    case KeyName.PROVISION:
      return {
        ...zeroDeps(KeyName.PROVISION),
        isvProdId: secs.isvProdId,
        isvSvn: req.isvSvn,
        cpuSvn: req.cpuSvn,
        attributes,
        xfrm,
        attributeMask: req.attributeMask,
        xfrmMask: req.xfrmMask,
        mrSigner: secs.mrSigner,
        miscSelect,
        miscMask: notMiscMask,
        padding: secs.padding,
      };
    case KeyName.PROVISION_SEAL:
      return {
        ...zeroDeps(KeyName.PROVISION_SEAL),
        ...family,
        keyPolicy: policy,
        isvProdId,
        isvSvn: req.isvSvn,
        cpuSvn: req.cpuSvn,
        attributes,
        xfrm,
        attributeMask: req.attributeMask,
        xfrmMask: req.xfrmMask,
        mrSigner: secs.mrSigner,
        sealKeyFuses: cr.sealKeyFuses,
        miscSelect,
        miscMask: notMiscMask,
        padding: secs.padding,
      };
    default:
      throw new RangeError(`KEYNAME ${req.keyName} has no derivation; EGETKEY returns SGX_INVALID_KEYNAME first`);
  }
}

/**
 * The REPORT key of a target enclave (SDM Vol. 3D §41.3 EREPORT, where the target comes from TARGETINFO and
 * KEYID is CR_REPORT_KEYID; and EGETKEY(REPORT), where the target is the caller's own SECS and KEYID comes from
 * the request). PADDING is the hard-coded value; EREPORT's text uses SECS.PADDING, which is identical for every
 * enclave whose SIGSTRUCT verified (sgx-isa.md §11 item 6).
 */
export function reportKeyDependencies(
  target: ReportKeyTarget,
  keyId: Uint8Array,
  cr: KeyPlatformInputs,
): KeyDependencies {
  return {
    ...zeroDeps(KeyName.REPORT),
    cpuSvn: cr.cpuSvn,
    attributes: target.attributes,
    xfrm: target.xfrm,
    mrEnclave: target.mrEnclave,
    keyId,
    ownerEpoch: cr.ownerEpoch,
    sealKeyFuses: cr.sealKeyFuses,
    miscSelect: target.miscSelect,
    configId: target.configId,
    configSvn: target.configSvn,
  };
}

/**
 * The EINITTOKEN key EINIT uses to check a launch token's MAC (SDM Vol. 3D §41.2 EINIT): the identity comes from
 * the token's LE fields and IA32_SGXLEPUBKEYHASH, so it equals the key the launch enclave got from
 * EGETKEY(EINITTOKEN) when its own MRSIGNER is that hash.
 */
export function einitTokenKeyDependencies(
  token: Decoded<typeof EINITTOKEN>,
  lePubKeyHash: Uint8Array,
  cr: KeyPlatformInputs,
): KeyDependencies {
  return {
    ...zeroDeps(KeyName.EINITTOKEN),
    isvProdId: token.isvProdIdLe,
    isvSvn: token.isvSvnLe,
    cpuSvn: token.cpuSvnLe,
    attributes: token.maskedAttributesLe,
    xfrm: token.maskedXfrmLe,
    mrSigner: lePubKeyHash,
    keyId: token.keyId,
    ownerEpoch: cr.ownerEpoch,
    sealKeyFuses: cr.sealKeyFuses,
    miscSelect: token.maskedMiscSelectLe,
  };
}

/** A 16-byte CPUSVN is above the platform's when any of its 16 SVN components is (see SgxMachine.cpuSvn). */
export function cpuSvnGreater(a: Uint8Array, platform: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if ((a[i] ?? 0) > (platform[i] ?? 0)) return true;
  return false;
}
