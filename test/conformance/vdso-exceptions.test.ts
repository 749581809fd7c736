/**
 * Exceptions through the vDSO, and enclaves entered from several threads and processes (linux-driver.md §5, §1,
 * §10; SDM Vol. 3D §40 EENTER/AEX): host reads of enclave memory see the abort page; #PF reports carry vector,
 * error code and the page address (with the SGX bit for EPCM violations); #UD from enclave code is reported after
 * the AEX and the trusted runtime's exception flow completes; a busy TCS and a TCS whose SSA frames are all used
 * give #GP on EENTER; #BP and #DB are never fixed up (SIGTRAP, after the AEX when raised inside the enclave); two
 * TCS run concurrently; a forked child and an SCM_RIGHTS receiver enter the same enclave.
 */
import { describe, expect, it } from 'vitest';
import { AttrFlags, PAGE_SIZE, TF } from '../../src/hw/index';
import {
  AF_UNIX,
  accessRemoteVm,
  CLONE_FILES,
  CLONE_SIGHAND,
  CLONE_THREAD,
  CLONE_VM,
  Libc,
  MAP_FIXED,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  SI_KERNEL,
  SIGTRAP,
  SOCK_DGRAM,
  type Sys,
  TRAP_TRACE,
  WIFSIGNALED,
  WTERMSIG,
} from '../../src/kernel/index';
import { AbortReason, buildEnclaveWithDriver, EnclCommand, EnclStatus } from '../../src/sdk/index';
import { EENTER, EEXIT, ERESUME, type Platform, vdsoSgxEnterEnclave } from '../../src/vdso/index';
import { runTool } from '../util/native';
import {
  buildSample,
  dataSegment,
  enclCall,
  image,
  MAGIC,
  MAGIC2,
  Op,
  OpStruct,
  platform,
  ROOT,
  Run,
} from '../vdso/fixture';
import { buildCompute, callBlockResult, ecall, ecallIndex, u32s } from '../vdso/runtime-call';

const P = PAGE_SIZE;

// SDM Vol. 3D Table 38-8 (TCS): FLAGS at 8 (bit 0 DBGOPTIN), CSSA at 24. Table 38-10: GPRSGX is the last 184 bytes
// of an SSA frame, RIP at 136 and EXITINFO at 160 in it. Table 38-11 (EXITINFO): VECTOR in bits 7:0, EXIT_TYPE in
// 10:8 (011b hardware exception, 110b software exception: INT3/INTO), VALID in bit 31.
const TCS_FLAGS = 8;
const TCS_AEP = 40;
const TCS_CSSA = 24;
const GPRSGX_SIZE = 184;
const GPRSGX_RIP = 136;
const GPRSGX_EXITINFO = 160;
const exitInfo = (type: number, vector: number) => ((1 << 31) | (type << 8) | vector) >>> 0;

/**
 * The enclave address of the instruction after the first `mnemonic` in `fn` of the prebuilt sample, per objdump
 * (the image is linked at 0, so addresses are enclave offsets).
 */
function afterInsn(fn: string, mnemonic: string): number {
  const dis = runTool('objdump', ['-d', `--disassemble=${fn}`, `${ROOT}/enclaves/prebuilt/sample.elf`]).toString();
  const insns = [...dis.matchAll(/^\s*([0-9a-f]+):\t[0-9a-f ]+\t(\S+)/gm)].map((m) => ({
    at: Number.parseInt(m[1]!, 16),
    mnemonic: m[2],
  }));
  const i = insns.findIndex((x) => x.mnemonic === mnemonic);
  if (i < 0 || i + 1 >= insns.length) throw new Error(`no ${mnemonic} in ${fn}`);
  return insns[i + 1]!.at;
}

/** The sample enclave with ATTRIBUTES.DEBUG, so a debugger can reach it through vm_ops->access (EDBGRD/EDBGWR). */
async function buildDebugSample(sys: Sys) {
  const { layout, sigstruct } = image('sample.elf');
  const attributes = AttrFlags.MODE64BIT | AttrFlags.DEBUG;
  return { ...(await buildEnclaveWithDriver(sys, new Libc(sys), { layout, sigstruct, attributes })), layout };
}

