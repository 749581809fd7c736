// The `exec` and `disasm` commands: results against native execution, clear one-line errors for bad input.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { disassemble } from '../../src/cli/disasm';
import { execElf, parseF64, parseU64 } from '../../src/cli/exec';
import { buildCorpus, CORPUS_FNS } from '../hw/cpu/util/corpus';
import { hasGcc } from '../util/native';

const BIN = join(__dirname, '../../bin/sgxsim');

describe.skipIf(!hasGcc())('sgxsim exec and disasm', () => {
  const build = buildCorpus(['-O2']);
  const bytes = new Uint8Array(readFileSync(build.elf));

  it('calls a function with integer arguments and returns the native result', () => {
    const r = execElf(bytes, 't_arith64', [123456789n, 987n, 0n, 0n], 1e7);
    const idx = CORPUS_FNS.findIndex((f) => f.name === 't_arith64');
    const native = execFileSync(build.driver, [], {
      input: `${idx} ${(123456789).toString(16)} ${(987).toString(16)} 0 -\n`,
    })
      .toString()
      .split(' ')[0]!;
    expect(r.returned).toBe(true);
    expect(r.rax.toString(16).padStart(16, '0'), 'RAX against the native driver').toBe(native);
    expect(r.instructions).toBeGreaterThan(10);
  });

  it('passes doubles in XMM0-1 and returns the native double in XMM0', () => {
    const idx = CORPUS_FNS.findIndex((f) => f.name === 'd_poly');
    const bits = (d: number) => new BigUint64Array(new Float64Array([d]).buffer)[0]!.toString(16);
    for (const [x, y] of [
      [0, 0],
      [1.5, -0.75],
      [-3.25, 1e10],
    ] as const) {
      const r = execElf(bytes, 'd_poly', [0n, 0n], 1e6, [x, y]);
      const native = execFileSync(build.driver, [], { input: `${idx} ${bits(x)} ${bits(y)} 0 -\n` })
        .toString()
        .split(' ')[0]!;
      expect(r.returned).toBe(true);
      expect(r.xmm0.toString(16).padStart(16, '0'), `d_poly(${x}, ${y}) against the native driver`).toBe(native);
    }
  });

  it('takes --double from the command line and rejects a bad one', () => {
    const out = spawnSync(BIN, [
      'exec',
      build.elf,
      '--call',
      'd_poly',
      '--double',
      '1.5',
      '--double',
      '-0.75',
      '--json',
    ]);
    expect(out.status).toBe(0);
    const j = JSON.parse(out.stdout.toString()) as { xmm0Double: number };
    let r = 0;
    for (let k = 0; k < 8; k++) r = r * 1.5 + k * -0.75 - 1.25; // d_poly in corpus.c, evaluated in doubles
    expect(j.xmm0Double).toBe(r);
    expect(() => parseF64('1.2.3')).toThrow("--double '1.2.3' is not a number");
    expect(parseF64('-inf')).toBe(-Infinity);
  });

  it('reports a fault as the stop reason', () => {
    // t_memcpy dereferences its buffer argument: a null pointer faults with #PF.
    const r = execElf(bytes, 't_memcpy', [0n, 0n, 0n, 64n], 1e6);
    expect(r.returned).toBe(false);
    expect(r.stop).toMatch(/^fault #PF\(0x4\) at 0x0$/);
  });

  it('rejects a bad symbol, a bad ELF and a bad argument with one-line errors', () => {
    expect(() => execElf(bytes, 'no_such', [], 10)).toThrow("symbol 'no_such' is not defined in the ELF");
    expect(() => execElf(new Uint8Array(100), 'x', [], 10)).toThrow('not an ELF file (bad magic)');
    expect(() => parseU64('12x')).toThrow("--arg '12x' is not an integer");
    expect(() => parseU64(`${1n << 64n}`)).toThrow('does not fit in 64 bits');
    expect(parseU64('-1')).toBe((1n << 64n) - 1n);
    expect(() => execElf(bytes, 't_gcd', [1n, 2n, 3n, 4n, 5n, 6n, 7n], 10)).toThrow('at most 6 --arg values');
    const badBudget = spawnSync(BIN, ['exec', build.elf, '--call', 't_gcd', '--budget', 'lots'], { encoding: 'utf8' });
    expect(badBudget.status).toBe(1);
    expect(badBudget.stderr.trim()).toBe("sgxsim: --budget 'lots' is not a positive integer");
  });

  it('reports the spent budget when the function does not return', () => {
    const r = execElf(bytes, 't_recurse', [15n, 17n], 100);
    expect(r.returned).toBe(false);
    expect(r.stop).toBe('instruction budget spent');
    expect(r.instructions).toBe(100);
  });

  it('disassembles a symbol with labels on call targets', () => {
    const lines = disassemble(bytes, 't_recurse');
    expect(lines[0]).toMatch(/<t_recurse>:$/);
    expect(lines.join('\n')).toMatch(/call 0x[0-9a-f]+ <(ack|fib)>/);
    expect(() => disassemble(bytes, 'nope')).toThrow("symbol 'nope' is not defined");
  });

  it('exits 1 with a one-line message on bad input and 0 on success from the command line', () => {
    const bad = spawnSync(BIN, ['exec', build.elf, '--call', 'nope'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe("sgxsim: symbol 'nope' is not defined in the ELF");
    const ok = spawnSync(BIN, ['exec', build.elf, '--call', 't_gcd', '--arg', '48', '--arg', '18', '--json'], {
      encoding: 'utf8',
    });
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ rax: '0x7', returned: true, stop: 'returned' });
  });
});
