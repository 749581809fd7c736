/**
 * `sgxsim run <enclave.elf> --ecall <name>`: boots a platform, loads the enclave with the SDK, and runs the ecall
 * from many host threads spread over processes (the loader, a fork()ed child, and processes that receive the
 * enclave over SCM_RIGHTS), sharing a TCS pool. Prints the results and what the run cost: ENCLU and AEX counts,
 * EPC paging, the TCS pool, virtual time and the trace hash; optionally writes the trace.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { sgxStats } from '../driver/index';
import { toHex } from '../hw/index';
import { DEFAULT_COSTS } from '../kernel/index';
import { nodeBackend, resolveEnclavePath } from '../node/index';
import {
  type EcallResult,
  type Enclave,
  loadEnclave,
  planEnclave,
  runProcessGroup,
  summarizeTrace,
  toChromeTrace,
  traceJsonLines,
} from '../sdk/index';
import { bootPlatform, type Platform } from '../vdso/index';
import { CliError } from './cli-error';
import { checkOutput, readInput, writeOutput } from './files';
import type { CliIo } from './io';
import { parsePageBytes } from './options';

export interface RunOptions {
  readonly ecall: string;
  readonly arg?: Uint8Array;
  readonly outLen: number;
  readonly calls: number;
  readonly threads: number;
  readonly tcs?: number;
  readonly procs: number;
  readonly seed: string;
  readonly cpus: number;
  readonly epcPages: number;
  readonly heap?: number;
  readonly hz?: number;
  readonly trace?: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

/** An option parser for an integer in [min, max]. */
function intIn(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    return n;
  };
}

