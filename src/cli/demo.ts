/**
 * `sgxsim demo` (what `npm start` runs): the compute enclave, built with gcc, loaded by one process with the SDK,
 * shared with a fork()ed child and with a third process that receives it over SCM_RIGHTS; threads of all three
 * run ecalls through a few TCS in an EPC too small for the enclave, so pages move while they run. Then the
 * driver's view: mm_list, one page evicted and its PTE zapped in every process, faulted back by each. Every step
 * is a host program calling real syscalls, ioctls and the vDSO of the simulated system.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type SgxEncl, sgxReclaimPages, sgxStats } from '../driver/index';
import { getField, PAGE_SIZE, SECS, toHex } from '../hw/index';
import {
  AF_UNIX,
  CLONE_THREAD_FLAGS,
  FUTEX_WAIT,
  FUTEX_WAIT_PRIVATE,
  FUTEX_WAKE,
  FUTEX_WAKE_PRIVATE,
  type Kernel,
  Libc,
  MAP_ANONYMOUS,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  SOCK_STREAM,
  type Sys,
} from '../kernel/index';
import { nodeBackend } from '../node/index';
import { attachEnclave, type EcallSpan, type Enclave, ecallSpans, loadEnclave, summarizeTrace } from '../sdk/index';
import { bootPlatform, type Platform } from '../vdso/index';
import type { CliIo } from './io';
import { ROOT } from './root';

/** The demo's shape: small enough to read, big enough to queue threads and page. */
const PROCS = ['A', 'B', 'C'] as const;
const THREADS_PER_PROC = 8;
const CALLS = 2;
const TCS = 4;
const EPC_PAGES = 48;
const CPUS = 4;
const HZ = 10_000;
const SEED = 'sgxsim-demo';
const TIMELINE_ROWS = 12;

