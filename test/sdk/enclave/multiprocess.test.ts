/**
 * The SDK's multi-process demonstration as a test: 64 host threads in 3 processes — the loader, a fork()ed child,
 * and a process that received the enclave and pool fds over SCM_RIGHTS — share 4 TCS of the compute enclave in a
 * small EPC. Every SHA-256 is checked against node:crypto; no EENTER ever hits a busy TCS (the vDSO never reports
 * #GP); timer ticks and the reclaimer's IPIs interrupt enclave code hundreds of times (AEX, then ERESUME through the
 * AEP); the trace hash is a function of the seed. Then the sealing enclave: seal/unseal round trips, and a REPORT
 * one enclave makes for another and that other verifies.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decode, encode, REPORT, TARGETINFO, toHex, Vector } from '../../../src/hw/index';
import { nodeBackend } from '../../../src/node/index';
import { ecallSpans, loadEnclave, runProcessGroup, summarizeTrace } from '../../../src/sdk/index';
import { COMPUTE, runHost, SEAL, text } from './fixture';

interface Run {
  readonly hash: string;
  readonly good: number;
  readonly bad: string[];
  readonly pids: readonly number[];
  readonly aexInterrupt: number;
  readonly gp: number;
  readonly reported: number;
  readonly waited: number;
  readonly uses: readonly number[];
  readonly encls: Readonly<Record<string, number>>;
  readonly ecallPids: ReadonlySet<number>;
}

/** `threads` threads over 3 processes, `calls` SHA-256 ecalls each, on 4 TCS with EPC pressure. */
async function demonstration(seed: string, threads: number, calls: number): Promise<Run> {
  let good = 0;
  const bad: string[] = [];
  let pids: readonly number[] = [];
  let waited = 0;
  let uses: readonly number[] = [];
  const p = await runHost(
    async (sys) => {
      const r = await runProcessGroup(sys, {
        procs: 3,
        threads,
        load: (s) => loadEnclave(s, COMPUTE, { tcs: 4, crypto: nodeBackend }),
        work: async (e, w) => {
          for (let i = 0; i < calls; i++) {
            const data = text(`worker ${w.worker} (process ${w.proc}) call ${i}|`.repeat(60));
            const { out } = await e.ecall('sha256', data, 32);
            if (toHex(out) === createHash('sha256').update(data).digest('hex')) good++;
            else bad.push(`worker ${w.worker} call ${i}`);
          }
        },
        onError: (err, w) => bad.push(`worker ${w.worker}: ${String(err)}`),
        after: async (e) => {
          const s = await e.pool();
          waited = s.waited;
          uses = s.uses;
        },
      });
      pids = r.pids;
      expect(r.failed, 'failed workers').toBe(0);
    },
    // A 40-page EPC (the enclave alone needs about 45) and a 10 kHz timer: paging and preemption inside enclaves.
    { seed, epcPages: 40, cpus: 4, costs: { tickCycles: 200_000, timesliceCycles: 400_000 } },
  );
  const events = p.k.trace.events;
  expect(events.length, 'the whole trace is kept').toBe(p.k.trace.count);
  const gp = events.filter((e) => e.ev === 'vdso_exception' && (e.data as { vector: number }).vector === Vector.GP);
  return {
    hash: p.k.trace.digest(),
    good,
    bad,
    pids,
    aexInterrupt: p.stats.aexInterrupt,
    gp: gp.length,
    reported: p.stats.reported,
    waited,
    uses,
    encls: summarizeTrace(events).encls,
    ecallPids: new Set(ecallSpans(events).map((s) => s.pid)),
  };
}

