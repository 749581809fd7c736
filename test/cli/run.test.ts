/**
 * `sgxsim run`: ecalls from threads in several processes, results against node:crypto, the stats it prints, the
 * trace files it writes (their hash is the one it prints), determinism, and one-line errors for bad input.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectOneLineError, runCli } from './run-cli';

const dir = mkdtempSync(join(tmpdir(), 'sgxsim-run-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HELLO = '68656c6c6f';
const helloDigest = createHash('sha256').update('hello').digest('hex');

describe('sgxsim run', () => {
  it('runs an ecall from threads in three processes and reports results, ENCLU, AEX, paging and time', async () => {
    const r = await runCli(
      'run',
      'compute',
      '--ecall',
      'sha256',
      '--arg',
      HELLO,
      '--out-len',
      '32',
      '--threads',
      '9',
      '--tcs',
      '3',
      '--procs',
      '3',
      '--epc-pages',
      '40',
      '--json',
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ecalls).toBe(9);
    expect(j.results.every((x: { out: string; ret: string }) => x.out === helloDigest && x.ret === '32')).toBe(true);
    expect(new Set(j.results.map((x: { pid: number }) => x.pid)).size, 'ecalls from three processes').toBe(3);
    expect(j.processes.map((x: { role: string }) => x.role)).toEqual(['loader', 'fork', 'SCM_RIGHTS']);
    expect(j.enclu.EENTER).toBe(9);
    expect(j.enclu.EEXIT).toBe(9);
    expect(j.exceptionsReported).toBe(0);
    expect(j.epc.pages).toBe(40);
    expect(j.epc.evicted, 'a 40-page EPC makes the enclave page').toBeGreaterThan(0);
    expect(j.virtualTime.ms).toBeGreaterThan(0);
    expect(j.trace.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('prints a readable summary, and the same one for the same seed', async () => {
    const args = ['run', 'compute', '--ecall', 'hello', '--threads', '2', '--procs', '2', '--seed', 's1'];
    const a = await runCli(...args);
    const b = await runCli(...args);
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).toContain('2 thread(s) in 2 process(es)');
    expect(a.stdout).toMatch(/ocall print \[pid \d+\] hello from the compute enclave/);
    // Each hello is two entries (ECALL, then ORET after the print ocall) and two exits.
    expect(a.stdout).toMatch(/^ENCLU: EENTER 4, ERESUME \d+, EEXIT 4$/m);
    expect(a.stdout).toMatch(/^virtual time: [\d.]+ ms/m);
    const c = await runCli(...args.slice(0, -1), 's2');
    const hash = (s: string) => /SHA-256 ([0-9a-f]{64})/.exec(s)![1];
    expect(hash(c.stdout), 'another seed, another trace').not.toBe(hash(a.stdout));
  });

  it('writes the trace as Chrome trace-event JSON and as JSON lines whose SHA-256 is the printed hash', async () => {
    const chrome = join(dir, 'run.json');
    const lines = join(dir, 'run.jsonl');
    const common = ['run', 'compute', '--ecall', 'nop', '--threads', '3', '--procs', '2', '--tcs', '2', '--json'];
    const a = await runCli(...common, '--trace', chrome);
    const b = await runCli(...common, '--trace', lines);
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    const t = JSON.parse(readFileSync(chrome, 'utf8'));
    const names = new Set(t.traceEvents.map((e: { name: string }) => e.name));
    expect(names.has('ecall nop')).toBe(true);
    expect(names.has('in enclave')).toBe(true);
    expect(t.traceEvents.some((e: { name: string; args?: { name: string } }) => e.args?.name === 'CPU 0')).toBe(true);
    const jsonl = readFileSync(lines, 'utf8');
    const hash = createHash('sha256').update(jsonl).digest('hex');
    expect(hash, 'SHA-256 of the JSON lines').toBe(JSON.parse(b.stdout).trace.sha256);
    expect(t.otherData.sha256).toBe(hash);
    const again = await runCli(...common, '--trace', lines);
    expectOneLineError(again, `${lines}: already exists (use --force to overwrite it)`);
  });

  /**
   * What a JSON-lines trace shows of the AEXes: the 'aex' events (an interrupt's carries its reason, an
   * exception's its vector and address), the ERESUMEs at the AEP, and the timer/IPI deliveries.
   */
  function aexInTrace(path: string) {
    const evs = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { ev: string; data?: { reason?: string; vector?: number; addr?: number } });
    const aex = evs.filter((e) => e.ev === 'aex');
    const pf = aex.filter((e) => e.data?.vector === 14);
    return {
      aex: aex.length,
      interrupts: aex.filter((e) => e.data?.reason !== undefined).length,
      exceptions: aex.filter((e) => e.data?.vector !== undefined).length,
      pf: pf.length,
      pfPages: new Set(pf.map((e) => e.data!.addr)).size,
      resumes: evs.filter((e) => e.ev === 'eresume').length,
      ticks: evs.filter((e) => e.ev === 'interrupt').length,
    };
  }
  const printedAex = (stdout: string) => {
    const m = /^AEX: (\d+) \((\d+) interrupts, (\d+) exceptions\)/m.exec(stdout)!;
    const eresume = /^ENCLU: EENTER \d+, ERESUME (\d+),/m.exec(stdout)!;
    return { total: Number(m[1]), interrupts: Number(m[2]), exceptions: Number(m[3]), eresume: Number(eresume[1]) };
  };

  it('counts AEXes under preemption: > 0 with interrupts, as many as the trace’s AEX events and ERESUMEs at the AEP', async () => {
    const trace = join(dir, 'preempt.jsonl');
    // 4 KiB of SHA-256 per call, 4 threads on 2 TCS and 2 CPUs, and a 10 kHz timer: ticks land in enclave mode.
    const arg = '00'.repeat(4096);
    const r = await runCli(
      ...['run', 'compute', '--ecall', 'sha256', '--arg', arg, '--out-len', '32', '--calls', '2'],
      ...['--threads', '4', '--tcs', '2', '--hz', '10000', '--trace', trace],
    );
    expect(r.status, r.stderr).toBe(0);
    const a = printedAex(r.stdout);
    const t = aexInTrace(trace);
    expect(a.interrupts, 'timer ticks in enclave mode cause AEXes').toBeGreaterThan(0);
    expect(a.total).toBe(a.interrupts + a.exceptions);
    expect([a.total, a.interrupts, a.exceptions], 'the AEX events of the trace').toEqual([
      t.aex,
      t.interrupts,
      t.exceptions,
    ]);
    expect(a.interrupts, 'no more interrupt AEXes than interrupts').toBeLessThanOrEqual(t.ticks);
    // No exception reached the host and every ecall ended: each AEX was followed by ERESUME at the AEP
    // (__vdso_sgx_enter_enclave's AEP is its own ENCLU), and the vDSO was never asked for ERESUME itself.
    expect(r.stdout).toMatch(/exceptions reported to the host: 0$/m);
    expect(t.resumes, 'ERESUMEs at the AEP').toBe(a.total);
    expect(a.eresume, 'the ERESUME count printed').toBe(a.total);
  });

  it('counts no interrupt AEX for one thread without preemption: only first-touch #PFs, one per enclave page, none on later calls', async () => {
    const one = join(dir, 'one.jsonl');
    const three = join(dir, 'three.jsonl');
    const common = ['run', 'compute', '--ecall', 'nop', '--threads', '1'];
    const r1 = await runCli(...common, '--trace', one);
    const r3 = await runCli(...common, '--calls', '3', '--trace', three);
    expect(r1.status, r1.stderr).toBe(0);
    expect(r3.status, r3.stderr).toBe(0);
    const a = printedAex(r1.stdout);
    const t = aexInTrace(one);
    expect(a.interrupts).toBe(0);
    expect([a.total, a.exceptions], 'the AEX events of the trace').toEqual([t.aex, t.exceptions]);
    // Enclave pages are mapped into the process on their first access (sgx_vma_fault()): each AEX is a #PF on a
    // page not seen before, and the page stays mapped, so the next calls of the same ecall fault on none.
    expect(t.pf, 'every exception AEX is a #PF').toBe(t.exceptions);
    expect(t.pfPages, 'on distinct pages').toBe(t.pf);
    expect(t.resumes, 'ERESUMEs at the AEP').toBe(a.total);
    expect(printedAex(r3.stdout).total, 'three calls: no more AEXes than one').toBe(a.total);
  });

  it('refuses bad input with one line and status 1', async () => {
    expectOneLineError(
      await runCli('run', 'compute', '--ecall', 'sha512'),
      'compute has no ecall "sha512" (it has: sha256, crc32, sort, fault, hello, echo, ocall_rounds, abort, nop)',
    );
    expectOneLineError(
      await runCli('run', join(dir, 'missing.elf'), '--ecall', 'nop'),
      `${join(dir, 'missing.elf')}: no such file`,
    );
    expectOneLineError(
      await runCli('run', 'compute', '--ecall', 'nop', '--arg', 'xyz'),
      "option '--arg <hex|@file>' argument 'xyz' is invalid. Expected hex bytes (e.g. 68656c6c6f) or @file.",
    );
    expectOneLineError(
      await runCli('run', 'compute', '--ecall', 'nop', '--procs', '3'),
      '--procs 3 needs at least as many --threads (got 1)',
    );
    expectOneLineError(
      await runCli('run', 'compute', '--ecall', 'nop', '--tcs', '0'),
      "option '--tcs <n>' argument '0' is invalid. must be an integer from 1 to 256",
    );
    expectOneLineError(
      await runCli('run', 'sample', '--ecall', 'nop'),
      'sample: not an enclave on the sgxsim trusted runtime: no encl_rt_meta symbol',
    );
    const notElf = join(dir, 'not.elf');
    writeFileSync(notElf, 'hello');
    const r = await runCli('run', notElf, '--ecall', 'nop');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^sgxsim: ${notElf}: .*\\n$`));
    expectOneLineError(
      await runCli('run', 'compute', '--ecall', 'abort', '--arg', '0100000000000000'),
      'ecall abort: the enclave panicked with code 0x1; it is dead now',
    );
  });
});
