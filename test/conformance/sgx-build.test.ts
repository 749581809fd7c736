/**
 * The kernel selftests' build (tools/testing/selftests/sgx/load.c encl_build(), main.c setup_test_encl()) run
 * against the modelled driver, for each prebuilt enclave: open and probe-mmap the device, reserve address space
 * aligned to the enclave size with PROT_NONE, ENCLAVE_CREATE, one ENCLAVE_ADD_PAGES per segment, ENCLAVE_INIT,
 * then mmap each segment MAP_SHARED|MAP_FIXED. The SECS the hardware finalized must carry the MRENCLAVE the SDK
 * computes offline and the signer's MRSIGNER; every page sits at its ELRANGE address with its SECINFO type and
 * permissions; a heap as large as the whole EPC ("oversubscribed") still builds.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type SgxEncl, sgxCheckInvariants } from '../../src/driver/index';
import { decode, getField, PAGE_SIZE, SECS, toHex } from '../../src/hw/index';
import { Libc, MAP_SHARED, O_RDWR, PROT_EXEC, PROT_READ } from '../../src/kernel/index';
import { nodeBackend, readSigningKey } from '../../src/node/index';
import {
  buildEnclaveLayout,
  buildEnclaveWithDriver,
  measureEnclave,
  mrSignerOfKey,
  signSigstruct,
} from '../../src/sdk/index';
import { makeSgxSystem, ROOT } from '../driver/fixtures/sgx-system';

const KEY = readSigningKey(join(ROOT, 'test/fixtures/selftest-sign_key.pem'));

describe.each(['sample', 'seal', 'compute'])('the selftests’ build of %s.elf', (name) => {
  it('initializes, measures as the SDK computes, and maps every segment', async () => {
    const elf = new Uint8Array(readFileSync(join(ROOT, `enclaves/prebuilt/${name}.elf`)));
    const layout = buildEnclaveLayout(elf);
    const mrenclave = measureEnclave(nodeBackend, layout);
    const sigstruct = signSigstruct(nodeBackend, KEY, { enclaveHash: mrenclave });
    const s = makeSgxSystem({ epcPages: 512 });
    const out: string[] = [];
    s.k.spawn(async (sys) => {
      const libc = new Libc(sys);
      // The probe load.c does before anything else: a fresh fd maps read-only and executable.
      const probe = await libc.open('/dev/sgx_enclave', O_RDWR);
      for (const prot of [PROT_READ, PROT_EXEC]) {
        const a = await sys.mmap(0, PAGE_SIZE, prot, MAP_SHARED, probe, 0);
        out.push(`probe ${a > 0 ? 'ok' : a}`);
        await sys.munmap(a, PAGE_SIZE);
      }
      await sys.close(probe);
      const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct });
      const encl = sys.task.files!.get(e.fd)!.privateData as SgxEncl;
      await sys.kcall('inspect', () => {
        const secs = s.m.epcPage(encl.secs.epcPage!.index);
        out.push(`MRENCLAVE ${toHex(getField(SECS, secs, 0, 'mrEnclave')) === toHex(mrenclave)}`);
        out.push(`MRSIGNER ${toHex(getField(SECS, secs, 0, 'mrSigner')) === toHex(mrSignerOfKey(nodeBackend, KEY.n))}`);
        out.push(`base ${decode(SECS, secs).baseAddr === BigInt(e.base)}`);
        let good = 0;
        for (const p of layout.pages) {
          const ep = encl.pageArray.get((e.base + p.offset) / PAGE_SIZE);
          const m = ep?.epcPage ? s.m.epcm.get(ep.epcPage.index) : undefined;
          const perms = Number(p.secinfoFlags & 7n);
          if (
            m &&
            m.pt === p.pageType &&
            m.enclaveAddress === BigInt(e.base + p.offset) &&
            (m.pt !== 2 || (Number(m.r) | (Number(m.w) << 1) | (Number(m.x) << 2)) === perms)
          )
            good++;
        }
        out.push(`pages ${good}/${layout.pages.length}`);
        const vmas = sys.task.mm!.vmas.all().filter((v) => v.ops === s.sgx.vmOps);
        out.push(
          `segments mapped ${vmas.reduce((n, v) => n + (v.end - v.start), 0) === layout.segments.reduce((n, g) => n + g.size, 0)}`,
        );
        out.push(`invariants ${sgxCheckInvariants(s.sgx).join('; ') || 'ok'}`);
        return 0;
      });
      return 0;
    });
    await s.k.run({ maxSteps: 200_000 });
    expect(out).toEqual([
      'probe ok',
      'probe ok',
      'MRENCLAVE true',
      'MRSIGNER true',
      'base true',
      `pages ${layout.pages.length}/${layout.pages.length}`,
      'segments mapped true',
      'invariants ok',
    ]);
    expect(s.sgx.nrFreePages, 'everything freed at exit').toBe(512);
  });
});

describe('the selftests’ oversubscribed build', () => {
  it('builds and initializes an enclave whose heap is the whole EPC (reclaim during ADD_PAGES)', async () => {
    const epcPages = 128;
    const elf = new Uint8Array(readFileSync(join(ROOT, 'enclaves/prebuilt/sample.elf')));
    const layout = buildEnclaveLayout(elf, { heapSize: epcPages * PAGE_SIZE });
    const sigstruct = signSigstruct(nodeBackend, KEY, { enclaveHash: measureEnclave(nodeBackend, layout) });
    const s = makeSgxSystem({ epcPages });
    const out: string[] = [];
    s.k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct });
      const encl = sys.task.files!.get(e.fd)!.privateData as SgxEncl;
      out.push(`initialized ${encl.pageArray.size} pages`);
      out.push(`invariants ${sgxCheckInvariants(s.sgx).join('; ') || 'ok'}`);
      return 0;
    });
    await s.k.run({ maxSteps: 500_000 });
    expect(out).toEqual([`initialized ${layout.pages.length} pages`, 'invariants ok']);
    expect(layout.pages.length).toBeGreaterThan(epcPages);
    expect(s.sgx.stats.evicted, 'pages were written out to make room').toBeGreaterThan(0);
  });
});
