/**
 * `npm run bench`: runs every benchmark, prints Markdown tables, and with `--write` refreshes bench/RESULTS.md.
 * `npm run bench -- <filter>` runs the benchmarks whose title or file contains the filter. Each benchmark module
 * runs in a fresh Node process, so one module's heap and JIT state cannot slow the next.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import { join } from 'node:path';
import { type Bench, type BenchRow, table } from './lib';

const MODULES = ['sgx.ts', 'cpu.ts', 'vdso.ts', 'ecall.ts', 'paging.ts'] as const satisfies readonly string[];

/** Child mode: `run.ts --child <module>` prints the module's title and rows as JSON. */
async function child(file: string, filter: string | undefined): Promise<void> {
  const b = ((await import(`./${file}`)) as { default: Bench }).default;
  const wanted = !filter || b.title.toLowerCase().includes(filter) || file.includes(filter);
  const rows = wanted ? await b.run() : null;
  process.stdout.write(`\n@@BENCH@@${JSON.stringify({ title: b.title, rows })}\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args[1]!, args[2]);
  const write = args.includes('--write');
  const filter = args.find((a) => !a.startsWith('--'))?.toLowerCase();
  const sections: string[] = [];
  for (const m of MODULES) {
    const childArgs = [
      '--import',
      'tsx',
      join(import.meta.dirname, 'run.ts'),
      '--child',
      m,
      ...(filter ? [filter] : []),
    ];
    const out = execFileSync(process.execPath, childArgs, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 26,
    });
    const line = out.split('\n').find((l) => l.startsWith('@@BENCH@@'));
    if (!line) throw new Error(`${m} printed no result`);
    const { title, rows } = JSON.parse(line.slice(9)) as { title: string; rows: BenchRow[] | null };
    if (!rows) continue;
    process.stdout.write(`\n## ${title}\n`);
    const t = table(rows);
    process.stdout.write(`${t}\n`);
    sections.push(`## ${title}\n\n${t}\n`);
  }
  if (write) {
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const header = `# Benchmark results\n\nProduced by \`npm run bench -- --write\` on ${cpu} (${cpus().length} cores, ${platform()}/${arch()}, Node ${process.version}). Each module runs in a fresh process; ratios compare against a reference measured in the same run.\n\n`;
    // bench/notes.md holds the hand-written commentary; it follows the generated tables.
    const notesPath = join(import.meta.dirname, 'notes.md');
    const notes = existsSync(notesPath) ? `\n${readFileSync(notesPath, 'utf8')}` : '';
    const results = join(import.meta.dirname, 'RESULTS.md');
    writeFileSync(results, header + sections.join('\n') + notes);
    // Column-aligned tables, as `npm run lint` (biome, which formats Markdown too) wants them.
    const biome = join(import.meta.dirname, '../node_modules/@biomejs/biome/bin/biome');
    execFileSync(process.execPath, [biome, 'format', '--write', results], { stdio: 'ignore' });
  }
}

await main();
