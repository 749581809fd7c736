/**
 * The Linux SGX selftests (tools/testing/selftests/sgx/main.c), case by case, on the sample enclave built the
 * selftests' way (load.c) and entered through the vDSO, with the values the selftests expect
 * (linux-driver.md §6). The SGX2 cases run on this SGX1 machine exactly as far as the selftests get there: the
 * zeroed-struct ioctl probe gives ENODEV (or CPUID.(12H,0):EAX[1] is clear) and the case is skipped; each of them
 * asserts that and nothing more, as the selftests do.
 */
import { describe, expect, it } from 'vitest';
import {
  SGX_ENCLAVE_MODIFY_TYPES,
  SGX_ENCLAVE_RESTRICT_PERMISSIONS,
  SGX_IOC_ENCLAVE_MODIFY_TYPES,
  SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS,
} from '../../src/driver/index';
import { encode, PAGE_SIZE } from '../../src/hw/index';
import { errnoOfReturn, Libc, PROT_READ, PROT_WRITE, type Sys } from '../../src/kernel/index';
import {
  EEXIT,
  ERESUME,
  type Platform,
  registerUserHandler,
  type VdsoExitInfo,
  vdsoSgxEnterEnclave,
} from '../../src/vdso/index';
import { buildSample, dataSegment, enclCall, MAGIC, MAGIC2, Op, OpStruct, platform, Run } from '../vdso/fixture';

const P = PAGE_SIZE;

/** Runs one selftest body in a process of a fresh platform; returns what it recorded. */
async function selftest(
  body: (t: { sys: Sys; libc: Libc; p: Platform; log: (s: string) => void }) => Promise<void>,
  o: Parameters<typeof platform>[0] = {},
): Promise<{ log: string[]; p: Platform }> {
  const p = platform(o);
  const log: string[] = [];
  p.k.spawn(async (sys) => {
    await body({ sys, libc: new Libc(sys), p, log: (s) => log.push(s) });
    return 0;
  });
  const r = await p.k.run({ maxSteps: 2_000_000 });
  expect(r.kind, 'the test process ran to completion').toBe('idle');
  return { log, p };
}

/** EXPECT_EEXIT() plus the exception fields all zero. */
async function expectEexit(run: Run): Promise<void> {
  expect(await run.exception(), 'function EEXIT, no exception').toEqual({
    function: EEXIT,
    vector: 0,
    errorCode: 0,
    addr: 0n,
  });
}

/** call.S's sgx_call_vdso: the caller's R12–R15 (and RBX) survive whatever the enclave does with them. */
async function sgxEnterEnclaveUnclobbered(sys: Sys, op: number, run: Run): Promise<number> {
  const caller = { r12: 0x1212n, r13: 0x1313n, r14: 0x1414n, r15: 0x1515n };
  const out: VdsoExitInfo = {};
  const ret = await vdsoSgxEnterEnclave(sys, { rdi: op, fn: 2, run: run.addr, regs: caller }, out);
  // The sample enclave is C with the SysV ABI: it hands them back unchanged, and the trampoline would restore them.
  expect(
    [out.regs?.r12, out.regs?.r13, out.regs?.r14, out.regs?.r15],
    'R12–R15 passed as-is and preserved by the enclave',
  ).toEqual(Object.values(caller));
  return ret;
}

/** The total EPC size from CPUID.(12H, 2..) as the selftests' get_total_epc_mem() computes it. */
function totalEpcBytes(p: Platform): number {
  let total = 0;
  for (let sub = 2; ; sub++) {
    const r = p.m.cpuid12(sub);
    if ((r.eax & 0xf) !== 1) break;
    total += (r.ecx & 0xfffff000) + (r.edx & 0xfffff) * 2 ** 32;
  }
  return total;
}

