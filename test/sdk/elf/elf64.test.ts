import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ElfError, findSymbol, loadSegments, PT_LOAD, parseElf64 } from '../../../src/sdk/index';
import { compileC, hasGcc, runTool } from '../../util/native';

const SRC = `
int counter = 5;
const char msg[] = "hello";
int add(int a, int b) { return a + b + counter; }
void _start(void) { for (;;) ; }
`;

describe.skipIf(!hasGcc())('ELF64 reader', () => {
  const path = compileC(SRC, ['-O2', '-static-pie', '-nostdlib', '-ffreestanding', '-fPIE'], '.elf');
  const bytes = new Uint8Array(readFileSync(path));
  const elf = parseElf64(bytes);

  it('agrees with readelf on program headers', () => {
    const out = runTool('readelf', ['-lW', path]).toString();
    const loads = out.split('\n').filter((l) => /^\s+LOAD\s/.test(l));
    const ours = loadSegments(elf);
    expect(ours.length).toBe(loads.length);
    for (const [i, l] of loads.entries()) {
      const [, off, vaddr, , filesz, memsz] = l.trim().split(/\s+/);
      expect(ours[i]!.type).toBe(PT_LOAD);
      expect(ours[i]!.offset, `segment ${i} offset`).toBe(Number(off));
      expect(ours[i]!.vaddr, `segment ${i} vaddr`).toBe(Number(vaddr));
      expect(ours[i]!.filesz, `segment ${i} filesz`).toBe(Number(filesz));
      expect(ours[i]!.memsz, `segment ${i} memsz`).toBe(Number(memsz));
    }
  });

  it('agrees with nm on symbol values', () => {
    const nm = runTool('nm', [path]).toString();
    for (const name of ['add', 'counter', 'msg', '_start']) {
      const line = nm.split('\n').find((l) => l.endsWith(` ${name}`));
      expect(line, `nm lists ${name}`).toBeDefined();
      expect(findSymbol(elf, name)?.value, `${name} value`).toBe(Number.parseInt(line!.split(' ')[0]!, 16));
    }
  });

  it('agrees with readelf on section names', () => {
    const out = runTool('readelf', ['-SW', path]).toString();
    for (const s of elf.sections.filter((x) => x.name)) expect(out).toContain(s.name);
  });

  it('rejects malformed input with a one-line ElfError', () => {
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(10), /too short/],
      [Uint8Array.from(bytes).fill(0, 0, 4), /bad magic/],
      [
        (() => {
          const b = Uint8Array.from(bytes);
          b[4] = 1;
          return b;
        })(),
        /64-bit/,
      ],
      [
        (() => {
          const b = Uint8Array.from(bytes);
          b[18] = 3;
          return b;
        })(),
        /x86-64/,
      ],
      [bytes.slice(0, 200), /outside/],
    ];
    for (const [b, re] of cases) {
      let err: unknown;
      try {
        parseElf64(b);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ElfError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('never throws anything but ElfError on corrupted headers', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(255), fc.nat(255)), { minLength: 1, maxLength: 8 }), (edits) => {
        const b = Uint8Array.from(bytes);
        for (const [i, v] of edits) b[i] = v;
        try {
          parseElf64(b);
        } catch (e) {
          expect(e).toBeInstanceOf(ElfError);
        }
      }),
    );
  });
});
