import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AbortReason, EnclCommand, EnclStatus, findSymbol, parseElf64 } from '../../src/sdk/index';
import { hasGcc } from '../util/native';
import { ecallNames, hex, PREBUILT, runHarness } from './native-enclave';

// The prebuilt enclaves, run on this host by test/enclaves/harness/sgx-lite.c, which plays the CPU's part (EENTER,
// EEXIT, AEX, ERESUME, EGETKEY, EREPORT after the SDM) and the host's (the runtime ABI of enclaves/runtime/README.md).
// After every EEXIT the harness checks the exit-register promises and prints "abi ..." when one is broken, so
// every scenario also asserts that no such line appeared.
const COMPUTE = join(PREBUILT, 'compute.elf');
const SEAL = join(PREBUILT, 'seal.elf');

interface Result {
  status: number;
  ret: bigint;
  out: Buffer;
}

function parseResult(line: string): Result {
  const m = /^result status=(\d+) ret=(0x[0-9a-f]+|0) out=(\S+)$/.exec(line);
  if (!m) throw new Error(`not a result line: ${line}`);
  return { status: Number(m[1]), ret: BigInt(m[2]!), out: Buffer.from(m[3] === '-' ? '' : m[3]!, 'hex') };
}

/** Runs a script and returns its output, after checking that the ABI held at every exit. */
function run(elf: string, script: readonly string[], options: readonly string[] = []): string[] {
  const out = runHarness(elf, script, options);
  expect(out[0], 'the harness loaded the enclave').toMatch(/^loaded tcs=\d+$/);
  expect(
    out.filter((l) => l.startsWith('abi ') || l.startsWith('harness-error')),
    'exit-register promises',
  ).toEqual([]);
  return out.slice(1);
}

const results = (lines: readonly string[]) => lines.filter((l) => l.startsWith('result ')).map(parseResult);
const h = (b: Uint8Array) => (b.length ? hex(b) : '-');
const u32 = (...v: number[]) => h(new Uint8Array(Uint32Array.from(v).buffer));
const u64 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return h(b);
};
const signed = (v: bigint) => BigInt.asIntN(64, v);

function indices(elf: string): (name: string) => number {
  const names = ecallNames(readFileSync(elf));
  return (name) => {
    const i = names.indexOf(name);
    if (i < 0) throw new Error(`no ecall ${name} in ${elf}`);
    return i;
  };
}

function symbol(elf: string, name: string): number {
  const s = findSymbol(parseElf64(readFileSync(elf)), name);
  if (!s) throw new Error(`no symbol ${name}`);
  return s.value;
}

