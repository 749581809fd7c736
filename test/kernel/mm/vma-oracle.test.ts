/**
 * VMA split/merge and the mm errno paths, compared with the Linux running this test: the same sequences of
 * mmap/munmap/mprotect/mremap/touches run in a C program (test/kernel/fixtures/vma-ops.c) and in the
 * simulated kernel, and /proc/<pid>/maps for the region must match line for line after every operation
 * (addresses relative to the region, inode numbers by order of appearance).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/hw/index';
import {
  errnoOfReturn,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_NONE,
  type Sys,
} from '../../../src/kernel/index';
import { compileC, hasGcc, runTool } from '../../util/native';
import { makeTestKernel } from '../fixtures/kernel';

const P = 4096;
const SRC = readFileSync(join(__dirname, '../fixtures/vma-ops.c'), 'utf8');

/** Runs the op script in the simulated kernel and prints exactly what vma-ops.c prints. */
async function simulate(script: string): Promise<string> {
  const out: string[] = [];
  const k = makeTestKernel({ ramBytes: 64 * 1024 * 1024 });
  k.spawn(async (sys: Sys) => {
    let base = 0;
    let npages = 0;
    let inodes: number[] = [];
    const dump = async () => {
      const maps = await mapsOf(sys);
      const lo = base;
      const hi = base + npages * P;
      for (const line of maps.split('\n')) {
        const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) (\S+) (\d+) *(.*)$/.exec(line);
        if (!m) continue;
        let s = Number.parseInt(m[1]!, 16);
        let e = Number.parseInt(m[2]!, 16);
        if (e <= lo || s >= hi) continue;
        s = Math.max(s, lo);
        e = Math.min(e, hi);
        const ino = Number(m[6]);
        let ord = 0;
        if (ino !== 0) {
          if (!inodes.includes(ino)) inodes.push(ino);
          ord = inodes.indexOf(ino) + 1;
        }
        out.push(
          `  ${(s - lo) / P}-${(e - lo) / P} ${m[3]} ${Number.parseInt(m[4]!, 16).toString(16)} ${m[5]} ${ord} ${m[7]}`,
        );
      }
    };
    const result = (r: number) => {
      const e = errnoOfReturn(r);
      out[out.length - 1] += e ? ` => ${e.name}` : ` => ${r}`;
    };
    for (const line of script.trim().split('\n')) {
      const [op, ...rest] = line.trim().split(/\s+/);
      const a = rest.map(Number);
      switch (op) {
        case 'S': {
          if (base) await sys.munmap(base - P, (npages + 2) * P);
          npages = a[0]!;
          base = await sys.mmap(0, (npages + 2) * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
          await sys.mmap(base, P, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
          await sys.mmap(base + (npages + 1) * P, P, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
          base += P;
          inodes = [];
          out.push(`S ${npages}`);
          await dump();
          continue;
        }
        case 'M': {
          out.push(`M ${a.join(' ')}`);
          const r = await sys.mmap(base + a[0]! * P, a[1]! * P, a[2]!, a[3]!, -1, 0);
          result(r < 0 ? r : (r - base) / P);
          break;
        }
        case 'U':
          out.push(`U ${a.join(' ')}`);
          result(await sys.munmap(base + a[0]! * P, a[1]!));
          break;
        case 'u':
          out.push(`u ${a.join(' ')}`);
          result(await sys.munmap(base + a[0]!, a[1]!));
          break;
        case 'P':
          out.push(`P ${a.join(' ')}`);
          result(await sys.mprotect(base + a[0]! * P, a[1]!, a[2]!));
          break;
        case 'R': {
          out.push(`R ${a.join(' ')}`);
          const r = await sys.mremap(base + a[0]! * P, a[1]! * P, a[2]! * P, a[3]!, base + a[4]! * P);
          result(r < 0 ? r : (r - base) / P);
          break;
        }
        case 'T': {
          out.push(`T ${a.join(' ')}`);
          // A touch is a real access; a kernel access faults the page in the same way, and its EFAULT
          // stands for the C side's SIGSEGV.
          const r = a[1]
            ? await sys.copyToUser(base + a[0]! * P, new Uint8Array([1]))
            : await sys.copyFromUser(base + a[0]! * P, new Uint8Array(1));
          result(r);
          break;
        }
        default:
          throw new Error(`bad op ${op}`);
      }
      await dump();
    }
    return 0;
  });
  const r = await k.run();
  expect(r.kind).toBe('idle');
  return `${out.join('\n')}\n`;
}

async function mapsOf(sys: Sys): Promise<string> {
  let s = '';
  await sys.kcall('maps', (t) => {
    s = t.kernel.procMaps(t.tgid) ?? '';
    return 0;
  });
  return s;
}

function runNative(script: string): string {
  const bin = compileC(SRC, ['-O2']);
  return runTool(bin, [], new TextEncoder().encode(`${script.trim()}\n`)).toString();
}

/** Random op sequences confined to the region (no kernel-chosen addresses, so layouts stay comparable). */
function randomScript(seed: number, sequences: number, opsPer: number, n = 24): string {
  const rng = new Rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rng.below(xs.length)]!;
  const lines: string[] = [];
  const priv = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
  const shared = MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED;
  for (let s = 0; s < sequences; s++) {
    lines.push(`S ${n}`);
    for (let i = 0; i < opsPer; i++) {
      const page = rng.below(n);
      const pages = 1 + rng.below(Math.min(6, n - page));
      const kind = rng.below(100);
      if (kind < 30) {
        const flags = pick([
          priv,
          priv,
          priv,
          shared,
          shared,
          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
          MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
          MAP_ANONYMOUS | MAP_FIXED,
          MAP_SHARED_VALIDATE | MAP_ANONYMOUS | MAP_FIXED,
        ]);
        lines.push(`M ${page} ${pick([pages, 0])} ${rng.below(8)} ${flags}`);
      } else if (kind < 45) {
        lines.push(`U ${page} ${pick([pages * P, pages * P - 1, 0])}`);
      } else if (kind < 47) {
        lines.push(`u ${page * P + 16} ${P}`);
      } else if (kind < 70) {
        lines.push(`P ${page} ${pick([pages * P, pages * P - 100, 0])} ${pick([0, 1, 2, 3, 4, 5, 7, 3, 1, 16])}`);
      } else if (kind < 82) {
        const newPages = 1 + rng.below(Math.min(6, n - page));
        const dest = rng.below(n - newPages + 1);
        const flags = pick([0, 0, MREMAP_MAYMOVE | MREMAP_FIXED, MREMAP_MAYMOVE | MREMAP_FIXED, MREMAP_FIXED, 8]);
        lines.push(`R ${page} ${pages} ${flags & MREMAP_FIXED ? newPages : newPages} ${flags} ${dest}`);
        if (rng.below(4) === 0) {
          const dest2 = rng.below(n - pages + 1);
          lines.push(`R ${page} ${pages} ${pages} ${MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP} ${dest2}`);
        }
      } else {
        lines.push(`T ${page} ${rng.below(2)}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

const HAND_WRITTEN = `
S 24
P 2 8192 3
P 2 8192 0
P 2 8192 3
T 2 1
P 2 8192 0
M 10 2 3 50
M 12 2 3 50
T 10 1
M 14 2 3 50
T 14 1
M 16 2 3 49
M 18 2 3 49
T 16 1
T 19 1
P 17 4096 1
P 17 4096 3
U 11 4096
P 12 4096 1
P 12 4096 3
P 5 65536 1
R 14 2 4 0 0
R 12 4 2 0 0
R 10 1 1 3 20
R 20 1 2 0 0
u 3 4096
U 3 0
P 3 4096 9
M 0 1 3 1048610
M 16 4 1 48
M 16 4 1 51
M 2 1 3 1048610
P 0 98304 7
P 0 98304 0
S 16
M 4 4 3 50
T 5 1
R 4 4 4 7 10
T 5 0
T 11 1
U 0 65536
S 8
M 2 2 3 50
T 2 1
P 2 8192 1
M 0 2 3 50
P 2 8192 3
`;

describe.skipIf(!hasGcc())('VMA layout and mm errnos against native Linux', () => {
  it('hand-written split/merge cases match /proc/self/maps', async () => {
    const want = runNative(HAND_WRITTEN);
    const got = await simulate(HAND_WRITTEN);
    expect(got).toBe(want);
  });

  it.each(Array.from({ length: Number(process.env.VMA_SEEDS ?? 10) }, (_, i) => i + 1))(
    'random sequences (seed %i) match /proc/self/maps',
    async (seed) => {
      const script = randomScript(seed, 6, 25);
      const want = runNative(script);
      const got = await simulate(script);
      if (got !== want) {
        const g = got.split('\n');
        const w = want.split('\n');
        const i = g.findIndex((l, j) => l !== w[j]);
        let op = i;
        while (op > 0 && w[op]!.startsWith(' ')) op--;
        let prev = op - 1;
        while (prev > 0 && w[prev]!.startsWith(' ')) prev--;
        const ctx = w.slice(prev, i + 1).join('\n');
        const sim = g.slice(op, i + 1).join('\n');
        if (process.env.VMA_DUMP) {
          const { writeFileSync } = await import('node:fs');
          let sq = i;
          while (sq > 0 && !w[sq]!.startsWith('S ')) sq--;
          writeFileSync(
            `${process.env.VMA_DUMP}/fail-${seed}.txt`,
            w
              .slice(sq, i + 1)
              .filter((l) => !l.startsWith(' '))
              .map((l) => l.replace(/ =>.*/, ''))
              .join('\n'),
          );
        }
        expect(g[i], `seed ${seed}: first difference at line ${i}; native:\n${ctx}\nsimulated:\n${sim}`).toBe(w[i]);
      }
    },
  );
});
