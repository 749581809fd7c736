/**
 * Decodes a SIGSTRUCT, checks it the way ENCLS[EINIT] does before it looks at the SECS (SDM Vol. 3D §41.2 EINIT:
 * header constants, vendor, exponent, reserved bytes, the RSA signature with Q1/Q2), and prints it.
 * The enclave-dependent checks (ENCLAVEHASH against MRENCLAVE, the attribute and misc masks against the SECS,
 * the launch-key hash) need an enclave and belong to EINIT itself.
 */
import {
  AttrFlags,
  bytesEqual,
  type CryptoBackend,
  computeMrSigner,
  computeQ1Q2,
  type Decoded,
  decode,
  leToBigInt,
  reservedAreZero,
  SIGSTRUCT,
  SIGSTRUCT_HEADER,
  SIGSTRUCT_HEADER2,
  SIGSTRUCT_VENDOR_INTEL,
  toHex,
  verifySigstructSignature,
} from '../../hw/index';
import { SigstructError } from '../errors/index';
import { isBcd } from './sign-sigstruct';
import { SIGSTRUCT_EXPONENT } from './signing-key';

export type SigstructCheckName = 'header' | 'vendor' | 'header2' | 'exponent' | 'reserved' | 'signature' | 'q1' | 'q2';

/** One EINIT-style check and its outcome. */
export interface SigstructCheck {
  readonly name: SigstructCheckName;
  readonly ok: boolean;
  readonly detail: string;
}

/** A decoded SIGSTRUCT with MRSIGNER and the outcome of every check. */
export interface SigstructInfo {
  readonly fields: Decoded<typeof SIGSTRUCT>;
  /** SHA-256 of the little-endian MODULUS as stored: the enclave's MRSIGNER if EINIT accepts it. */
  readonly mrSigner: Uint8Array;
  readonly modulusBits: number;
  readonly checks: readonly SigstructCheck[];
  /** True when every check passed: EINIT would get past SGX_INVALID_SIG_STRUCT and SGX_INVALID_SIGNATURE. */
  readonly valid: boolean;
}

/**
 * Decodes and checks a SIGSTRUCT.
 * @returns the fields, MRSIGNER and checks; a SIGSTRUCT that fails a check is still returned (see `valid`).
 * @throws SigstructError `size` when `bytes` is not 1808 bytes long.
 */
export function inspectSigstruct(crypto: CryptoBackend, bytes: Uint8Array): SigstructInfo {
  if (bytes.length !== SIGSTRUCT.size) throw new SigstructError({ kind: 'size', size: bytes.length });
  const f = decode(SIGSTRUCT, bytes);
  const n = leToBigInt(f.modulus);
  const s = leToBigInt(f.signature);
  const checks: SigstructCheck[] = [];
  const check = (name: SigstructCheckName, ok: boolean, good: string, bad: string) =>
    checks.push({ name, ok, detail: ok ? good : bad });

  // SIG_STRUCT checks of EINIT, in its order (→ SGX_INVALID_SIG_STRUCT).
  check('header', bytesEqual(f.header, SIGSTRUCT_HEADER), 'the HEADER constant', `not ${toHex(SIGSTRUCT_HEADER)}`);
  check(
    'vendor',
    f.vendor === 0 || f.vendor === SIGSTRUCT_VENDOR_INTEL,
    f.vendor === 0 ? 'non-Intel (0)' : 'Intel (0x8086)',
    `0x${f.vendor.toString(16)} is neither 0 nor 0x8086`,
  );
  check('header2', bytesEqual(f.header2, SIGSTRUCT_HEADER2), 'the HEADER2 constant', `not ${toHex(SIGSTRUCT_HEADER2)}`);
  check('exponent', BigInt(f.exponent) === SIGSTRUCT_EXPONENT, '3', `${f.exponent}, EINIT requires 3`);
  check('reserved', reservedAreZero(SIGSTRUCT, bytes), 'all zero', 'reserved bytes are not zero');

  // Signature checks (→ SGX_INVALID_SIGNATURE). Q1 and Q2 are reported on their own so a bad one is named.
  const verdict = verifySigstructSignature(crypto, bytes);
  check(
    'signature',
    verdict.ok || verdict.reason !== 'signature',
    'RSASSA-PKCS1-v1_5 SHA-256 verifies with exponent 3',
    'does not verify against MODULUS',
  );
  const { q1, q2 } = n > 0n ? computeQ1Q2(s, n) : { q1: -1n, q2: -1n };
  check('q1', leToBigInt(f.q1) === q1, 'floor(S^2 / N)', 'is not floor(S^2 / N)');
  check('q2', leToBigInt(f.q2) === q2, 'floor((S^3 - Q1*S*N) / N)', 'is not floor((S^3 - Q1*S*N) / N)');

  return {
    fields: f,
    mrSigner: computeMrSigner(crypto, bytes),
    modulusBits: n > 0n ? n.toString(2).length : 0,
    checks,
    valid: checks.every((c) => c.ok),
  };
}

