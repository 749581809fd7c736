import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasGcc } from '../util/native';
import { compileWith, RUNTIME_INCLUDE } from './native-enclave';

// The edge routines' pointer checks (enclaves/runtime/include/encl/bounds.h) compiled for the host and compared
// with a BigInt model of the rule: [p, p + len) lies wholly outside ELRANGE = [base, base + size) and does not
// wrap; a zero-length buffer counts as the byte at p (the Intel SGX SDK's sgx_is_outside_enclave()).
const DRIVER = `
#include <stdio.h>
#include <string.h>
#include "encl/bounds.h"
int main(void)
{
	char op[4];
	unsigned long a, b, c, d;

	while (scanf("%3s %lx %lx %lx %lx", op, &a, &b, &c, &d) == 5) {
		if (!strcmp(op, "o")) {
			printf("%d\\n", encl_range_outside(a, b, c, d));
		} else {
			uint64_t off = 0xdead;
			int ok = encl_edge_layout(a, b, c, d, &off);
			printf(ok ? "1 %lx\\n" : "0\\n", (unsigned long)off);
		}
	}
	return 0;
}
`;

const M = 1n << 64n;

function outsideModel(base: bigint, size: bigint, p: bigint, len: bigint): boolean {
  const last = len === 0n ? p : p + len - 1n;
  if (last >= M) return false;
  return last < base || p > base + size - 1n;
}

function layoutModel(inLen: bigint, outLen: bigint, area: bigint, align: bigint): string {
  const off = ((inLen + align - 1n) / align) * align;
  return off + outLen <= area ? `1 ${off.toString(16)}` : '0';
}

function run(lines: readonly string[]): string[] {
  const bin = compileWith(DRIVER, [], [RUNTIME_INCLUDE]);
  return execFileSync(bin, { input: `${lines.join('\n')}\n` })
    .toString()
    .trimEnd()
    .split('\n');
}

const x = (v: bigint) => v.toString(16);

describe.skipIf(!hasGcc())('the edge routines’ bounds checks, run natively', () => {
  const BASE = 0x7f0000000000n;
  const SIZE = 0x20000n;
  const END = BASE + SIZE;

  it('decide the boundary cases around ELRANGE as the model does', () => {
    const cases: [string, bigint, bigint, boolean][] = [
      ['ends just below the base', BASE - 16n, 16n, true],
      ['ends on the first enclave byte', BASE - 16n, 17n, false],
      ['starts at the base', BASE, 1n, false],
      ['starts on the last enclave byte', END - 1n, 1n, false],
      ['starts just past the end', END, 4096n, true],
      ['covers all of ELRANGE from below', BASE - 1n, SIZE + 2n, false],
      ['zero length just below the base', BASE - 1n, 0n, true],
      ['zero length at the base', BASE, 0n, false],
      ['zero length inside', BASE + 0x1234n, 0n, false],
      ['zero length at the end', END, 0n, true],
      ['the last byte of the address space', M - 1n, 1n, true],
      ['two bytes from the last one: wraps', M - 1n, 2n, false],
      ['a huge length from 0: wraps past ELRANGE', 0n, M - 1n, false],
      ['zero length at address 0 (a NULL pointer)', 0n, 0n, true],
    ];
    const out = run(cases.map(([, p, len]) => `o ${x(BASE)} ${x(SIZE)} ${x(p)} ${x(len)}`));
    cases.forEach(([name, p, len, want], i) => {
      expect(outsideModel(BASE, SIZE, p, len), `model: ${name}`).toBe(want);
      expect(out[i], name).toBe(want ? '1' : '0');
    });
  });

  it('agree with the model on random and near-boundary buffers', () => {
    const u64 = fc.bigInt({ min: 0n, max: M - 1n });
    const near = (at: bigint) => fc.bigInt({ min: -64n, max: 64n }).map((d) => (at + d + M) % M);
    const pointer = fc.oneof(u64, near(BASE), near(END), near(0n), near(M - 1n));
    const length = fc.oneof(fc.bigInt({ min: 0n, max: 0x40n }), fc.bigInt({ min: 0n, max: 0x40000n }), u64);
    const cases = fc.sample(fc.tuple(pointer, length), { seed: 0xb0b, numRuns: 2000 });
    const out = run(cases.map(([p, len]) => `o ${x(BASE)} ${x(SIZE)} ${x(p)} ${x(len)}`));
    cases.forEach(([p, len], i) => {
      expect(out[i], `p=${x(p)} len=${x(len)}`).toBe(outsideModel(BASE, SIZE, p, len) ? '1' : '0');
    });
  });

  it('place input and output in an area exactly when both fit, the output 16-aligned, without overflow', () => {
    const area = 0x2000n;
    const len = fc.oneof(fc.bigInt({ min: 0n, max: 0x2100n }), fc.bigInt({ min: 0n, max: M - 1n }));
    const cases = fc.sample(fc.tuple(len, len), { seed: 0xed9e, numRuns: 1000 });
    cases.push([0x1ff1n, 0n], [0x1ff0n, 0x10n], [0x1ff1n, 0x10n], [0n, 0x2000n], [0x2000n, 0n], [M - 1n, 1n]);
    const out = run(cases.map(([i, o]) => `l ${x(i)} ${x(o)} ${x(area)} 10`));
    cases.forEach(([i, o], k) => {
      expect(out[k], `in=${x(i)} out=${x(o)}`).toBe(layoutModel(i, o, area, 16n));
    });
  });
});
