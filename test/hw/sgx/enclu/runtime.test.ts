// The trusted runtime (enclaves/runtime/README.md) running on a LogicalProcessor: compute's ecalls against node:crypto,
// ocalls, the exception flow (AEX → EENTER(EXCEPTION) at CSSA 1 → handler → EEXIT → ERESUME), nested SSA frames,
// timer interrupts at random instruction counts (fast-check) against an uninterrupted run, and the seal enclave's
// EREPORT/EGETKEY(REPORT) verification and sealing.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decode,
  deriveKey,
  EncluLeaf,
  encode,
  getField,
  type LogicalProcessor,
  REPORT,
  reportKeyDependencies,
  saveCpu,
  TARGETINFO,
  toHex,
  Vector,
} from '../../../../src/hw/index';
import { AbortReason, EnclStatus, findSymbol, parseElf64 } from '../../../../src/sdk/index';
import {
  atStub,
  COMPUTE_ELF,
  type Enclave,
  loadEnclave,
  makePlatform,
  type Platform,
  R,
  SEAL_ELF,
  STUB,
  TCS,
  tcsPage,
} from './fixture';
import { nodeCmac } from './node-cmac';
import { ecall, ecallIndex } from './runtime-host';

const ix = ecallIndex(COMPUTE_ELF);
const sealIx = ecallIndex(SEAL_ELF);
const FIXED_RAX = 0x5eed5eed5eed5eedn;
const sym = (elf: Uint8Array, name: string) => findSymbol(parseElf64(elf), name)!.value;

function computeWorld(seed?: string): { p: Platform; e: Enclave; lp: LogicalProcessor } {
  const p = makePlatform({ cpus: 2, ...(seed && { seed }) });
  return { p, e: loadEnclave(p, COMPUTE_ELF), lp: p.lps[0]! };
}

const u32s = (...v: number[]) => new Uint8Array(Uint32Array.from(v).buffer);

/** compute's struct fault_report (compute.h). */
function faultReport(out: Uint8Array) {
  const dv = new DataView(out.buffer, out.byteOffset);
  return {
    vector: dv.getUint32(0, true),
    exitType: dv.getUint32(4, true),
    exinfoValid: dv.getUint32(8, true),
    errcd: dv.getUint32(12, true),
    maddr: dv.getBigUint64(16, true),
    rip: dv.getBigUint64(24, true),
    rax: dv.getBigUint64(32, true),
    handled: dv.getBigUint64(40, true),
  };
}

