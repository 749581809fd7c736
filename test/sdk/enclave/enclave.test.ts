/**
 * The SDK's Enclave on the whole platform (driver, vDSO, processors): ecalls by name against node:crypto, zlib and
 * a JS sort; ocalls served by TypeScript handlers; the exception flow (EENTER(EXCEPTION), ERESUME) for every fault
 * kind compute raises; aborts and the dead enclave; refused calls as typed errors; signing options; and the pool
 * left clean after every kind of ending.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { sgxStats } from '../../../src/driver/index';
import { AttrFlags, toHex, Vector } from '../../../src/hw/index';
import { nodeBackend, readSigningKey } from '../../../src/node/index';
import {
  EcallError,
  type Enclave,
  EnclaveAbortedError,
  EnclaveLoadError,
  loadEnclave,
  measureEnclave,
  planEnclave,
  signSigstruct,
} from '../../../src/sdk/index';
import { COMPUTE, ROOT, runHost, str, text } from './fixture';

const u32s = (...v: number[]) => new Uint8Array(Uint32Array.from(v).buffer);
const FIXED_RAX = 0x5eed5eed5eed5eedn;
const load = (sys: Parameters<typeof loadEnclave>[0], o: Parameters<typeof loadEnclave>[2] = {}) =>
  loadEnclave(sys, COMPUTE, { crypto: nodeBackend, ...o });

async function caught(p: Promise<unknown>): Promise<{ name: string; code: string; data: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof EcallError || e instanceof EnclaveAbortedError || e instanceof EnclaveLoadError)
      return JSON.parse(JSON.stringify(e));
    throw e;
  }
  throw new Error('expected the call to fail');
}

async function poolIsFree(e: Enclave): Promise<void> {
  const s = await e.pool();
  expect(
    s.owners.every((o) => o === 0),
    `every TCS free, got owners ${s.owners}`,
  ).toBe(true);
  expect(s.outstanding, 'no ticket outstanding').toBe(0);
}

describe('Enclave ecalls', () => {
  it('finds ecalls by name and returns what node:crypto, zlib and a sort compute', async () => {
    const seen: string[] = [];
    await runHost(async (sys) => {
      const e = await load(sys, { tcs: 3 });
      expect(e.ecallNames).toEqual([
        'sha256',
        'crc32',
        'sort',
        'fault',
        'hello',
        'echo',
        'ocall_rounds',
        'abort',
        'nop',
      ]);
      expect(e.tcsCount).toBe(3);
      for (const n of [0, 1, 64, 1000, 4000]) {
        const data = Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff);
        const h = await e.ecall('sha256', data, 32);
        expect(h.ret, 'sha256 returns the digest length').toBe(32n);
        expect(toHex(h.out), `sha256 of ${n} bytes`).toBe(createHash('sha256').update(data).digest('hex'));
        const c = await e.ecall('crc32', data, 4);
        expect(Number(BigInt.asUintN(32, c.ret)), `crc32 of ${n} bytes`).toBe(crc32(data));
      }
      const values = Array.from({ length: 300 }, (_, i) => (i * 2654435761) >>> 0);
      const s = await e.ecall('sort', u32s(...values), 1200);
      expect(s.ret).toBe(300n);
      expect(Array.from(new Uint32Array(s.out.slice().buffer)), 'sorted').toEqual([...values].sort((a, b) => a - b));
      expect((await e.ecall('nop')).ret).toBe(0n);
      seen.push('done');
      await poolIsFree(e);
    });
    expect(seen).toEqual(['done']);
  });

  it('refuses an unknown ecall name before taking a TCS, listing the known ones', async () => {
    await runHost(async (sys) => {
      const e = await load(sys);
      const err = await caught(e.ecall('sha512', text('x'), 64));
      expect(err).toMatchObject({
        name: 'EcallError',
        code: 'ECALL',
        data: { kind: 'unknown-ecall', ecall: 'sha512' },
      });
      expect((await e.pool()).acquired, 'no TCS was taken').toBe(0);
    });
  });

  it('reports the runtime refusing a call too large for the edge buffer (TOO_LARGE), and frees the TCS', async () => {
    await runHost(async (sys) => {
      const e = await load(sys);
      const err = await caught(e.ecall('sha256', new Uint8Array(9000), 32));
      expect(err.data).toMatchObject({ kind: 'status', statusName: 'TOO_LARGE', status: 10 });
      const err2 = await caught(e.ecall('sha256', new Uint8Array(8000), 512));
      expect(err2.data).toMatchObject({ kind: 'status', statusName: 'TOO_LARGE' });
      await poolIsFree(e);
      expect((await e.ecall('sha256', text('still fine'), 32)).ret).toBe(32n);
    });
  });
});

describe('Enclave ocalls', () => {
  it('serves ocalls with registered handlers: input, output and return value both ways', async () => {
    const printed: string[] = [];
    await runHost(async (sys) => {
      const e = await load(sys);
      e.onOcall('print', ({ input, ecall, name }) => {
        printed.push(`${ecall}→${name}: ${str(input)}`);
        return { ret: 42 };
      });
      e.onOcall('echo', ({ input, outLen }) => ({
        ret: input.length,
        out: input.slice().reverse().subarray(0, outLen),
      }));
      const h = await e.ecall('hello');
      expect(h.ret, 'hello returns what print returned').toBe(42n);
      expect(h.ocalls).toBe(1);
      const r = await e.ecall('echo', text('abcdef'), 6);
      expect(str(r.out)).toBe('fedcba');
      expect(r.ret).toBe(6n);
      // ocall_rounds: each round echoes i; our handler reverses bytes, so only palindromic words come back equal.
      e.onOcall('echo', ({ input }) => ({ ret: 0, out: input }));
      const rounds = await e.ecall('ocall_rounds', u32s(200));
      expect(rounds.ret, 'every round came back unchanged').toBe(200n);
      expect(rounds.ocalls).toBe(200);
      expect(e.counters.ocalls).toBe(202);
    });
    expect(printed).toEqual(['hello→print: hello from the compute enclave']);
  });

  it('answers an ocall without a handler with -ENOSYS, finishes the ecall, then reports it', async () => {
    await runHost(async (sys) => {
      const e = await load(sys);
      const err = await caught(e.ecall('hello'));
      expect(err.data).toEqual({ kind: 'no-ocall-handler', ecall: 'hello', ocall: 'print', index: 0 });
      await poolIsFree(e);
      e.onOcall('echo', () => {
        throw new Error('handler bug');
      });
      const err2 = await caught(e.ecall('echo', text('x'), 1));
      expect(err2.data).toEqual({ kind: 'ocall-threw', ecall: 'echo', ocall: 'echo', message: 'handler bug' });
      e.onOcall('print', () => ({ ret: -38 }));
      expect((await e.ecall('hello')).ret, 'the enclave is alive').toBe(-38n);
    });
  });
});

describe('Enclave exceptions and aborts', () => {
  it.each([
    ['#UD', 0, Vector.UD],
    ['#DE', 1, Vector.DE],
    ['#PF on the TCS (EPCM)', 2, Vector.PF],
    ['#PF writing code', 3, Vector.PF],
    ['#GP', 4, Vector.GP],
  ])(
    'runs the exception flow for %s transparently: the enclave handler fixes it and the ecall returns',
    async (_n, kind, vector) => {
      await runHost(async (sys, p) => {
        const e = await load(sys);
        const r = await e.ecall('fault', u32s(kind, 1 /* FAULT_MODE_CONTINUE */), 48);
        expect(r.ret, 'fault returns its report size').toBe(48n);
        expect(r.exceptions, 'one exception reported by the vDSO').toBe(1);
        const dv = new DataView(r.out.buffer, r.out.byteOffset);
        expect(dv.getUint32(0, true), 'the vector the enclave handler saw').toBe(vector);
        expect(dv.getBigUint64(32, true), 'RAX set by the handler, back through ERESUME').toBe(FIXED_RAX);
        expect(e.counters.exceptions).toEqual({ [vector]: 1 });
        expect(p.stats.reported).toBe(1);
        await poolIsFree(e);
      });
    },
  );

  it('turns an unhandled exception into EnclaveAbortedError, and every later ecall into `dead`', async () => {
    await runHost(async (sys) => {
      const e = await load(sys, { tcs: 2 });
      const err = await caught(e.ecall('fault', u32s(0, 0 /* no handler */), 48));
      expect(err).toMatchObject({
        code: 'ENCLAVE_ABORTED',
        data: { kind: 'exception', ecall: 'fault', vector: Vector.UD },
      });
      const dead = await caught(e.ecall('nop'));
      expect(dead.data).toEqual({ kind: 'dead', ecall: 'nop' });
      await poolIsFree(e);
    });
  });

  it('reports a panic with its code', async () => {
    await runHost(async (sys) => {
      const e = await load(sys);
      const code = new Uint8Array(8);
      new DataView(code.buffer).setBigUint64(0, 0xc0ffeen, true);
      const err = await caught(e.ecall('abort', code));
      expect(err.data).toMatchObject({ kind: 'panic', code: '0xc0ffee' });
      expect((err as unknown as { message: string }).message).toContain('panicked with code 0xc0ffee');
    });
  });
});