/** The compute enclave: a fresh gcc build when gcc works, else the committed prebuilt copy. */
function computeEnclave(): { bytes: Uint8Array; origin: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sgxsim-demo-'));
  try {
    execFileSync(process.execPath, [join(ROOT, 'enclaves/build.mjs'), '--out', dir, '--only', 'compute'], {
      stdio: 'ignore',
    });
    return {
      bytes: new Uint8Array(readFileSync(join(dir, 'compute.elf'))),
      origin: 'built with gcc from enclaves/compute',
    };
  } catch {
    return {
      bytes: new Uint8Array(readFileSync(join(ROOT, 'enclaves/prebuilt/compute.elf'))),
      origin: 'enclaves/prebuilt/compute.elf (gcc build failed or gcc is missing)',
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A phase barrier for the three processes' main threads, on a MAP_SHARED page every process inherited. */
async function barrier(sys: Sys, word: number, parties: number): Promise<void> {
  const libc = new Libc(sys);
  await libc.fetchAddU32(word, 1);
  for (;;) {
    const v = await libc.readU32(word);
    if (v >= parties) break;
    await sys.futex(word, FUTEX_WAIT, v);
  }
  await sys.futex(word, FUTEX_WAKE, 0x7fffffff);
}

/** Runs `n` workers (the calling thread and n − 1 clones) and joins them. */
async function threads(sys: Sys, n: number, work: (s: Sys, i: number) => Promise<void>): Promise<void> {
  const libc = new Libc(sys);
  const joined = await libc.alloc(4);
  await libc.writeU32(joined, 0);
  for (let i = 1; i < n; i++)
    await sys.clone(CLONE_THREAD_FLAGS, async (t) => {
      await work(t, i);
      await new Libc(t).fetchAddU32(joined, 1);
      await t.futex(joined, FUTEX_WAKE_PRIVATE, 1);
      return 0;
    });
  await work(sys, 0);
  for (;;) {
    const v = await libc.readU32(joined);
    if (v === n - 1) break;
    await sys.futex(joined, FUTEX_WAIT_PRIVATE, v);
  }
}

const hex = (n: number) => `0x${n.toString(16)}`;
const us = (p: Platform, cycles: number) => (cycles * 1e6) / p.k.costs.cpuHz;

function enclOf(k: Kernel, pid: number, fd: number): SgxEncl {
  return k.processes.get(pid)!.threads[0]!.files!.get(fd)!.privateData as SgxEncl;
}

export async function demoCommand(io: CliIo): Promise<void> {
  const say = (s = '') => io.stdout(`${s}\n`);
  const nThreads = PROCS.length * THREADS_PER_PROC;
  say(
    `sgxsim demo: one enclave, ${PROCS.length} processes, ${nThreads} threads, ${TCS} TCS, a ${EPC_PAGES}-page EPC\n`,
  );

  const { bytes, origin } = computeEnclave();
  const p = bootPlatform({
    crypto: nodeBackend,
    epcPages: EPC_PAGES,
    cpus: CPUS,
    seed: SEED,
    // A 10 kHz timer and a 100 µs timeslice: threads are preempted inside ecalls, holding their TCS.
    costs: { tickCycles: Math.round(2e9 / HZ), timesliceCycles: 200_000 },
  });
  const { k, sgx } = p;

  const pid: Record<string, number> = {};
  const digestsOk = { good: 0, bad: 0 };
  const hellos: string[] = [];
  let loaded: Enclave | undefined;
  const snapshots: string[] = [];
  const failures: string[] = [];

  k.spawn(async (sys) => {
    try {
      const libc = new Libc(sys);
      pid.A = sys.task.tgid;
      // Phase words, inherited by every process (C is forked before the enclave exists, B after).
      const rv = await sys.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      const sv = (await libc.socketpair(AF_UNIX, SOCK_STREAM)) as [number, number];

      // Each process: a print handler, its threads' ecalls, then the driver phases in lock-step with A.
      const work = async (s: Sys, e: Enclave, name: string) => {
        e.onOcall('print', ({ input }) => {
          hellos.push(`${name}: ${new TextDecoder().decode(input)}`);
          return { ret: 0 };
        });
        await threads(s, THREADS_PER_PROC, async (t, i) => {
          const te = e.on(t);
          for (let c = 0; c < CALLS; c++) {
            const data = new TextEncoder().encode(`${name}${i}.${c} `.repeat(500));
            const { out } = await te.ecall('sha256', data, 32);
            if (toHex(out) === toHex(nodeBackend.sha256(data))) digestsOk.good++;
            else digestsOk.bad++;
          }
        });
      };
      const life = async (s: Sys, e: Enclave, name: string) => {
        await work(s, e, name);
        await barrier(s, rv, 3); // all ecalls done; A evicts a page
        await barrier(s, rv + 4, 3);
        await e.ecall('hello'); // each process faults the page back in its own mm
        await barrier(s, rv + 8, 3); // A looks at the PTEs again
        await barrier(s, rv + 12, 3);
      };

      pid.C = await sys.fork(async (c) => {
        const got = await new Libc(c).recvmsg(sv[1], 1, 2);
        await life(c, await attachEnclave(c, got.fds[0]!, got.fds[1]!), 'C');
        return 0;
      });
      const e = await loadEnclave(sys, bytes, { tcs: TCS, crypto: nodeBackend });
      loaded = e;
      const encl = enclOf(k, pid.A, e.fds.enclave);
      const secsPage = p.m.epcPage(encl.secs.epcPage!.index);
      const hwMr = toHex(getField(SECS, secsPage, 0, 'mrEnclave'));
      // EINIT copies MRSIGNER (SHA-256 of the SIGSTRUCT modulus) into the SECS once the signature verifies.
      const hwSigner = toHex(getField(SECS, secsPage, 0, 'mrSigner'));
      snapshots.push(
        `2. A (pid ${pid.A}) loads it with the SDK: ENCLAVE_CREATE, ${sgx.stats.encls.EADD} EADD, ${sgx.stats.encls.EEXTEND} EEXTEND, EINIT`,
        `   SECS.MRENCLAVE ${hwMr === toHex(e.mrEnclave) ? '= the offline measurement' : `MISMATCH ${hwMr}`}, SECS.MRSIGNER ${hwSigner === toHex(e.mrSigner) ? "= SHA-256 of the signer's modulus" : `MISMATCH ${hwSigner}`}`,
        `   fd ${e.fds.enclave} /dev/sgx_enclave, fd ${e.fds.share} memfd (TCS pool)`,
      );
      await libc.sendmsg(sv[0], Uint8Array.of(1), [e.fds.enclave, e.fds.share]);
      pid.B = await sys.fork(async (b) => {
        await life(b, e.forked(b), 'B');
        return 0;
      });
      snapshots.push(
        `3. B (pid ${pid.B}) = fork() of A: inherits both fds and the MAP_SHARED mappings`,
        `   C (pid ${pid.C}), forked before the enclave existed, gets both fds over a unix socket (SCM_RIGHTS) and maps them`,
      );
      const who = (mmId: number) =>
        PROCS.find((n) => k.processes.get(pid[n]!)?.threads[0]?.mm?.id === mmId) ?? `mm ${mmId}`;
      // The page holding the runtime's entry point: every ecall executes it.
      const entryPage = (e.base + e.runtimeMeta.entry) / PAGE_SIZE;
      const ptes = () =>
        PROCS.map((n) => {
          const pte = k.processes.get(pid[n]!)?.threads[0]?.mm?.pageTable.lookup(Math.floor(entryPage));
          return `${n} ${pte ? `→ EPC ${hex(pte.pfn * PAGE_SIZE)}` : 'none'}`;
        }).join(', ');
      await work(sys, e, 'A');
      await barrier(sys, rv, 3);
      snapshots.push(
        `   mm_list: ${encl.mmList.map((m) => who(m.mm.id)).join(', ')}; refcount ${encl.refcount}`,
        `   the page of the entry point, ${hex(Math.floor(entryPage) * PAGE_SIZE)}: ${ptes()}`,
      );
      const page = encl.pageArray.get(Math.floor(entryPage))!;
      const before = sgx.stats.evicted;
      await sys.kcall('reclaim', () => {
        for (let i = 0; i < 8 && page.epcPage; i++) sgxReclaimPages(sgx);
        return 0;
      });
      snapshots.push(
        `   reclaimer: EBLOCK, ETRACK, EWB of ${sgx.stats.evicted - before} pages; the entry page ${page.epcPage ? 'still resident' : 'written out'}: ${ptes()}`,
      );
      const reloaded = sgx.stats.reloaded;
      await barrier(sys, rv + 4, 3);
      await e.ecall('hello');
      await barrier(sys, rv + 8, 3);
      snapshots.push(
        `   one hello ecall in each: ${sgx.stats.reloaded - reloaded} ELDU, and each mm faults its PTE back: ${ptes()}`,
      );
      await barrier(sys, rv + 12, 3);
      await libc.waitpid(pid.B);
      await libc.waitpid(pid.C);
    } catch (err) {
      failures.push(err instanceof Error ? err.message : String(err));
    }
    return 0;
  });
  const run = await k.run({ maxSteps: 20_000_000 });
  if (failures.length || run.kind !== 'idle') throw new Error(`the demo failed: ${failures[0] ?? run.kind}`);

  const e = loaded!;
  say(`1. The compute enclave, ${origin}`);
  say(`   ${e.tcsCount} TCS (2 built in + ${e.tcsCount - 2} added after the heap), SECS.SIZE ${hex(e.size)}`);
  say(`   MRENCLAVE ${toHex(e.mrEnclave)}`);
  say(`   signed with enclaves/keys/demo-key.pem (RSA-3072, e = 3): MRSIGNER ${toHex(e.mrSigner)}`);
  say(
    `   booted on ${CPUS} CPUs, 64 MiB RAM, EPC ${EPC_PAGES} pages (${sgx.dmesg.join('; ')}), timer ${HZ / 1000} kHz`,
  );
  for (const line of snapshots.slice(0, 5)) say(line);
  const events = k.trace.events;
  const spans = ecallSpans(events).filter((s) => s.name === 'sha256');
  const name = (s: EcallSpan) => PROCS.find((n) => pid[n] === s.pid) ?? `pid ${s.pid}`;
  say(`\n4. ${nThreads} threads × ${CALLS} sha256 ecalls through ${TCS} TCS (virtual µs; waited = slept for a TCS):`);
  say('      start      end  thread  TCS   AEX  ELDU  EWB');
  for (const s of spans.slice(0, TIMELINE_ROWS))
    say(
      `   ${us(p, s.start).toFixed(1).padStart(7)}  ${us(p, s.end).toFixed(1).padStart(7)}  ${`${name(s)}/${s.tid}`.padEnd(6)}  ${String(s.tcs).padStart(3)}  ${String(s.aex).padStart(4)}  ${String(s.eldu).padStart(4)}  ${String(s.ewb).padStart(3)}${s.waited ? '  waited' : ''}`,
    );
  say(`   … ${spans.length - TIMELINE_ROWS} more. Each TCS in turn:`);
  for (let t = 0; t < TCS; t++) {
    const lane = spans.filter((s) => s.tcs === t).map((s) => `${name(s)}${s.tid}`);
    say(`   TCS ${t}: ${lane.join(' ')}`);
  }
  const waited = spans.filter((s) => s.waited).length;
  const gp = events.filter((x) => x.ev === 'vdso_exception' && (x.data as { vector: number }).vector === 13).length;
  say(
    `   ${digestsOk.good}/${digestsOk.good + digestsOk.bad} digests = node:crypto; ${waited} ecalls waited for a TCS; #GP from EENTER on a busy TCS: ${gp}`,
  );

  say('\n5. The driver while all three have it mapped');
  for (const line of snapshots.slice(5)) say(line);
  for (const h of [...new Set(hellos)].sort()) say(`   ocall print in ${h}`);

  const sum = summarizeTrace(events);
  const st = sgxStats(sgx);
  const clock = Math.max(...k.sched.cpus.map((c) => c.clock));
  say('\n6. Totals');
  say(
    `   ENCLU: EENTER ${p.stats.eenter}, ERESUME ${p.stats.eresume + p.stats.aepResume}, EEXIT ${p.stats.eexit}; AEX ${p.stats.aexInterrupt + p.stats.aexException} (${p.stats.aexInterrupt} interrupts, ${p.stats.aexException} faults the kernel resolved)`,
  );
  say(
    `   EPC paging: EWB ${sum.encls.EWB ?? 0}, ELDU ${sum.encls.ELDU ?? 0}, ETRACK ${sum.encls.ETRACK ?? 0}, IPIs to enclave CPUs ${sum.byEvent.sgx_ewb_ipi ?? 0}`,
  );
  say(
    `   after A, B, C exit: EPC ${st.usedPages} of ${st.totalPages} pages used (no leak); virtual time ${(us(p, clock) / 1000).toFixed(2)} ms`,
  );
  say(`   trace: ${k.trace.count} events, SHA-256 ${k.trace.digest().slice(0, 16)}… (same seed, same trace)`);
}

export function registerDemo(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('the compute enclave shared by three processes, many threads on a few TCS, paging (npm start)')
    .action(() => demoCommand(io));
}
