import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decode, PageType } from '../../src/hw/index';
import {
  ECALL_ENTRY,
  RUNTIME_ABI_VERSION,
  RUNTIME_MAGIC,
  RuntimeThreads,
  threadBlockOffset,
} from '../../src/sdk/index';
import { hasGcc, runTool } from '../util/native';
import { ENCLAVES, ecallNames, fileOffset, layoutOf, PREBUILT, readMeta } from './native-enclave';

// The enclaves built on the trusted runtime, checked as files: the layout src/sdk/layout builds from them, the
// TCS/SSA/thread-block convention of enclaves/runtime/README.md (readelf and nm as oracles), the metadata a host
// reads, the relocations the linker would have emitted, and byte-for-byte reproducibility.
const MANIFEST = JSON.parse(readFileSync(join(PREBUILT, 'manifest.json'), 'utf8')) as {
  toolchain: { gcc: string; ld: string };
  cflags: string[];
  enclaves: Record<string, { sha256: string; size: number; flags?: string[] }>;
};

function toolchain(): { gcc: string; ld: string } | null {
  if (!hasGcc()) return null;
  return {
    gcc: execFileSync('gcc', ['-dumpfullversion']).toString().trim(),
    ld: execFileSync('ld', ['--version']).toString().split('\n')[0]!.trim(),
  };
}
const TOOLCHAIN = toolchain();
const SAME_TOOLCHAIN =
  TOOLCHAIN !== null && TOOLCHAIN.gcc === MANIFEST.toolchain.gcc && TOOLCHAIN.ld === MANIFEST.toolchain.ld;

const EXPECTED_ECALLS = {
  seal: ['seal', 'seal_mrenclave', 'unseal', 'report', 'verify_report', 'getkey'],
  compute: ['sha256', 'crc32', 'sort', 'fault', 'hello', 'echo', 'ocall_rounds', 'abort', 'nop'],
} as const;
const EXPECTED_OCALLS = { seal: [], compute: ['print', 'echo'] } as const;

/** What the tests use of enclaves/build.mjs. */
interface BuildScript {
  CFLAGS: string[];
  ENCLAVES: { name: string; dir: string; sources: string[]; lds: string; flags: string[] }[];
}

function nm(path: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of runTool('nm', [path]).toString().trim().split('\n')) {
    const [value, , name] = line.split(' ');
    if (name) out.set(name, Number.parseInt(value!, 16));
  }
  return out;
}

function readU64(bytes: Uint8Array, enclaveOffset: number): number {
  return Number(Buffer.from(bytes).readBigUInt64LE(fileOffset(bytes, enclaveOffset)));
}

let freshDir: string | undefined;
/** One fresh build of every enclave per test run, into a temporary directory. */
function fresh(): string {
  if (freshDir === undefined) {
    freshDir = mkdtempSync(join(tmpdir(), 'sgxsim-enclaves-'));
    execFileSync('node', [join(ENCLAVES, 'build.mjs'), '--out', freshDir], { stdio: 'ignore' });
  }
  return freshDir;
}

