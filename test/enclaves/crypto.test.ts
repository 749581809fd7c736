import { execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasGcc } from '../util/native';
import { compileWith, ENCLAVES, hex, RUNTIME_INCLUDE } from './native-enclave';

// The enclaves' freestanding algorithms, compiled for the host and run in bulk through one driver process,
// against independent implementations: node:crypto (OpenSSL), zlib, RFC 4493's vectors and plain JavaScript.
const SEAL = join(ENCLAVES, 'seal');
const COMPUTE = join(ENCLAVES, 'compute');

function driver(): string {
  return compileWith(
    readFileSync(join(__dirname, 'harness/crypto-driver.c'), 'utf8'),
    ['aes.c', 'gcm.c', 'cmac.c', 'blob.c']
      .map((f) => join(SEAL, f))
      .concat(['sha256.c', 'crc32.c', 'sort.c'].map((f) => join(COMPUTE, f))),
    [RUNTIME_INCLUDE, SEAL, COMPUTE],
  );
}

/** Runs the driver on command lines (arguments as hex, "-" for empty) and returns one output line per command. */
function run(lines: readonly string[]): string[] {
  const out = execFileSync(driver(), { input: `${lines.join('\n')}\n`, maxBuffer: 1 << 28 }).toString();
  const result = out.trimEnd().split('\n');
  expect(result.length, 'one output line per command').toBe(lines.length);
  return result;
}

const h = (b: Uint8Array): string => (b.length ? hex(b) : '-');
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const SEED = 0x5eed;

function gcmEncrypt(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, pt: Uint8Array): [Buffer, Buffer] {
  const c = createCipheriv('aes-128-gcm', key, iv);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return [ct, c.getAuthTag()];
}

function gcmDecrypt(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, ct: Uint8Array, tag: Uint8Array): Buffer {
  const d = createDecipheriv('aes-128-gcm', key, iv);
  d.setAAD(aad);
  d.setAuthTag(tag);
  return Buffer.concat([d.update(ct), d.final()]);
}

/** AES-128-CMAC from node's AES-128-ECB, after RFC 4493 §2.4: an implementation independent of cmac.c. */
function cmacNode(key: Uint8Array, msg: Uint8Array): Buffer {
  const aes = (b: Uint8Array) => {
    const c = createCipheriv('aes-128-ecb', key, null);
    c.setAutoPadding(false);
    return Buffer.concat([c.update(b), c.final()]);
  };
  const dbl = (b: Buffer) => {
    const v = (BigInt(`0x${b.toString('hex')}`) << 1n) ^ (b[0]! & 0x80 ? 0x87n : 0n);
    return Buffer.from((v & ((1n << 128n) - 1n)).toString(16).padStart(32, '0'), 'hex');
  };
  const k1 = dbl(aes(new Uint8Array(16)));
  const k2 = dbl(k1);
  const n = Math.max(1, Math.ceil(msg.length / 16));
  const complete = msg.length > 0 && msg.length % 16 === 0;
  const last = Buffer.alloc(16);
  Buffer.from(msg.subarray(16 * (n - 1))).copy(last);
  if (!complete) last[msg.length - 16 * (n - 1)] = 0x80;
  const k = complete ? k1 : k2;
  let x = Buffer.alloc(16);
  for (let i = 0; i < n; i++) {
    const block = i < n - 1 ? Buffer.from(msg.subarray(16 * i, 16 * i + 16)) : last.map((v, j) => v ^ k[j]!);
    x = aes(x.map((v, j) => v ^ block[j]!));
  }
  return x;
}