describe('loading options', () => {
  it('accepts a ready SIGSTRUCT for the enclave and refuses one for another enclave', async () => {
    await runHost(async (sys) => {
      const key = readSigningKey(`${ROOT}/test/fixtures/selftest-sign_key.pem`);
      const plan = planEnclave(COMPUTE, { tcs: 3 });
      const sig = signSigstruct(nodeBackend, key, {
        enclaveHash: measureEnclave(nodeBackend, plan.layout),
        miscSelect: 1,
      });
      const e = await load(sys, { tcs: 3, sigstruct: sig });
      expect(toHex(e.mrSigner)).toBe(toHex(nodeBackend.sha256(sig.subarray(128, 512))));
      expect((await e.ecall('nop')).ret).toBe(0n);
      const err = await caught(load(sys, { tcs: 2, sigstruct: sig }));
      expect(err.data).toMatchObject({ kind: 'sigstruct-mismatch' });
    });
  });

  it('signs with a key provider, sets DEBUG when asked, and names a failing ioctl step', async () => {
    await runHost(async (sys, p) => {
      let asked = 0;
      const key = readSigningKey(`${ROOT}/enclaves/keys/demo-key.pem`);
      const e = await load(sys, {
        debug: true,
        key: () => {
          asked++;
          return key;
        },
      });
      expect(asked).toBe(1);
      expect(sgxStats(p.sgx).enclaves[0]!.flags).toContain('DEBUG');
      expect((await e.ecall('nop')).ret).toBe(0n);
      // A MISCSELECT bit the CPU does not support (bit 5): ECREATE refuses the SECS, so ENCLAVE_CREATE is the failing
      // step. (PROVISIONKEY without ENCLAVE_PROVISION is test/conformance/provision-key.test.ts.)
      const err = await caught(load(sys, { miscSelect: 1 << 5 }));
      expect(err.data).toMatchObject({ kind: 'syscall', step: 'SGX_IOC_ENCLAVE_CREATE' });
      expect(AttrFlags.DEBUG).toBe(2n);
    });
  });

  it('keeps a handle to its process: another process must use forked() or attachEnclave()', async () => {
    await runHost(async (sys) => {
      const e = await load(sys);
      const pid = await sys.fork(async (c) => {
        const err = await caught(Promise.resolve().then(() => e.on(c)));
        expect(err.data).toMatchObject({ kind: 'wrong-process' });
        expect((await e.forked(c).ecall('nop')).ret).toBe(0n);
        return 0;
      });
      const err = await caught(Promise.resolve().then(() => e.forked(sys)));
      expect(err.data).toMatchObject({ kind: 'wrong-process' });
      await sys.wait4(pid, 0, 0);
    });
  });

  it('close() unmaps everything; when the last process exits the enclave is released (no EPC leak)', async () => {
    const p = await runHost(async (sys, plat) => {
      const e = await load(sys, { tcs: 4 });
      await e.ecall('nop');
      expect(sgxStats(plat.sgx).usedPages).toBeGreaterThan(0);
      await e.close();
    });
    expect(sgxStats(p.sgx).usedPages, 'EPC pages used after exit').toBe(0);
    expect(sgxStats(p.sgx).enclaves).toEqual([]);
  });
});
