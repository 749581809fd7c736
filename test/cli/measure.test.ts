import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildElf } from '../util/elf-builder';
import { runTool } from '../util/native';
import { expectOneLineError, runCli } from './run-cli';

const SAMPLE = join(__dirname, '../../enclaves/prebuilt/sample.elf');
const KEY = join(__dirname, '../fixtures/selftest-sign_key.pem');
const ORACLE = join(__dirname, '../sdk/layout/selftest-measure.py');
const DIR = mkdtempSync(join(tmpdir(), 'sgxsim-cli-measure-'));

function oracle(heap: number): string[] {
  return runTool('python3', [ORACLE, SAMPLE, String(heap)])
    .toString()
    .trim()
    .split(' ');
}

describe('sgxsim measure', () => {
  it('prints MRENCLAVE, the enclave size and the page count', async () => {
    const r = await runCli('measure', SAMPLE);
    const [mrenclave] = oracle(4096);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      `MRENCLAVE  ${mrenclave}\n` +
        'size       0x10000 (65536 bytes)\n' +
        'pages      10 (2 TCS; 9 measured, TCS included; 1 unmeasured heap)\n',
    );
    expect(r.stderr).toBe('');
  });

  it('prints JSON, with the heap size given in KiB', async () => {
    const r = await runCli('measure', SAMPLE, '--json', '--heap', '64k');
    const [mrenclave, size, pages] = oracle(65536);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      file: SAMPLE,
      mrenclave,
      size: Number(size),
      pages: Number(pages),
      tcsPages: 2,
      measuredPages: 9,
      heapSize: 65536,
      ssaFrameSize: 1,
    });
  });

  it('takes a hex heap size and a heap of 0', async () => {
    const hex = await runCli('measure', SAMPLE, '--json', '--heap', '0x2000');
    expect(JSON.parse(hex.stdout).mrenclave).toBe(oracle(0x2000)[0]);
    const none = await runCli('measure', SAMPLE, '--json', '--heap', '0');
    expect(JSON.parse(none.stdout).mrenclave).toBe(oracle(0)[0]);
  });

  const errors: Array<[string, () => string[], string]> = [
    ['a missing file', () => ['measure', join(DIR, 'nope.elf')], `${join(DIR, 'nope.elf')}: no such file`],
    ['a directory', () => ['measure', DIR], `${DIR}: is a directory`],
    ['a file that is not an ELF', () => ['measure', KEY], `${KEY}: not an ELF file (bad magic)`],
    [
      'an ELF whose first segment is not RW',
      () => {
        const p = join(DIR, 'rx.elf');
        writeFileSync(p, buildElf({ phdrs: [{ flags: 5, offset: 0x1000, vaddr: 0, filesz: 0x1000 }] }));
        return ['measure', p];
      },
      `${join(DIR, 'rx.elf')}: the TCS segment (program header 0, the first PT_LOAD) must be exactly RW, not R-X`,
    ],
    ['an unknown flag', () => ['measure', SAMPLE, '--bogus'], "unknown option '--bogus'"],
    [
      'a heap that is not a multiple of 4096',
      () => ['measure', SAMPLE, '--heap', '100'],
      "option '--heap <bytes>' argument '100' is invalid. Expected a multiple of 4096.",
    ],
    [
      'a heap that is not a number',
      () => ['measure', SAMPLE, '--heap', 'lots'],
      "option '--heap <bytes>' argument 'lots' is invalid. Expected a byte count such as 4096, 0x1000 or 64k.",
    ],
    ['no file', () => ['measure'], "missing required argument 'enclave.elf'"],
    [
      'two files',
      () => ['measure', SAMPLE, SAMPLE],
      "too many arguments for 'measure'. Expected 1 argument but got 2.",
    ],
    ['an unknown command', () => ['mesure', SAMPLE], "unknown command 'mesure' (Did you mean measure?)"],
  ];
  for (const [what, args, message] of errors) {
    it(`fails with one line and status 1 for ${what}`, async () => {
      const r = await runCli(...args());
      expectOneLineError(r, message);
      expect(r.stdout).toBe('');
    });
  }
});

describe('sgxsim', () => {
  it('reports an error that is not bad input as an internal error with its stack', async () => {
    const { main } = await import('../../src/cli/main');
    let stderr = '';
    const io = { stdout: () => {}, stderr: (s: string) => void (stderr += s) };
    // A non-array argv makes commander throw a plain Error: a stand-in for a simulator bug.
    const status = await main(null as unknown as string[], io);
    expect(status).toBe(1);
    expect(stderr).toMatch(/^sgxsim: internal error: Error: first parameter to parse must be array/);
    expect(stderr.split('\n').length, 'the stack is kept').toBeGreaterThan(2);
  });
});
