/**
 * Ecall round trips on the whole platform (the driver-built compute enclave, the kernel, the vDSO, the processors),
 * wall time of this host:
 * - an empty ecall (`nop`, no input or output) through the SDK: TCS pool, call block, EENTER → EEXIT through
 *   __vdso_sgx_enter_enclave(), release; against the published hardware figure for a warm ecall round trip
 *   (HotCalls, ISCA 2017: about 8,000–9,000 cycles, ~3 µs; the goal is to be three times faster than that);
 * - the same ecall through the vDSO alone (no pool, the call block prepared once), to separate the SDK's share;
 * - one kernel entry (getpid()) against native getpid() on this host, measured in the same run: the unit every
 *   simulated memory access, syscall and vDSO step costs;
 * - ecalls per second from 16 threads (2 processes) sharing 4 TCS, against one thread alone.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { encode } from '../src/hw/index';
import { Libc, type Sys } from '../src/kernel/index';
import { nodeBackend } from '../src/node/index';
import { CALL_BLOCK, type Enclave, EnclCommand, loadEnclave, runProcessGroup } from '../src/sdk/index';
import { bootPlatform, EENTER, SGX_ENCLAVE_RUN, vdsoSgxEnterEnclave } from '../src/vdso/index';
import type { Bench, BenchRow } from './lib';

const COMPUTE = new Uint8Array(readFileSync(new URL('../enclaves/prebuilt/compute.elf', import.meta.url)));
/** A warm ecall round trip on SGX hardware (HotCalls, ISCA 2017; Intel SDK on Skylake, ~8.6k cycles). */
const HARDWARE_ECALL_S = 3e-6;
const WARM = 1500;
const ROUNDS = 8;
const N = 3000;

/** Runs `main` as a host program on a fresh platform. */
async function host(main: (sys: Sys) => Promise<void>, cpus = 2): Promise<void> {
  const p = bootPlatform({ crypto: nodeBackend, epcPages: 256, seed: 'bench', cpus, traceLimit: 1000 });
  let failure: unknown;
  p.k.spawn(async (sys) => {
    try {
      await main(sys);
    } catch (e) {
      failure = e;
    }
    return 0;
  });
  await p.k.run({});
  if (failure) throw failure;
}

const load = (sys: Sys, tcs?: number) => loadEnclave(sys, COMPUTE, { crypto: nodeBackend, tcs });

/**
 * The best of ROUNDS means over N/ROUNDS calls each, after WARM calls: wall time of promise-heavy loops swings with
 * GC and JIT tiering, and the best round is the one least disturbed.
 */
async function perCall(f: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARM; i++) await f();
  const n = Math.ceil(N / ROUNDS);
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await f();
    best = Math.min(best, (performance.now() - t0) / 1e3 / n);
  }
  return best;
}

/** Native getpid() on this host, seconds per call (the C loop, best of 5). */
function nativeGetpid(): number {
  const dir = join(tmpdir(), 'sgxsim-bench');
  mkdirSync(dir, { recursive: true });
  const bin = join(dir, 'getpid-loop');
  if (!existsSync(bin)) {
    const src = join(dir, 'getpid-loop.c');
    writeFileSync(
      src,
      `#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
int main(void) {
  double best = 1;
  for (int k = 0; k < 5; k++) {
    struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 200000; i++) syscall(SYS_getpid);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double t = ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9) / 200000;
    if (t < best) best = t;
  }
  printf("%.12f\\n", best);
  return 0;
}
`,
    );
    execFileSync('gcc', ['-O2', '-o', bin, src]);
  }
  return Number(execFileSync(bin).toString());
}

async function measure(): Promise<BenchRow[]> {
  let sdk = 0;
  let vdso = 0;
  let getpid = 0;
  await host(async (sys) => {
    const e = await load(sys);
    sdk = await perCall(() => e.ecall('nop'));
    // The vDSO alone: TCS 0, one call block and run struct prepared once.
    const libc = new Libc(sys);
    const cb = await libc.alloc(128);
    const run = await libc.alloc(256);
    await sys.store(cb, encode(CALL_BLOCK, {}));
    await sys.store(run, encode(SGX_ENCLAVE_RUN, { tcs: BigInt(e.tcsAddresses[0]!) }));
    const nop = e.ecallNames.indexOf('nop');
    vdso = await perCall(() =>
      vdsoSgxEnterEnclave(sys, { fn: EENTER, rdi: EnclCommand.ECALL, rsi: nop, rdx: cb, run }),
    );
    getpid = await perCall(() => sys.getpid());
  });

  // Throughput: 1 thread, then 16 threads in 2 processes on 4 TCS (4 CPUs), nop ecalls.
  const rate = async (threads: number, procs: number, calls: number): Promise<number> => {
    let t0 = 0;
    let t1 = 0;
    await host(async (sys) => {
      await runProcessGroup(sys, {
        procs,
        threads,
        load: async (s) => {
          const e = await load(s, 4);
          for (let i = 0; i < 200; i++) await e.ecall('nop');
          t0 = performance.now();
          return e;
        },
        work: async (e: Enclave) => {
          for (let i = 0; i < calls; i++) await e.ecall('nop');
        },
      });
      t1 = performance.now();
    }, 4);
    return (threads * calls) / ((t1 - t0) / 1e3);
  };
  const one = await rate(1, 1, 2000);
  const many = await rate(16, 2, 125);

  return [
    {
      name: 'empty ecall round trip, SDK (pool + call block + vDSO EENTER→EEXIT)',
      value: sdk,
      unit: 's',
      reference: { name: 'SGX hardware, HotCalls', value: HARDWARE_ECALL_S },
      better: 'lower',
      goal: '≤ 0.33× (≤ 1 µs)',
      note: 'uncontended, each ecall is 9 kernel entries: 7 pool words, 1 store (run + call block + input), 1 vDSO guest entry (run checks, EENTER…EEXIT, exit stores); see the getpid row',
    },
    {
      name: 'empty ecall round trip, vDSO alone (EENTER(ECALL nop) → EEXIT)',
      value: vdso,
      unit: 's',
      reference: { name: 'SGX hardware, HotCalls', value: HARDWARE_ECALL_S },
      better: 'lower',
    },
    {
      name: 'one kernel entry: getpid()',
      value: getpid,
      unit: 's',
      reference: { name: 'native getpid() on this host', value: nativeGetpid() },
      better: 'lower',
    },
    {
      name: 'nop ecalls per second, 16 threads in 2 processes on 4 TCS (4 CPUs)',
      value: many,
      unit: '/s',
      reference: { name: '1 thread alone', value: one },
      better: 'higher',
      note: 'the simulator runs one host step at a time: this measures the pool and scheduling overhead, not parallelism',
    },
  ];
}

const bench: Bench = { title: 'Ecalls through the vDSO and the SDK', run: measure };
export default bench;
