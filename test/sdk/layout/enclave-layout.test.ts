import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nobleBackend, toHex } from '../../../src/hw/index';
import { nodeBackend } from '../../../src/node/crypto-node';
import {
  buildEnclaveLayout,
  EnclaveLayoutError,
  type EnclaveLayoutProblem,
  enclaveSizeFor,
  measureEnclave,
} from '../../../src/sdk/index';
import { buildElf, type ElfSpec } from '../../util/elf-builder';
import { compileC, hasGcc, runTool } from '../../util/native';

const SAMPLE = join(__dirname, '../../../enclaves/prebuilt/sample.elf');
const SAMPLE_BYTES = new Uint8Array(readFileSync(SAMPLE));
const ORACLE = join(__dirname, 'selftest-measure.py');
const DIR = mkdtempSync(join(tmpdir(), 'sgxsim-layout-'));
const R = 4;
const W = 2;
const X = 1;

/** The python/readelf oracle: "<mrenclave> <encl_size> <pages>" for an ELF file and heap size. */
function oracle(path: string, heap: number): { mrenclave: string; size: number; pages: number } {
  const [mrenclave, size, pages] = runTool('python3', [ORACLE, path, String(heap)])
    .toString()
    .trim()
    .split(' ');
  return { mrenclave: mrenclave!, size: Number(size), pages: Number(pages) };
}

function writeTemp(name: string, bytes: Uint8Array): string {
  const p = join(DIR, name);
  writeFileSync(p, bytes);
  return p;
}

/** The §7.2 V2 enclave as an ELF: a TCS page, an RW zero page, an RX page of i & 0xff; the heap is page 4. */
function v2Elf(): Uint8Array {
  const tcs = new Uint8Array(4096);
  const dv = new DataView(tcs.buffer);
  dv.setBigUint64(16, 0x1000n, true); // OSSA
  dv.setUint32(28, 1, true); // NSSA
  dv.setBigUint64(32, 0x2000n, true); // OENTRY
  dv.setUint32(64, 0xffffffff, true); // FSLIMIT
  dv.setUint32(68, 0xffffffff, true); // GSLIMIT
  const code = Uint8Array.from({ length: 4096 }, (_, i) => i & 0xff);
  return buildElf({
    phdrs: [
      { flags: R | W, offset: 0x1000, vaddr: 0, filesz: 0x1000 },
      { flags: R | W, offset: 0x2000, vaddr: 0x1000, filesz: 0x1000 },
      { flags: R | X, offset: 0x3000, vaddr: 0x2000, filesz: 0x1000 },
    ],
    contents: [
      [0x1000, tcs],
      [0x3000, code],
    ],
  });
}