describe.skipIf(!hasGcc())('AES-128-GCM in freestanding C (enclaves/seal/gcm.c)', () => {
  const cases = fc.sample(fc.tuple(bytes(16, 16), bytes(12, 12), bytes(0, 80), bytes(0, 300)), {
    seed: SEED,
    numRuns: 120,
  });

  it('encrypts exactly as node:crypto aes-128-gcm does, ciphertext and tag', () => {
    const out = run(cases.map(([k, iv, aad, pt]) => `gcm-enc ${h(k)} ${h(iv)} ${h(aad)} ${h(pt)}`));
    cases.forEach(([k, iv, aad, pt], i) => {
      const [ct, tag] = gcmEncrypt(k, iv, aad, pt);
      expect(out[i], `case ${i} (seed ${SEED})`).toBe(`${h(ct)} ${h(tag)}`);
    });
  });

  it('decrypts what node:crypto encrypted', () => {
    const lines = cases.map(([k, iv, aad, pt]) => {
      const [ct, tag] = gcmEncrypt(k, iv, aad, pt);
      return `gcm-dec ${h(k)} ${h(iv)} ${h(aad)} ${h(ct)} ${h(tag)}`;
    });
    run(lines).forEach((line, i) => {
      expect(line, `case ${i}`).toBe(`ok ${h(cases[i]![3])}`);
    });
  });

  it('refuses a wrong tag, an altered ciphertext or altered AAD, and leaves the output untouched', () => {
    const lines: string[] = [];
    for (const [k, iv, aad, pt] of cases.slice(0, 40)) {
      const [ct, tag] = gcmEncrypt(k, iv, aad, pt);
      const badTag = Buffer.from(tag);
      badTag[0]! ^= 1;
      lines.push(`gcm-dec ${h(k)} ${h(iv)} ${h(aad)} ${h(ct)} ${h(badTag)}`);
      if (ct.length) {
        const badCt = Buffer.from(ct);
        badCt[badCt.length - 1]! ^= 0x80;
        lines.push(`gcm-dec ${h(k)} ${h(iv)} ${h(aad)} ${h(badCt)} ${h(tag)}`);
      }
      lines.push(`gcm-dec ${h(k)} ${h(iv)} ${h(Buffer.concat([aad, Buffer.of(0)]))} ${h(ct)} ${h(tag)}`);
    }
    for (const [i, line] of run(lines).entries()) expect(line, `line ${i}: ${lines[i]}`).toBe('fail');
  });

  it('matches the GCM spec test case 4 of McGrew–Viega (AES-128, 60-byte text, 20-byte AAD)', () => {
    const key = 'feffe9928665731c6d6a8f9467308308';
    const iv = 'cafebabefacedbaddecaf888';
    const pt =
      'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39';
    const aad = 'feedfacedeadbeeffeedfacedeadbeefabaddad2';
    expect(run([`gcm-enc ${key} ${iv} ${aad} ${pt}`])[0]).toBe(
      '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091 5bc94fbc3221a5db94fae95ae7121a47',
    );
  });
});

describe.skipIf(!hasGcc())('AES-128-CMAC in freestanding C (enclaves/seal/cmac.c)', () => {
  it('reproduces the four RFC 4493 §4 examples', () => {
    const k = '2b7e151628aed2a6abf7158809cf4f3c';
    const m =
      '6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710';
    expect(
      run([`cmac ${k} -`, `cmac ${k} ${m.slice(0, 32)}`, `cmac ${k} ${m.slice(0, 80)}`, `cmac ${k} ${m}`]),
    ).toEqual([
      'bb1d6929e95937287fa37d129b756746',
      '070a16b46b4d4144f79bdd9dd04a287c',
      'dfa66747de9ae63030ca32611497c827',
      '51f0bebf7e3b9d92fc49741779363cfe',
    ]);
  });

  it('agrees with a CMAC built on node:crypto AES-128-ECB for messages of every length up to 70 bytes', () => {
    const cases = fc.sample(fc.tuple(bytes(16, 16), bytes(0, 70)), { seed: SEED, numRuns: 150 });
    const out = run(cases.map(([k, msg]) => `cmac ${h(k)} ${h(msg)}`));
    cases.forEach(([k, msg], i) => {
      expect(out[i], `case ${i}`).toBe(h(cmacNode(k, msg)));
    });
  });
});

describe.skipIf(!hasGcc())('SHA-256, CRC-32 and sort in freestanding C (enclaves/compute/)', () => {
  it('hashes like node:crypto sha256, in one update or two', () => {
    const cases = fc.sample(
      bytes(0, 300).chain((b) => fc.tuple(fc.constant(b), fc.nat({ max: b.length }))),
      { seed: SEED, numRuns: 150 },
    );
    const out = run(cases.map(([b, split]) => `sha256 ${h(b)} ${split}`));
    cases.forEach(([b, split], i) => {
      expect(out[i], `case ${i} split ${split}`).toBe(createHash('sha256').update(b).digest('hex'));
    });
  });

  it('computes the CRC-32 of zlib, also when chained over two pieces', () => {
    const cases = fc.sample(
      bytes(0, 300).chain((b) => fc.tuple(fc.constant(b), fc.nat({ max: b.length }))),
      { seed: SEED, numRuns: 150 },
    );
    const out = run(cases.map(([b, split]) => `crc32 ${h(b)} ${split}`));
    cases.forEach(([b], i) => {
      expect(out[i], `case ${i}`).toBe(crc32(b).toString(16).padStart(8, '0'));
    });
    expect(run(['crc32 313233343536373839 0'])[0], 'the CRC-32 check value of "123456789"').toBe('cbf43926');
  });

  it('sorts u32 arrays like Uint32Array.prototype.sort, duplicates and extremes included', () => {
    const value = fc.oneof(fc.nat({ max: 8 }), fc.constant(0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));
    const cases = fc.sample(fc.array(value, { maxLength: 200 }), { seed: SEED, numRuns: 100 });
    cases.push(
      Array.from({ length: 300 }, (_, i) => i),
      Array.from({ length: 300 }, (_, i) => 300 - i),
      Array(100).fill(7),
    );
    const toHex = (v: readonly number[]) => h(new Uint8Array(Uint32Array.from(v).buffer));
    const out = run(cases.map((v) => `sort ${toHex(v)}`));
    cases.forEach((v, i) => {
      expect(out[i], `case ${i}`).toBe(toHex(Array.from(Uint32Array.from(v).sort())));
    });
  });
});