describe.skipIf(!hasGcc())('the compute enclave on the runtime, run natively by sgx-lite', () => {
  const ix = indices(COMPUTE);

  it('runs ecalls found by name in encl_rt_meta, on either TCS, with results matching node:crypto and zlib', () => {
    const data = fc.sample(fc.uint8Array({ maxLength: 3000 }), { seed: 7, numRuns: 6 });
    const script = data.flatMap((d, i) => [
      `ecall ${i % 2} ${ix('sha256')} ${h(d)} 32`,
      `ecall ${(i + 1) % 2} ${ix('crc32')} ${h(d)} 4`,
    ]);
    const r = results(run(COMPUTE, script));
    data.forEach((d, i) => {
      const sha = r[2 * i]!;
      const crc = r[2 * i + 1]!;
      expect(sha.status, 'sha256 status').toBe(EnclStatus.OK);
      expect(sha.ret, 'sha256 returns the digest length').toBe(32n);
      expect(hex(sha.out), 'digest').toBe(createHash('sha256').update(d).digest('hex'));
      expect(crc.ret, 'crc32 returns the CRC').toBe(BigInt(crc32(d)));
      expect(crc.out.readUInt32LE(0), 'and writes it little-endian').toBe(crc32(d));
    });
  });

  it('sorts in the enclave and zero-fills output past what the ecall wrote', () => {
    const v = [9, 0xffffffff, 3, 3, 0, 42];
    const [sorted, digest] = results(
      run(COMPUTE, [`ecall 0 ${ix('sort')} ${u32(...v)} 24`, `ecall 0 ${ix('sha256')} 616263 40`]),
    );
    expect(sorted!.ret).toBe(6n);
    expect(hex(sorted!.out)).toBe(u32(...[...v].sort((a, b) => a - b)));
    expect(hex(digest!.out.subarray(32)), 'bytes 32..40 of a 40-byte output buffer').toBe('00'.repeat(8));
  });

  it('serves ocalls: print, echo, and many rounds that resume the saved context each time', () => {
    const out = run(COMPUTE, [
      `ecall 0 ${ix('hello')} - 0`,
      `ecall 1 ${ix('echo')} 0102030405 8`,
      `ecall 0 ${ix('ocall_rounds')} ${u32(40)} 0`,
    ]);
    expect(out[0]).toBe('ocall print "hello from the compute enclave"');
    const r = results(out);
    expect(r[0]!.ret, 'hello returns the host’s value (the message length)').toBe(30n);
    expect(out).toContain('ocall echo in=0102030405 out_off=16 out_len=8');
    expect(hex(r[1]!.out), 'echo copies the host’s answer out').toBe('0102030405000000');
    expect(r[1]!.ret).toBe(5n);
    expect(out.filter((l) => l.startsWith('ocall echo in=')).length).toBe(41);
    expect(r[2]!.ret, 'every round came back unchanged').toBe(40n);
  });

  it('returns ENCL_OCALL_NO_SCRATCH from ocall() without exiting when the scratch area is too small', () => {
    const out = run(COMPUTE, [`ecall 0 ${ix('echo')} ${'ab'.repeat(16)} 16`], ['--scratch', '24']);
    expect(
      out.filter((l) => l.startsWith('ocall')),
      'no exit for the ocall',
    ).toEqual([]);
    expect(results(out)[0]!.ret).toBe(1n << 63n);
  });

  // kind, expected vector, whether EXINFO is reported, the faulting instruction's symbol
  const FAULTS = [
    [0, 6, 0, 'fault_ud_insn'],
    [1, 0, 0, 'fault_de_insn'],
    [2, 14, 1, 'fault_read_insn'],
    [3, 14, 1, 'fault_write_insn'],
    [4, 13, 1, 'fault_read_insn'],
  ] as const;

  it.each(FAULTS)(
    'hands fault kind %i (vector %i) to the registered handler, which skips the instruction',
    (kind, vector, exinfo, insn) => {
      const out = run(COMPUTE, [`ecall 0 ${ix('fault')} ${u32(kind, 1)} 48`, `ecall 1 ${ix('nop')} - 0`]);
      expect(out[0]!, 'the AEX as the host sees it').toMatch(new RegExp(`^exception vector=${vector} `));
      expect(out[1], 'the handler continued; RSI = EXITINFO').toBe(
        `handler status=${EnclStatus.EXCEPTION_HANDLED} ret=0x${(0x80000300 + vector).toString(16)}`,
      );
      const [r, nop] = results(out);
      expect(r!.status).toBe(EnclStatus.OK);
      const o = r!.out;
      expect(o.readUInt32LE(0), 'vector').toBe(vector);
      expect(o.readUInt32LE(4), 'exit type: hardware exception').toBe(3);
      expect(o.readUInt32LE(8), 'EXINFO valid').toBe(exinfo);
      expect(Number(o.readBigUInt64LE(24)), 'faulting RIP').toBe(symbol(COMPUTE, insn));
      expect(o.readBigUInt64LE(32), 'RAX set by the handler').toBe(0x5eed5eed5eed5eedn);
      expect(o.readBigUInt64LE(40), 'one handler call').toBe(1n);
      if (kind === 2) {
        expect(o.readBigUInt64LE(16), 'MADDR: TCS 0').toBe(0n);
        expect(o.readUInt32LE(12) & 0x6, 'a user-mode read').toBe(0x4);
      }
      if (kind === 3) {
        expect(Number(o.readBigUInt64LE(16)), 'MADDR: the code written').toBe(symbol(COMPUTE, 'fault_ud'));
        expect(o.readUInt32LE(12) & 0x2, 'a write').toBe(0x2);
      }
      if (kind === 4) expect(o.readBigUInt64LE(16), '#GP reports MADDR 0').toBe(0n);
      expect(nop!.status, 'the enclave lives on').toBe(EnclStatus.OK);
    },
  );

  it('reports no EXINFO when the enclave was created without MISCSELECT.EXINFO', () => {
    const r = results(run(COMPUTE, [`ecall 0 ${ix('fault')} ${u32(2, 1)} 48`], ['--no-exinfo']))[0]!;
    expect(r.out.readUInt32LE(8), 'exinfo_valid').toBe(0);
    expect(r.out.readBigUInt64LE(16), 'maddr').toBe(0n);
  });

  it.each([
    ['no handler is registered', 0, AbortReason.EXCEPTION | 0x80000306n],
    ['the handler declines', 2, AbortReason.EXCEPTION | 0x80000306n],
    ['the handler panics', 3, 0xfa017n],
  ] as const)('aborts the ecall when %s, and is dead afterwards', (_, mode, reason) => {
    const out = run(COMPUTE, [
      `ecall 0 ${ix('fault')} ${u32(0, mode)} 48`,
      `ecall 1 ${ix('nop')} - 0`,
      `ecall 0 ${ix('nop')} - 0`,
      `raw 1 2 ${EnclCommand.ORET} 0 block`,
    ]);
    expect(out[1]).toBe(`handler status=${EnclStatus.EXCEPTION_ABORTED} ret=0x${reason.toString(16)}`);
    const [aborted, dead1, dead0] = results(out);
    expect(aborted!.status).toBe(EnclStatus.ABORT);
    expect(aborted!.ret, 'abort reason').toBe(reason);
    expect(hex(aborted!.out), 'an aborted ecall writes no output').toBe('ee'.repeat(48));
    expect(dead1!.status).toBe(EnclStatus.DEAD);
    expect(dead0!.status).toBe(EnclStatus.DEAD);
    expect(out.at(-1)).toMatch(new RegExp(`^raw status=${EnclStatus.DEAD} `));
  });

  it('panics with the code masked to 62 bits', () => {
    const r = results(run(COMPUTE, [`ecall 0 ${ix('abort')} ${u64(0xc000_0000_dead_beefn)} 0`]))[0]!;
    expect(r.status).toBe(EnclStatus.ABORT);
    expect(r.ret).toBe(0xdead_beefn);
  });

  it('refuses commands the thread cannot take while an ocall is pending, then resumes it', () => {
    const out = run(COMPUTE, [
      `ecall? 0 ${ix('echo')} 0102 8`,
      `raw 0 2 ${EnclCommand.ECALL} ${ix('nop')} block`,
      `raw 0 2 ${EnclCommand.EXCEPTION} 0 block`,
      `raw 0 2 ${EnclCommand.ORET} 0 other`,
      'raw 0 2 9 0 block',
      `ecall 1 ${ix('sha256')} 61 32`,
      'oret 0 77',
    ]);
    expect(out[0]).toBe('ocall-pending index=1 in_len=2 out_off=16 out_len=8');
    expect(out.slice(1, 5).map((l) => Number(/status=(\d+)/.exec(l)![1]))).toEqual([
      EnclStatus.BAD_STATE,
      EnclStatus.BAD_STATE,
      EnclStatus.BAD_POINTER,
      EnclStatus.BAD_COMMAND,
    ]);
    const [other, resumed] = results(out);
    expect(hex(other!.out), 'TCS 1 works meanwhile').toBe(createHash('sha256').update('a').digest('hex'));
    expect(resumed!.status).toBe(EnclStatus.OK);
    expect(resumed!.ret, 'the ORET value').toBe(77n);
  });

  it('takes only EXCEPTION after an AEX (CSSA > 0), and ERESUME then finishes the ecall', () => {
    const out = run(COMPUTE, [
      `ecall! 0 ${ix('fault')} ${u32(0, 1)} 48`,
      `raw 0 2 ${EnclCommand.ECALL} ${ix('nop')} block`,
      `raw 0 2 ${EnclCommand.ORET} 0 block`,
      'raw 0 2 0 0 block',
      'xentry 0',
      'resume 0',
    ]);
    expect(out[1]).toBe('stopped');
    expect(out.slice(2, 5).map((l) => Number(/status=(\d+)/.exec(l)![1]))).toEqual([
      EnclStatus.BAD_STATE,
      EnclStatus.BAD_STATE,
      EnclStatus.BAD_COMMAND,
    ]);
    expect(out[5]).toMatch(new RegExp(`^handler status=${EnclStatus.EXCEPTION_HANDLED} `));
    expect(results(out)[0]!.status).toBe(EnclStatus.OK);
  });

  it('refuses EXCEPTION without an AEX to handle (CSSA = 0)', () => {
    expect(run(COMPUTE, [`raw 0 2 ${EnclCommand.EXCEPTION} 0 block`])[0]).toMatch(
      new RegExp(`^raw status=${EnclStatus.BAD_STATE} `),
    );
  });

  it('checks the call block and every buffer against ELRANGE before running an ecall', () => {
    const nop = ix('nop');
    const size = 0x20000; // SECS.SIZE of the compute enclave (checked in enclave-images.test.ts)
    const cases: [string, string, number][] = [
      ['a valid block, null buffers of length 0', 'block 0 0 0 0 0 0 0', EnclStatus.OK],
      ['input inside ELRANGE', 'block 0 e+0x5000 16 0 0 0 0', EnclStatus.BAD_POINTER],
      ['zero-length input at the enclave base', 'block 0 e+0 0 0 0 0 0', EnclStatus.BAD_POINTER],
      ['zero-length input just past ELRANGE', `block 0 e+${size} 0 0 0 0 0`, EnclStatus.OK],
      ['input ending on the first enclave byte', 'block 0 e+0 0 0 0 0 0', EnclStatus.BAD_POINTER],
      ['output on the last enclave byte', `block 0 0 0 e+${size - 1} 1 0 0`, EnclStatus.BAD_POINTER],
      ['output wrapping the address space', 'block 0 0 0 0xfffffffffffffff0 32 0 0', EnclStatus.BAD_POINTER],
      ['scratch inside ELRANGE', `block 0 0 0 0 0 e+${size - 16} 16`, EnclStatus.BAD_POINTER],
      ['input and output filling the edge buffer', 'block 0 in 0x1ff0 out 0x10 0 0', EnclStatus.OK],
      ['one byte more', 'block 0 in 0x1ff1 out 0x10 0 0', EnclStatus.TOO_LARGE],
    ];
    const out = run(
      COMPUTE,
      cases.flatMap(([, block]) => [block, `go 0 ${nop}`]),
    );
    results(out).forEach((r, i) => {
      expect(r.status, cases[i]![0]).toBe(cases[i]![2]);
    });
  });

  it('refuses a call block inside ELRANGE or misaligned, and an ecall index out of range', () => {
    const out = run(COMPUTE, [
      `raw 0 2 ${EnclCommand.ECALL} 0 e+0x100`,
      `raw 0 2 ${EnclCommand.ECALL} 0 misaligned`,
      'block 0 0 0 0 0 0 0',
      'go 0 99',
    ]);
    expect(out[0]).toMatch(new RegExp(`^raw status=${EnclStatus.BAD_POINTER} `));
    expect(out[1]).toMatch(new RegExp(`^raw status=${EnclStatus.BAD_POINTER} `));
    expect(results(out)[0]).toMatchObject({ status: EnclStatus.BAD_ECALL, ret: 99n });
  });

  it('refuses a loader-added TCS whose thread block breaks the convention (BAD_TCS)', () => {
    const meta = `0x${symbol(COMPUTE, 'encl_rt_meta').toString(16)}`;
    for (const [tcs, options] of [
      // beyond encl_rt_meta.enclave_size: ELRANGE was enlarged but the measured size was not
      ['0x30000', []],
      // not at a multiple of the thread size, even inside the enlarged size
      ['0x31000', ['--meta-size', meta]],
    ] as const) {
      const out = run(COMPUTE, ['raw 2 2 1 0 block'], ['--elrange', '0x40000', '--extra-tcs', tcs, ...options]);
      expect(out[0], `TCS at ${tcs}`).toMatch(new RegExp(`^raw status=${EnclStatus.BAD_TCS} `));
    }
  });

  it('runs ecalls on a loader-added TCS once encl_rt_meta.enclave_size covers it', () => {
    const meta = `0x${symbol(COMPUTE, 'encl_rt_meta').toString(16)}`;
    const data = Buffer.from('an extra thread');
    const r = results(
      run(
        COMPUTE,
        [`ecall 2 ${ix('sha256')} ${h(data)} 32`, `ecall 0 ${ix('crc32')} ${h(data)} 4`],
        ['--elrange', '0x40000', '--extra-tcs', '0x30000', '--meta-size', meta],
      ),
    );
    expect(r[0]?.status, 'status on the extra TCS').toBe(EnclStatus.OK);
    expect(hex(r[0]!.out), 'sha256 on the extra TCS').toBe(createHash('sha256').update(data).digest('hex'));
    expect(r[1]?.ret, 'crc32 on TCS 0 of the enlarged enclave').toBe(BigInt(crc32(data)));
  });
});