describe('buildEnclaveLayout and measureEnclave', () => {
  it('give the published sgx-isa.md §7.2 V2 MRENCLAVE for an ELF with that page list', () => {
    const bytes = v2Elf();
    const layout = buildEnclaveLayout(bytes);
    expect(layout.size, 'SECS.SIZE').toBe(0x4000);
    expect(layout.pages.map((p) => [p.offset, Number(p.secinfoFlags), p.measure])).toEqual([
      [0x0000, 0x100, true],
      [0x1000, 0x203, true],
      [0x2000, 0x205, true],
      [0x3000, 0x203, false],
    ]);
    const want = 'd8c33a61ea1d7a61c4ebb0050f4221cafd1b27c66e9b7eaa8ed10b597b3d2430';
    expect(toHex(measureEnclave(nobleBackend, layout)), 'MRENCLAVE').toBe(want);
    expect(oracle(writeTemp('v2.elf', bytes), 4096).mrenclave, 'python oracle on the same file').toBe(want);
  });

  it('lay out the sample enclave as its linker script says', () => {
    const layout = buildEnclaveLayout(SAMPLE_BYTES);
    expect(
      layout.segments.map((s) => [s.kind, s.offset, s.size, Number(s.secinfoFlags), s.prot, s.measure]),
      'segments',
    ).toEqual([
      ['tcs', 0x0000, 0x2000, 0x100, R_PROT | W_PROT, true],
      ['load', 0x2000, 0x1000, 0x205, R_PROT | X_PROT, true],
      ['load', 0x3000, 0x6000, 0x203, R_PROT | W_PROT, true],
      ['heap', 0x9000, 0x1000, 0x203, R_PROT | W_PROT, false],
    ]);
    expect([layout.imageSize, layout.size, layout.pages.length, layout.ssaFrameSize]).toEqual([0xa000, 0x10000, 10, 1]);
  });

  it('decode the sample’s TCS pages with OSSA and OENTRY at the addresses nm reports', () => {
    const nm = runTool('nm', [SAMPLE]).toString();
    const sym = (name: string) =>
      BigInt(
        `0x${
          nm
            .split('\n')
            .find((l) => l.endsWith(` ${name}`))!
            .split(' ')[0]
        }`,
      );
    const layout = buildEnclaveLayout(SAMPLE_BYTES);
    expect(layout.tcs.map((t) => [t.offset, t.ossa, t.nssa, t.oentry, t.fsLimit, t.gsLimit])).toEqual([
      [0x0000, sym('encl_ssa'), 1, sym('encl_entry'), 0xffffffff, 0xffffffff],
      [0x1000, sym('encl_ssa') + 0x1000n, 1, sym('encl_entry'), 0xffffffff, 0xffffffff],
    ]);
  });

  for (const heap of [0, 4096, 3 * 4096, 64 * 4096]) {
    it(`measure the sample enclave with a ${heap}-byte heap as the python/readelf oracle does`, () => {
      const layout = buildEnclaveLayout(SAMPLE_BYTES, { heapSize: heap });
      const want = oracle(SAMPLE, heap);
      expect(toHex(measureEnclave(nodeBackend, layout)), 'MRENCLAVE').toBe(want.mrenclave);
      expect(layout.size, 'SECS.SIZE').toBe(want.size);
      expect(layout.pages.length, 'pages').toBe(want.pages);
    });
  }

  it('measure the prebuilt sample enclave to its golden MRENCLAVE with both backends', () => {
    const layout = buildEnclaveLayout(SAMPLE_BYTES);
    const golden = '3e9e557fa705a193ba534e22263bbf23c5001d6e180a7c713380682659e79f23';
    expect(toHex(measureEnclave(nobleBackend, layout)), 'noble').toBe(golden);
    expect(toHex(measureEnclave(nodeBackend, layout)), 'node').toBe(golden);
  });

  it('measure the file bytes that follow a short segment in its last page, as load.c maps them', () => {
    // The data segment has 16 bytes, but load.c adds (and EEXTENDs) the whole page from the file, so bytes that
    // belong to no segment are measured; past the end of the file the page reads as zeros.
    const tail = new Uint8Array(0x100).fill(0xab);
    const bytes = buildElf({
      phdrs: [
        { flags: R | W, offset: 0x1000, vaddr: 0, filesz: 0x1000 },
        { flags: R | W, offset: 0x2000, vaddr: 0x1000, filesz: 0x10 },
      ],
      contents: [[0x2010, tail]],
    });
    expect(bytes.length).toBe(0x2110);
    const layout = buildEnclaveLayout(bytes);
    const page = layout.pages[1]!.bytes;
    expect([page[0x0f], page[0x10], page[0x10f], page[0x110], page[0xfff]]).toEqual([0, 0xab, 0xab, 0, 0]);
    expect(toHex(measureEnclave(nobleBackend, layout))).toBe(oracle(writeTemp('tail.elf', bytes), 4096).mrenclave);
  });

  it('round the enclave size up to a power of two of at least one page', () => {
    expect([0, 1, 4096, 4097, 0xa000, 0x10000, 0x10001].map(enclaveSizeFor)).toEqual([
      0x1000, 0x1000, 0x1000, 0x2000, 0x10000, 0x10000, 0x20000,
    ]);
  });
});

const R_PROT = 1;
const W_PROT = 2;
const X_PROT = 4;

