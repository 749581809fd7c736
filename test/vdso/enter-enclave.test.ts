/**
 * __vdso_sgx_enter_enclave() rule by rule (arch/x86/entry/vdso/vsgx.S, linux-driver.md §5): -EINVAL for a function
 * other than EENTER/ERESUME (checked in ECX before anything is read) and for non-zero reserved bytes; a bad `run`
 * pointer faults (SIGSEGV); the registers at EEXIT; the user handler's arguments, its ≤ 0 / > 0 return values, a
 * leaf it returns checked again, re-entry with run->tcs re-read; a bad handler pointer; a vDSO call nested in a
 * handler; the exception fields left alone on a normal exit.
 */
import { describe, expect, it } from 'vitest';
import {
  Libc,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  SEGV_ACCERR,
  SEGV_MAPERR,
  SIGSEGV,
  type Sys,
  WIFSIGNALED,
  WTERMSIG,
} from '../../src/kernel/index';
import {
  EENTER,
  EEXIT,
  ERESUME,
  type Platform,
  registerUserHandler,
  VDSO_EEXIT_LANDING_OFFSET,
  type VdsoExitInfo,
  vdsoSgxEnterEnclave,
} from '../../src/vdso/index';
import { buildSample, enclCall, MAGIC, MAGIC2, Op, OpStruct, P, platform, Run } from './fixture';

async function inProcess(
  body: (t: { sys: Sys; libc: Libc; p: Platform; log: (s: string) => void }) => Promise<void>,
): Promise<{ log: string[]; p: Platform; status: number }> {
  const p = platform();
  const log: string[] = [];
  const { pid } = p.k.spawn(async (sys) => {
    await body({ sys, libc: new Libc(sys), p, log: (s) => log.push(s) });
    return 0;
  });
  await p.k.run({ maxSteps: 1_000_000 });
  return { log, p, status: p.k.exitStatus(pid)! };
}

describe('argument checks', () => {
  it('returns -EINVAL for any function but EENTER and ERESUME, before reading run (even a NULL one)', async () => {
    const { log } = await inProcess(async ({ sys, log }) => {
      for (const fn of [0, 1, 4, 5, 0xffffffff, -1]) log(`${fn}: ${await vdsoSgxEnterEnclave(sys, { fn, run: 0 })}`);
    });
    expect(log).toEqual(['0: -22', '1: -22', '4: -22', '5: -22', '4294967295: -22', '-1: -22']);
  });

  it('takes the function from ECX: only its low 32 bits count', async () => {
    const { log } = await inProcess(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      log(`${await enclCall(sys, await op.set(Op.NOP), run, 2 ** 32 + EENTER)} ${(await run.read()).function}`);
    });
    expect(log).toEqual([`0 ${EEXIT}`]);
  });

  it('returns -EINVAL when any reserved byte is non-zero (first and last), without entering', async () => {
    const { log, p } = await inProcess(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      for (const at of [40, 255]) {
        await sys.store(run.addr + at, Uint8Array.of(1));
        log(`byte ${at}: ${await enclCall(sys, await op.set(Op.NOP), run)}`);
        await sys.store(run.addr + at, Uint8Array.of(0));
      }
      log(`clean: ${await enclCall(sys, op.addr, run)}`);
    });
    expect(log).toEqual(['byte 40: -22', 'byte 255: -22', 'clean: 0']);
    expect(p.stats.eenter, 'only the clean call entered').toBe(1);
  });

  it('faults on a run pointer that is not mapped: SIGSEGV', async () => {
    const { status, log } = await inProcess(async ({ sys, log }) => {
      await vdsoSgxEnterEnclave(sys, { fn: EENTER, run: 0x1000 });
      log('returned');
    });
    expect(log).toEqual([]);
    expect(WIFSIGNALED(status) && WTERMSIG(status)).toBe(SIGSEGV);
  });
});