/** The zeroed-struct probe of an SGX2 ioctl: the errno name. */
async function probe(sys: Sys, libc: Libc, fd: number, which: 'restrict' | 'modify'): Promise<string | undefined> {
  const [layout, cmd] =
    which === 'restrict'
      ? [SGX_ENCLAVE_RESTRICT_PERMISSIONS, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS]
      : [SGX_ENCLAVE_MODIFY_TYPES, SGX_IOC_ENCLAVE_MODIFY_TYPES];
  const ret = await sys.ioctl(fd, cmd, await libc.bytes(encode(layout, {})));
  return errnoOfReturn(ret)?.name;
}

describe('selftests: the vDSO and the normal flow', () => {
  for (const clobbered of [false, true]) {
    it(`${clobbered ? 'clobbered' : 'unclobbered'}_vdso: PUT then GET MAGIC, both EEXIT, user_data stays 0`, async () => {
      const { log } = await selftest(async ({ sys, libc, log }) => {
        const e = await buildSample(sys);
        const run = await Run.alloc(sys, libc, e.base);
        const op = await OpStruct.alloc(sys, libc);
        const call = (a: number) => (clobbered ? enclCall(sys, a, run) : sgxEnterEnclaveUnclobbered(sys, a, run));
        log(`put ${await call(await op.set(Op.PUT_TO_BUFFER, MAGIC))}`);
        await expectEexit(run);
        log(`get ${await call(await op.set(Op.GET_FROM_BUFFER, 0n))}`);
        log(`value ${(await op.word(1)).toString(16)}`);
        await expectEexit(run);
        log(`user_data ${(await run.read()).user_data}`);
      });
      expect(log).toEqual(['put 0', 'get 0', `value ${MAGIC.toString(16)}`, 'user_data 0']);
    });
  }

  it('unclobbered_vdso_oversubscribed: a heap the size of the EPC is built and run through reclaim', async () => {
    const epcPages = 64;
    const { log, p } = await selftest(
      async ({ sys, libc, p, log }) => {
        const heap = totalEpcBytes(p);
        log(`heap ${heap / P} pages`);
        const e = await buildSample(sys, heap);
        const run = await Run.alloc(sys, libc, e.base);
        const op = await OpStruct.alloc(sys, libc);
        log(`put ${await sgxEnterEnclaveUnclobbered(sys, await op.set(Op.PUT_TO_BUFFER, MAGIC), run)}`);
        await expectEexit(run);
        log(`get ${await sgxEnterEnclaveUnclobbered(sys, await op.set(Op.GET_FROM_BUFFER, 0n), run)}`);
        await expectEexit(run);
        log(`value ${(await op.word(1)) === MAGIC}`);
      },
      { epcPages },
    );
    expect(log).toEqual([`heap ${epcPages} pages`, 'put 0', 'get 0', 'value true']);
    expect(p.sgx.stats.encls.EWB, 'pages were written out while building and running').toBeGreaterThan(0);
  });

  it('clobbered_vdso_and_user_function: the handler runs on every exit and resets user_data', async () => {
    let calls = 0;
    const { log } = await selftest(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      // test_handler(): run->user_data = 0; return 0.
      const handler = registerUserHandler(sys, async ({ sys: hs, run: r }) => {
        calls++;
        await hs.store(r + 32, new Uint8Array(8));
        return 0;
      });
      await run.update({ user_handler: handler, user_data: 0xdeadbeefn });
      const op = await OpStruct.alloc(sys, libc);
      log(`put ${await enclCall(sys, await op.set(Op.PUT_TO_BUFFER, MAGIC), run)}`);
      expect((await run.read()).function).toBe(EEXIT);
      log(`user_data ${(await run.read()).user_data}`);
      await run.update({ user_data: 0xdeadbeefn });
      log(`get ${await enclCall(sys, await op.set(Op.GET_FROM_BUFFER, 0n), run)}`);
      log(`value ${(await op.word(1)) === MAGIC}`);
      expect((await run.read()).function).toBe(EEXIT);
      log(`user_data ${(await run.read()).user_data}`);
    });
    expect(log).toEqual(['put 0', 'user_data 0', 'get 0', 'value true', 'user_data 0']);
    expect(calls).toBe(2);
  });

  it('tcs_entry: a NOP through TCS #1 and through TCS #2', async () => {
    const { log } = await selftest(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const run = await Run.alloc(sys, libc, e.base);
      const op = await OpStruct.alloc(sys, libc);
      log(`tcs1 ${await enclCall(sys, await op.set(Op.NOP), run)}`);
      await expectEexit(run);
      await run.update({ tcs: BigInt(e.base + P) });
      log(`tcs2 ${await enclCall(sys, await op.set(Op.NOP), run)}`);
      await expectEexit(run);
    });
    expect(log).toEqual(['tcs1 0', 'tcs2 0']);
  });

  it('pte_permissions: a PTE made read-only gives #PF 0x7 at data_start; RW again and ERESUME completes it', async () => {
    const { log } = await selftest(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      const dataStart = e.base + dataSegment(e.layout).offset + P;
      const run = await Run.alloc(sys, libc, e.base);
      const put = await OpStruct.alloc(sys, libc);
      const get = await OpStruct.alloc(sys, libc);
      await put.set(Op.PUT_TO_ADDRESS, MAGIC, BigInt(dataStart));
      await get.set(Op.GET_FROM_ADDRESS, 0n, BigInt(dataStart));
      log(`put ${await enclCall(sys, put.addr, run)}`);
      await expectEexit(run);
      log(`get ${await enclCall(sys, get.addr, run)} ${(await get.word(1)) === MAGIC}`);
      await expectEexit(run);
      log(`mprotect RO ${await sys.mprotect(dataStart, P, PROT_READ)}`);
      await put.set(Op.PUT_TO_ADDRESS, MAGIC2, BigInt(dataStart));
      log(`put ${await enclCall(sys, put.addr, run)}`);
      expect(await run.exception(), 'a regular #PF (P|W|U, no SGX bit) reported after the AEX').toEqual({
        function: ERESUME,
        vector: 14,
        errorCode: 0x7,
        addr: BigInt(dataStart),
      });
      await run.clearException();
      log(`mprotect RW ${await sys.mprotect(dataStart, P, PROT_READ | PROT_WRITE)}`);
      log(`eresume ${await enclCall(sys, put.addr, run, ERESUME)}`);
      await expectEexit(run);
      await get.set(Op.GET_FROM_ADDRESS, 0n, BigInt(dataStart));
      log(`get ${await enclCall(sys, get.addr, run)} ${(await get.word(1)).toString(16)}`);
      await expectEexit(run);
    });
    expect(log).toEqual([
      'put 0',
      'get 0 true',
      'mprotect RO 0',
      'put 0',
      'mprotect RW 0',
      'eresume 0',
      `get 0 ${MAGIC2.toString(16)}`,
    ]);
  });
});

