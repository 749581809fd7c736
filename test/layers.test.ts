// The layer rules of DESIGN.md §1 as a test: imports point down only, across layers only through index.ts,
// no node: imports in the isomorphic core, and no wall clock or Math.random in the deterministic core.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '../src');
const RANK: Record<string, number> = { hw: 0, kernel: 1, driver: 2, vdso: 3, sdk: 4, node: 5, cli: 6, web: 6 };
const NODE_OK = new Set(['cli', 'node']);
const DETERMINISTIC = new Set(['hw', 'kernel', 'driver', 'vdso', 'sdk']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function layerOf(file: string): string {
  return relative(SRC, file).split('/')[0]!;
}

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

describe('layer rules', () => {
  const all = files(SRC);

  it('finds the source tree', () => {
    expect(all.length).toBeGreaterThan(5);
  });

  it('imports point down, and cross-layer imports go through index.ts', () => {
    const bad: string[] = [];
    for (const f of all) {
      const from = layerOf(f);
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(IMPORT_RE)) {
        const spec = m[1] ?? m[2]!;
        if (!spec.startsWith('.')) continue;
        const target = resolve(dirname(f), spec);
        const to = layerOf(target);
        if (to === from) continue;
        if ((RANK[to] ?? 99) > (RANK[from] ?? -1)) bad.push(`${relative(SRC, f)} imports up into ${to}: ${spec}`);
        // Node adapters may reach into hw internals they implement (e.g. the CryptoBackend interface).
        const rel = relative(join(SRC, to), target);
        if (from !== 'node' && rel !== 'index' && rel !== 'index.ts' && rel !== '') {
          bad.push(`${relative(SRC, f)} bypasses ${to}/index.ts: ${spec}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('keeps node: imports out of the isomorphic core', () => {
    const bad = all.filter(
      (f) => !NODE_OK.has(layerOf(f)) && /from\s+['"]node:|import\(\s*['"]node:/.test(readFileSync(f, 'utf8')),
    );
    expect(bad.map((f) => relative(SRC, f))).toEqual([]);
  });

  it('uses no wall clock or Math.random in the deterministic core', () => {
    const bad: string[] = [];
    for (const f of all) {
      if (!DETERMINISTIC.has(layerOf(f))) continue;
      const text = readFileSync(f, 'utf8')
        .replace(/\/\/.*$/gm, '')
        .replace(/\/\*[\s\S]*?\*\//g, '');
      for (const pat of [/Math\.random/, /Date\.now/, /new Date\b/, /performance\.now/, /crypto\.getRandomValues/]) {
        if (pat.test(text)) bad.push(`${relative(SRC, f)}: ${pat.source}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
