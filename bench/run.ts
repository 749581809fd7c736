/**
 * `npm run bench`: runs every benchmark, prints Markdown tables, and with `--write` refreshes bench/RESULTS.md.
 * `npm run bench -- <filter>` runs the benchmarks whose title contains the filter.
 */
import { writeFileSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import { join } from 'node:path';
import { type Bench, table } from './lib';

const MODULES = ['sgx.ts', 'cpu.ts', 'vdso.ts', 'ecall.ts', 'paging.ts'] as const satisfies readonly string[];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const write = args.includes('--write');
  const filter = args.find((a) => !a.startsWith('--'));
  const sections: string[] = [];
  for (const m of MODULES) {
    const mod = (await import(`./${m}`)) as { default: Bench };
    const b = mod.default;
    if (filter && !b.title.toLowerCase().includes(filter.toLowerCase())) continue;
    process.stdout.write(`\n## ${b.title}\n`);
    const rows = await b.run();
    const t = table(rows);
    process.stdout.write(`${t}\n`);
    sections.push(`## ${b.title}\n\n${t}\n`);
  }
  if (write) {
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const header = `# Benchmark results\n\nProduced by \`npm run bench -- --write\` on ${cpu} (${cpus().length} cores, ${platform()}/${arch()}, Node ${process.version}). Ratios compare against a reference measured in the same run.\n\n`;
    writeFileSync(join(import.meta.dirname, 'RESULTS.md'), header + sections.join('\n'));
  }
}

await main();