describe('selftests: the SGX2 cases skip on this SGX1 machine as the selftests do', () => {
  const restrictProbed = ['tcs_permissions', 'epcm_permissions'];
  const modifyProbed = [
    'unclobbered_vdso_oversubscribed_remove',
    'tcs_create',
    'remove_added_page_no_eaccept',
    'remove_added_page_invalid_access',
    'remove_added_page_invalid_access_after_eaccept',
    'remove_untouched_page',
  ];
  it(`${[...restrictProbed, ...modifyProbed].join(', ')}: the zeroed-struct probe fails with ENODEV ("System does not support SGX2")`, async () => {
    const { log } = await selftest(async ({ sys, libc, log }) => {
      const e = await buildSample(sys);
      for (const name of restrictProbed) log(`${name} ${await probe(sys, libc, e.fd, 'restrict')}`);
      for (const name of modifyProbed) log(`${name} ${await probe(sys, libc, e.fd, 'modify')}`);
    });
    expect(log).toEqual([...restrictProbed, ...modifyProbed].map((n) => `${n} ENODEV`));
  });

  it('augment, augment_via_eaccept: sgx2_supported() (CPUID.(12H,0):EAX[1]) is false', () => {
    const p = platform();
    expect(p.m.cpuid12(0).eax & 2, 'no SGX2 leaves').toBe(0);
    expect(p.m.cpuid12(0).eax & 1, 'SGX1 is there').toBe(1);
  });
});