/** A debugger's read of `n` ≤ 8 bytes (ptrace PEEKDATA: __access_remote_vm → sgx_vma_access → EDBGRD). */
async function peek(sys: Sys, addr: number, n = 8): Promise<bigint> {
  const buf = new Uint8Array(8);
  const got = await sys.kcall('peek', (t) => accessRemoteVm(t.mm!, addr, buf.subarray(0, n), false));
  if (got !== n) throw new Error(`peek 0x${addr.toString(16)}: ${got}`);
  return new DataView(buf.buffer).getBigUint64(0, true);
}

/** A debugger's write of 8 bytes (ptrace POKEDATA: sgx_vma_access → EDBGRD, EDBGWR). */
async function poke(sys: Sys, addr: number, v: bigint): Promise<void> {
  const buf = new Uint8Array(8);
  new DataView(buf.buffer).setBigUint64(0, v, true);
  const got = await sys.kcall('poke', (t) => accessRemoteVm(t.mm!, addr, buf, true));
  if (got !== 8) throw new Error(`poke 0x${addr.toString(16)}: ${got}`);
}

/** What a debugger sees of TCS #0 and its SSA frame: CSSA, and the frame's EXITINFO and RIP (as an offset). */
async function tcs0(sys: Sys, e: { base: number; layout: ReturnType<typeof image>['layout'] }) {
  const gpr = e.base + Number(e.layout.tcs[0]!.ossa) + P - GPRSGX_SIZE;
  return {
    cssa: Number(await peek(sys, e.base + TCS_CSSA, 4)),
    exitInfo: Number(await peek(sys, gpr + GPRSGX_EXITINFO, 4)),
    rip: Number((await peek(sys, gpr + GPRSGX_RIP)) - BigInt(e.base)),
  };
}

/**
 * The vectors of the AEXes caused by exceptions other than #PF, from the trace (the others are timer interrupts,
 * and #PFs on enclave pages not yet mapped in the process, which sgx_vma_fault() maps on demand).
 */
const exceptionAexes = (p: Platform) =>
  p.k.trace.events
    .filter((x) => x.ev === 'aex' && x.data?.vector !== undefined && x.data.vector !== 14)
    .map((x) => x.data!.vector);

/**
 * Forks a child that enters TCS #0 of `e` with `opType` and must not come back. @returns the wait status.
 */
async function enterInChild(sys: Sys, libc: Libc, e: { base: number }, opType: bigint, log: (s: string) => void) {
  const child = await sys.fork(async (cs) => {
    const cl = new Libc(cs);
    const run = await Run.alloc(cs, cl, e.base);
    const op = await OpStruct.alloc(cs, cl);
    log(`the vDSO returned ${await enclCall(cs, await op.set(opType), run)}`);
    return 0;
  });
  return (await libc.waitpid(child)).status;
}

async function scenario(
  body: (t: { sys: Sys; libc: Libc; p: Platform; log: (s: string) => void }) => Promise<void>,
  o: Parameters<typeof platform>[0] = {},
): Promise<{ log: string[]; p: Platform; pid: number }> {
  const p = platform(o);
  const log: string[] = [];
  const { pid } = p.k.spawn(async (sys) => {
    await body({ sys, libc: new Libc(sys), p, log: (s) => log.push(s) });
    return 0;
  });
  await p.k.run({ maxSteps: 2_000_000 });
  return { log, p, pid };
}

const exc = (function_: number, vector: number, errorCode: number, addr: number | bigint) => ({
  function: function_,
  vector,
  errorCode,
  addr: BigInt(addr),
});