describe.skipIf(!hasGcc())('the seal enclave on the runtime, run natively by sgx-lite', () => {
  const ix = indices(SEAL);
  const SEAL_E_INPUT = -1n;
  const SEAL_E_SPACE = -2n;
  const SEAL_E_MAC = -3n;
  const SEAL_E_KEY = -0x1000n;

  function sealBlob(data: string, ecall = 'seal', options: readonly string[] = []): Buffer {
    const r = results(run(SEAL, [`ecall 0 ${ix(ecall)} ${data} ${128 + data.length / 2}`], options))[0]!;
    expect(r.status).toBe(EnclStatus.OK);
    return r.out.subarray(0, Number(r.ret));
  }

  function unseal(blob: Buffer, options: readonly string[] = []): Result {
    return results(run(SEAL, [`ecall 0 ${ix('unseal')} ${h(blob)} ${blob.length - 128}`], options))[0]!;
  }

  it('seals with a key request for SEAL_KEY, MRSIGNER policy, the current ISVSVN/CPUSVN and a fresh KEYID', () => {
    const a = sealBlob('68656c6c6f');
    const b = sealBlob('68656c6c6f');
    expect(a.length).toBe(128 + 5);
    expect(a.subarray(0, 8).toString()).toBe('SGXSEAL1');
    expect(a.readUInt16LE(8), 'KEYNAME SEAL').toBe(4);
    expect(a.readUInt16LE(10), 'KEYPOLICY MRSIGNER').toBe(2);
    expect(a.readUInt16LE(12), 'ISVSVN from the self report').toBe(1);
    expect(hex(a.subarray(16, 32)), 'CPUSVN from the self report').toBe('02'.repeat(16));
    expect(a.readBigUInt64LE(32), 'the SDK default attribute mask').toBe(0xff0000000000000bn);
    expect(a.readUInt32LE(48), 'the SDK default misc mask').toBe(0xf0000000);
    expect(hex(a.subarray(56, 88)), 'KEYID differs per blob').not.toBe(hex(b.subarray(56, 88)));
    expect(hex(a.subarray(88, 100)), 'IV differs per blob').not.toBe(hex(b.subarray(88, 100)));
  });

  it('unseals what it sealed, from empty to most of the edge buffer', () => {
    const data = [
      new Uint8Array(0),
      ...fc.sample(fc.uint8Array({ minLength: 1, maxLength: 3900 }), { seed: 3, numRuns: 4 }),
    ];
    const script = data.map((d) => `ecall 0 ${ix('seal')} ${h(d)} 4096`);
    const blobs = results(run(SEAL, script)).map((r) => r.out.subarray(0, Number(r.ret)));
    const opened = results(
      run(
        SEAL,
        blobs.map((b, i) => `ecall 1 ${ix('unseal')} ${h(b)} ${data[i]!.length}`),
      ),
    );
    opened.forEach((r, i) => {
      expect(r.ret, `length of case ${i}`).toBe(BigInt(data[i]!.length));
      expect(hex(r.out), `data of case ${i}`).toBe(hex(data[i]!));
    });
  });

  it('binds MRSIGNER blobs to the signer and MRENCLAVE blobs to the enclave', () => {
    const bySigner = sealBlob('00ff', 'seal');
    const byEnclave = sealBlob('00ff', 'seal_mrenclave');
    expect(byEnclave.readUInt16LE(10), 'KEYPOLICY MRENCLAVE').toBe(1);
    expect(unseal(bySigner, ['--mrenclave', 'another build']).ret, 'same signer, other enclave').toBe(2n);
    expect(signed(unseal(byEnclave, ['--mrenclave', 'another build']).ret), 'other enclave').toBe(SEAL_E_MAC);
    expect(signed(unseal(bySigner, ['--mrsigner', 'someone else']).ret), 'other signer').toBe(SEAL_E_MAC);
  });

  it('opens blobs from older SVNs but not from newer ones (EGETKEY refuses)', () => {
    const blob = sealBlob('aa', 'seal', ['--isvsvn', '3', '--cpusvn', '5']);
    expect(unseal(blob, ['--isvsvn', '4', '--cpusvn', '5']).ret, 'a later ISVSVN').toBe(1n);
    expect(signed(unseal(blob, ['--isvsvn', '2', '--cpusvn', '5']).ret), 'an earlier ISVSVN').toBe(SEAL_E_KEY - 64n);
    expect(signed(unseal(blob, ['--isvsvn', '3', '--cpusvn', '4']).ret), 'an earlier CPUSVN').toBe(SEAL_E_KEY - 32n);
  });

  it('refuses altered and malformed blobs and short output buffers', () => {
    const blob = sealBlob('0011223344');
    const flipped = Buffer.from(blob);
    flipped[130]! ^= 1;
    const bad = Buffer.from(blob);
    bad.writeUInt16LE(0x10, 10); // a KSS policy bit: EGETKEY would #GP, so the blob is refused first
    expect(signed(unseal(flipped).ret)).toBe(SEAL_E_MAC);
    expect(signed(unseal(bad).ret)).toBe(SEAL_E_INPUT);
    const short = results(run(SEAL, [`ecall 0 ${ix('unseal')} ${h(blob)} 4`]))[0]!;
    expect(signed(short.ret)).toBe(SEAL_E_SPACE);
  });

  it('makes a REPORT with EREPORT, and verifies one targeted at itself with its report key', () => {
    const self = results(run(SEAL, [`ecall 0 ${ix('report')} ${'00'.repeat(512)}${'ab'.repeat(64)} 432`]))[0]!.out;
    expect(self.subarray(320, 384).toString('hex'), 'REPORTDATA').toBe('ab'.repeat(64));
    expect(self.readUInt16LE(258), 'ISVSVN').toBe(1);
    expect(self.readBigUInt64LE(48), 'ATTRIBUTES: INIT | MODE64BIT').toBe(5n);
    expect(hex(self.subarray(64, 96)), 'MRENCLAVE (sgx-lite: SHA-256 of the file)').toBe(
      createHash('sha256').update(readFileSync(SEAL)).digest('hex'),
    );
    // TARGETINFO for this enclave: MEASUREMENT, ATTRIBUTES (flags, xfrm) and MISCSELECT from its own REPORT.
    const target = Buffer.alloc(512);
    self.copy(target, 0, 64, 96);
    self.copy(target, 32, 48, 64);
    self.copy(target, 52, 16, 20);
    const other = Buffer.from(target);
    other[0]! ^= 1;
    const out = results(
      run(SEAL, [
        `ecall 0 ${ix('report')} ${h(target)}0102 432`,
        `ecall 0 ${ix('report')} ${h(other)} 432`,
        `ecall 0 ${ix('report')} ${'00'.repeat(100)} 432`,
      ]),
    );
    const [mine, theirs, malformed] = out;
    expect(mine!.out.subarray(320, 322).toString('hex'), 'short REPORTDATA is zero padded').toBe('0102');
    expect(signed(malformed!.ret), 'TARGETINFO must be 512 bytes').toBe(SEAL_E_INPUT);
    const tampered = Buffer.from(mine!.out);
    tampered[258]! ^= 1;
    const verify = results(
      run(
        SEAL,
        [mine!.out, theirs!.out, tampered].map((r) => `ecall 1 ${ix('verify_report')} ${h(r)} 0`),
      ),
    );
    expect(verify.map((r) => signed(r.ret))).toEqual([0n, SEAL_E_MAC, SEAL_E_MAC]);
  });
});
