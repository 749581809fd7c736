#!/usr/bin/env node
// Builds the enclaves under enclaves/ with the host gcc as static-pie ELF files in the shape of the Linux SGX
// selftests' test_encl.elf, and (by default) refreshes enclaves/prebuilt/ plus its manifest.
//
//   node enclaves/build.mjs                 # rebuild enclaves/prebuilt/*.elf and manifest.json
//   node enclaves/build.mjs --out DIR       # build into DIR only (tests use this to compare with prebuilt)
//   node enclaves/build.mjs --out DIR --only compute   # one enclave (`sgxsim demo` builds compute this way)
//
// Builds are byte-reproducible for a given gcc and binutils: gcc runs in the source directory with relative
// file names (so no absolute path reaches .symtab), the build-id note is off, and the linker script discards
// .comment (the compiler version string) and the relocation sections. The manifest records the toolchain.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const PREBUILT = join(HERE, 'prebuilt');

/** The trusted runtime (enclaves/runtime/), linked into every enclave but the sample. Paths from an enclave's dir. */
const RUNTIME = {
  sources: ['../runtime/entry.S', '../runtime/edge.c', '../runtime/exception.c', '../runtime/enclu.c', '../runtime/string.c'],
  lds: '../runtime/enclave.lds',
  flags: ['-I../runtime/include'],
};

/**
 * Each enclave: its source directory, sources in link order, linker script, and flags beyond CFLAGS. The sample
 * is the selftests-shaped enclave without the runtime; the others are built on the runtime.
 */
export const ENCLAVES = [
  { name: 'sample', dir: 'sample', sources: ['entry.S', 'sample.c'], lds: 'sample.lds', flags: [] },
  {
    name: 'seal',
    dir: 'seal',
    sources: [...RUNTIME.sources, 'seal.c', 'blob.c', 'gcm.c', 'cmac.c', 'aes.c'],
    lds: RUNTIME.lds,
    flags: RUNTIME.flags,
  },
  {
    name: 'compute',
    dir: 'compute',
    sources: [...RUNTIME.sources, 'compute.c', 'faults.S', 'sha256.c', 'crc32.c', 'sort.c'],
    lds: RUNTIME.lds,
    flags: RUNTIME.flags,
  },
];

export const CFLAGS = [
  '-std=gnu11',
  '-O2',
  '-Wall',
  '-Wextra',
  '-Werror',
  // Freestanding and position independent: no libc, no GOT, no PLT; every address is RIP-relative.
  '-ffreestanding',
  '-fno-builtin',
  '-fno-tree-loop-distribute-patterns', // no memset/memcpy calls invented by the optimiser
  '-nostdlib',
  '-fPIC',
  '-fvisibility=hidden',
  // Nothing that reads FS (stack protector canary) or emits instructions the enclave does not need.
  '-fno-stack-protector',
  '-fcf-protection=none',
  '-fno-asynchronous-unwind-tables',
  '-fno-unwind-tables',
  '-static-pie',
  '-Wl,--build-id=none',
  '-Wl,-z,max-page-size=4096',
  '-Wl,-z,norelro',
  '-Wl,-z,noexecstack',
];

function toolVersion(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0].trim();
}

/** The toolchain that determines the output bytes. */
export function toolchain() {
  return { gcc: toolVersion('gcc', ['-dumpfullversion']), ld: toolVersion('ld', ['--version']) };
}

/** Builds one enclave into `outDir` and returns its path. */
export function buildEnclave(e, outDir) {
  const src = join(HERE, e.dir);
  const out = resolve(outDir, `${e.name}.elf`);
  execFileSync('gcc', [...CFLAGS, ...e.flags, `-Wl,-T,${e.lds}`, '-o', out, ...e.sources], {
    cwd: src,
    stdio: 'inherit',
  });
  return out;
}

function main(argv) {
  const i = argv.indexOf('--out');
  const outDir = i >= 0 ? argv[i + 1] : PREBUILT;
  if (!outDir) throw new Error('--out needs a directory');
  const j = argv.indexOf('--only');
  const only = j >= 0 ? argv[j + 1] : undefined;
  if (j >= 0 && !ENCLAVES.some((e) => e.name === only)) throw new Error(`--only needs one of ${ENCLAVES.map((e) => e.name).join(', ')}`);
  if (only && resolve(outDir) === PREBUILT) throw new Error('--only needs --out: the manifest covers every enclave');
  mkdirSync(outDir, { recursive: true });
  const manifest = { toolchain: toolchain(), cflags: CFLAGS, enclaves: {} };
  for (const e of ENCLAVES.filter((x) => !only || x.name === only)) {
    const path = buildEnclave(e, outDir);
    const bytes = readFileSync(path);
    manifest.enclaves[`${e.name}.elf`] = {
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.length,
      ...(e.flags.length ? { flags: e.flags } : {}),
    };
    process.stdout.write(`built ${path}\n`);
  }
  if (resolve(outDir) === PREBUILT) writeFileSync(join(PREBUILT, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`build.mjs: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
    process.exitCode = 1;
  }
}