describe('the compute enclave', () => {
  it('hashes buffers with SHA-256 as node:crypto does, through either TCS', () => {
    const { p, e, lp } = computeWorld();
    for (const [i, n] of [0, 1, 55, 64, 300, 4000].entries()) {
      const data = Uint8Array.from({ length: n }, (_, k) => (k * 131 + n) & 0xff);
      const r = ecall(p, lp, e, i % 2, ix('sha256'), data, 32);
      expect(r.status, `status for ${n} bytes`).toBe(EnclStatus.OK);
      expect(r.ret, 'the digest length').toBe(32n);
      expect(toHex(r.out), `sha256 of ${n} bytes`).toBe(createHash('sha256').update(data).digest('hex'));
    }
  });

  it('makes an ocall round trip: the host sees the input, the enclave gets the output and the return value', () => {
    const { p, e, lp } = computeWorld();
    const seen: Array<[number, string]> = [];
    const r = ecall(p, lp, e, 0, ix('echo'), Uint8Array.of(1, 2, 3, 4), 4, {
      onOcall: (index, input) => {
        seen.push([index, toHex(input)]);
        return { ret: 77n, out: input.map((b) => b * 10) };
      },
    });
    expect(seen, 'ocall 1 (echo) with the ecall’s input').toEqual([[1, '01020304']]);
    expect(r.exits, 'EEXIT with OCALL, then OK').toEqual([EnclStatus.OCALL, EnclStatus.OK]);
    expect([r.status, r.ret, toHex(r.out)]).toEqual([EnclStatus.OK, 77n, '0a141e28']);
    const hello = ecall(p, lp, e, 1, ix('hello'), new Uint8Array(0), 0, {
      onOcall: (index, input) => ({ ret: BigInt(index * 100 + input.length) }),
    });
    expect(hello.ret, 'ocall 0 (print) of the 30-byte greeting').toBe(30n);
    const rounds = ecall(p, lp, e, 0, ix('ocall_rounds'), u32s(5), 0, {
      onOcall: (_i, input) => ({ ret: 0n, out: input }),
    });
    expect(rounds.ret, 'five echo ocalls came back unchanged').toBe(5n);
  });

  it.each([
    ['#UD (ud2)', 0, { vector: Vector.UD, exinfoValid: 0, errcd: 0, maddr: 0n, site: 'fault_ud_insn' }],
    ['#DE (div by zero)', 1, { vector: Vector.DE, exinfoValid: 0, errcd: 0, maddr: 0n, site: 'fault_de_insn' }],
    [
      '#PF reading the TCS (EPCM: SGX bit)',
      2,
      { vector: Vector.PF, exinfoValid: 1, errcd: 0x8005, maddr: 0n, site: 'fault_read_insn' },
    ],
    [
      '#PF writing the code page (PTE read-only)',
      3,
      { vector: Vector.PF, exinfoValid: 1, errcd: 7, maddr: -1n, site: 'fault_write_insn' },
    ],
    [
      '#GP (non-canonical load)',
      4,
      { vector: Vector.GP, exinfoValid: 1, errcd: 0, maddr: 0n, site: 'fault_read_insn' },
    ],
  ])(
    'handles %s: AEX, EXCEPTION entry at CSSA 1, the handler skips it, ERESUME, the ecall returns',
    (_n, kind, want) => {
      const { p, e, lp } = computeWorld();
      const r = ecall(p, lp, e, 0, ix('fault'), u32s(kind, 1), 48);
      expect(
        r.exceptions.map((f) => f.vector),
        'one exception reported to the host',
      ).toEqual([want.vector]);
      expect(r.exits, 'EXCEPTION_HANDLED, then OK').toEqual([EnclStatus.EXCEPTION_HANDLED, EnclStatus.OK]);
      expect(r.status).toBe(EnclStatus.OK);
      const f = faultReport(r.out);
      expect(f.vector, 'EXITINFO.VECTOR seen by the handler').toBe(want.vector);
      expect(f.exitType, 'EXIT_TYPE: hardware').toBe(3);
      expect(f.exinfoValid, 'EXINFO reported (MISCSELECT.EXINFO, #PF/#GP only)').toBe(want.exinfoValid);
      expect(f.errcd, 'EXINFO.ERRCD').toBe(want.errcd);
      if (want.maddr >= 0n) expect(f.maddr, 'EXINFO.MADDR (an enclave offset)').toBe(want.maddr);
      else expect(f.maddr, 'EXINFO.MADDR = the code page').toBe(BigInt(sym(COMPUTE_ELF, 'fault_ud')));
      expect(f.rip, 'GPRSGX.RIP = the faulting instruction').toBe(BigInt(sym(COMPUTE_ELF, want.site)));
      expect(f.rax, 'the handler’s RAX came back through ERESUME').toBe(FIXED_RAX);
      expect(f.handled, 'one handler call').toBe(1n);
      expect(getField(TCS, tcsPage(p, e, 0), 0, 'cssa'), 'CSSA back to 0').toBe(0);
      if (want.vector === Vector.PF) {
        const cr2 = r.exceptions[0]!.addr;
        expect(cr2 % 4096, 'the host sees CR2 with bits 11:0 cleared').toBe(0);
      }
    },
  );

  it('aborts the ecall when no handler takes the exception, with the EXITINFO in the reason', () => {
    const { p, e, lp } = computeWorld();
    const r = ecall(p, lp, e, 0, ix('fault'), u32s(0, 0), 48);
    expect(r.exits).toEqual([EnclStatus.EXCEPTION_ABORTED, EnclStatus.ABORT]);
    expect(r.ret, 'abort reason = 1 << 63 | EXITINFO (VALID, type 3, #UD)').toBe(AbortReason.EXCEPTION | 0x8000_0306n);
  });

  it('fills the SSA stack: an interrupt inside the exception handler makes CSSA = NSSA, so EENTER is #GP(0) until ERESUME', () => {
    const { p, e, lp } = computeWorld();
    let nested = false;
    const r = ecall(p, lp, e, 0, ix('fault'), u32s(0, 1), 48, {
      step: 25,
      onBudget: () => {
        if (nested || !lp.inEnclave || lp.cpu.enclave!.cssa !== 1) return;
        nested = true;
        expect(lp.interrupt('timer').aex, 'AEX out of the handler').toBe(true);
        expect(getField(TCS, tcsPage(p, e, 0), 0, 'cssa'), 'CSSA = NSSA = 2').toBe(2);
        const saved = lp.save();
        atStub(lp, EncluLeaf.EENTER, e.tcs[0]!, { [R.RDI]: 3n });
        expect(lp.run(10).stop, 'no free SSA frame').toEqual({
          kind: 'exception',
          fault: { kind: 'fault', vector: Vector.GP, errorCode: 0, addr: 0 },
          trap: false,
          aex: false,
        });
        lp.restore(saved); // back at the AEP: the host ERESUMEs the handler
        expect(lp.cpu.rip).toBe(STUB);
      },
    });
    expect(nested, 'the handler was interrupted').toBe(true);
    expect(r.status, 'the ecall still completes').toBe(EnclStatus.OK);
    expect(faultReport(r.out).rax).toBe(FIXED_RAX);
  });

  it('gives the same result and final registers whether or not timer interrupts AEX it (random instruction counts)', () => {
    const data = Uint8Array.from({ length: 200 }, (_, k) => k ^ 0x5a);
    const reference = (() => {
      const { p, e, lp } = computeWorld('interrupts');
      const r = ecall(p, lp, e, 0, ix('sha256'), data, 32);
      return { r, cpu: registers(lp) };
    })();
    expect(toHex(reference.r.out)).toBe(createHash('sha256').update(data).digest('hex'));
    let aexes = 0;
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: reference.r.executed }), { minLength: 1, maxLength: 3 }),
        (points) => {
          const { p, e, lp } = computeWorld('interrupts');
          const r = ecall(p, lp, e, 0, ix('sha256'), data, 32, { interruptAt: points });
          expect(toHex(r.out), 'the digest').toBe(toHex(reference.r.out));
          expect([r.status, r.ret]).toEqual([reference.r.status, reference.r.ret]);
          expect(registers(lp), 'the registers after the final EEXIT').toEqual(reference.cpu);
          expect(r.executed, 'one ERESUME more per AEX').toBe(reference.r.executed + r.aexInterrupts);
          aexes += r.aexInterrupts;
        },
      ),
      { numRuns: 12, seed: 0x5eed },
    );
    expect(aexes, 'the interrupts landed inside the enclave').toBeGreaterThan(12);
  });
});

