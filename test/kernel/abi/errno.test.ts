/**
 * errno numbers against the uAPI headers installed on this machine (an independent oracle: the headers the
 * real kernel's userspace is built with), and the messages against glibc's strerror().
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as abi from '../../../src/kernel/abi/index';
import {
  allErrnos,
  EAGAIN,
  EINVAL,
  Errno,
  EWOULDBLOCK,
  errnoFromNumber,
  errnoOfReturn,
  isErrorReturn,
} from '../../../src/kernel/index';
import { hasGcc, runC } from '../../util/native';

const HEADERS = ['/usr/include/asm-generic/errno-base.h', '/usr/include/asm-generic/errno.h'];

function parseHeaders(): Map<string, number | string> {
  const m = new Map<string, number | string>();
  for (const h of HEADERS) {
    for (const line of readFileSync(h, 'utf8').split('\n')) {
      const r = /^#define\s+(E[A-Z0-9]+)\s+(\w+)/.exec(line);
      if (r) m.set(r[1]!, /^\d+$/.test(r[2]!) ? Number(r[2]) : r[2]!);
    }
  }
  return m;
}

describe.skipIf(!HEADERS.every(existsSync))('errno', () => {
  const defs = parseHeaders();

  it('defines every errno of asm-generic/errno*.h with the same number', () => {
    expect(defs.size, 'the headers should define over a hundred errnos').toBeGreaterThan(100);
    const table = abi as unknown as Record<string, unknown>;
    for (const [name, v] of defs) {
      const ours = table[name];
      expect(ours, `${name} should be exported`).toBeInstanceOf(Errno);
      const want = typeof v === 'number' ? v : (defs.get(v) as number);
      expect((ours as Errno).number, `${name} got ${(ours as Errno).number}, want ${want}`).toBe(want);
    }
  });

  it('has no user-visible errno the headers do not define', () => {
    const names = new Set(defs.keys());
    const extra = allErrnos().filter((e) => !names.has(e.name));
    expect(extra.map((e) => e.name)).toEqual([]);
  });

  it('keeps the header aliases as the same singleton', () => {
    expect(EWOULDBLOCK).toBe(EAGAIN);
    expect(errnoFromNumber(22)).toBe(EINVAL);
  });

  it('decodes raw returns the x86-64 way: -4095..-1 are errors', () => {
    expect(errnoOfReturn(-22)).toBe(EINVAL);
    expect(errnoOfReturn(0)).toBeUndefined();
    expect(isErrorReturn(-4095)).toBe(true);
    expect(isErrorReturn(-4096)).toBe(false);
    expect(isErrorReturn(0x7fff_f000)).toBe(false);
  });

  it.skipIf(!hasGcc())("messages match glibc's strerror()", () => {
    const out = runC(`#include <stdio.h>
#include <string.h>
int main(void) { for (int i = 1; i <= 133; i++) printf("%d\\t%s\\n", i, strerror(i)); return 0; }`);
    for (const line of out.trim().split('\n')) {
      const [n, msg] = line.split('\t');
      const e = errnoFromNumber(Number(n));
      // 41 and 58 are holes in the errno space (EWOULDBLOCK/EDEADLOCK were aliased away).
      if (!e) {
        expect(msg, `errno ${n} is undefined here, so glibc should call it unknown`).toMatch(/^Unknown error/);
        continue;
      }
      expect(e.message, `errno ${n}`).toBe(msg);
    }
  });
});
