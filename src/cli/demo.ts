/**
 * `sgxsim demo` (what `npm start` runs): the sample enclave built through the modelled Linux SGX driver and
 * shared by three processes, one of its pages evicted and faulted back in each of them, then paging under
 * pressure. Every step is a host program calling the real syscalls and ioctls of the simulated kernel.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { formatSgxPs, sgxReclaimPages, sgxStats } from '../driver/index';
import { computeMrSigner, getField, PAGE_SIZE, SECS, toHex } from '../hw/index';
import type { Kernel, Mm } from '../kernel/index';
import { nodeBackend, readSigningKey } from '../node/index';
import { buildEnclaveLayout, measureEnclave, signSigstruct } from '../sdk/index';
import { bootPlatform } from '../vdso/index';
import type { CliIo } from './io';
import { runPagingScenario } from './paging-scenario';
import { ROOT } from './root';
import { runShareScenario } from './share-scenario';

/** The sample enclave: a fresh gcc build when gcc works, else the committed prebuilt copy. */
function sampleEnclave(io: CliIo): { bytes: Uint8Array; origin: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sgxsim-demo-'));
  try {
    execFileSync(process.execPath, [join(ROOT, 'enclaves/build.mjs'), '--out', dir], { stdio: 'ignore' });
    return {
      bytes: new Uint8Array(readFileSync(join(dir, 'sample.elf'))),
      origin: 'built with gcc from enclaves/sample',
    };
  } catch {
    io.stdout('  (gcc build failed or gcc is missing; using enclaves/prebuilt/sample.elf)\n');
    return { bytes: new Uint8Array(readFileSync(join(ROOT, 'enclaves/prebuilt/sample.elf'))), origin: 'prebuilt' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The mm of process `pid`, if it is alive. */
function mmOf(k: Kernel, pid: number): Mm | undefined {
  return k.processes.get(pid)?.threads[0]?.mm ?? undefined;
}

const hex = (n: number) => `0x${n.toString(16)}`;

export async function demoCommand(io: CliIo): Promise<void> {
  const crypto = nodeBackend;
  const say = (s: string) => io.stdout(`${s}\n`);
  say('sgxsim demo: the sample enclave through the Linux SGX driver, shared by three processes\n');

  say('1. The enclave');
  const { bytes, origin } = sampleEnclave(io);
  const layout = buildEnclaveLayout(bytes);
  const mrenclave = measureEnclave(crypto, layout);
  const key = readSigningKey(join(ROOT, 'enclaves/keys/demo-key.pem'));
  const sigstruct = signSigstruct(crypto, key, { enclaveHash: mrenclave });
  const mrsigner = computeMrSigner(crypto, sigstruct);
  say(
    `   ${origin}: ${layout.pages.length} pages in ${layout.segments.length} segments, SECS.SIZE ${hex(layout.size)}`,
  );
  say(`   MRENCLAVE ${toHex(mrenclave)}\n   MRSIGNER  ${toHex(mrsigner)}`);

  const system = bootPlatform({ crypto, epcPages: 256, seed: 'sgxsim-demo' });
  const { k, m, sgx } = system;
  say('\n2. Boot: 64 MiB RAM, 1 MiB EPC (256 pages), 2 CPUs');
  for (const line of sgx.dmesg) say(`   ${line}`);
  say(`   /dev/sgx_enclave, /dev/sgx_provision registered; ksgxd is pid ${sgx.ksgxdTask?.tgid}`);
  const boot = sgx.nrFreePages;

  let usedWhileRunning = 0;
  const pids = await runShareScenario({
    system,
    layout,
    sigstruct,
    whileMapped: async (v) => {
      const encl = v.encl;
      const names: Record<number, string> = { [v.pids.A]: 'A', [v.pids.B]: 'B', [v.pids.C]: 'C' };
      const who = (mm: Mm) => {
        for (const [pid, n] of Object.entries(names)) if (mmOf(k, Number(pid)) === mm) return `${n}=pid ${pid}`;
        return `mm ${mm.id}`;
      };
      const secs = m.epcPage(encl.secs.epcPage!.index);
      const hwMr = toHex(getField(SECS, secs, 0, 'mrEnclave'));
      say('\n3. A builds it: open /dev/sgx_enclave, ENCLAVE_CREATE, ADD_PAGES per segment, ENCLAVE_INIT (load.c)');
      say(
        `   ELRANGE ${hex(v.enclave.base)}+${hex(v.enclave.size)}; EADD ${sgx.stats.encls.EADD}, EEXTEND ${sgx.stats.encls.EEXTEND}, EINIT ok`,
      );
      say(`   SECS.MRENCLAVE ${hwMr === toHex(mrenclave) ? '= the offline measurement' : `MISMATCH ${hwMr}`}`);
      usedWhileRunning = boot - sgx.nrFreePages;
      say(
        `   EPC: ${usedWhileRunning} pages (SECS + ${encl.pageArray.size} enclave pages + ${encl.vaPages.length} VA)`,
      );
      say('\n4. A forks B; C (forked earlier) gets the fd over a unix socket (SCM_RIGHTS) and maps ELRANGE itself');
      say(
        `   each touches the data page ${hex(v.addr)}: host reads see ${Array.from(v.reads.A.subarray(0, 4), (b) => b.toString(16)).join(' ')} … (the abort page)`,
      );
      const ptes = (label: string) => {
        const parts = Object.entries(names).map(([pid, n]) => {
          const pte = mmOf(k, Number(pid))?.pageTable.lookup(v.addr / PAGE_SIZE);
          return `${n} ${pte ? `→ EPC ${hex(pte.pfn * PAGE_SIZE)}` : 'none'}`;
        });
        say(`   ${label}: ${parts.join(', ')}`);
      };
      ptes('PTEs');
      say(`   mm_list: ${encl.mmList.map((e) => who(e.mm)).join(', ')}; refcount ${encl.refcount} (file + 3 mms)`);
      say('\n   sgxsim ps:');
      for (const line of formatSgxPs(sgx).trimEnd().split('\n')) say(`   | ${line}`);
      say(
        '\n5. Evict it: the reclaimer ages the LRU (a young page only loses its Accessed bit), then EBLOCK, ETRACK, EWB',
      );
      const page = encl.pageArray.get(v.addr / PAGE_SIZE)!;
      await v.sys.kcall('reclaim', () => {
        for (let i = 0; i < 4 && page.epcPage; i++) sgxReclaimPages(sgx);
        return 0;
      });
      say(
        `   page ${page.epcPage ? 'still resident' : 'written out'}; SECS ${encl.secs.epcPage ? 'resident' : 'written out too (its last child left)'}`,
      );
      ptes('PTEs');
      const reloaded = sgx.stats.reloaded;
      await v.touchAgain();
      say(
        `   touch again in A, B, C: ${sgx.stats.secsReloaded ? 'ELDU of the SECS, then ' : ''}${sgx.stats.reloaded - reloaded} ELDU, each mm faults it back on its own`,
      );
      ptes('PTEs');
    },
  });
  const st = sgxStats(sgx);
  say(`\n6. A, B (pid ${pids.B}) and C (pid ${pids.C}) exit`);
  say(`   EPC: ${usedWhileRunning} pages used while they ran, ${st.usedPages} after (no leak); enclave released once`);

  say('\n7. Paging under pressure: EPC 64 pages, an enclave with a 256-page heap, 2 processes × 2 threads');
  const small = bootPlatform({ crypto, epcPages: 64, seed: 'sgxsim-demo-paging' });
  const big = buildEnclaveLayout(bytes, { heapSize: 256 * PAGE_SIZE });
  const bigSig = signSigstruct(crypto, key, { enclaveHash: measureEnclave(crypto, big) });
  const r = await runPagingScenario({
    system: small,
    layout: big,
    sigstruct: bigSig,
    processes: 2,
    threads: 2,
    passes: 1,
    seed: 'sgxsim-demo-paging',
  });
  say(`   ${r.touches} touches of ${r.heapPages} heap pages in seeded random orders`);
  say(
    `   EWB ${r.during.evicted}, ELDU ${r.during.reloaded}; EWB needed ETRACK ${r.during.ewbEtrack}×; ksgxd batches ${r.during.ksgxdBatches}, direct reclaim ${r.during.directBatches}`,
  );
  say(
    `   tags written with EDBGWR and read back with EDBGRD: ${r.verified}/${r.heapPages} intact${r.corrupted ? `, ${r.corrupted} CORRUPTED` : ''}`,
  );
  say(
    `   EPC after exit: ${r.after.usedPages} of ${r.after.totalPages} used; trace ${small.k.trace.count} events, hash ${small.k.trace.digest().slice(0, 16)}…`,
  );
}

export function registerDemo(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('build the sample enclave through the SGX driver, share it, page it (what `npm start` runs)')
    .action(() => demoCommand(io));
}