/** --arg: hex bytes ("0x" optional, even length) or @file. */
export function parseArg(v: string): Uint8Array {
  if (v.startsWith('@')) return readInput(v.slice(1));
  const hex = v.trim().replace(/^0x/i, '');
  if (!/^([0-9a-f]{2})*$/i.test(hex)) throw new InvalidArgumentError('Expected hex bytes (e.g. 68656c6c6f) or @file.');
  return Uint8Array.from(hex.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
}

/** One worker's outcome. */
interface Outcome {
  readonly proc: number;
  readonly pid: number;
  readonly tid: number;
  readonly ret: bigint;
  readonly out: string;
}

/** The output bytes worth showing: the first `ret` when `ret` is a length within the buffer, else all of them. */
function shown(r: EcallResult, outLen: number): string {
  const n = r.ret >= 0n && r.ret <= BigInt(outLen) ? Number(r.ret) : outLen;
  return toHex(r.out.subarray(0, n));
}

const ROLE = ['loader', 'fork', 'SCM_RIGHTS'] as const;

function report(p: Platform, e: { info: string; pids: readonly number[] }, outcomes: Outcome[]) {
  const events = p.k.trace.events;
  const s = summarizeTrace(events);
  const st = sgxStats(p.sgx);
  const cycles = Math.max(...p.k.sched.cpus.map((c) => c.clock));
  return {
    enclave: e.info,
    processes: e.pids.map((pid, i) => ({ pid, role: ROLE[Math.min(i, 2)] })),
    ecalls: outcomes.length,
    results: outcomes.map((r) => ({ proc: r.proc, pid: r.pid, tid: r.tid, ret: r.ret.toString(), out: r.out })),
    enclu: {
      EENTER: p.stats.eenter,
      ERESUME: p.stats.eresume + p.stats.aepResume,
      EEXIT: p.stats.eexit,
    },
    aex: {
      total: p.stats.aexInterrupt + p.stats.aexException,
      interrupt: p.stats.aexInterrupt,
      exception: p.stats.aexException,
    },
    exceptionsReported: p.stats.reported,
    epc: {
      pages: st.totalPages,
      evicted: st.evicted,
      reloaded: st.reloaded,
      ewb: s.encls.EWB ?? 0,
      eldu: s.encls.ELDU ?? 0,
    },
    virtualTime: { cycles, hz: p.k.costs.cpuHz, ms: (cycles / p.k.costs.cpuHz) * 1e3 },
    trace: { events: p.k.trace.count, sha256: p.k.trace.digest() },
  };
}

export async function runCommand(path: string, o: RunOptions, io: CliIo): Promise<void> {
  if (o.procs > o.threads)
    throw new CliError({
      kind: 'usage',
      message: `--procs ${o.procs} needs at least as many --threads (got ${o.threads})`,
    });
  const resolved = resolveEnclavePath(path);
  if (!resolved) throw new CliError({ kind: 'file-not-found', path });
  const elf = readInput(resolved);
  // Check the enclave and the options before booting anything; errors name the file.
  const plan = CliError.about(path, () => planEnclave(elf, { tcs: o.tcs, heapSize: o.heap }));
  if (!plan.runtime.ecalls.includes(o.ecall))
    throw new CliError({
      kind: 'usage',
      message: `${path} has no ecall "${o.ecall}" (it has: ${plan.runtime.ecalls.join(', ')})`,
    });
  if (o.trace) checkOutput(o.trace, o.force ?? false);

  const p = bootPlatform({
    crypto: nodeBackend,
    epcPages: o.epcPages,
    cpus: o.cpus,
    seed: o.seed,
    traceLimit: o.trace ? 10_000_000 : undefined,
    // The printed SHA-256 is that of the JSON lines the trace exports (sha256sum of a .jsonl file checks it).
    traceHash: 'json-lines',
    ...(o.hz && { costs: { tickCycles: Math.round(DEFAULT_COSTS.cpuHz / o.hz) } }),
  });
  const outcomes: Outcome[] = [];
  const prints: string[] = [];
  const errors: unknown[] = [];
  let info = '';
  let pids: readonly number[] = [];
  const input = o.arg ?? new Uint8Array(0);
  const setup = (e: Enclave) => {
    e.onOcall('print', ({ input: text, sys }) => {
      prints.push(`[pid ${sys.task.tgid}] ${new TextDecoder().decode(text)}`);
      return { ret: 0 };
    });
    for (const name of e.ocallNames)
      if (name !== 'print') e.onOcall(name, ({ input: i, outLen }) => ({ ret: i.length, out: i.subarray(0, outLen) }));
  };
  p.k.spawn(async (sys) => {
    try {
      const r = await runProcessGroup(sys, {
        procs: o.procs,
        threads: o.threads,
        load: async (s) => {
          const e = await loadEnclave(s, elf, { tcs: o.tcs, heap: o.heap, crypto: nodeBackend });
          info = `MRENCLAVE ${toHex(e.mrEnclave)}, ${e.tcsCount} TCS, ELRANGE 0x${e.base.toString(16)}+0x${e.size.toString(16)}`;
          return e;
        },
        setup,
        work: async (e, w) => {
          for (let i = 0; i < o.calls; i++) {
            const r = await e.ecall(o.ecall, input, o.outLen);
            outcomes.push({
              proc: w.proc,
              pid: e.sys.task.tgid,
              tid: e.sys.task.tid,
              ret: r.ret,
              out: shown(r, o.outLen),
            });
          }
        },
        onError: (err) => errors.push(err),
      });
      pids = r.pids;
    } catch (err) {
      errors.push(err);
    }
    return 0;
  });
  const run = await p.k.run({ maxSteps: 50_000_000 });
  // The first failure: an SDK error (enclave aborted, refused call, bad ELF …) is reported in one line by main.
  if (errors.length) throw errors[0];
  if (run.kind !== 'idle') throw new Error(`the simulated run ended with ${run.kind}`);
  const rep = report(p, { info, pids }, outcomes);
  if (o.trace) {
    const events = p.k.trace.events;
    const body = o.trace.endsWith('.jsonl')
      ? traceJsonLines(events)
      : `${JSON.stringify(toChromeTrace(events, { cpuHz: p.k.costs.cpuHz, otherData: { sha256: rep.trace.sha256, seed: o.seed } }))}\n`;
    writeOutput(o.trace, body, { force: o.force ?? false });
  }
  if (o.json) {
    io.stdout(`${JSON.stringify({ ...rep, ocallPrints: prints }, null, 2)}\n`);
    return;
  }
  const say = (s: string) => io.stdout(`${s}\n`);
  say(`${path}: ${rep.enclave}`);
  say(
    `${o.threads} thread(s) in ${o.procs} process(es) (${rep.processes.map((x) => `pid ${x.pid} ${x.role}`).join(', ')}), ` +
      `${o.calls} call(s) each: ${rep.ecalls} × ${o.ecall}`,
  );
  const distinct = new Map<string, number>();
  for (const r of outcomes) {
    const k = `ret ${r.ret}, out ${r.out || '(none)'}`;
    distinct.set(k, (distinct.get(k) ?? 0) + 1);
  }
  const shownResults = [...distinct].slice(0, 8);
  for (const [k, n] of shownResults) say(`  ${k}${n > 1 ? ` (×${n})` : ''}`);
  if (distinct.size > shownResults.length) say(`  … ${distinct.size - shownResults.length} more distinct results`);
  const printCounts = new Map<string, number>();
  for (const line of prints) printCounts.set(line, (printCounts.get(line) ?? 0) + 1);
  for (const [line, n] of [...printCounts].slice(0, 8)) say(`  ocall print ${line}${n > 1 ? ` (×${n})` : ''}`);
  say(`ENCLU: EENTER ${rep.enclu.EENTER}, ERESUME ${rep.enclu.ERESUME}, EEXIT ${rep.enclu.EEXIT}`);
  say(
    `AEX: ${rep.aex.total} (${rep.aex.interrupt} interrupts, ${rep.aex.exception} exceptions); exceptions reported to the host: ${rep.exceptionsReported}`,
  );
  say(`EPC: ${rep.epc.pages} pages; paging ${rep.epc.evicted} evicted (EWB), ${rep.epc.reloaded} reloaded (ELDU)`);
  say(
    `virtual time: ${rep.virtualTime.ms.toFixed(3)} ms (${rep.virtualTime.cycles} cycles at ${rep.virtualTime.hz / 1e9} GHz)`,
  );
  say(`trace: ${rep.trace.events} events, SHA-256 ${rep.trace.sha256}${o.trace ? ` → ${o.trace}` : ''}`);
}

export function registerRun(program: Command, io: CliIo): void {
  program
    .command('run')
    .description('run an ecall from many threads in several processes sharing the enclave, and report the costs')
    .argument('<enclave.elf>', 'an enclave on the trusted runtime: a path, or a prebuilt name (compute, seal)')
    .requiredOption('--ecall <name>', 'the ecall to call (by name, from encl_rt_meta)')
    .option('--arg <hex|@file>', 'the ecall input: hex bytes or @file', parseArg)
    .option('--out-len <n>', 'output bytes to give the ecall', intIn(0, 8192), 64)
    .option('--calls <n>', 'ecalls per thread', intIn(1, 10_000), 1)
    .option('--threads <n>', 'host threads in all', intIn(1, 256), 1)
    .option('--tcs <n>', 'TCS pages in the pool (default: the enclave’s built-in ones)', intIn(1, 256))
    .option('--procs <n>', 'processes: the loader, a forked child, then SCM_RIGHTS receivers', intIn(1, 16), 1)
    .option('--seed <s>', 'the seed (same seed, same run)', 'sgxsim-run')
    .option('--cpus <n>', 'logical CPUs', intIn(1, 64), 2)
    .option('--epc-pages <n>', 'EPC size in pages', intIn(16, 1 << 20), 256)
    .option('--heap <bytes>', 'enclave heap, a multiple of 4096', parsePageBytes)
    .option('--hz <n>', 'timer interrupts per second (default 250); more preempt enclave code more', intIn(1, 10_000))
    .option('--trace <file>', 'write the trace: Chrome trace-event JSON, or JSON lines for a .jsonl name')
    .option('--force', 'overwrite the trace file')
    .option('--json', 'print JSON')
    .action((path: string, o: RunOptions) => runCommand(path, o, io));
}
