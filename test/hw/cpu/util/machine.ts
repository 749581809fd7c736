/** A small test machine: code, data and stack pages in a flat address space, and one CPU (practice 14). */
import {
  type AccessHook,
  type Cpu,
  type CpuOptions,
  createCpu,
  DecodeCache,
  FlatAddressSpace,
  PhysMem,
  type RunResult,
  run,
} from '../../../../src/hw/index';

export const CODE = 0x40_0000;
export const DATA = 0x60_0000;
export const STACK_TOP = 0x7000_0000;

let jitMode = false;
/** Makes later machines compile every block on first use (true) or interpret only (false). */
export function setJitMode(on: boolean): void {
  jitMode = on;
}

export interface TestMachine {
  readonly space: FlatAddressSpace;
  readonly cpu: Cpu;
  readonly cache: DecodeCache;
  run(budget?: number): RunResult;
}

export function makeTestMachine(
  code: readonly number[],
  opts: { accessHook?: AccessHook; writableCode?: boolean; mem?: PhysMem; cpu?: Partial<CpuOptions> } = {},
): TestMachine {
  const space = new FlatAddressSpace(
    opts.mem ?? new PhysMem({ ramBytes: 2 ** 32, epcSections: [{ base: 2 ** 40, size: 2 ** 20 }] }),
  );
  space.map(CODE, 8192, { exec: true, write: opts.writableCode ?? false });
  space.map(DATA, 8192, { write: true });
  space.map(STACK_TOP - 65536, 65536, { write: true });
  space.write(CODE, Uint8Array.from(code));
  const cache = new DecodeCache();
  const cpu = createCpu({
    mem: space.mem,
    pageTable: space,
    cache,
    ...(opts.accessHook && { accessHook: opts.accessHook }),
    jit: jitMode,
    jitThreshold: 0,
    ...opts.cpu,
  });
  cpu.rip = CODE;
  cpu.setRegNum(4, STACK_TOP - 8);
  return { space, cpu, cache, run: (budget = 1000) => run(cpu, budget) };
}

/** Little-endian bytes of a 32-bit value. */
export const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
