/**
 * `sgxsim stats`: runs the paging scenario (a DEBUG enclave whose heap is several times the EPC, touched by
 * several processes and threads) and prints the EPC statistics during the run and after every process exited.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { formatSgxStats } from '../driver/index';
import { PAGE_SIZE } from '../hw/index';
import { nodeBackend, readSigningKey } from '../node/index';
import { buildEnclaveLayout, measureEnclave, signSigstruct } from '../sdk/index';
import { bootPlatform } from '../vdso/index';
import type { CliIo } from './io';
import { runPagingScenario } from './paging-scenario';
import { ROOT } from './root';

export interface StatsOptions {
  readonly epcPages: number;
  readonly heapPages: number;
  readonly processes: number;
  readonly threads: number;
  readonly passes: number;
  readonly seed: string;
}

/** An option parser for an integer in [1, max]; commander reports a bad value as one "sgxsim: …" line. */
function upTo(max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`must be an integer from 1 to ${max}`);
    return n;
  };
}

export async function statsCommand(o: StatsOptions, io: CliIo): Promise<void> {
  const crypto = nodeBackend;
  const { epcPages, heapPages, processes, threads, passes } = o;
  const layout = buildEnclaveLayout(new Uint8Array(readFileSync(join(ROOT, 'enclaves/prebuilt/sample.elf'))), {
    heapSize: heapPages * PAGE_SIZE,
  });
  const key = readSigningKey(join(ROOT, 'enclaves/keys/demo-key.pem'));
  const sigstruct = signSigstruct(crypto, key, { enclaveHash: measureEnclave(crypto, layout) });
  const ramBytes = Math.max(64 << 20, heapPages * PAGE_SIZE * 3);
  const system = bootPlatform({ crypto, epcPages, seed: o.seed, ramBytes });
  io.stdout(
    `EPC ${epcPages} pages; an enclave with a ${heapPages}-page heap (${layout.pages.length} pages); ` +
      `${processes} processes × ${threads} threads, ${passes} pass(es) over the heap; seed "${o.seed}"\n\n`,
  );
  const r = await runPagingScenario({ system, layout, sigstruct, processes, threads, passes, seed: o.seed });
  io.stdout(`during the run (before exit):\n${formatSgxStats(r.during)}\n`);
  io.stdout(`after every process exited:\n${formatSgxStats(r.after)}\n`);
  io.stdout(
    `${r.touches} touches; ${r.verified}/${r.heapPages} heap tags intact (EDBGWR before, EDBGRD after)` +
      `${r.corrupted ? `; ${r.corrupted} CORRUPTED` : ''}\n`,
  );
  io.stdout(`trace: ${system.k.trace.count} events, SHA-256 ${system.k.trace.digest()}\n`);
  if (r.violations.length) io.stdout(`INVARIANT VIOLATIONS:\n${r.violations.join('\n')}\n`);
}

export function registerStats(program: Command, io: CliIo): void {
  program
    .command('stats')
    .description(
      'run an EPC paging scenario and print EPC use, evictions, reloads and VA pages, per enclave and in total',
    )
    .option('--epc-pages <n>', 'EPC size in pages', upTo(1 << 20), 64)
    .option('--heap-pages <n>', 'enclave heap in pages', upTo(1 << 16), 256)
    .option('--processes <n>', 'processes touching the enclave', upTo(16), 2)
    .option('--threads <n>', 'threads per process', upTo(16), 2)
    .option('--passes <n>', 'passes over the heap per thread', upTo(100), 1)
    .option('--seed <s>', 'the seed (same seed, same run)', 'sgxsim-stats')
    .action((o: StatsOptions) => statsCommand(o, io));
}