/** The architectural registers that must not depend on interrupts (not icount). */
function registers(lp: LogicalProcessor) {
  const s = saveCpu(lp.cpu);
  return { gpr: s.gpr, rip: s.rip, rflags: s.rflags, xmm: s.xmm, mxcsr: s.mxcsr, fs: s.fsBase, x87: s.x87 };
}

describe('the seal enclave: EREPORT and EGETKEY(REPORT) end to end', () => {
  function sealWorld() {
    const p = makePlatform();
    const e = loadEnclave(p, SEAL_ELF);
    const compute = loadEnclave(p, COMPUTE_ELF);
    return { p, e, compute, lp: p.lps[0]! };
  }
  const targetInfo = (t: Enclave) =>
    encode(TARGETINFO, { measurement: t.mrEnclave, attributes: t.attributes, xfrm: 3n, miscSelect: t.miscSelect });

  it('verifies inside the enclave a REPORT targeted at it, and refuses a tampered one', () => {
    const { p, e, lp } = sealWorld();
    const reportData = Uint8Array.from({ length: 64 }, (_, i) => 255 - i);
    const rep = ecall(p, lp, e, 0, sealIx('report'), new Uint8Array([...targetInfo(e), ...reportData]), 432);
    expect([rep.status, rep.ret], 'report ecall').toEqual([EnclStatus.OK, 432n]);
    const report = decode(REPORT, rep.out);
    expect(toHex(report.mrEnclave), 'the enclave’s own MRENCLAVE').toBe(toHex(e.mrEnclave));
    expect(toHex(report.reportData)).toBe(toHex(reportData));
    const ok = ecall(p, lp, e, 1, sealIx('verify_report'), rep.out, 0);
    expect([ok.status, ok.ret], 'verify_report: the CMAC verifies').toEqual([EnclStatus.OK, 0n]);
    const tampered = Uint8Array.from(rep.out);
    tampered[320]! ^= 1;
    const bad = ecall(p, lp, e, 1, sealIx('verify_report'), tampered, 0);
    expect(BigInt.asIntN(64, bad.ret), 'a flipped REPORTDATA bit: SEAL_E_MAC').toBe(-3n);

    // The MAC is AES-CMAC (node:crypto) under keys.ts's report key for that target and the REPORT's KEYID.
    const key = deriveKey(
      p.m.crypto,
      p.m.secrets.rootProvisioningKey,
      reportKeyDependencies(
        {
          attributes: e.attributes,
          xfrm: 3n,
          mrEnclave: e.mrEnclave,
          miscSelect: e.miscSelect,
          configId: new Uint8Array(64),
          configSvn: 0,
        },
        report.keyId,
        p.m.keyPlatformInputs(),
      ),
    );
    expect(toHex(report.mac), 'MAC').toBe(toHex(nodeCmac(key, rep.out.subarray(0, 384))));
  });

  it('does not verify a REPORT targeted at another enclave', () => {
    const { p, e, compute, lp } = sealWorld();
    const rep = ecall(p, lp, e, 0, sealIx('report'), targetInfo(compute), 432);
    const r = ecall(p, lp, e, 0, sealIx('verify_report'), rep.out, 0);
    expect(BigInt.asIntN(64, r.ret), 'another target’s report key: SEAL_E_MAC').toBe(-3n);
  });

  it('seals and unseals with EGETKEY(SEAL) under both policies', () => {
    const { p, e, lp } = sealWorld();
    const secret = new TextEncoder().encode('the secret the enclave keeps');
    for (const name of ['seal', 'seal_mrenclave']) {
      const blob = ecall(p, lp, e, 0, sealIx(name), secret, 512);
      expect(blob.status, `${name} status`).toBe(EnclStatus.OK);
      const n = Number(blob.ret);
      expect(n, 'a 128-byte header and the ciphertext').toBe(128 + secret.length);
      const back = ecall(p, lp, e, 1, sealIx('unseal'), blob.out.subarray(0, n), 64);
      expect(Number(back.ret), `${name}: unsealed length`).toBe(secret.length);
      expect(new TextDecoder().decode(back.out.subarray(0, secret.length))).toBe('the secret the enclave keeps');
    }
  });
});