describe('enclave memory seen from outside', () => {
  it('reads as the abort page (all ones) and ignores writes, while the enclave keeps its data', async () => {
    const { log } = await scenario(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const buf = e.base + dataSegment(e.layout).offset;
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      await enclCall(sys, await op.set(Op.PUT_TO_BUFFER, MAGIC), run);
      log(`host read ${Buffer.from(await sys.load(buf, 8)).toString('hex')}`);
      await sys.store(buf, new Uint8Array(8));
      await enclCall(sys, await op.set(Op.GET_FROM_BUFFER, 0n), run);
      log(`enclave read ${(await op.word(1)).toString(16)}`);
    });
    expect(log).toEqual(['host read ffffffffffffffff', `enclave read ${MAGIC.toString(16)}`]);
  });
});

describe('#PF reported through the vDSO', () => {
  it('a write to the TCS page: EPCM page type is not REG, error code P|W|U|SGX = 0x8007 at the TCS', async () => {
    const { log } = await scenario(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      log(`ret ${await enclCall(sys, await op.set(Op.PUT_TO_ADDRESS, MAGIC, BigInt(e.base)), run)}`);
      expect(await run.exception()).toEqual(exc(ERESUME, 14, 0x8007, e.base));
    });
    expect(log).toEqual(['ret 0']);
  });

  it('a read of an unmapped address outside ELRANGE: error code U = 0x4 at its page', async () => {
    const addr = 0x10_0000 + 0x123;
    const { log } = await scenario(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      log(`ret ${await enclCall(sys, await op.set(Op.GET_FROM_ADDRESS, 0n, BigInt(addr)), run)}`);
      // After an AEX the reported CR2 has bits 11:0 cleared (SDM Vol. 3D §40.4).
      expect(await run.exception()).toEqual(exc(ERESUME, 14, 0x4, addr - 0x123));
    });
    expect(log).toEqual(['ret 0']);
  });

  it('a write to a hole of ELRANGE mapped from the enclave fd: SIGBUS from sgx_vma_fault() on SGX1, fixed up as #PF 0x6', async () => {
    const { log } = await scenario(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const hole = e.base + e.size - P;
      log(`mmap ${(await sys.mmap(hole, P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e.fd, 0)) === hole}`);
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      log(`ret ${await enclCall(sys, await op.set(Op.PUT_TO_ADDRESS, MAGIC, BigInt(hole)), run)}`);
      expect(await run.exception()).toEqual(exc(ERESUME, 14, 0x6, hole));
    });
    expect(log).toEqual(['mmap true', 'ret 0']);
  });
});

describe('the sample enclave’s deliberate exceptions', () => {
  it('ENCL_OP_UD: ud2 inside the enclave is reported as #UD (vector 6, no error code, no address) after the AEX', async () => {
    const { log } = await scenario(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      log(`ret ${await enclCall(sys, await op.set(Op.UD), run)}`);
      // Linux handle_invalid_op → fixup_vdso_exception(regs, X86_TRAP_UD, 0, 0).
      expect(await run.exception()).toEqual(exc(ERESUME, 6, 0, 0));
    });
    expect(log).toEqual(['ret 0']);
  });

  it('ENCL_OP_PF: a write to the enclave’s own code page, mapped R X, is #PF P|W|U = 0x7: paging is checked before the EPCM', async () => {
    const { log } = await scenario(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const text = e.base + e.layout.segments.find((s) => s.kind === 'load' && s.prot === 5)!.offset;
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      log(`ret ${await enclCall(sys, await op.set(Op.PF), run)}`);
      // The PTE is read-only (the segment is mmap()ed PROT_READ|PROT_EXEC), so the MMU faults without the SGX bit,
      // as the selftests' pte_permissions case does (SDM Vol. 3D §38.5: EPCM checks follow the paging checks).
      expect(await run.exception()).toEqual(exc(ERESUME, 14, 0x7, text));
      // The enclave is intact: the next call on the other TCS works.
      const run2 = await Run.alloc(sys, libc, e.base + 4096);
      await enclCall(sys, await op.set(Op.PUT_TO_BUFFER, MAGIC), run2);
      await enclCall(sys, await op.set(Op.GET_FROM_BUFFER, 0n), run2);
      log(`read ${(await op.word(1)).toString(16)}`);
    });
    expect(log).toEqual(['ret 0', `read ${MAGIC.toString(16)}`]);
  });
});