describe('buildEnclaveLayout rejects', () => {
  const tcs = { flags: R | W, offset: 0x1000, vaddr: 0, filesz: 0x1000 };
  const cases: Array<
    [string, ElfSpec | Uint8Array, { heapSize?: number; ssaFrameSize?: number }, EnclaveLayoutProblem, string]
  > = [
    [
      'a file that is not an ELF',
      new TextEncoder().encode('#!/bin/sh\necho not an enclave, but long enough to have an ELF header\n'),
      {},
      { kind: 'elf', detail: 'not an ELF file (bad magic)' },
      'not an ELF file (bad magic)',
    ],
    [
      'an ELF without PT_LOAD segments',
      { phdrs: [{ type: 4, flags: R, offset: 0x1000, vaddr: 0, filesz: 0x10 }] },
      {},
      { kind: 'no-tcs-segment' },
      'no PT_LOAD segment: the first PT_LOAD must hold the TCS pages',
    ],
    [
      'a TCS segment that is not exactly RW',
      { phdrs: [{ ...tcs, flags: R | X }] },
      {},
      { kind: 'tcs-flags', phdr: 0, flags: R | X },
      'the TCS segment (program header 0, the first PT_LOAD) must be exactly RW, not R-X',
    ],
    [
      'segment flags beyond R/W/X',
      { phdrs: [tcs, { flags: R | 8, offset: 0x2000, vaddr: 0x1000, filesz: 0x1000 }] },
      {},
      { kind: 'segment-flags', phdr: 1, flags: R | 8 },
      'program header 1 has invalid segment flags 0xc (only R, W and X are allowed)',
    ],
    [
      'an empty TCS segment',
      { phdrs: [{ ...tcs, filesz: 0 }] },
      {},
      { kind: 'empty-tcs-segment', phdr: 0 },
      'the TCS segment (program header 0) has no file contents, so the enclave has no TCS page',
    ],
    [
      'an empty PT_LOAD after the TCS segment',
      { phdrs: [tcs, { flags: R, offset: 0x2000, vaddr: 0x1000, filesz: 0 }] },
      {},
      { kind: 'empty-segment', phdr: 1 },
      'program header 1 is an empty PT_LOAD segment (ENCLAVE_ADD_PAGES cannot add 0 bytes)',
    ],
    [
      'a segment at an unaligned file offset',
      { phdrs: [tcs, { flags: R, offset: 0x2010, vaddr: 0x1010, filesz: 0x100 }] },
      {},
      { kind: 'unaligned-segment', phdr: 1, fileOffset: 0x2010 },
      'program header 1 starts at file offset 0x2010, which is not page aligned',
    ],
    [
      'a segment whose address differs from its file position',
      { phdrs: [tcs, { flags: R | X, offset: 0x2000, vaddr: 0x3000, filesz: 0x1000 }] },
      {},
      { kind: 'file-layout', phdr: 1, fileOffset: 0x2000, vaddr: 0x3000, expectedVaddr: 0x1000 },
      'program header 1 is at file offset 0x2000 but address 0x3000 (expected 0x1000): segments must sit in the file as they sit in memory',
    ],
    [
      'overlapping segments',
      {
        phdrs: [
          tcs,
          { flags: R | X, offset: 0x2000, vaddr: 0x1000, filesz: 0x2000 },
          { flags: R | W, offset: 0x3000, vaddr: 0x2000, filesz: 0x1000 },
        ],
      },
      {},
      { kind: 'overlap', phdr: 2, previousPhdr: 1, enclaveOffset: 0x2000 },
      'program headers 1 and 2 overlap at enclave offset 0x2000',
    ],
    [
      'a segment with .bss beyond its file contents',
      { phdrs: [tcs, { flags: R | W, offset: 0x2000, vaddr: 0x1000, filesz: 0x1000, memsz: 0x1800 }] },
      {},
      { kind: 'bss', phdr: 1, filesz: 0x1000, memsz: 0x1800 },
      'program header 1 has p_memsz 0x1800 > p_filesz 0x1000: only file contents are added to the enclave, so zero-initialised data (.bss) must be in the file',
    ],
    [
      'a heap that is not a whole number of pages',
      { phdrs: [tcs] },
      { heapSize: 1000 },
      { kind: 'heap-size', heapSize: 1000 },
      'heap size 1000 is not a non-negative multiple of 4096',
    ],
    [
      'an SSA frame size of 0',
      { phdrs: [tcs] },
      { ssaFrameSize: 0 },
      { kind: 'ssa-frame-size', ssaFrameSize: 0 },
      'SSA frame size 0 is not a positive whole number of pages',
    ],
  ];
  for (const [what, input, options, problem, message] of cases) {
    it(`${what}, naming the problem in one line`, () => {
      const bytes = input instanceof Uint8Array ? input : buildElf(input);
      let err: unknown;
      try {
        buildEnclaveLayout(bytes, options);
      } catch (e) {
        err = e;
      }
      expect(err, 'an EnclaveLayoutError').toBeInstanceOf(EnclaveLayoutError);
      const e = err as EnclaveLayoutError;
      expect(e.data, 'problem').toEqual(problem);
      expect(e.message, 'message').toBe(message);
      expect(e.toJSON(), 'JSON form').toEqual({
        name: 'EnclaveLayoutError',
        code: 'ENCLAVE_LAYOUT',
        message,
        data: problem,
      });
    });
  }

  it.skipIf(!hasGcc())('an ordinary gcc static-pie executable, whose first PT_LOAD is read-only', () => {
    const path = compileC('void _start(void) { for (;;) ; }', ['-O2', '-static-pie', '-nostdlib', '-fPIE'], '.elf');
    expect(() => buildEnclaveLayout(new Uint8Array(readFileSync(path)))).toThrow(
      /^the TCS segment \(program header \d+, the first PT_LOAD\) must be exactly RW, not R--$/,
    );
  });

  it('readelf agrees with the test ELF writer on the V2 file', () => {
    const out = execFileSync('readelf', ['-lW', writeTemp('v2-readelf.elf', v2Elf())]).toString();
    expect(out.split('\n').filter((l) => /^\s+LOAD\s/.test(l))).toHaveLength(3);
  });
});