describe('the vDSO’s own loads and stores of run (user-mode code, one kernel entry)', () => {
  /** Two fresh pages for a run struct placed by the test. */
  async function pages(sys: Sys): Promise<number> {
    return sys.mmap(0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }

  it('is one kernel entry: the scheduler steps once for a whole EENTER → EEXIT call', async () => {
    const { log } = await inProcess(async ({ sys, libc, p, log }) => {
      const e = await buildSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      await enclCall(sys, await op.set(Op.NOP), run);
      const before = p.k.sched.steps;
      const r = await enclCall(sys, op.addr, run);
      log(`ret ${r} steps ${p.k.sched.steps - before} function ${(await run.read()).function}`);
    });
    expect(log).toEqual([`ret 0 steps 1 function ${EEXIT}`]);
  });

  it('a run struct running into an unmapped page faults at the first reserved quadword there (vsgx.S reads them in order), before entering; a handler that maps it lets the call go on', async () => {
    const { log, p } = await inProcess(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const base = await pages(sys);
      await sys.munmap(base + P, P);
      const runAddr = base + P - 16;
      // run->tcs sits in the mapped page; the reserved area (from +40) starts 24 bytes into the hole.
      const tcs = new Uint8Array(8);
      new DataView(tcs.buffer).setBigUint64(0, BigInt(e.base), true);
      await sys.store(runAddr, tcs);
      await sys.sigaction(SIGSEGV, {
        handler: async (hs, _sig, info) => {
          log(`SIGSEGV at +${(info.si_addr ?? 0) - base} maperr ${info.si_code === SEGV_MAPERR}`);
          await hs.mmap(base + P, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        },
      });
      const op = await OpStruct.alloc(sys, libc);
      const r = await vdsoSgxEnterEnclave(sys, { rdi: await op.set(Op.NOP), fn: EENTER, run: runAddr });
      const fn = await sys.load(runAddr + 8, 4);
      log(`ret ${r} function ${fn[0]}`);
    });
    expect(log).toEqual([`SIGSEGV at +${P + 24} maperr true`, `ret 0 function ${EEXIT}`]);
    expect(p.stats.eenter, 'entered once, after the handler').toBe(1);
  });

  it('a read-only run struct faults on the exit’s store (after the enclave ran); the store is retried after the handler', async () => {
    const { log, p } = await inProcess(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const base = await pages(sys);
      const run = base + 64;
      const tcs = new Uint8Array(8);
      new DataView(tcs.buffer).setBigUint64(0, BigInt(e.base), true);
      await sys.store(run, tcs);
      await sys.mprotect(base, P, PROT_READ);
      await sys.sigaction(SIGSEGV, {
        handler: async (hs, _sig, info) => {
          log(`SIGSEGV at +${(info.si_addr ?? 0) - base} accerr ${info.si_code === SEGV_ACCERR}`);
          await hs.mprotect(base, P, PROT_READ | PROT_WRITE);
        },
      });
      const op = await OpStruct.alloc(sys, libc);
      await op.set(Op.PUT_TO_BUFFER, MAGIC);
      const r = await vdsoSgxEnterEnclave(sys, { rdi: op.addr, fn: EENTER, run });
      const fn = await sys.load(run + 8, 4);
      log(`ret ${r} function ${fn[0]}`);
    });
    expect(log).toEqual(['SIGSEGV at +72 accerr true', `ret 0 function ${EEXIT}`]);
    expect(p.stats.eenter, 'the enclave ran once: only the store was done again').toBe(1);
    expect(p.stats.eexit).toBe(1);
  });
});

describe('the exit', () => {
  it('reports the registers at EEXIT: the enclave’s values, RBX = the landing after ENCLU, RAX = EEXIT', async () => {
    const { log } = await inProcess(async ({ sys, libc, p, log }) => {
      const e = await buildSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      const out: VdsoExitInfo = {};
      await vdsoSgxEnterEnclave(
        sys,
        { rdi: await op.set(Op.NOP), rsi: 7, r8: 8, r9: 9, fn: EENTER, run: run.addr },
        out,
      );
      const base = BigInt(p.vdso.base(sys.task.mm!)!);
      const r = out.regs!;
      log(`rax ${r.rax} rbx-landing ${r.rbx - base === BigInt(VDSO_EEXIT_LANDING_OFFSET)} exit ${out.exit?.kind}`);
      // The sample enclave clears the volatile registers before EEXIT (entry.S).
      log(`rdi ${r.rdi} rsi ${r.rsi} rdx ${r.rdx} r8 ${r.r8} r9 ${r.r9}`);
    });
    expect(log).toEqual([`rax ${EEXIT} rbx-landing true exit eexit`, 'rdi 0 rsi 0 rdx 0 r8 0 r9 0']);
  });

  it('writes only run.function on EEXIT: stale exception fields stay (callers clear them)', async () => {
    const { log } = await inProcess(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      await run.update({ exception_vector: 14, exception_error_code: 7, exception_addr: 0x1234n, user_data: 5n });
      const op = await OpStruct.alloc(sys, libc);
      await enclCall(sys, await op.set(Op.NOP), run);
      const r = await run.read();
      log(`${r.function} ${r.exception_vector} ${r.exception_error_code} ${r.exception_addr} ${r.user_data}`);
    });
    expect(log).toEqual([`${EEXIT} 14 7 4660 5`]);
  });
});