describe.skipIf(!hasGcc())('the sealed-blob format (enclaves/seal/blob.c)', () => {
  const KEY = '000102030405060708090a0b0c0d0e0f';
  const CPUSVN = '0202020202020202020202020202020a';
  const KEYID = `${'aa'.repeat(31)}bb`;
  const IV = '0c0b0a090807060504030201';

  function seal(pt: string, policy = 2, isvsvn = 3): Buffer {
    const line = `seal ${KEY} ${policy} ${isvsvn} ${CPUSVN} ${KEYID} ${IV} 0xff0000000000000b 0 0xf0000000 ${pt}`;
    return Buffer.from(run([line])[0]!, 'hex');
  }

  it('lays out the header as blob.h documents and encrypts the payload with AAD = header[0, 112)', () => {
    const blob = seal('68656c6c6f');
    expect(blob.subarray(0, 8).toString(), 'magic').toBe('SGXSEAL1');
    expect(blob.readUInt16LE(8), 'keyname SEAL').toBe(4);
    expect(blob.readUInt16LE(10), 'keypolicy').toBe(2);
    expect(blob.readUInt16LE(12), 'isvsvn').toBe(3);
    expect(blob.readUInt16LE(14), 'configsvn').toBe(0);
    expect(hex(blob.subarray(16, 32)), 'cpusvn').toBe(CPUSVN);
    expect(blob.readBigUInt64LE(32), 'attribute mask').toBe(0xff0000000000000bn);
    expect(blob.readBigUInt64LE(40), 'xfrm mask').toBe(0n);
    expect(blob.readUInt32LE(48), 'misc mask').toBe(0xf0000000);
    expect(blob.readUInt32LE(52), 'payload length').toBe(5);
    expect(hex(blob.subarray(56, 88)), 'keyid').toBe(KEYID);
    expect(hex(blob.subarray(88, 100)), 'iv').toBe(IV);
    expect(hex(blob.subarray(100, 112)), 'reserved').toBe('00'.repeat(12));
    expect(blob.length).toBe(128 + 5);
    const pt = gcmDecrypt(
      Buffer.from(KEY, 'hex'),
      Buffer.from(IV, 'hex'),
      blob.subarray(0, 112),
      blob.subarray(128),
      blob.subarray(112, 128),
    );
    expect(pt.toString(), 'node:crypto opens the blob').toBe('hello');
  });

  it('opens blobs that node:crypto sealed in the same format, and returns the key request they carry', () => {
    const cases = fc.sample(bytes(0, 200), { seed: SEED, numRuns: 40 });
    const lines = cases.map((pt) => {
      const header = Buffer.from(seal('-').subarray(0, 128));
      header.writeUInt32LE(pt.length, 52);
      const [ct, tag] = gcmEncrypt(Buffer.from(KEY, 'hex'), Buffer.from(IV, 'hex'), header.subarray(0, 112), pt);
      tag.copy(header, 112);
      return `open ${KEY} ${h(Buffer.concat([header, ct]))}`;
    });
    run(lines).forEach((line, i) => {
      expect(line, `case ${i}`).toBe(
        `ok policy=2 isvsvn=3 cpusvn=${CPUSVN} keyid=${KEYID} attr=0xff0000000000000b xfrm=0 misc=0xf0000000 pt=${h(cases[i]!)}`,
      );
    });
  });

  it('refuses altered blobs: SEAL_E_MAC for the tag, authenticated header fields and ciphertext', () => {
    const blob = seal('00112233445566778899');
    const flip = (at: number) => {
      const b = Buffer.from(blob);
      b[at]! ^= 1;
      return `open ${KEY} ${h(b)}`;
    };
    // isvsvn, cpusvn, attribute mask, keyid, iv, tag, ciphertext: all covered by the GCM tag.
    expect(run([12, 16, 32, 56, 88, 112, 130].map(flip))).toEqual(Array(7).fill('err -3'));
    expect(run([`open ff${KEY.slice(2)} ${h(blob)}`]), 'another key').toEqual(['err -3']);
  });

  it('refuses malformed blobs with SEAL_E_INPUT before any key is derived', () => {
    const blob = seal('0011');
    const edit = (fn: (b: Buffer) => void) => {
      const b = Buffer.from(blob);
      fn(b);
      return `open ${KEY} ${h(b)}`;
    };
    const lines = [
      edit((b) => b.write('X', 0)), // magic
      edit((b) => b.writeUInt16LE(3, 8)), // key name REPORT
      edit((b) => b.writeUInt16LE(0, 10)), // no policy
      edit((b) => b.writeUInt16LE(4, 10)), // NOISVPRODID needs KSS: EGETKEY would #GP
      edit((b) => b.writeUInt16LE(1, 14)), // CONFIGSVN needs KSS
      edit((b) => b.writeUInt8(1, 100)), // reserved
      edit((b) => b.writeUInt32LE(3, 52)), // length disagrees with the blob
      `open ${KEY} ${h(blob.subarray(0, 127))}`, // shorter than a header
    ];
    expect(run(lines)).toEqual(Array(lines.length).fill('err -1'));
  });
});
