/**
 * Interpreter throughput against native execution of the same machine code, measured in the same run.
 * Workloads (bench/cpu-workloads.c, gcc -O2): SHA-256 over 1 MiB, memcpy-heavy copying, quicksort of 256 Ki
 * ints, CRC32 over 1 MiB, and scalar double arithmetic (SSE2) over 256 Ki elements. Run with `npm run bench -- interpreter`. Times are CPU time (best of several runs), so a
 * busy machine disturbs the ratio less than wall time would. Each run uses a fresh machine; the first one
 * also pays for decoding, generating code and V8 optimizing it (compiled functions are shared by source text
 * across machines, jit.ts), and its time is reported in the note.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callFunction } from '../src/hw/index';
import { loadFlatElf } from '../src/sdk/index';
import type { Bench, BenchRow } from './lib';

const SRC = readFileSync(new URL('./cpu-workloads.c', import.meta.url), 'utf8');
const WORKLOADS = [
  { name: 'sha256 1 MiB', fn: 'w_sha256', bytes: 1 << 20 },
  { name: 'memcpy-heavy 1 MiB', fn: 'w_memcpy', bytes: 1 << 20 },
  { name: 'sort 256 Ki ints', fn: 'w_sort', bytes: 1 << 20 },
  { name: 'crc32 1 MiB', fn: 'w_crc32', bytes: 1 << 20 },
  { name: 'doubles 256 Ki', fn: 'w_fp', bytes: 1 << 20 },
];

const DRIVER = `
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
typedef unsigned long u64; typedef unsigned char u8;
${WORKLOADS.map((w) => `extern u64 ${w.fn}(u8 *, u64);`).join('\n')}
static u8 buf[${1 << 20}] __attribute__((aligned(64)));
static void fill(void) { unsigned x = 12345; for (int i = 0; i < (int)sizeof buf; i++) { x = x * 1103515245u + 12345u; buf[i] = x >> 16; } }
int main(int argc, char **argv) {
  const char *name = argv[1]; u64 (*f)(u8 *, u64) = 0;
  ${WORKLOADS.map((w) => `if (!strcmp(name, "${w.fn}")) f = ${w.fn};`).join('\n  ')}
  double best = 1e9; u64 r = 0;
  for (int k = 0; k < 7; k++) {
    fill();
    struct timespec a, b; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    r = f(buf, sizeof buf);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    double t = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
    if (t < best) best = t;
  }
  printf("%.9f %lx\\n", best, r);
  return 0;
}
`;

function build(): { elf: string; driver: string } {
  const dir = join(tmpdir(), 'sgxsim-bench');
  mkdirSync(dir, { recursive: true });
  const key = createHash('sha256').update(SRC).update(DRIVER).digest('hex').slice(0, 16);
  const obj = join(dir, `w-${key}.o`);
  const elf = join(dir, `w-${key}.elf`);
  const driver = join(dir, `w-${key}.driver`);
  if (!existsSync(driver)) {
    writeFileSync(join(dir, 'w.c'), SRC);
    writeFileSync(join(dir, 'd.c'), DRIVER);
    const flags = ['-O2', '-ffreestanding', '-fPIE', '-fno-stack-protector'];
    execFileSync('gcc', [...flags, '-c', '-o', obj, join(dir, 'w.c')]);
    execFileSync('gcc', ['-static-pie', '-nostdlib', '-Wl,--entry=w_sha256', '-o', elf, obj, '-lgcc']);
    execFileSync('gcc', ['-O2', '-o', driver, join(dir, 'd.c'), obj]);
  }
  return { elf, driver };
}

function fill(b: Uint8Array): void {
  let x = 12345;
  for (let i = 0; i < b.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = (x >>> 16) & 0xff;
  }
}

function runAll(): BenchRow[] {
  const { elf, driver } = build();
  const BUF = 0x1000_0000;
  const rows: BenchRow[] = [];
  for (const w of WORKLOADS) {
    const [nativeSecs, nativeRet] = execFileSync(driver, [w.fn]).toString().trim().split(' ');
    // Best of eight runs, each on a fresh machine (the first also pays for decoding and compiling; V8 may still
    // re-optimise a large region during the next few, and process CPU time counts its compiler threads).
    let secs = Number.POSITIVE_INFINITY;
    let first = 0;
    let executed = 0;
    for (let rep = 0; rep < 8; rep++) {
      const prog = loadFlatElf(new Uint8Array(readFileSync(elf)));
      prog.space.map(BUF, w.bytes, { write: true });
      const data = new Uint8Array(w.bytes);
      fill(data);
      prog.space.write(BUF, data);
      const t0 = process.cpuUsage();
      const out = callFunction(prog.cpu, prog.symbol(w.fn), {
        ints: [BigInt(BUF), BigInt(w.bytes)],
        stackTop: prog.stackTop,
      });
      const t = process.cpuUsage(t0);
      const s = (t.user + t.system) / 1e6;
      if (rep === 0) first = s;
      secs = Math.min(secs, s);
      const ret = prog.cpu.getReg64(0).toString(16);
      if (out.kind !== 'returned' || ret !== nativeRet)
        throw new Error(`${w.name}: interpreter result ${ret} (${out.kind}) ≠ native ${nativeRet}`);
      executed = out.executed;
    }
    rows.push({
      name: w.name,
      value: secs,
      unit: 's',
      reference: { name: 'native gcc -O2, same code', value: Number(nativeSecs) },
      better: 'lower',
      goal: '≤ 20×',
      note: `${(executed / 1e6).toFixed(1)} M guest instructions, ${(executed / secs / 1e6).toFixed(1)} M insn/s; first run ${(first * 1000).toFixed(0)} ms`,
    });
  }
  return rows;
}

const bench: Bench = { title: 'x86-64 interpreter against native', run: runAll };
export default bench;