describe.each(['seal', 'compute'] as const)('the %s enclave image', (name) => {
  const path = join(PREBUILT, `${name}.elf`);
  const bytes = readFileSync(path);
  const meta = readMeta(bytes);
  const syms = hasGcc() ? nm(path) : new Map<string, number>();

  it('matches the manifest', () => {
    const entry = MANIFEST.enclaves[`${name}.elf`]!;
    expect(createHash('sha256').update(bytes).digest('hex'), 'sha256').toBe(entry.sha256);
    expect(bytes.length, 'size').toBe(entry.size);
    expect(entry.flags, 'built with the runtime’s include path').toEqual(['-I../runtime/include']);
  });

  it.skipIf(!SAME_TOOLCHAIN)('is what enclaves/build.mjs builds from the sources today', () => {
    const built = readFileSync(join(fresh(), `${name}.elf`));
    expect(built.equals(bytes), `fresh build equals enclaves/prebuilt/${name}.elf (run node enclaves/build.mjs)`).toBe(
      true,
    );
  });

  it('carries runtime metadata with the ABI’s magic, version and thread convention', () => {
    expect(meta.magic).toBe(RUNTIME_MAGIC);
    expect(meta.version).toBe(BigInt(RUNTIME_ABI_VERSION));
    expect(meta.nrTcs).toBe(BigInt(RuntimeThreads.NR_TCS));
    expect(meta.tcs).toBe(0n);
    expect(meta.nssa).toBe(BigInt(RuntimeThreads.NSSA));
    expect(meta.ssaFramePages).toBe(BigInt(RuntimeThreads.SSA_FRAME_PAGES));
    expect(meta.threadSize).toBe(BigInt(RuntimeThreads.THREAD_SIZE));
    expect(meta.heapSize).toBe(BigInt(RuntimeThreads.HEAP_SIZE));
    expect(meta.edgeBufSize).toBe(BigInt(RuntimeThreads.EDGE_BUF_SIZE));
    expect(meta.stackSize).toBe(BigInt(RuntimeThreads.STACK_SIZE));
    expect(meta.callBlockSize).toBe(128n);
  });

  it('names its ecalls and ocalls in encl_rt_meta, with function offsets nm agrees with', () => {
    expect(ecallNames(bytes)).toEqual(EXPECTED_ECALLS[name]);
    const ocalls = Array.from({ length: Number(meta.nrOcalls) }, (_, i) => {
      const at = readU64(bytes, Number(meta.ocalls) + 8 * i);
      const start = fileOffset(bytes, at);
      return Buffer.from(bytes.subarray(start, bytes.indexOf(0, start))).toString();
    });
    expect(ocalls).toEqual(EXPECTED_OCALLS[name]);
    if (!hasGcc()) return;
    EXPECTED_ECALLS[name].forEach((ecall, i) => {
      const entry = decode(ECALL_ENTRY, bytes, fileOffset(bytes, Number(meta.ecalls) + 16 * i));
      expect(Number(entry.fn), `ecall ${ecall}`).toBe(syms.get(`ecall_${ecall}`));
    });
  });

  it('is accepted by buildEnclaveLayout with the metadata’s heap, at the SECS.SIZE the runtime assumes', () => {
    const layout = layoutOf(bytes);
    expect(layout.size, 'SECS.SIZE').toBe(Number(meta.enclaveSize));
    expect(layout.segments.map((s) => s.kind)).toEqual(['tcs', 'load', 'load', 'heap']);
    expect(layout.segments.at(-1)!.offset, 'the heap starts where the metadata says').toBe(Number(meta.heap));
    expect(layout.pages.length, 'tens of pages at most').toBeLessThanOrEqual(40);
    expect(layout.ssaFrameSize).toBe(RuntimeThreads.SSA_FRAME_PAGES);
  });

  it.skipIf(!hasGcc())('has TCS pages whose OSSA, NSSA and OENTRY follow the thread-block convention (nm)', () => {
    const layout = layoutOf(bytes);
    const threads = syms.get('encl_threads')!;
    const entry = syms.get('encl_entry')!;
    expect(Number(meta.threads), 'meta.threads = encl_threads').toBe(threads);
    expect(Number(meta.entry), 'meta.entry = encl_entry').toBe(entry);
    expect(threads % RuntimeThreads.THREAD_SIZE, 'thread blocks are aligned to their size').toBe(0);
    expect(threads + RuntimeThreads.NR_TCS * RuntimeThreads.THREAD_SIZE, 'the heap follows the blocks').toBe(
      Number(meta.heap),
    );
    expect(layout.tcs.map((t) => t.offset)).toEqual([0, 0x1000]);
    layout.tcs.forEach((t, i) => {
      const block = threadBlockOffset(t.offset, {
        nrTcs: Number(meta.nrTcs),
        threads,
        threadSize: RuntimeThreads.THREAD_SIZE,
        enclaveSize: Number(meta.enclaveSize),
      });
      expect(Number(t.ossa), `TCS ${i} OSSA: its block's first page`).toBe(block);
      expect(t.nssa, `TCS ${i} NSSA`).toBe(RuntimeThreads.NSSA);
      expect(Number(t.oentry), `TCS ${i} OENTRY`).toBe(entry);
      expect([t.flags, t.ofsBase, t.ogsBase], `TCS ${i} FLAGS, OFSBASGX, OGSBASGX`).toEqual([0n, 0n, 0n]);
      expect([t.fsLimit, t.gsLimit]).toEqual([0xffffffff, 0xffffffff]);
    });
    // The thread blocks are measured, zero, regular RW pages of the last PT_LOAD segment.
    for (const page of layout.pages.filter((p) => p.offset >= threads && p.offset < Number(meta.heap))) {
      expect(page.pageType, `page ${page.offset.toString(16)}`).toBe(PageType.REG);
      expect(page.measure).toBe(true);
      expect(page.secinfoFlags & 7n, 'R|W').toBe(3n);
      expect(page.bytes.every((b) => b === 0)).toBe(true);
    }
  });

  it.skipIf(!hasGcc())(
    'has the selftests’ shape per readelf: TCS RW, text RE, data RW, linked at 0, no relocations',
    () => {
      const loads = runTool('readelf', ['-lW', path])
        .toString()
        .split('\n')
        .filter((l) => /^\s+LOAD\s/.test(l))
        .map((l) => {
          const f = l.trim().split(/\s+/);
          return { offset: Number(f[1]), vaddr: Number(f[2]), perms: f.slice(6, -1).join('') };
        });
      expect(loads.map((l) => l.perms)).toEqual(['RW', 'RE', 'RW']);
      expect(loads[0]!.vaddr).toBe(0);
      for (const l of loads) expect(l.offset - l.vaddr, 'the file mirrors memory').toBe(loads[0]!.offset);
      expect(runTool('readelf', ['-rW', path]).toString()).toContain('There are no relocations in this file.');
      const sections = runTool('readelf', ['-SW', path]).toString();
      for (const s of ['.dynamic', '.got', '.bss', '.comment', '.note', '.interp'])
        expect(sections, s).not.toContain(s);
      const entry = runTool('readelf', ['-hW', path])
        .toString()
        .match(/Entry point address:\s+(0x[0-9a-f]+)/)![1]!;
      expect(Number(entry), 'ELF entry = encl_entry').toBe(syms.get('encl_entry'));
    },
  );

  it.skipIf(!hasGcc())(
    'needs no run-time relocation beyond the words the runtime offsets itself (readelf)',
    async () => {
      // Link again with a script that keeps the dynamic relocations the real one discards, then list them: every
      // one must be a word the runtime treats as an enclave offset (TCS OSSA/OENTRY, encl_rt_meta's offsets, the
      // ecall and ocall tables). Anything else would be an absolute address the loader never fixes up.
      const dir = mkdtempSync(join(tmpdir(), 'sgxsim-relocs-'));
      const lds = readFileSync(join(ENCLAVES, 'runtime/enclave.lds'), 'utf8')
        .replace(/\t\t\*\((\.dyn\*|\.gnu\.hash|\.hash|\.got\*|\.rela\*|\.interp)\)\n/g, '')
        .replace(/ASSERT\(!DEFINED\(_GLOBAL_OFFSET_TABLE_\).*\n/, '')
        .replace(
          '\t/* The heap the loader adds',
          `${['.interp', '.dynsym', '.dynstr', '.gnu.hash', '.hash', '.rela.dyn', '.dynamic', '.got']
            .map((s) => `\t${s} : { *(${s === '.rela.dyn' ? '.rela*' : s}) } : data\n`)
            .join('')}\t/* The heap the loader adds`,
        );
      writeFileSync(join(dir, 'keep.lds'), lds);
      const build = (await import(pathToFileURL(join(ENCLAVES, 'build.mjs')).href)) as BuildScript;
      const e = build.ENCLAVES.find((x) => x.name === name)!;
      const out = join(dir, `${name}.elf`);
      execFileSync('gcc', [...build.CFLAGS, ...e.flags, `-Wl,-T,${join(dir, 'keep.lds')}`, '-o', out, ...e.sources], {
        cwd: join(ENCLAVES, e.dir),
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const relocs = runTool('readelf', ['-rW', out])
        .toString()
        .split('\n')
        .filter((l) => /R_X86_64_/.test(l))
        .map((l) => {
          const f = l.trim().split(/\s+/);
          return { offset: Number.parseInt(f[0]!, 16), type: f[2]! };
        })
        .filter((r) => r.type !== 'R_X86_64_NONE');
      const keep = nm(out);
      const metaAt = keep.get('encl_rt_meta')!;
      const allowed = new Set<number>();
      for (let i = 0; i < RuntimeThreads.NR_TCS; i++) allowed.add(i * 4096 + 16).add(i * 4096 + 32); // OSSA, OENTRY
      for (const f of [24, 56, 64, 72, 128, 144]) allowed.add(metaAt + f); // tcs threads entry heap ecalls ocalls
      for (let i = 0; i < EXPECTED_ECALLS[name].length; i++)
        allowed.add(keep.get('encl_ecalls')! + 16 * i).add(keep.get('encl_ecalls')! + 16 * i + 8);
      for (let i = 0; i < EXPECTED_OCALLS[name].length; i++) allowed.add(keep.get('encl_ocall_names')! + 8 * i);
      expect(relocs.length, 'relocations found').toBeGreaterThan(0);
      for (const r of relocs) {
        expect(r.type, `relocation at ${r.offset.toString(16)}`).toBe('R_X86_64_RELATIVE');
        expect(allowed.has(r.offset), `relocation at ${r.offset.toString(16)} is an offset the runtime adjusts`).toBe(
          true,
        );
      }
    },
  );
});
