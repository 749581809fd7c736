/**
 * The SDK loader's plan for a runtime enclave: the selftests' layout unchanged by default, extra TCS pages with
 * their thread blocks where the runtime's convention (threadBlockOffset, which mirrors entry.S) expects them,
 * SECS.SIZE and heap_size written into encl_rt_meta, the rules for bad options, and the whole enclave built
 * through the driver with EINIT accepting it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decode, getField, PAGE_SIZE, PageType, SECS, TCS, toHex } from '../../../src/hw/index';
import { Libc } from '../../../src/kernel/index';
import { nodeBackend } from '../../../src/node/index';
import {
  buildEnclaveLayout,
  buildEnclaveWithDriver,
  DEMO_SIGNING_KEY,
  EnclaveLoadError,
  MAX_TCS,
  measureEnclave,
  planEnclave,
  RuntimeThreads,
  readRuntimeInfo,
  signSigstruct,
  threadBlockOffset,
} from '../../../src/sdk/index';
import { makeSgxSystem, ROOT } from '../../driver/fixtures/sgx-system';

const COMPUTE = new Uint8Array(readFileSync(join(ROOT, 'enclaves/prebuilt/compute.elf')));
const SAMPLE = new Uint8Array(readFileSync(join(ROOT, 'enclaves/prebuilt/sample.elf')));

function problem(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    if (e instanceof EnclaveLoadError) return e.toJSON().data;
    throw e;
  }
  return undefined;
}

describe('planEnclave', () => {
  it('keeps the selftests layout and MRENCLAVE when no option changes it', () => {
    const plan = planEnclave(COMPUTE);
    const plain = buildEnclaveLayout(COMPUTE);
    expect(plan.layout.size, 'SECS.SIZE').toBe(plain.size);
    expect(plan.tcs, 'the built-in TCS').toEqual([0, PAGE_SIZE]);
    expect(toHex(measureEnclave(nodeBackend, plan.layout)), 'MRENCLAVE').toBe(
      toHex(measureEnclave(nodeBackend, plain)),
    );
    expect(plan.runtime.ecalls).toContain('sha256');
    expect(plan.runtime.ocalls).toEqual(['print', 'echo']);
  });

  it('adds TCS pages with thread blocks where the runtime looks for them, and a measured enclave size', () => {
    const plan = planEnclave(COMPUTE, { tcs: 4 });
    const meta = plan.runtime.meta;
    expect(plan.tcs.length).toBe(4);
    // The image (with its heap) ends at 0x19000; slots start at the next 32 KiB boundary, 64 KiB apart.
    expect(plan.tcs.slice(2), 'extra TCS offsets').toEqual([0x28000, 0x38000]);
    expect(plan.layout.size, 'SECS.SIZE').toBe(0x40000);
    // encl_rt_meta as the enclave will read it: the new size, written into the measured image.
    const seen = readRuntimeInfo(plan.layout).meta;
    expect(seen.enclaveSize, 'encl_rt_meta.enclave_size in the image').toBe(0x40000);
    expect(seen.heapSize, 'encl_rt_meta.heap_size in the image').toBe(RuntimeThreads.HEAP_SIZE);
    for (const t of plan.tcs.slice(2)) {
      const page = plan.layout.pages.find((p) => p.offset === t)!;
      expect(page.pageType, `TCS at 0x${t.toString(16)} is a TCS page`).toBe(PageType.TCS);
      expect(page.measure, 'measured').toBe(true);
      const tcs = decode(TCS, page.bytes);
      const block = threadBlockOffset(t, { ...seen, nrTcs: meta.nrTcs });
      expect(Number(tcs.ossa), 'OSSA = the thread block the runtime derives').toBe(block);
      expect(tcs.nssa).toBe(RuntimeThreads.NSSA);
      expect(Number(tcs.oentry), 'OENTRY').toBe(meta.entry);
      expect([tcs.fsLimit, tcs.gsLimit]).toEqual([0xffffffff, 0xffffffff]);
      const blockPages = plan.layout.pages.filter((p) => p.offset >= block! && p.offset < t);
      expect(blockPages.length, 'the whole block is added').toBe(RuntimeThreads.THREAD_SIZE / PAGE_SIZE);
      expect(blockPages.every((p) => p.measure && p.pageType === PageType.REG && p.bytes.every((b) => b === 0))).toBe(
        true,
      );
    }
    expect(toHex(measureEnclave(nodeBackend, plan.layout)), 'a different enclave').not.toBe(
      toHex(measureEnclave(nodeBackend, planEnclave(COMPUTE).layout)),
    );
  });

  it('grows SECS.SIZE for a larger heap and for many TCS', () => {
    const heap = planEnclave(COMPUTE, { heapSize: 0x100000 });
    expect(heap.layout.size).toBe(0x200000);
    expect(readRuntimeInfo(heap.layout).meta.heapSize).toBe(0x100000);
    const many = planEnclave(COMPUTE, { tcs: 64 });
    expect(many.tcs.length).toBe(64);
    expect(many.layout.size).toBe(0x400000);
    expect(new Set(many.tcs).size, 'distinct TCS').toBe(64);
    const one = planEnclave(COMPUTE, { tcs: 1 });
    expect(one.tcs, 'fewer than built in: the pool uses the first').toEqual([0]);
  });

  it('refuses bad options and enclaves without the runtime, naming the problem', () => {
    expect(problem(() => planEnclave(COMPUTE, { tcs: 0 }))).toEqual({ kind: 'tcs-count', tcs: 0, max: MAX_TCS });
    expect(problem(() => planEnclave(COMPUTE, { tcs: MAX_TCS + 1 }))).toMatchObject({ kind: 'tcs-count' });
    expect(problem(() => planEnclave(COMPUTE, { tcs: 2.5 }))).toMatchObject({ kind: 'tcs-count' });
    expect(problem(() => planEnclave(COMPUTE, { heapSize: 100 }))).toMatchObject({ kind: 'heap-size', heapSize: 100 });
    expect(problem(() => planEnclave(SAMPLE))).toEqual({ kind: 'no-runtime', detail: 'no encl_rt_meta symbol' });
    const e = new EnclaveLoadError({ kind: 'tcs-count', tcs: 0, max: MAX_TCS });
    expect(e.message).toBe(`tcs must be an integer from 1 to ${MAX_TCS}, got 0`);
    expect(JSON.parse(JSON.stringify(e))).toMatchObject({ name: 'EnclaveLoadError', code: 'ENCLAVE_LOAD' });
  });

  it('builds through the driver: EINIT accepts it and the hardware measured the same MRENCLAVE', async () => {
    const sys0 = makeSgxSystem({ epcPages: 256 });
    const plan = planEnclave(COMPUTE, { tcs: 4 });
    const mr = measureEnclave(nodeBackend, plan.layout);
    const sigstruct = signSigstruct(nodeBackend, DEMO_SIGNING_KEY, { enclaveHash: mr });
    let secsMr = '';
    let tcsTypes: number[] = [];
    sys0.k.spawn(async (sys) => {
      const e = await buildEnclaveWithDriver(sys, new Libc(sys), { layout: plan.layout, sigstruct });
      const encl = sys.task.files!.get(e.fd)!.privateData as {
        secs: { epcPage: { index: number } };
        pageArray: Map<number, { type: number }>;
      };
      secsMr = toHex(getField(SECS, sys0.m.epcPage(encl.secs.epcPage.index), 0, 'mrEnclave'));
      tcsTypes = plan.tcs.map((t) => encl.pageArray.get((e.base + t) / PAGE_SIZE)!.type);
      return 0;
    });
    await sys0.k.run({ maxSteps: 100_000 });
    expect(secsMr, 'SECS.MRENCLAVE after EINIT').toBe(toHex(mr));
    expect(tcsTypes, 'every pool TCS was added as a TCS page').toEqual([
      PageType.TCS,
      PageType.TCS,
      PageType.TCS,
      PageType.TCS,
    ]);
  });
});

describe('the demo signing key', () => {
  it('is enclaves/keys/demo-key.pem, as node:crypto reads it', async () => {
    const { readSigningKey } = await import('../../../src/node/index');
    const fromPem = readSigningKey(join(ROOT, 'enclaves/keys/demo-key.pem'));
    expect(DEMO_SIGNING_KEY).toEqual(fromPem);
  });
});
