import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main';

async function run(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main(['node', 'sgxsim', ...args], {
    stdout: (s) => void (out += s),
    stderr: (s) => void (out += s),
  });
  return { code, out };
}

describe('sgxsim demo', () => {
  it('builds the sample enclave through the driver, shares it, evicts and reloads a page, and pages under pressure', async () => {
    const { code, out } = await run(['demo']);
    expect(code, out).toBe(0);
    expect(out).toContain('SECS.MRENCLAVE = the offline measurement');
    expect(out).toMatch(/host reads see ff ff ff ff/);
    // The page is mapped in all three mms, gone from all three after the eviction, and back in all three.
    expect(out).toMatch(
      /PTEs: (\w → EPC 0x[0-9a-f]+, ){2}\w → EPC 0x[0-9a-f]+\n[\s\S]*PTEs: \w none, \w none, \w none/,
    );
    expect(out).toMatch(/mm_list: \w=pid \d+, \w=pid \d+, \w=pid \d+; refcount 4/);
    expect(out).toMatch(/EPC: 12 pages used while they ran, 0 after \(no leak\)/);
    expect(out).toMatch(/256\/256 intact/);
    expect(out).toMatch(/EPC after exit: 0 of 64 used/);
    expect(out).not.toContain('MISMATCH');
    expect(out).not.toContain('CORRUPTED');
  });

  it('is deterministic: two runs print the same thing', async () => {
    const a = await run(['demo']);
    const b = await run(['demo']);
    expect(a.out).toBe(b.out);
  });
});

describe('sgxsim ps and stats', () => {
  it('ps shows the three processes, their enclave fds and maps, and the enclave with its mm_list', async () => {
    const { code, out } = await run(['ps']);
    expect(code, out).toBe(0);
    expect(out).toMatch(/ksgxd/);
    expect(out.match(/-> \/dev\/sgx_enclave \(enclave 1/g)).toHaveLength(3);
    expect(out).toMatch(/rw-s .* sgx_enclave {2}\[1 PTE\]/);
    expect(out).toMatch(
      /enclave 1 \[CREATED INITIALIZED\].*mm_list: mm \d \(pid \d\), mm \d \(pid \d\), mm \d \(pid \d\)/,
    );
  });

  it('stats runs a paging scenario and reports evictions, reloads and no leak', async () => {
    const { code, out } = await run(['stats', '--heap-pages', '96', '--processes', '1', '--threads', '2']);
    expect(code, out).toBe(0);
    expect(out).toMatch(/paging: [1-9]\d* evicted, [1-9]\d* reloaded/);
    expect(out).toMatch(/after every process exited:\nEPC: 0 of 64 pages used/);
    expect(out).toContain('96/96 heap tags intact');
    expect(out).not.toContain('INVARIANT');
  });

  it('stats refuses a bad option value with one line', async () => {
    const { code, out } = await run(['stats', '--epc-pages', '0']);
    expect(code).toBe(1);
    expect(out.trim()).toBe(
      "sgxsim: option '--epc-pages <n>' argument '0' is invalid. must be an integer from 1 to 1048576",
    );
  });
});
