/**
 * Helpers for the enclave tests: compiling enclave C sources for the host (with a cache key covering every file
 * involved), the sgx-lite harness, and reading the runtime metadata of an enclave ELF.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Decoded, decode } from '../../src/hw/index';
import { buildEnclaveLayout, type EnclaveLayout, findSymbol, parseElf64, RUNTIME_META } from '../../src/sdk/index';
import { compileC } from '../util/native';

export const ENCLAVES = join(__dirname, '../../enclaves');
export const RUNTIME_INCLUDE = join(ENCLAVES, 'runtime/include');
export const PREBUILT = join(ENCLAVES, 'prebuilt');

function headers(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && d.name.endsWith('.h'))
    .map((d) => join(d.parentPath, d.name))
    .sort();
}

/**
 * Compiles `main` together with `files`, with `includes` on the include path, and returns the binary. The source
 * carries a hash of every file and header involved, so the compile cache never serves a stale build.
 */
export function compileWith(
  main: string,
  files: readonly string[],
  includes: readonly string[],
  flags: readonly string[] = ['-O2', '-Wall', '-Wextra', '-Werror'],
): string {
  const h = createHash('sha256');
  for (const f of [...files, ...includes.flatMap(headers)]) h.update(f).update(readFileSync(f));
  return compileC(`/* deps ${h.digest('hex')} */\n${main}`, [...flags, ...includes.map((i) => `-I${i}`), ...files]);
}

/** The sgx-lite harness binary (test/enclaves/harness/sgx-lite.c). */
export function harnessBinary(): string {
  return compileWith(
    readFileSync(join(__dirname, 'harness/sgx-lite.c'), 'utf8'),
    [join(ENCLAVES, 'seal/cmac.c'), join(ENCLAVES, 'seal/aes.c'), join(ENCLAVES, 'compute/sha256.c')],
    [RUNTIME_INCLUDE, join(ENCLAVES, 'seal'), join(ENCLAVES, 'compute')],
    ['-O1', '-Wall', '-Wextra', '-Werror'],
  );
}

export type RuntimeMeta = Decoded<typeof RUNTIME_META>;

/** The runtime metadata of an enclave ELF, through the encl_rt_meta symbol (the image is linked at 0). */
export function readMeta(bytes: Uint8Array): RuntimeMeta {
  const elf = parseElf64(bytes);
  const sym = findSymbol(elf, 'encl_rt_meta');
  if (!sym) throw new Error('no encl_rt_meta symbol');
  return decode(RUNTIME_META, bytes, fileOffset(bytes, sym.value));
}

/** File offset of an enclave offset: PT_LOAD #0 is at enclave offset 0 and the file mirrors memory. */
export function fileOffset(bytes: Uint8Array, enclaveOffset: number): number {
  const first = parseElf64(bytes).segments.find((s) => s.type === 1);
  if (!first) throw new Error('no PT_LOAD');
  return first.offset - first.vaddr + enclaveOffset;
}

/** A NUL-terminated string at an enclave offset. */
export function cstringAt(bytes: Uint8Array, enclaveOffset: number): string {
  const start = fileOffset(bytes, enclaveOffset);
  let end = start;
  while (bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(start, end));
}

/** The enclave's ecall names in index order, read from encl_rt_meta as a host would. */
export function ecallNames(bytes: Uint8Array): string[] {
  const meta = readMeta(bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const names: string[] = [];
  for (let i = 0; i < Number(meta.nrEcalls); i++) {
    const at = fileOffset(bytes, Number(meta.ecalls) + 16 * i + 8);
    names.push(cstringAt(bytes, Number(dv.getBigUint64(at, true))));
  }
  return names;
}

/** The enclave layout a loader following the metadata builds. */
export function layoutOf(bytes: Uint8Array): EnclaveLayout {
  return buildEnclaveLayout(bytes, { heapSize: Number(readMeta(bytes).heapSize) });
}

/** Runs the harness on an enclave ELF with a command script; returns its output lines. */
export function runHarness(elfPath: string, script: readonly string[], options: readonly string[] = []): string[] {
  const bytes = readFileSync(elfPath);
  const layout = layoutOf(bytes);
  const out = execFileSync(
    harnessBinary(),
    [elfPath, `0x${layout.size.toString(16)}`, `0x${layout.heapSize.toString(16)}`, ...options],
    { input: `${script.join('\n')}\n`, maxBuffer: 1 << 26 },
  ).toString();
  return out.trimEnd().split('\n');
}

export const hex = (b: Uint8Array | Buffer): string => Buffer.from(b).toString('hex');
