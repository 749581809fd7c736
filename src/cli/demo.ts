/**
 * `sgxsim demo` (what `npm start` runs): builds the sample enclave with gcc (or takes the prebuilt copy), measures
 * and signs it, then builds it on the modelled processor with ENCLS[ECREATE], [EADD], [EEXTEND] and [EINIT] the
 * way the Linux driver sequences them, and prints what happened.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import {
  AttrFlags,
  computeMrSigner,
  DEFAULT_EPC_BASE,
  describeFault,
  EnclsLeaf,
  type EnclsOutcome,
  encls,
  encode,
  MSR_IA32_SGXLEPUBKEYHASH0,
  PAGE_SIZE,
  PAGEINFO,
  PhysMem,
  Rng,
  SECINFO,
  SECS,
  SgxMachine,
  sgxStatusName,
  toHex,
} from '../hw/index';
import { nodeBackend, readSigningKey } from '../node/index';
import { buildEnclaveLayout, measureEnclave, signSigstruct } from '../sdk/index';
import type { CliIo } from './io';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MiB = 2 ** 20;

/** The sample enclave: a fresh gcc build when gcc works, else the committed prebuilt copy. */
function sampleEnclave(io: CliIo): { bytes: Uint8Array; origin: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sgxsim-demo-'));
  try {
    execFileSync(process.execPath, [join(ROOT, 'enclaves/build.mjs'), '--out', dir], { stdio: 'ignore' });
    return {
      bytes: new Uint8Array(readFileSync(join(dir, 'sample.elf'))),
      origin: 'built with gcc from enclaves/sample',
    };
  } catch {
    io.stdout('  (gcc build failed or gcc is missing; using enclaves/prebuilt/sample.elf)\n');
    return { bytes: new Uint8Array(readFileSync(join(ROOT, 'enclaves/prebuilt/sample.elf'))), origin: 'prebuilt' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A trivial bump allocator over a physical range, standing in for the kernel's page allocators. */
class Bump {
  constructor(private next: number) {}
  take(): number {
    const pa = this.next;
    this.next += PAGE_SIZE;
    return pa;
  }
}

function check(what: string, o: EnclsOutcome): void {
  if (o.kind === 'fault') throw new Error(`${what} faulted: ${describeFault(o.fault)}`);
  if (o.kind === 'status' && o.rax !== 0) throw new Error(`${what} returned ${sgxStatusName(o.rax)}`);
}

export async function demoCommand(io: CliIo): Promise<void> {
  const crypto = nodeBackend;
  io.stdout('sgxsim demo: one enclave built on the modelled SGX processor\n\n');

  io.stdout('1. Build the sample enclave\n');
  const { bytes, origin } = sampleEnclave(io);
  const layout = buildEnclaveLayout(bytes);
  io.stdout(
    `  ${origin}: ${layout.pages.length} pages, ${layout.tcs.length} TCS, SECS.SIZE 0x${layout.size.toString(16)}\n`,
  );

  io.stdout('2. Measure and sign it (the selftests’ recipe)\n');
  const mrenclave = measureEnclave(crypto, layout);
  const key = readSigningKey(join(ROOT, 'enclaves/keys/demo-key.pem'));
  const sigstruct = signSigstruct(crypto, key, { enclaveHash: mrenclave });
  const mrsigner = computeMrSigner(crypto, sigstruct);
  io.stdout(`  MRENCLAVE ${toHex(mrenclave)}\n  MRSIGNER  ${toHex(mrsigner)}\n`);

  io.stdout('3. Build it with ENCLS on a machine with 64 MiB RAM and 8 MiB EPC\n');
  const physMem = new PhysMem({ ramBytes: 64 * MiB, epcSections: [{ base: DEFAULT_EPC_BASE, size: 8 * MiB }] });
  const m = new SgxMachine({ physMem, crypto, rng: new Rng('sgxsim-demo') });
  const ram = new Bump(16 * MiB);
  const epc = new Bump(DEFAULT_EPC_BASE);
  const base = 0x7f00_0000_0000 - layout.size; // aligned: size is a power of two ≤ 2^40

  const secsSrc = ram.take();
  physMem.write(
    secsSrc,
    encode(SECS, {
      size: BigInt(layout.size),
      baseAddr: BigInt(base),
      ssaFrameSize: layout.ssaFrameSize,
      attributes: AttrFlags.MODE64BIT,
      xfrm: 3n,
    }),
  );
  const pageinfo = ram.take();
  const secinfo = pageinfo + 64;
  const secsPa = epc.take();
  physMem.write(pageinfo, encode(PAGEINFO, { srcPge: BigInt(secsSrc), secinfo: BigInt(secinfo) }));
  physMem.write(secinfo, new Uint8Array(64));
  check('ECREATE', encls(m, EnclsLeaf.ECREATE, { rbx: pageinfo, rcx: secsPa }));
  io.stdout(
    `  ECREATE  SECS at EPC 0x${secsPa.toString(16)}, ELRANGE 0x${base.toString(16)}+0x${layout.size.toString(16)}\n`,
  );

  const src = ram.take();
  let eadds = 0;
  let eextends = 0;
  for (const page of layout.pages) {
    const dst = epc.take();
    physMem.write(src, page.bytes);
    physMem.write(secinfo, encode(SECINFO, { flags: page.secinfoFlags }));
    physMem.write(
      pageinfo,
      encode(PAGEINFO, {
        linAddr: BigInt(base + page.offset),
        srcPge: BigInt(src),
        secinfo: BigInt(secinfo),
        secs: BigInt(secsPa),
      }),
    );
    check(`EADD 0x${page.offset.toString(16)}`, encls(m, EnclsLeaf.EADD, { rbx: pageinfo, rcx: dst }));
    eadds++;
    if (page.measure) {
      for (let c = 0; c < PAGE_SIZE; c += 256) {
        check('EEXTEND', encls(m, EnclsLeaf.EEXTEND, { rbx: secsPa, rcx: dst + c }));
        eextends++;
      }
    }
  }
  io.stdout(`  EADD     ${eadds} pages, EEXTEND ${eextends} chunks of 256 bytes\n`);

  // Flexible launch control: the kernel points IA32_SGXLEPUBKEYHASH at the signer (driver: sgx_update_lepubkeyhash()).
  for (let i = 0; i < 4; i++) {
    const word = new DataView(mrsigner.buffer, mrsigner.byteOffset + 8 * i, 8).getBigUint64(0, true);
    m.wrmsr(MSR_IA32_SGXLEPUBKEYHASH0 + i, word);
  }
  const sigPa = ram.take();
  const tokenPa = sigPa + 2048; // as the driver does: sigstruct at 0, an all-zero token at 2048 of one page
  physMem.write(sigPa, sigstruct);
  physMem.write(tokenPa, new Uint8Array(304));
  const init = encls(m, EnclsLeaf.EINIT, { rbx: sigPa, rcx: secsPa, rdx: tokenPa });
  check('EINIT', init);
  io.stdout('  EINIT    SGX_SUCCESS: the SIGSTRUCT verified and MRENCLAVE matched\n');

  const secsNow = physMem.read(secsPa, PAGE_SIZE);
  const hwMrenclave = toHex(secsNow.subarray(64, 96));
  const hwMrsigner = toHex(secsNow.subarray(128, 160));
  io.stdout(
    `  SECS.MRENCLAVE ${hwMrenclave} ${hwMrenclave === toHex(mrenclave) ? '(= offline measurement)' : '(MISMATCH)'}\n`,
  );
  io.stdout(
    `  SECS.MRSIGNER  ${hwMrsigner} ${hwMrsigner === toHex(mrsigner) ? '(= SHA-256 of the modulus)' : '(MISMATCH)'}\n`,
  );
  const used = m.epcm.validCount;
  io.stdout(`\n4. EPC use: ${used} of ${(8 * MiB) / PAGE_SIZE} pages valid (1 SECS + ${eadds} enclave pages)\n`);
  io.stdout(`   RAM pages touched by the model: ${physMem.touchedPages - used}\n`);
}

export function registerDemo(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('build the sample enclave and run it on the model (what `npm start` runs)')
    .action(() => demoCommand(io));
}
