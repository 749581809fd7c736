// bin/sgxsim end to end: a real process, its exit status and its streams. The other CLI tests run the same
// command line in-process (run-cli.ts), which is faster.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const BIN = join(__dirname, '../../bin/sgxsim');
const SAMPLE = join(__dirname, '../../enclaves/prebuilt/sample.elf');

async function run(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', [BIN, ...args]);
    return { status: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { status: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

describe('bin/sgxsim', () => {
  it('exits 0 with the measurement, and 1 with a single stderr line for a missing file or an unknown flag', async () => {
    const [ok, missing, flag] = await Promise.all([
      run('measure', SAMPLE, '--json'),
      run('measure', 'no-such.elf'),
      run('measure', SAMPLE, '--bogus'),
    ]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).mrenclave).toMatch(/^[0-9a-f]{64}$/);
    expect([missing.status, missing.stdout, missing.stderr]).toEqual([1, '', 'sgxsim: no-such.elf: no such file\n']);
    expect([flag.status, flag.stdout, flag.stderr]).toEqual([1, '', "sgxsim: unknown option '--bogus'\n"]);
  });
});
