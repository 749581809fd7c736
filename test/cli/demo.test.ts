import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main';

/** MRSIGNER from openssl: SHA-256 of the demo key's modulus as 384 little-endian bytes (SDM EINIT). */
function opensslMrSigner(): string {
  const pem = join(__dirname, '../../enclaves/keys/demo-key.pem');
  const hex = execFileSync('openssl', ['rsa', '-in', pem, '-noout', '-modulus']).toString().trim().split('=')[1]!;
  return createHash('sha256').update(Buffer.from(hex, 'hex').reverse()).digest('hex');
}

async function run(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main(['node', 'sgxsim', ...args], {
    stdout: (s) => void (out += s),
    stderr: (s) => void (out += s),
  });
  return { code, out };
}

describe('sgxsim demo', () => {
  it('loads compute with the SDK, shares it with a forked and an SCM_RIGHTS process, queues threads on 4 TCS and pages', async () => {
    const { code, out } = await run(['demo']);
    expect(code, out).toBe(0);
    expect(out).toContain('SECS.MRENCLAVE = the offline measurement');
    expect(out).toContain(`MRSIGNER ${opensslMrSigner()}`);
    expect(out).toContain("SECS.MRSIGNER = SHA-256 of the signer's modulus");
    expect(out).toMatch(/MRENCLAVE [0-9a-f]{64}\n/);
    expect(out).toMatch(/4 TCS \(2 built in \+ 2 added after the heap\)/);
    expect(out).toMatch(/B \(pid \d+\) = fork\(\) of A/);
    expect(out).toMatch(
      /C \(pid \d+\), forked before the enclave existed, gets both fds over a unix socket \(SCM_RIGHTS\)/,
    );
    // The timeline: one lane per TCS, every ecall accounted for, all digests right, threads waited, no #GP.
    expect(out.match(/^ {3}TCS \d: /gm)).toHaveLength(4);
    expect(out).toContain('48/48 digests = node:crypto');
    expect(out).toMatch(/; [1-9]\d* ecalls waited for a TCS; #GP from EENTER on a busy TCS: 0/);
    // mm_list and the zap across the three mms: mapped, gone from all three after EWB, back in all three.
    expect(out).toMatch(/mm_list: [ABC], [ABC], [ABC]; refcount \d+/);
    expect(out).toMatch(
      /entry point, 0x[0-9a-f]+: A → EPC 0x[0-9a-f]+, B → EPC 0x[0-9a-f]+, C → EPC 0x[0-9a-f]+\n.*written out: A none, B none, C none\n.*[1-9]\d* ELDU, and each mm faults its PTE back: A → EPC/,
    );
    expect(out.match(/ocall print in [ABC]: hello from the compute enclave/g)).toHaveLength(3);
    expect(out).toMatch(/AEX \d+ \([1-9]\d* interrupts/);
    expect(out).toMatch(/EPC paging: EWB [1-9]\d*, ELDU [1-9]\d*/);
    expect(out).toContain('EPC 0 of 48 pages used (no leak)');
    expect(out).not.toContain('MISMATCH');
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
