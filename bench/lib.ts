/**
 * Benchmark helpers. Benchmarks measure wall time of the host (this is the only place that may), always
 * against a reference measured in the same run, and report both absolute numbers and the ratio.
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

export interface BenchRow {
  /** What was measured. */
  readonly name: string;
  /** Our figure, in `unit`. */
  readonly value: number;
  readonly unit: string;
  /** The reference measured in the same run, in the same unit, if any. */
  readonly reference?: { readonly name: string; readonly value: number };
  /** How the ratio is read: 'higher' means value/reference should be large (throughput). */
  readonly better?: 'higher' | 'lower';
  /** The goal for the ratio, e.g. "≥ 0.8×". */
  readonly goal?: string;
  readonly note?: string;
}

export interface Bench {
  readonly title: string;
  run(): Promise<BenchRow[]> | BenchRow[];
}

/** CPU seconds this process has used: less disturbed than wall time on a machine others share. */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Median CPU seconds per call of `fn` over enough repetitions to fill about `minMs` of wall time. */
export function timeIt(fn: () => void, minMs = 300): number {
  fn(); // warm up JIT and caches
  const samples: number[] = [];
  const deadline = performance.now() + minMs;
  do {
    const t0 = cpuSeconds();
    fn();
    samples.push(cpuSeconds() - t0);
  } while (performance.now() < deadline || samples.length < 5);
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

/**
 * Median CPU seconds per call of each of `fns`, run in alternation so that a load change on a shared machine
 * hits ours and the reference alike.
 */
export function timeInterleaved(fns: ReadonlyArray<() => void>, minMs = 600): number[] {
  for (const f of fns) f();
  const samples: number[][] = fns.map(() => []);
  const deadline = performance.now() + minMs;
  do {
    fns.forEach((f, i) => {
      const t0 = cpuSeconds();
      f();
      samples[i]!.push(cpuSeconds() - t0);
    });
  } while (performance.now() < deadline || samples[0]!.length < 5);
  return samples.map((s) => {
    s.sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)]!;
  });
}

/** Median seconds per call of an async `fn`. */
export async function timeItAsync(fn: () => Promise<void>, minMs = 300): Promise<number> {
  await fn();
  const samples: number[] = [];
  const deadline = performance.now() + minMs;
  do {
    const t0 = performance.now();
    await fn();
    samples.push((performance.now() - t0) / 1000);
  } while (performance.now() < deadline || samples.length < 5);
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

/** Median wall seconds of running an external command (includes process start-up). */
export function timeCommand(cmd: string, args: string[], input?: Uint8Array, runs = 5): number {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    execFileSync(cmd, args, { input, stdio: ['pipe', 'ignore', 'ignore'] });
    samples.push((performance.now() - t0) / 1000);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

export function ratio(row: BenchRow): number | undefined {
  if (!row.reference) return undefined;
  return row.value / row.reference.value;
}

function fmt(x: number): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e9) return `${(x / 1e9).toFixed(2)} G`;
  if (a >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (a >= 1e3) return `${(x / 1e3).toFixed(2)} k`;
  if (a >= 1) return x.toFixed(2);
  if (a >= 1e-3) return `${(x * 1e3).toFixed(2)} m`;
  if (a >= 1e-6) return `${(x * 1e6).toFixed(2)} µ`;
  return `${(x * 1e9).toFixed(2)} n`;
}

/** A Markdown table of rows. */
export function table(rows: readonly BenchRow[]): string {
  const out = ['| benchmark | ours | reference | ratio | goal | note |', '|---|---|---|---|---|---|'];
  for (const r of rows) {
    const q = ratio(r);
    out.push(
      `| ${r.name} | ${fmt(r.value)}${r.unit} | ${r.reference ? `${fmt(r.reference.value)}${r.unit} (${r.reference.name})` : '—'} | ${
        q === undefined ? '—' : `${q.toFixed(2)}×`
      } | ${r.goal ?? '—'} | ${r.note ?? ''} |`,
    );
  }
  return out.join('\n');
}
