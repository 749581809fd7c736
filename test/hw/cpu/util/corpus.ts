/**
 * The differential-test harness: builds the C corpus once per compiler flag set into an object file, links it
 * into a native driver and into a static-pie ELF, and runs the same inputs through both. Builds are cached by
 * content hash (as test/util/native.ts does).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { callFunction } from '../../../../src/hw/index';
import { type FlatProgram, loadFlatElf } from '../../../../src/sdk/index';
import { CACHE_DIR } from '../../../util/native';

export const CORPUS_SRC = readFileSync(join(__dirname, '../corpus/corpus.c'), 'utf8');
export const BASE_FLAGS = ['-ffreestanding', '-fPIE', '-fno-stack-protector', '-fno-math-errno'];
export const OPT_LEVELS: readonly string[][] = [['-O0'], ['-O2'], ['-O3'], ['-Os'], ['-O2', '-march=x86-64-v2']];

export interface CorpusFn {
  readonly name: string;
  readonly dbl: boolean;
}

/** Test functions of the corpus, from their definitions (`u64 t_x(` / `double d_x(`). */
export const CORPUS_FNS: readonly CorpusFn[] = [...CORPUS_SRC.matchAll(/^(u64|double) ([td]_\w+)\(/gm)].map((m) => ({
  name: m[2]!,
  dbl: m[1] === 'double',
}));

function driverSource(fns: readonly CorpusFn[]): string {
  const decls = fns
    .map((f) =>
      f.dbl ? `extern double ${f.name}(double, double, u8 *, u64);` : `extern u64 ${f.name}(u64, u64, u8 *, u64);`,
    )
    .join('\n');
  const table = fns.map((f) => `  { ${f.dbl ? 1 : 0}, (void *)${f.name} },`).join('\n');
  return `#include <stdio.h>
typedef unsigned long u64; typedef unsigned char u8;
${decls}
static struct { int dbl; void *fn; } T[] = {
${table}
};
static u8 buf[8192] __attribute__((aligned(64)));
static char hex[20000];
static int nib(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }
int main(void) {
  int idx; u64 a, b, n;
  while (scanf("%d %lx %lx %lu %19999s", &idx, &a, &b, &n, hex) == 5) {
    for (u64 i = 0; i < n; i++) buf[i] = (u8)(nib(hex[2 * i]) << 4 | nib(hex[2 * i + 1]));
    u64 r;
    if (T[idx].dbl) {
      double x, y, d;
      __builtin_memcpy(&x, &a, 8); __builtin_memcpy(&y, &b, 8);
      d = ((double (*)(double, double, u8 *, u64))T[idx].fn)(x, y, buf, n);
      __builtin_memcpy(&r, &d, 8);
    } else r = ((u64 (*)(u64, u64, u8 *, u64))T[idx].fn)(a, b, buf, n);
    printf("%016lx ", r);
    for (u64 i = 0; i < n; i++) printf("%02x", buf[i]);
    printf("\\n");
  }
  return 0;
}
`;
}

function cached(key: string, ext: string, build: (out: string) => void): string {
  mkdirSync(CACHE_DIR, { recursive: true });
  const out = join(CACHE_DIR, `${key}${ext}`);
  if (existsSync(out)) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  build(tmp);
  renameSync(tmp, out);
  return out;
}

export interface CorpusBuild {
  readonly elf: string;
  readonly driver: string;
}

/** Compiles the corpus with `opt` and links the ELF and the native driver (cached). */
export function buildCorpus(opt: readonly string[]): CorpusBuild {
  const flags = [...opt, ...BASE_FLAGS];
  const key = createHash('sha256').update(CORPUS_SRC).update(flags.join(' ')).update('v1').digest('hex').slice(0, 24);
  const obj = cached(`corpus-${key}`, '.o', (out) => {
    const src = join(CACHE_DIR, `corpus-${key}.c`);
    writeFileSync(src, CORPUS_SRC);
    execFileSync('gcc', [...flags, '-c', '-o', out, src], { stdio: ['ignore', 'ignore', 'pipe'] });
  });
  const elf = cached(`corpus-${key}`, '.elf', (out) => {
    execFileSync('gcc', ['-static-pie', '-nostdlib', '-Wl,--entry=t_sha256', '-o', out, obj, '-lgcc'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  });
  const driver = cached(`corpus-${key}`, '.driver', (out) => {
    const src = join(CACHE_DIR, `corpus-driver-${key}.c`);
    writeFileSync(src, driverSource(CORPUS_FNS));
    execFileSync('gcc', ['-O1', '-fPIE', '-pie', '-o', out, src, obj], { stdio: ['ignore', 'ignore', 'pipe'] });
  });
  return { elf, driver };
}

export interface CorpusInput {
  readonly fn: number;
  readonly a: bigint;
  readonly b: bigint;
  readonly buf: Uint8Array;
}

export interface CorpusOutput {
  readonly ret: bigint;
  readonly buf: Uint8Array;
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Runs all inputs through the native driver in one process. */
export function runNative(driver: string, inputs: readonly CorpusInput[]): CorpusOutput[] {
  const text = inputs
    .map((x) => `${x.fn} ${x.a.toString(16)} ${x.b.toString(16)} ${x.buf.length} ${x.buf.length ? hexOf(x.buf) : '-'}`)
    .join('\n');
  const out = execFileSync(driver, [], { input: `${text}\n`, maxBuffer: 1 << 28 })
    .toString()
    .trim()
    .split('\n');
  return out.map((line) => {
    const [r, h] = line.split(' ');
    return { ret: BigInt(`0x${r}`), buf: new Uint8Array(Buffer.from(h ?? '', 'hex')) };
  });
}

export const BUF_ADDR = 0x1000_0000;

/** Loads the ELF once and returns a runner for inputs. */
export function interpreterRunner(elfPath: string): {
  prog: FlatProgram;
  run: (x: CorpusInput) => CorpusOutput & { executed: number; stop: string };
} {
  const prog = loadFlatElf(new Uint8Array(readFileSync(elfPath)));
  prog.space.map(BUF_ADDR, 8192, { write: true });
  const addrs = CORPUS_FNS.map((f) => prog.symbol(f.name));
  return {
    prog,
    run(x) {
      const fn = CORPUS_FNS[x.fn]!;
      const c = prog.cpu;
      prog.space.write(BUF_ADDR, x.buf);
      const f64 = new Float64Array(new BigUint64Array([x.a, x.b]).buffer);
      const out = callFunction(c, addrs[x.fn]!, {
        ints: fn.dbl ? [BigInt(BUF_ADDR), BigInt(x.buf.length)] : [x.a, x.b, BigInt(BUF_ADDR), BigInt(x.buf.length)],
        ...(fn.dbl && { doubles: [f64[0]!, f64[1]!] }),
        stackTop: prog.stackTop,
        budget: 50_000_000,
      });
      const ret = fn.dbl ? new BigUint64Array(c.xmmBuf.slice(0, 8))[0]! : c.getReg64(0);
      const stop = out.kind === 'returned' ? 'returned' : JSON.stringify(out.stop);
      return { ret, buf: prog.space.read(BUF_ADDR, x.buf.length), executed: out.executed, stop };
    },
  };
}
