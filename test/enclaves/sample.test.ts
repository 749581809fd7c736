import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasGcc, runC, runTool } from '../util/native';

const ENCLAVES = join(__dirname, '../../enclaves');
const PREBUILT = join(ENCLAVES, 'prebuilt/sample.elf');
const MANIFEST = JSON.parse(readFileSync(join(ENCLAVES, 'prebuilt/manifest.json'), 'utf8')) as {
  toolchain: { gcc: string; ld: string };
  enclaves: Record<string, { sha256: string; size: number }>;
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

describe('the prebuilt sample enclave', () => {
  const bytes = readFileSync(PREBUILT);

  it('matches the manifest', () => {
    const entry = MANIFEST.enclaves['sample.elf']!;
    expect(createHash('sha256').update(bytes).digest('hex'), 'sha256').toBe(entry.sha256);
    expect(bytes.length, 'size').toBe(entry.size);
  });

  // Builds are byte-reproducible for one gcc + binutils (see enclaves/build.mjs); another toolchain makes
  // different code, so the comparison only runs with the toolchain recorded in the manifest.
  it.skipIf(!SAME_TOOLCHAIN)('is what enclaves/build.mjs builds from the sources today', () => {
    const out = mkdtempSync(join(tmpdir(), 'sgxsim-enclave-'));
    execFileSync('node', [join(ENCLAVES, 'build.mjs'), '--out', out], { stdio: 'ignore' });
    const fresh = readFileSync(join(out, 'sample.elf'));
    expect(fresh.equals(bytes), 'fresh build equals enclaves/prebuilt/sample.elf (run node enclaves/build.mjs)').toBe(
      true,
    );
  });

  it('has the selftests’ shape per readelf: TCS RW, text RX, data RW, linked at 0, nothing to relocate', () => {
    const phdrs = runTool('readelf', ['-lW', PREBUILT]).toString();
    const loads = phdrs
      .split('\n')
      .filter((l) => /^\s+LOAD\s/.test(l))
      .map((l) => {
        const f = l.trim().split(/\s+/);
        return [f[2], f.slice(6, -1).join('')];
      });
    expect(loads).toEqual([
      ['0x0000000000000000', 'RW'],
      ['0x0000000000002000', 'RE'],
      ['0x0000000000003000', 'RW'],
    ]);
    expect(runTool('readelf', ['-rW', PREBUILT]).toString()).toContain('There are no relocations in this file.');
    const sections = runTool('readelf', ['-SW', PREBUILT]).toString();
    for (const s of ['.dynamic', '.got', '.bss', '.comment', '.note']) expect(sections, s).not.toContain(s);
  });

  it('enters at encl_entry', () => {
    const entry = runTool('readelf', ['-hW', PREBUILT])
      .toString()
      .match(/Entry point address:\s+(0x[0-9a-f]+)/)![1]!;
    const nm = runTool('nm', [PREBUILT]).toString();
    expect(nm).toMatch(new RegExp(`^0*${BigInt(entry).toString(16)} T encl_entry$`, 'm'));
  });
});

describe.skipIf(!hasGcc())('the sample enclave’s ops, run natively on the host', () => {
  // encl_body() is plain C: compiled for the host it must do what the selftests' ops do. (ENCLU-based ops,
  // EACCEPT and EMODPE, need the simulator and are exercised there.)
  const inline = (name: string) => readFileSync(join(ENCLAVES, 'sample', name), 'utf8');
  const source = `${inline('sample.c').replace('#include "ops.h"', inline('ops.h'))}
#include <stdio.h>
#include <string.h>
static unsigned long word;
static unsigned char page[4096] __attribute__((aligned(4096)));
int main(void)
{
	struct encl_op_put_to_buf put = { { ENCL_OP_PUT_TO_BUFFER }, 0x1122334455667788ul };
	struct encl_op_get_from_buf get = { { ENCL_OP_GET_FROM_BUFFER }, 0 };
	struct encl_op_put_to_addr pa = { { ENCL_OP_PUT_TO_ADDRESS }, 0x8877665544332211ul, (u64)&word };
	struct encl_op_get_from_addr ga = { { ENCL_OP_GET_FROM_ADDRESS }, 0, (u64)&word };
	struct encl_op_header nop = { ENCL_OP_NOP }, bad = { ENCL_OP_MAX };
	struct encl_op_init_tcs_page tcs = { { ENCL_OP_INIT_TCS_PAGE }, (u64)page, 0x5000, 0x2024 };
	unsigned char before[sizeof(encl_buffer)];

	printf("initial %u\\n", encl_buffer[0]);
	encl_body(&put, 0);
	encl_body(&get, 0);
	printf("buffer %lx\\n", get.value);
	encl_body(&pa, 0);
	encl_body(&ga, 0);
	printf("address %lx %lx\\n", word, ga.value);
	memcpy(before, encl_buffer, sizeof(before));
	encl_body(&nop, 0);
	encl_body(&bad, 0);
	printf("nop %d\\n", memcmp(before, encl_buffer, sizeof(before)) == 0);
	memset(page, 0xee, sizeof(page));
	encl_body(&tcs, 0);
	for (int i = 0; i < 4096; i += 8)
		if (*(u64 *)(page + i))
			printf("tcs+%d %lx\\n", i, *(u64 *)(page + i));
	return 0;
}
`;
  const out = runC(source, ['-O2', '-Wall', '-Werror']);

  it('keeps the buffer’s first byte at 1, so the buffer is initialised data', () => {
    expect(out).toContain('initial 1\n');
  });

  it('puts a value into the buffer and gets it back', () => {
    expect(out).toContain('buffer 1122334455667788\n');
  });

  it('puts a value at an address and gets it back', () => {
    expect(out).toContain('address 8877665544332211 8877665544332211\n');
  });

  it('does nothing for NOP and for an op number out of range', () => {
    expect(out).toContain('nop 1\n');
  });

  it('writes a TCS image with OSSA, NSSA = 1, OENTRY and the FS/GS limits, all else zero', () => {
    const tcs = out.split('\n').filter((l) => l.startsWith('tcs+'));
    expect(tcs).toEqual(['tcs+16 5000', 'tcs+24 100000000', 'tcs+32 2024', 'tcs+64 ffffffffffffffff']);
  });
});