describe('the user handler', () => {
  it('gets rdi, rsi, rdx, the untrusted RSP, r8, r9 and run; its return ≤ 0 is returned', async () => {
    const seen: unknown[] = [];
    const { log } = await inProcess(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const h = registerUserHandler(sys, (a) => {
        seen.push({ rdi: a.rdi, rsi: a.rsi, rdx: a.rdx, r8: a.r8, r9: a.r9, run: a.run === run.addr, rsp: a.rsp > 0n });
        return -7;
      });
      await run.update({ user_handler: h });
      const op = await OpStruct.alloc(sys, libc);
      log(`ret ${await enclCall(sys, await op.set(Op.NOP), run)} function ${(await run.read()).function}`);
    });
    expect(log).toEqual([`ret -7 function ${EEXIT}`]);
    expect(seen).toEqual([{ rdi: 0n, rsi: 0n, rdx: 0n, r8: 0n, r9: 0n, run: true, rsp: true }]);
  });

  it('> 0 re-enters with that leaf, reading run->tcs again; a leaf other than EENTER/ERESUME is -EINVAL', async () => {
    const { log, p } = await inProcess(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const put = await OpStruct.alloc(sys, libc);
      const get = await OpStruct.alloc(sys, libc);
      await put.set(Op.PUT_TO_BUFFER, MAGIC);
      await get.set(Op.GET_FROM_BUFFER, 0n);
      let n = 0;
      const h = registerUserHandler(sys, async ({ sys: hs, run: r }) => {
        n++;
        if (n === 1) {
          // Switch to TCS #2 and run the GET there, with RDI set as an assembly handler would.
          await hs.store(r, new Uint8Array(new BigUint64Array([BigInt(e.base + P)]).buffer));
          return { ret: EENTER, rdi: BigInt(get.addr) };
        }
        return n === 2 ? 5 : 0;
      });
      await run.update({ user_handler: h });
      log(`ret ${await enclCall(sys, put.addr, run)} calls ${n}`);
      log(`get ${(await get.word(1)) === MAGIC} tcs ${(await run.read()).tcs === BigInt(e.base + P)}`);
    });
    expect(log).toEqual(['ret -22 calls 2', 'get true tcs true']);
    expect(p.stats.eenter).toBe(2);
  });

  it('an unregistered handler address, or one from an unrelated process, is a bad pointer: SIGSEGV', async () => {
    const p = platform();
    let token = 0n;
    const a = p.k.spawn(async (sys) => {
      token = registerUserHandler(sys, () => 0);
      return 0;
    });
    await p.k.run({ maxSteps: 1000 });
    const statuses: number[] = [];
    for (const bad of [() => token, () => token + 0x10000n]) {
      const b = p.k.spawn(async (sys) => {
        const libc = new Libc(sys);
        const e = await buildSample(sys);
        const run = await Run.alloc(sys, libc, e.base);
        await run.update({ user_handler: bad() });
        const op = await OpStruct.alloc(sys, libc);
        await enclCall(sys, await op.set(Op.NOP), run);
        return 0;
      });
      await p.k.run({ maxSteps: 100_000 });
      statuses.push(p.k.exitStatus(b.pid)!);
    }
    expect(p.k.exitStatus(a.pid)).toBe(0);
    for (const st of statuses) expect(WIFSIGNALED(st) && WTERMSIG(st), 'SIGSEGV').toBe(SIGSEGV);
  });

  it('is inherited by a forked child (same program text)', async () => {
    const { log } = await inProcess(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const h = registerUserHandler(sys, () => {
        log('handler');
        return 0;
      });
      const child = await sys.fork(async (cs) => {
        const cl = new Libc(cs);
        const run = await Run.alloc(cs, cl, e.base);
        await run.update({ user_handler: h });
        const op = await OpStruct.alloc(cs, cl);
        log(`child ${await enclCall(cs, await op.set(Op.NOP), run)}`);
        return 0;
      });
      await libc.waitpid(child);
    });
    expect(log).toEqual(['handler', 'child 0']);
  });

  it('may call the vDSO again (nested); the outer call then re-enters with its own registers', async () => {
    const { log } = await inProcess(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const inner = await Run.alloc(sys, libc, e.base + P);
      const put = await OpStruct.alloc(sys, libc);
      const get = await OpStruct.alloc(sys, libc);
      await put.set(Op.PUT_TO_BUFFER, MAGIC2);
      await get.set(Op.GET_FROM_BUFFER, 0n);
      let first = true;
      const h = registerUserHandler(sys, async ({ sys: hs }) => {
        if (!first) return 0;
        first = false;
        log(`inner ${await enclCall(hs, put.addr, inner)}`);
        return { ret: EENTER, rdi: BigInt(get.addr) };
      });
      await run.update({ user_handler: h });
      const out: VdsoExitInfo = {};
      const nop = await OpStruct.alloc(sys, libc);
      log(
        `outer ${await enclCall(sys, await nop.set(Op.NOP), run, EENTER, out, { regs: { r12: 0xabcn } })} get ${(await get.word(1)).toString(16)}`,
      );
      log(`r12 kept ${out.regs?.r12 === 0xabcn}`);
    });
    expect(log).toEqual(['inner 0', `outer 0 get ${MAGIC2.toString(16)}`, 'r12 kept true']);
  });

  it('is also called after a reported exception, with RDI/RSI/RDX = vector, error code, address', async () => {
    const seen: bigint[][] = [];
    const { log } = await inProcess(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const h = registerUserHandler(sys, (a) => {
        seen.push([a.rdi, a.rsi, a.rdx]);
        return 0;
      });
      await run.update({ user_handler: h });
      const op = await OpStruct.alloc(sys, libc);
      log(`ret ${await enclCall(sys, await op.set(Op.PUT_TO_ADDRESS, 1n, BigInt(e.base)), run)}`);
      log(`function ${(await run.read()).function}`);
    });
    expect(log).toEqual(['ret 0', `function ${ERESUME}`]);
    expect(seen.length).toBe(1);
    expect(seen[0]!.slice(0, 2)).toEqual([14n, 0x8007n]);
  });
});