describe('#UD from enclave code (compute.elf’s fault ecall) and the runtime’s exception flow', () => {
  it('is reported as vector 6 after the AEX; EXCEPTION entry then ERESUME ends the ecall with ABORT', async () => {
    const { log } = await scenario(async ({ sys, libc, log }) => {
      const e = await buildCompute(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const r = await ecall(sys, libc, run, ecallIndex('fault'), u32s(0 /* FAULT_UD */, 0 /* NO_HANDLER */), 48);
      log(`ecall ret ${r.ret}`);
      expect(await run.exception(), 'function ERESUME, #UD, no error code or address').toEqual(exc(ERESUME, 6, 0, 0));
      // The second phase: EENTER(EXCEPTION) on the same TCS, then ERESUME.
      const x = {} as Parameters<typeof vdsoSgxEnterEnclave>[2] & object;
      await vdsoSgxEnterEnclave(sys, { rdi: EnclCommand.EXCEPTION, rdx: r.block, fn: EENTER, run: run.addr }, x);
      log(`exception entry: ${(await run.read()).function === EEXIT ? 'EEXIT' : '?'} status ${x.regs!.rdi}`);
      await vdsoSgxEnterEnclave(sys, { fn: ERESUME, run: run.addr }, x);
      log(`resumed: status ${x.regs!.rdi} reason ${x.regs!.rsi.toString(16)}`);
      const cb = await callBlockResult(sys, r.block);
      log(`call block: status ${cb.status}`);
    });
    expect(log).toEqual([
      'ecall ret 0',
      `exception entry: EEXIT status ${EnclStatus.EXCEPTION_ABORTED}`,
      // EXITINFO of #UD: VALID | EXIT_TYPE hardware (3) << 8 | vector 6.
      `resumed: status ${EnclStatus.ABORT} reason ${(AbortReason.EXCEPTION | 0x80000306n).toString(16)}`,
      `call block: status ${EnclStatus.ABORT}`,
    ]);
  });

  it('with the enclave’s handler registered, the ecall completes after EXCEPTION_HANDLED and ERESUME', async () => {
    const { log } = await scenario(async ({ sys, libc, log }) => {
      const e = await buildCompute(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const r = await ecall(sys, libc, run, ecallIndex('fault'), u32s(0 /* FAULT_UD */, 1 /* CONTINUE */), 48);
      expect(await run.exception()).toEqual(exc(ERESUME, 6, 0, 0));
      const x: Parameters<typeof vdsoSgxEnterEnclave>[2] = {};
      await vdsoSgxEnterEnclave(sys, { rdi: EnclCommand.EXCEPTION, rdx: r.block, fn: EENTER, run: run.addr }, x);
      log(`exception entry status ${x.regs!.rdi}`);
      await vdsoSgxEnterEnclave(sys, { fn: ERESUME, run: run.addr }, x);
      log(`ecall status ${x.regs!.rdi} ret ${x.regs!.rsi}`);
      const report = new DataView((await sys.load(r.outAt, 48)).buffer);
      log(`handler saw vector ${report.getUint32(0, true)}, rax ${report.getBigUint64(32, true).toString(16)}`);
    });
    expect(log).toEqual([
      `exception entry status ${EnclStatus.EXCEPTION_HANDLED}`,
      `ecall status ${EnclStatus.OK} ret 48`,
      'handler saw vector 6, rax 5eed5eed5eed5eed',
    ]);
  });
});

describe('#GP on EENTER', () => {
  it('a second thread entering a busy TCS gets #GP(0) reported with function EENTER', async () => {
    const { log } = await scenario(
      async ({ sys, libc, p, log }) => {
        const e = await buildCompute(sys);
        const state = { busy: false, done: false };
        const words = Array.from({ length: 1024 }, (_, i) => (i * 2654435761) >>> 0);
        await sys.clone(CLONE_VM | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD, async (ts) => {
          const tl = new Libc(ts);
          const run = await Run.alloc(ts, tl, e.base);
          state.busy = true;
          const r = await ecall(ts, tl, run, ecallIndex('sort'), u32s(...words), 4096);
          const sorted = [...new Uint32Array(r.out.slice().buffer)];
          log(`sort status ${r.status} sorted ${sorted.every((v, i) => i === 0 || sorted[i - 1]! <= v)}`);
          state.done = true;
          return 0;
        });
        while (!state.busy || p.m.lpsInside().length === 0) await sys.sched_yield();
        const run = await Run.alloc(sys, libc, e.base);
        log(`ret ${await vdsoSgxEnterEnclave(sys, { rdi: EnclCommand.ECALL, fn: EENTER, run: run.addr })}`);
        expect(await run.exception(), 'TCS.STATE is ACTIVE: EENTER #GP(0)').toEqual(exc(EENTER, 13, 0, 0));
        while (!state.done) await sys.sched_yield();
      },
      { costs: { tickCycles: 1e12 } },
    );
    expect(log).toEqual(['ret 0', `sort status ${EnclStatus.OK} sorted true`]);
  });

  it('EENTER with every SSA frame in use (CSSA = NSSA) is #GP(0) until ERESUME pops the frame', async () => {
    const { log } = await scenario(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const dataStart = e.base + dataSegment(e.layout).offset + P;
      const run = await Run.alloc(sys, libc, e.base);
      const put = await OpStruct.alloc(sys, libc);
      await sys.mprotect(dataStart, P, PROT_READ);
      await put.set(Op.PUT_TO_ADDRESS, MAGIC2, BigInt(dataStart));
      await enclCall(sys, put.addr, run);
      // Never touched before the mprotect, so no PTE: W|U, not present (0x6); the VMA refuses the write.
      expect(await run.exception(), 'the AEX used the only SSA frame (NSSA = 1)').toEqual(
        exc(ERESUME, 14, 6, dataStart),
      );
      const nop = await OpStruct.alloc(sys, libc);
      await enclCall(sys, await nop.set(Op.NOP), run);
      expect(await run.exception()).toEqual(exc(EENTER, 13, 0, 0));
      await run.clearException();
      await sys.mprotect(dataStart, P, PROT_READ | PROT_WRITE);
      log(`eresume ${await enclCall(sys, put.addr, run, ERESUME)} function ${(await run.read()).function}`);
      log(`eenter ${await enclCall(sys, nop.addr, run)} function ${(await run.read()).function}`);
    });
    expect(log).toEqual([`eresume 0 function ${EEXIT}`, `eenter 0 function ${EEXIT}`]);
  });
});

describe('#DB is never fixed up', () => {
  // TF is set before the vDSO call, so the first trap comes after the vDSO's first instruction, before any ENCLU;
  // the #DB that EEXIT pends is covered in test/hw/sgx/enclu/entry-exit.test.ts.
  it('a single-step trap in the vDSO (TF set by a debugger) reaches the thread as SIGTRAP, run.function untouched', async () => {
    const { p, pid } = await scenario(async ({ sys, libc, p }) => {
      const e = await buildSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      await enclCall(sys, await op.set(Op.NOP), run);
      // A debugger set RFLAGS.TF on the thread (PTRACE_SINGLESTEP's effect).
      const g = p.cpus.thread(sys.task);
      const rf = p.cpus.snapshot(g);
      rf.rflags |= TF;
      p.cpus.restore(g, rf);
      await run.update({ function: 0 });
      await enclCall(sys, op.addr, run);
      throw new Error('the vDSO returned after #DB');
    });
    const st = p.k.exitStatus(pid)!;
    expect(WIFSIGNALED(st) && WTERMSIG(st), 'killed by SIGTRAP').toBe(SIGTRAP);
    expect(p.stats.reported, 'no exception reported through the vDSO').toBe(0);
  });

  it('ENCL_OP_TF on an opt-out entry: POPF cannot set TF inside the enclave, so no #DB and the op ends with EEXIT', async () => {
    const { log, p } = await scenario(async ({ sys, libc, log }) => {
      const e = await buildDebugSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      // SDM Vol. 3D §42.2.5: "any attempt to set TF via a POPF instruction while inside the enclave clears TF".
      log(`ret ${await enclCall(sys, await op.set(Op.TF), run)} function ${(await run.read()).function}`);
      log(`cssa ${(await tcs0(sys, e)).cssa}`);
    });
    expect(log).toEqual([`ret 0 function ${EEXIT}`, 'cssa 0']);
    expect(p.stats.reported).toBe(0);
  });

  it('ENCL_OP_TF on an opt-in entry (TCS.FLAGS.DBGOPTIN set by a debugger with EDBGWR): the single-step #DB inside the enclave causes an AEX, then SIGTRAP kills the process', async () => {
    const after = afterInsn('encl_trap_flag', 'nop');
    const { log, p } = await scenario(async ({ sys, libc, log }) => {
      const e = await buildDebugSample(sys);
      // A debugger opts TCS #0 in (SDM Vol. 3D §41.2 EDBGWR: a debug enclave's TCS.FLAGS is writable).
      await poke(sys, e.base + TCS_FLAGS, 1n);
      log(`flags ${await peek(sys, e.base + TCS_FLAGS)}`);
      const st = await enterInChild(sys, libc, e, Op.TF, log);
      log(`child ${WIFSIGNALED(st) ? `killed by ${WTERMSIG(st)}` : `exited ${st}`}`);
      // The trap comes after the NOP that follows the POPF (SDM Vol. 3A §17.3.1.4); the AEX saved RIP there.
      const t = await tcs0(sys, e);
      log(`cssa ${t.cssa} exitinfo ${t.exitInfo.toString(16)} rip 0x${t.rip.toString(16)}`);
    });
    expect(log).toEqual([
      'flags 1',
      `child killed by ${SIGTRAP}`,
      `cssa 1 exitinfo ${exitInfo(3, 1).toString(16)} rip 0x${after.toString(16)}`,
    ]);
    expect(p.stats.reported, 'not reported through sgx_enclave_run').toBe(0);
    expect(exceptionAexes(p), 'one exception AEX').toEqual([1]);
  });

  it('ENCL_OP_TF on an opt-in entry with a SIGTRAP handler: si_code TRAP_TRACE and si_addr = the AEP for each step, then EEXIT', async () => {
    const { log, p } = await scenario(async ({ sys, libc, log }) => {
      const e = await buildDebugSample(sys);
      await poke(sys, e.base + TCS_FLAGS, 1n);
      await sys.sigaction(SIGTRAP, {
        handler: async (hs, sig, info) => {
          // EENTER saved the AEP in TCS.AEP (SDM Vol. 3D §41.3 EENTER); a debug enclave's TCS reads with EDBGRD.
          const aep = await peek(hs, e.base + TCS_AEP);
          log(
            `signal ${sig} si_code ${info.si_code} si_addr ${BigInt(info.si_addr ?? -1) === aep ? 'AEP' : info.si_addr}`,
          );
        },
      });
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      log(`ret ${await enclCall(sys, await op.set(Op.TF), run)} function ${(await run.read()).function}`);
      log(`cssa ${(await tcs0(sys, e)).cssa}`);
    });
    // exc_debug_user() → send_sigtrap(regs, 0, get_si_code(dr6)): DR6.BS gives TRAP_TRACE, si_addr = regs->ip,
    // which after the AEX is the AEP. encl_trap_flag is pushf; orq $0x100,(%rsp); popf; nop; pushf; andq
    // $~0x100,(%rsp); popf: TF is set at the start of the last four, so four single steps (SDM Vol. 3A §17.3.1.4).
    expect(log).toEqual([
      ...Array.from({ length: 4 }, () => `signal ${SIGTRAP} si_code ${TRAP_TRACE} si_addr AEP`),
      `ret 0 function ${EEXIT}`,
      'cssa 0',
    ]);
    expect(p.stats.reported).toBe(0);
  });
});

describe('#BP inside the enclave (ENCL_OP_BP) is never fixed up', () => {
  // fixup_vdso_exception(): "Do not attempt to fixup #DB or #BP"; exc_int3() → do_int3_user() → do_trap(X86_TRAP_BP,
  // SIGTRAP, "int3", regs, 0, 0, NULL) → force_sig(SIGTRAP): si_code SI_KERNEL. The signal is delivered at the AEP.
  it('with no handler: int3 causes an AEX, then SIGTRAP kills the process; the TCS keeps the AEX’s frame', async () => {
    const after = afterInsn('encl_body', 'int3');
    const { log, p } = await scenario(async ({ sys, libc, log }) => {
      const e = await buildDebugSample(sys);
      const st = await enterInChild(sys, libc, e, Op.BP, log);
      log(`child ${WIFSIGNALED(st) ? `killed by ${WTERMSIG(st)}` : `exited ${st}`}`);
      // #BP is a trap: the SSA frame's RIP is the instruction after INT3.
      const t = await tcs0(sys, e);
      log(`cssa ${t.cssa} exitinfo ${t.exitInfo.toString(16)} rip 0x${t.rip.toString(16)}`);
      // The only SSA frame is in use, so EENTER on TCS #0 is #GP(0) (CSSA = NSSA); TCS #1 still works.
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      await enclCall(sys, await op.set(Op.NOP), run);
      log(`tcs 0: vector ${(await run.exception()).vector}`);
      const run1 = await Run.alloc(sys, libc, e.base + P);
      await enclCall(sys, op.addr, run1);
      log(`tcs 1: function ${(await run1.read()).function}`);
    });
    expect(log).toEqual([
      `child killed by ${SIGTRAP}`,
      `cssa 1 exitinfo ${exitInfo(6, 3).toString(16)} rip 0x${after.toString(16)}`,
      'tcs 0: vector 13',
      `tcs 1: function ${EEXIT}`,
    ]);
    expect(exceptionAexes(p), 'one exception AEX').toEqual([3]);
  });

  it('with a SIGTRAP handler: it runs at the AEP with CSSA 1 and si_code SI_KERNEL; its return ERESUMEs and the op ends with EEXIT', async () => {
    const { log, p } = await scenario(async ({ sys, libc, log }) => {
      const e = await buildDebugSample(sys);
      await sys.sigaction(SIGTRAP, {
        handler: async (hs, sig, info) => {
          log(`signal ${sig} si_code 0x${info.si_code.toString(16)} cssa ${(await tcs0(hs, e)).cssa}`);
        },
      });
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      log(`ret ${await enclCall(sys, await op.set(Op.BP), run)}`);
      // Nothing was reported: the exception fields stay zero and function is EEXIT.
      expect(await run.exception()).toEqual(exc(EEXIT, 0, 0, 0));
      log(`cssa ${(await tcs0(sys, e)).cssa}`);
    });
    expect(log).toEqual([`signal ${SIGTRAP} si_code 0x${SI_KERNEL.toString(16)} cssa 1`, 'ret 0', 'cssa 0']);
    expect(p.stats.reported).toBe(0);
  });
});

describe('several threads and processes', () => {
  it('two threads run concurrently on TCS #1 and TCS #2 and each reads back what it wrote', async () => {
    const rounds = 20;
    const { log, p } = await scenario(async ({ sys, log }) => {
      const e = await buildSample(sys, 4 * P);
      const heap = e.base + e.layout.segments.find((s) => s.kind === 'heap')!.offset;
      let done = 0;
      const worker = async (ts: Sys, tcs: number) => {
        const tl = new Libc(ts);
        const run = await Run.alloc(ts, tl, e.base + tcs * P);
        const op = await OpStruct.alloc(ts, tl);
        let ok = 0;
        for (let i = 0; i < rounds; i++) {
          const addr = BigInt(heap + tcs * 2 * P + 8 * i);
          const v = (BigInt(tcs + 1) << 32n) | BigInt(i);
          await enclCall(ts, await op.set(Op.PUT_TO_ADDRESS, v, addr), run);
          await enclCall(ts, await op.set(Op.GET_FROM_ADDRESS, 0n, addr), run);
          if ((await op.word(1)) === v && (await run.read()).function === EEXIT) ok++;
        }
        log(`tcs ${tcs}: ${ok}/${rounds}`);
        done++;
      };
      await sys.clone(CLONE_VM | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD, (ts) => worker(ts, 1).then(() => 0));
      await worker(sys, 0);
      while (done < 2) await sys.sched_yield();
    });
    expect(log.sort()).toEqual([`tcs 0: ${rounds}/${rounds}`, `tcs 1: ${rounds}/${rounds}`]);
    const cpus = new Set(p.k.trace.events.filter((e) => e.ev === 'vdso_enter').map((e) => e.cpu));
    expect(cpus.size, 'both CPUs entered the enclave').toBe(2);
  });

  it('a forked child enters the parent’s enclave through its inherited mapping; the parent sees its write', async () => {
    const { log } = await scenario(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const child = await sys.fork(async (cs) => {
        const cl = new Libc(cs);
        const run = await Run.alloc(cs, cl, e.base + P);
        const op = await OpStruct.alloc(cs, cl);
        log(`child put ${await enclCall(cs, await op.set(Op.PUT_TO_BUFFER, MAGIC2), run)}`);
        log(`child function ${(await run.read()).function}`);
        return 0;
      });
      await libc.waitpid(child);
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      await enclCall(sys, await op.set(Op.GET_FROM_BUFFER, 0n), run);
      log(`parent get ${(await op.word(1)).toString(16)}`);
    });
    expect(log).toEqual(['child put 0', `child function ${EEXIT}`, `parent get ${MAGIC2.toString(16)}`]);
  });

  it('a process given the fd over SCM_RIGHTS maps the segments itself and enters', async () => {
    const { log } = await scenario(async ({ sys, libc, log }) => {
      const { layout } = image('sample.elf');
      const sv = (await libc.socketpair(AF_UNIX, SOCK_DGRAM)) as [number, number];
      const receiver = await sys.fork(async (cs) => {
        const cl = new Libc(cs);
        const msg = await cl.recvmsg(sv[1], 8, 1);
        const fd = msg.fds[0]!;
        const base = Number(new DataView(msg.data.buffer, msg.data.byteOffset).getBigUint64(0, true));
        // load.c: "An enclave consumer only must do this."
        for (const seg of layout.segments)
          await cs.mmap(base + seg.offset, seg.size, seg.prot, MAP_SHARED | MAP_FIXED, fd, 0);
        const run = await Run.alloc(cs, cl, base);
        const op = await OpStruct.alloc(cs, cl);
        await enclCall(cs, await op.set(Op.GET_FROM_BUFFER, 0n), run);
        log(`receiver got ${(await op.word(1)).toString(16)} function ${(await run.read()).function}`);
        await enclCall(cs, await op.set(Op.PUT_TO_BUFFER, MAGIC2), run);
        return 0;
      });
      const e = await buildSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      await enclCall(sys, await op.set(Op.PUT_TO_BUFFER, MAGIC), run);
      const m = new Uint8Array(8);
      new DataView(m.buffer).setBigUint64(0, BigInt(e.base), true);
      await libc.sendmsg(sv[0], m, [e.fd]);
      await libc.waitpid(receiver);
      await enclCall(sys, await op.set(Op.GET_FROM_BUFFER, 0n), run);
      log(`sender reads ${(await op.word(1)).toString(16)}`);
    });
    expect(log).toEqual([
      `receiver got ${MAGIC.toString(16)} function ${EEXIT}`,
      `sender reads ${MAGIC2.toString(16)}`,
    ]);
  });
});