const ATTRIBUTE_NAMES: ReadonlyArray<readonly [bigint, string]> = Object.entries(AttrFlags).map(
  ([name, bit]) => [bit, name] as const,
);

/** Names of the ATTRIBUTES.FLAGS bits set in `flags`, e.g. "MODE64BIT|DEBUG"; unnamed bits as "bitN". */
export function attributeNames(flags: bigint): string {
  const names: string[] = [];
  for (let i = 0n; i < 64n; i++) {
    const bit = 1n << i;
    if ((flags & bit) === 0n) continue;
    names.push(ATTRIBUTE_NAMES.find(([b]) => b === bit)?.[1] ?? `bit${i}`);
  }
  return names.join('|') || 'none';
}

const hex = (v: number | bigint, digits: number) => `0x${v.toString(16).padStart(digits, '0')}`;

function dateText(bcd: number): string {
  if (bcd === 0) return 'unset';
  if (!isBcd(bcd)) return 'not BCD';
  const s = bcd.toString(16).padStart(8, '0');
  return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}`;
}

/** Long integers in text output: the first 16 and last 4 bytes. The JSON form carries all of them. */
function abbreviated(b: Uint8Array): string {
  return `${toHex(b.subarray(0, 16))}…${toHex(b.subarray(b.length - 4))} (${b.length} bytes, little-endian)`;
}

/** A human-readable dump of every field, each check, MRSIGNER and the verdict. */
export function formatSigstruct(info: SigstructInfo): string {
  const f = info.fields;
  const mark = (name: SigstructCheckName) => {
    const c = info.checks.find((x) => x.name === name);
    return c ? `  [${c.ok ? 'ok' : 'FAIL'}: ${c.detail}]` : '';
  };
  const row = (label: string, value: string, tail = '') => `  ${label.padEnd(14)}${value}${tail}`;
  return [
    `SIGSTRUCT (${SIGSTRUCT.size} bytes)`,
    row('header', toHex(f.header), mark('header')),
    row('vendor', hex(f.vendor, 8), mark('vendor')),
    row('date', hex(f.date, 8), ` (${dateText(f.date)})`),
    row('header2', toHex(f.header2), mark('header2')),
    row('swdefined', hex(f.swDefined, 8)),
    row('modulus', abbreviated(f.modulus), ` ${info.modulusBits} bits`),
    row('exponent', String(f.exponent), mark('exponent')),
    row('signature', abbreviated(f.signature), mark('signature')),
    row('miscselect', hex(f.miscSelect, 8)),
    row('miscmask', hex(f.miscMask, 8)),
    row('isvfamilyid', toHex(f.isvFamilyId)),
    row('attributes', hex(f.attributes, 16), ` (${attributeNames(f.attributes)})`),
    row('xfrm', hex(f.xfrm, 16)),
    row('attributemask', hex(f.attributeMask, 16)),
    row('xfrmmask', hex(f.xfrmMask, 16)),
    row('enclavehash', toHex(f.enclaveHash)),
    row('isvextprodid', toHex(f.isvExtProdId)),
    row('isvprodid', hex(f.isvProdId, 4), ` (${f.isvProdId})`),
    row('isvsvn', hex(f.isvSvn, 4), ` (${f.isvSvn})`),
    row('q1', abbreviated(f.q1), mark('q1')),
    row('q2', abbreviated(f.q2), mark('q2')),
    row('reserved', 'reserved1..4', mark('reserved')),
    row('mrsigner', toHex(info.mrSigner)),
    `verdict: ${
      info.valid
        ? 'valid'
        : `INVALID (${info.checks
            .filter((c) => !c.ok)
            .map((c) => c.name)
            .join(', ')})`
    }`,
  ].join('\n');
}

/** The same as plain JSON data: integers below 2^32 as numbers, 64-bit values and byte strings as hex. */
export function sigstructToJson(info: SigstructInfo): Record<string, unknown> {
  const f = info.fields;
  return {
    fields: {
      header: toHex(f.header),
      vendor: f.vendor,
      date: hex(f.date, 8),
      header2: toHex(f.header2),
      swDefined: f.swDefined,
      modulus: toHex(f.modulus),
      exponent: f.exponent,
      signature: toHex(f.signature),
      miscSelect: f.miscSelect,
      miscMask: f.miscMask,
      isvFamilyId: toHex(f.isvFamilyId),
      attributes: hex(f.attributes, 16),
      xfrm: hex(f.xfrm, 16),
      attributeMask: hex(f.attributeMask, 16),
      xfrmMask: hex(f.xfrmMask, 16),
      enclaveHash: toHex(f.enclaveHash),
      isvExtProdId: toHex(f.isvExtProdId),
      isvProdId: f.isvProdId,
      isvSvn: f.isvSvn,
      q1: toHex(f.q1),
      q2: toHex(f.q2),
    },
    modulusBits: info.modulusBits,
    mrSigner: toHex(info.mrSigner),
    checks: info.checks,
    valid: info.valid,
  };
}
