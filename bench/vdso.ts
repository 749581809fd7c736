/**
 * The vDSO's cost per call on the simulated platform: ENCL_OP_NOP into the sample enclave through
 * __vdso_sgx_enter_enclave() (argument checks and the run struct in user memory, EENTER, the enclave's dispatch,
 * EEXIT, the exit record), against getpid() through the same kernel as the reference for one kernel entry.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { encode } from '../src/hw/index';
import { Libc } from '../src/kernel/index';
import { nodeBackend, readSigningKey } from '../src/node/index';
import { buildEnclaveLayout, buildEnclaveWithDriver, measureEnclave, signSigstruct } from '../src/sdk/index';
import { bootPlatform, SGX_ENCLAVE_RUN, vdsoSgxEnterEnclave } from '../src/vdso/index';
import type { Bench, BenchRow } from './lib';

const ROOT = join(import.meta.dirname, '..');
const CALLS = 3000;
const ROUNDS = 8;

async function nopRow(): Promise<BenchRow> {
  const elf = new Uint8Array(readFileSync(join(ROOT, 'enclaves/prebuilt/sample.elf')));
  const key = readSigningKey(join(ROOT, 'test/fixtures/selftest-sign_key.pem'));
  const layout = buildEnclaveLayout(elf, { heapSize: 4096 });
  const sigstruct = signSigstruct(nodeBackend, key, { enclaveHash: measureEnclave(nodeBackend, layout) });
  const p = bootPlatform({ crypto: nodeBackend, seed: 'bench-vdso' });
  let vdso = 0;
  let getpid = 0;
  let cycles = 0;
  p.k.spawn(async (sys) => {
    const libc = new Libc(sys);
    const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct });
    const run = await libc.bytes(encode(SGX_ENCLAVE_RUN, { tcs: BigInt(e.base) }));
    // struct encl_op_header { u64 type = ENCL_OP_NOP (4) }.
    const op = await libc.bytes(Uint8Array.of(4, 0, 0, 0, 0, 0, 0, 0));
    // Alternating rounds, best of each: wall time of promise-heavy loops is noisy (GC, JIT tiers), and the two
    // loops share whatever the machine does meanwhile.
    vdso = getpid = Number.POSITIVE_INFINITY;
    for (let round = 0; round < ROUNDS; round++) {
      const c0 = await sys.kcall('clock', (t) => t.now());
      let t0 = performance.now();
      for (let i = 0; i < CALLS; i++) await vdsoSgxEnterEnclave(sys, { rdi: op, fn: 2, run });
      vdso = Math.min(vdso, (performance.now() - t0) / CALLS);
      cycles = ((await sys.kcall('clock', (t) => t.now())) - c0) / CALLS;
      t0 = performance.now();
      for (let i = 0; i < CALLS; i++) await sys.getpid();
      getpid = Math.min(getpid, (performance.now() - t0) / CALLS);
    }
    return 0;
  });
  await p.k.run();
  return {
    name: 'ENCL_OP_NOP through __vdso_sgx_enter_enclave (wall time per call)',
    value: vdso * 1e3,
    unit: 'µs',
    reference: { name: 'getpid() through the same simulated kernel', value: getpid * 1e3 },
    better: 'lower',
    goal: '≤ 10×',
    note: `best of ${ROUNDS} alternating rounds of ${CALLS} calls; ${Math.round(cycles)} virtual cycles per call`,
  };
}

const bench: Bench = {
  title: 'vDSO enclave calls',
  run: async () => [await nopRow()],
};
export default bench;