describe('64 threads in 3 processes on 4 TCS', () => {
  it('computes every SHA-256 right, never enters a busy TCS, and is preempted inside the enclave hundreds of times', async () => {
    const r = await demonstration('sdk-demo', 64, 3);
    expect(r.bad, 'wrong or failed ecalls').toEqual([]);
    expect(r.good, 'correct digests').toBe(192);
    expect(r.pids.length, 'processes').toBe(3);
    expect(r.ecallPids.size, 'ecalls ran in all three processes').toBe(3);
    expect(r.gp, 'vDSO reports of #GP (EENTER on a busy TCS)').toBe(0);
    expect(r.reported, 'exceptions reported by the vDSO at all').toBe(0);
    expect(r.aexInterrupt, 'AEXs by interrupts (timer ticks, reclaim IPIs)').toBeGreaterThanOrEqual(200);
    expect(r.waited, 'threads that slept for a TCS').toBeGreaterThan(0);
    expect(r.uses.length).toBe(4);
    expect(
      r.uses.every((u) => u > 0),
      `every TCS used: ${r.uses}`,
    ).toBe(true);
    expect(r.uses.reduce((a, b) => a + b, 0)).toBe(192);
    expect(r.encls.EWB ?? 0, 'EPC pages evicted').toBeGreaterThan(0);
    expect(r.encls.ELDU ?? 0, 'EPC pages reloaded').toBeGreaterThan(0);
  });

  it('gives the same trace hash for the same seed and another for another seed', async () => {
    const a = await demonstration('det-a', 12, 2);
    const b = await demonstration('det-a', 12, 2);
    const c = await demonstration('det-b', 12, 2);
    expect(a.good + b.good + c.good).toBe(72);
    expect(b.hash, 'same seed').toBe(a.hash);
    expect(c.hash, 'another seed').not.toBe(a.hash);
  });
});

describe('the sealing enclave through the SDK', () => {
  it('seals and unseals, across two enclaves of the same signer, and verifies a REPORT made for it by another', async () => {
    await runHost(async (sys) => {
      // Two different enclaves (different TCS counts, so different MRENCLAVEs) by the same signer.
      const a = await loadEnclave(sys, SEAL, { crypto: nodeBackend });
      const b = await loadEnclave(sys, SEAL, { tcs: 3, crypto: nodeBackend });
      expect(toHex(a.mrEnclave)).not.toBe(toHex(b.mrEnclave));
      expect(toHex(a.mrSigner)).toBe(toHex(b.mrSigner));

      const secret = text('the launch codes');
      const blob = await a.ecall('seal', secret, 128 + secret.length);
      expect(blob.ret).toBe(BigInt(128 + secret.length));
      const back = await a.ecall('unseal', blob.out, secret.length);
      expect(new TextDecoder().decode(back.out), 'unsealed by the sealer').toBe('the launch codes');
      const other = await b.ecall('unseal', blob.out, secret.length);
      expect(new TextDecoder().decode(other.out), 'MRSIGNER policy: unsealed by another enclave').toBe(
        'the launch codes',
      );
      const bound = await a.ecall('seal_mrenclave', secret, 128 + secret.length);
      const refused = await b.ecall('unseal', bound.out, secret.length);
      expect(refused.ret < 0n, `MRENCLAVE policy: another enclave cannot unseal (got ${refused.ret})`).toBe(true);

      // a makes a REPORT targeted at b (TARGETINFO from b's identity); b verifies its MAC with its report key.
      const target = encode(TARGETINFO, {
        measurement: b.mrEnclave,
        attributes: 0x5n, // INIT | MODE64BIT, as b's SECS after EINIT
        xfrm: 3n,
        miscSelect: 1, // EXINFO, the SDK's default
      });
      const reportData = text('nonce 1234'.padEnd(64, '.'));
      const rep = await a.ecall('report', new Uint8Array([...target, ...reportData]), 432);
      expect(rep.ret).toBe(432n);
      const report = decode(REPORT, rep.out);
      expect(toHex(report.mrEnclave), 'the REPORT names its maker').toBe(toHex(a.mrEnclave));
      expect(toHex(report.reportData)).toBe(toHex(reportData));
      expect((await b.ecall('verify_report', rep.out)).ret, 'b verifies the MAC').toBe(0n);
      const tampered = rep.out.slice();
      tampered[64] ^= 1;
      expect((await b.ecall('verify_report', tampered)).ret, 'a changed REPORT fails').toBe(-3n);
      expect((await a.ecall('verify_report', rep.out)).ret, 'a REPORT for b does not verify in a').toBe(-3n);
    });
  });
});
