// The block compiler against the interpreter, which differential.test.ts holds to native execution: the C corpus
// runs on two machines — one interpreting, one compiling every region on first use — through the same sequence
// of random budgets. After every run() both must report the same stop and count and hold the same registers,
// flags, XMM state, buffer and stack bytes. Random budgets end runs inside loops, calls and regions, so every
// compiled exit, the budget check at block starts and the interpreter's handover are compared.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AccessHook,
  type Cpu,
  createCpu,
  PfErr,
  type RunResult,
  run,
  saveCpu,
  setNum,
  Vector,
} from '../../../src/hw/index';
import { type FlatProgram, loadFlatElf } from '../../../src/sdk/index';
import { hasGcc } from '../../util/native';
import { BUF_ADDR, buildCorpus, CORPUS_FNS, OPT_LEVELS } from './util/corpus';
import { CODE, DATA, makeTestMachine, STACK_TOP, setJitMode, type TestMachine } from './util/machine';

const SEED = Number(process.env.SGXSIM_SEED ?? 7);
const RUNS = Number(process.env.SGXSIM_RUNS ?? 3);
const FILTER = process.env.SGXSIM_TEST_NAME;

/** Where a called function returns to: unmapped, so the RET's fetch faults (as in sysv-call.ts). */
const SENTINEL_HI = 0x7ffe;

interface Machine {
  readonly prog: FlatProgram;
  readonly cpu: Cpu;
}

function machine(elf: string, jit: boolean): Machine {
  const prog = loadFlatElf(new Uint8Array(readFileSync(elf)));
  prog.space.map(BUF_ADDR, 8192, { write: true });
  const cpu = createCpu({ mem: prog.space.mem, pageTable: prog.space, jit, jitThreshold: 0 });
  return { prog, cpu };
}

/** Sets up a System V call of corpus function `fn` (psABI §3.2.3) with a return address that faults. */
function setup(mc: Machine, fn: number, a: bigint, b: bigint, buf: Uint8Array): void {
  const { cpu, prog } = mc;
  const f = CORPUS_FNS[fn]!;
  prog.space.write(BUF_ADDR, new Uint8Array(8192));
  prog.space.write(BUF_ADDR, buf);
  for (let r = 0; r < 16; r++) cpu.setReg64(r, 0n);
  cpu.setFlags(0x202);
  cpu.x8.fill(0);
  const ints = f.dbl ? [BigInt(BUF_ADDR), BigInt(buf.length)] : [a, b, BigInt(BUF_ADDR), BigInt(buf.length)];
  const regs = [7, 6, 2, 1];
  for (const [k, v] of ints.entries()) cpu.setReg64(regs[k]!, v);
  if (f.dbl) {
    const d = new Float64Array(new BigUint64Array([a, b]).buffer);
    cpu.xf64[0] = d[0]!;
    cpu.xf64[2] = d[1]!;
  }
  const sp = prog.stackTop - 8;
  cpu.m.wr64(sp, 0, SENTINEL_HI);
  setNum(cpu.r, 8, sp);
  cpu.rip = prog.symbol(f.name);
}

/** A budget: mostly a few instructions or a few dozen, sometimes thousands. */
function budgets(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const r = (x >>> 0) % 1000;
    return r < 300 ? 1 + (r % 9) : r < 800 ? 10 + (r % 190) : 200 + ((x >>> 0) % 5000);
  };
}

const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom(0n, 1n, 7n, 0x80000000n, 0xffffffffn, 1n << 63n, (1n << 64n) - 1n),
  fc.bigInt({ min: 0n, max: 1000n }),
);

describe.skipIf(!hasGcc())('compiled regions against the interpreter, run() by run()', () => {
  for (const opt of OPT_LEVELS) {
    const label = opt.join(' ');
    it(`every corpus function compiled with ${label} stops alike after every budget`, () => {
      const build = buildCorpus(opt);
      const A = machine(build.elf, false);
      const B = machine(build.elf, true);
      const inputs = fc.sample(fc.record({ a: u64, b: u64, buf: fc.uint8Array({ minLength: 0, maxLength: 300 }) }), {
        seed: SEED,
        numRuns: RUNS,
      });
      CORPUS_FNS.forEach((f, fn) => {
        if (FILTER && !f.name.includes(FILTER)) return;
        inputs.forEach((x, j) => {
          setup(A, fn, x.a, x.b, x.buf);
          setup(B, fn, x.a, x.b, x.buf);
          const next = budgets(SEED * 1000 + fn * 10 + j);
          for (let step = 0; ; step++) {
            const n = next();
            const ra = run(A.cpu, n);
            const rb = run(B.cpu, n);
            const what = `${f.name} at ${label}, input ${j} (a=0x${x.a.toString(16)}, b=0x${x.b.toString(16)}, n=${x.buf.length}), step ${step} with budget ${n}, seed ${SEED}`;
            expect(JSON.stringify(rb), `${what}: stop and count`).toBe(JSON.stringify(ra));
            expect(saveCpu(B.cpu), `${what}: architectural state`).toEqual(saveCpu(A.cpu));
            const top = A.prog.stackTop;
            expect(
              Buffer.from(B.prog.space.read(top - 4096, 4096)).equals(A.prog.space.read(top - 4096, 4096)),
              `${what}: stack`,
            ).toBe(true);
            expect(
              Buffer.from(B.prog.space.read(BUF_ADDR, 8192)).equals(A.prog.space.read(BUF_ADDR, 8192)),
              `${what}: buffer`,
            ).toBe(true);
            if (ra.stop.kind !== 'budget') {
              // The corpus returns to the unmapped sentinel: an instruction-fetch #PF there.
              expect(
                ra.stop.kind === 'fault' && ra.stop.fault.addr === SENTINEL_HI * 2 ** 32,
                `${what}: returned`,
              ).toBe(true);
              break;
            }
          }
        });
      });
    });
  }
});

// ---- the mechanisms of compiled regions, each against the interpreter ----------------------------------------

// mov ecx, 10; xor eax, eax; L: call f; dec ecx; jnz L; int3 … f (at +0x20): add eax, 3; ret
const CALL_LOOP = [
  0xb9,
  0x0a,
  0,
  0,
  0,
  0x31,
  0xc0,
  0xe8,
  0x14,
  0,
  0,
  0,
  0xff,
  0xc9,
  0x75,
  0xf7,
  0xcc,
  ...Array(15).fill(0),
  0x83,
  0xc0,
  0x03,
  0xc3,
];
/** Offset of f's immediate in CALL_LOOP. */
const F_IMM = 0x22;
// mov ecx, 3; L: mov [rip → B's immediate], cl; jmp B … B (at +0x20): add eax, imm8; dec ecx; jnz L; int3
const PATCH_LOOP = [
  0xb9,
  0x03,
  0,
  0,
  0,
  0x88,
  0x0d,
  0x17,
  0,
  0,
  0,
  0xeb,
  0x13,
  ...Array(19).fill(0),
  0x83,
  0xc0,
  0x63,
  0xff,
  0xc9,
  0x75,
  0xde,
  0xcc,
];
// L: mov rdx, [rbx]; add rbx, 8; test rdx, rdx; jz S; add rax, rdx; S: cmp rbx, rsi; jne L; int3
const WALK = [
  0x48, 0x8b, 0x13, 0x48, 0x83, 0xc3, 0x08, 0x48, 0x85, 0xd2, 0x74, 0x03, 0x48, 0x01, 0xd0, 0x48, 0x39, 0xf3, 0x75,
  0xec, 0xcc,
];

// gcc's byte copy, a loop of one block: L: movzx r8d, byte [rsi+rcx]; mov [rax+rcx], r8b; add rcx, 1; cmp rdx, rcx;
// jne L; int3
const COPY = [
  0x44, 0x0f, 0xb6, 0x04, 0x0e, 0x44, 0x88, 0x04, 0x08, 0x48, 0x83, 0xc1, 0x01, 0x48, 0x39, 0xca, 0x75, 0xee, 0xcc,
];

/** Sets up COPY on a machine: `n` bytes from `src` to `dst` (the source bytes are k + 1). */
function copying(m: TestMachine, src: number, dst: number, n: number): void {
  m.space.write(
    src,
    Uint8Array.from({ length: Math.min(n, 4096) }, (_, k) => k + 1),
  );
  m.cpu.setRegNum(6, src);
  m.cpu.setRegNum(0, dst);
  m.cpu.setRegNum(1, 0);
  m.cpu.setRegNum(2, n);
}

/** The two machines' state, stop and count must agree. */
function same(a: TestMachine, b: TestMachine, ra: RunResult, rb: RunResult, what: string): void {
  expect(JSON.stringify(rb), `${what}: stop and count`).toBe(JSON.stringify(ra));
  expect(saveCpu(b.cpu), `${what}: state`).toEqual(saveCpu(a.cpu));
}

/** A compiled machine (every block compiled on first use) and an interpreting twin. */
function twins(code: readonly number[], opts: Parameters<typeof makeTestMachine>[1] = {}): [TestMachine, TestMachine] {
  setJitMode(false);
  const a = makeTestMachine(code, opts);
  setJitMode(true);
  const b = makeTestMachine(code, opts);
  setJitMode(false);
  return [a, b];
}

const isBp = (r: RunResult) => r.stop.kind === 'fault' && r.stop.fault.vector === Vector.BP;

describe('compiled regions', () => {
  it('follow calls and loops inside a page, and run the new code after the page is remapped', () => {
    const [a, b] = twins(CALL_LOOP);
    for (const m of [a, b]) {
      expect(isBp(m.run()), 'ran to the int3').toBe(true);
      expect(m.cpu.getRegNum(0), 'ten calls adding 3').toBe(30);
      // The kernel points the page at another frame holding f with 5, and flushes the translation.
      const NEW = 0x70_0000;
      m.space.map(NEW, 4096, { exec: true });
      m.space.write(NEW, Uint8Array.from(CALL_LOOP.map((v, k) => (k === F_IMM ? 5 : v))));
      const pte = m.space.lookup(NEW / 4096)!;
      m.space.mapPfn(CODE, pte.pfn, pte.flags);
      m.cpu.m.flushPage(CODE);
      m.cpu.rip = CODE;
      expect(isBp(m.run()), 'ran to the int3 again').toBe(true);
      expect(m.cpu.getRegNum(0), 'the new frame’s code').toBe(50);
    }
    same(a, b, { stop: { kind: 'budget' }, executed: 0 }, { stop: { kind: 'budget' }, executed: 0 }, 'after both runs');
  });

  it('leave after a store into a block of their own region and run the patched bytes', () => {
    const [a, b] = twins(PATCH_LOOP, { writableCode: true });
    const ra = a.run();
    const rb = b.run();
    same(a, b, ra, rb, 'patching loop');
    expect(b.cpu.getRegNum(0), 'add 3, then 2, then 1 — each patched immediate').toBe(6);
  });

  it('drop a region whose page is rewritten behind the MMU (PhysMem write observers)', () => {
    setJitMode(true);
    const m = makeTestMachine(CALL_LOOP);
    setJitMode(false);
    m.space.mem.onPageWrite((pfn) => m.cache.invalidatePage(pfn));
    m.run();
    expect(m.cpu.getRegNum(0)).toBe(30);
    m.space.write(CODE + F_IMM, Uint8Array.from([7]));
    m.cpu.rip = CODE;
    m.run();
    expect(m.cpu.getRegNum(0), 'the rewritten immediate').toBe(70);
  });

  it('retire exactly the budget when it runs out inside a chain of blocks, at every count', () => {
    for (let n = 1; n <= 60; n++) {
      const [a, b] = twins(CALL_LOOP);
      same(a, b, a.run(n), b.run(n), `budget ${n}`);
      expect(b.cpu.icount, `budget ${n}`).toBe(Math.min(n, 53)); // 2 + 10 × 5 + the int3
      same(a, b, a.run(1000), b.run(1000), `budget ${n}, then the rest`);
    }
  });

  it('fault precisely on the instruction that touches an unmapped page, several blocks in', () => {
    const [a, b] = twins(WALK);
    for (const m of [a, b]) {
      // Four quadwords before the end of the data pages, then the hole after them.
      m.space.write(
        DATA + 8192 - 32,
        Uint8Array.from({ length: 32 }, (_, k) => (k % 16 === 0 ? k + 1 : 0)),
      );
      m.cpu.setRegNum(3, DATA + 8192 - 32);
      m.cpu.setRegNum(6, DATA + 8192 + 64);
    }
    const ra = a.run();
    const rb = b.run();
    same(a, b, ra, rb, 'walk into the hole');
    expect(rb.stop.kind === 'fault' && rb.stop.fault.addr, 'CR2').toBe(DATA + 8192);
    expect(b.cpu.rip, 'RIP at the load').toBe(CODE);
    expect(b.cpu.getRegNum(0), 'the two non-zero quadwords added').toBe(1 + 17);
  });

  it('run a one-block loop page after page and fault at the store that leaves the mapping, flags as the loop left them', () => {
    // The copy goes from the first data page to the second and on into the hole after it: the loop's own fast
    // copy runs while both accesses stay on their cached pages, the other copy where they move to another.
    const [a, b] = twins(COPY);
    for (const m of [a, b]) copying(m, DATA, DATA + 4096 + 200, 4000);
    const ra = a.run(100_000);
    const rb = b.run(100_000);
    same(a, b, ra, rb, 'copy into the hole');
    expect(rb.stop.kind === 'fault' && rb.stop.fault.addr, 'CR2: the first byte past the mapping').toBe(DATA + 8192);
    expect(b.cpu.rip, 'RIP at the store').toBe(CODE + 5);
    expect(b.cpu.getRegNum(1), 'RCX: bytes copied').toBe(4096 - 200);
    expect(Buffer.from(b.space.read(DATA + 4096, 4096)).equals(a.space.read(DATA + 4096, 4096)), 'copied bytes').toBe(
      true,
    );
  });

  it('retire exactly the budget inside a one-block loop, at every count', () => {
    for (let n = 1; n <= 120; n++) {
      const [a, b] = twins(COPY);
      for (const m of [a, b]) copying(m, DATA, DATA + 4096 - 8, 20);
      same(a, b, a.run(n), b.run(n), `budget ${n}`);
      expect(b.cpu.icount, `budget ${n}`).toBe(Math.min(n, 101)); // 20 × 5 + the int3
      same(a, b, a.run(1000), b.run(1000), `budget ${n}, then the rest`);
    }
  });

  it('leave a one-block loop that stores into its own code page and run the bytes it wrote', () => {
    // COPY, then jmp +12 to 32: sixteen int3 the copy overwrites with NOPs, then mov eax, 7; int3.
    const code = [...COPY.slice(0, 18), 0xeb, 0x0c, ...Array(12).fill(0xcc), ...Array(16).fill(0xcc), 0xb8, 7, 0, 0, 0];
    const [a, b] = twins([...code, 0xcc], { writableCode: true });
    for (const m of [a, b]) {
      m.space.write(DATA, Uint8Array.from(Array(16).fill(0x90)));
      copying(m, DATA, CODE + 32, 16);
      m.space.write(DATA, Uint8Array.from(Array(16).fill(0x90)));
    }
    const ra = a.run();
    const rb = b.run();
    same(a, b, ra, rb, 'self-modifying copy');
    expect(isBp(rb), 'ran to the int3 after the NOPs').toBe(true);
    expect(b.cpu.getRegNum(0), 'the code after the patched bytes').toBe(7);
  });

  it('stop on SYSCALL in the middle of a block with the registers the block wrote', () => {
    // mov eax, 1; add rbx, 5; syscall; add rbx, 1; int3
    const [a, b] = twins([0xb8, 1, 0, 0, 0, 0x48, 0x83, 0xc3, 0x05, 0x0f, 0x05, 0x48, 0x83, 0xc3, 0x01, 0xcc]);
    const ra = a.run();
    const rb = b.run();
    same(a, b, ra, rb, 'syscall');
    expect(rb.stop.kind).toBe('syscall');
    expect(b.cpu.getRegNum(3)).toBe(5);
    expect(b.cpu.getRegNum(1), 'RCX = next RIP').toBe(CODE + 11);
    same(a, b, a.run(), b.run(), 'after the syscall');
    expect(b.cpu.getRegNum(3)).toBe(6);
  });

  it('compute RIP-relative addresses from the mapping they run at (one physical page, two addresses)', () => {
    // lea rax, [rip]; mov rbx, [rip + 0x12] (a quadword at +0x20); int3
    const code = [0x48, 0x8d, 0x05, 0, 0, 0, 0, 0x48, 0x8b, 0x1d, 0x12, 0, 0, 0, 0xcc, ...Array(17).fill(0)];
    setJitMode(true);
    const m = makeTestMachine([...code, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    setJitMode(false);
    const ALIAS = 0x48_0000;
    const pte = m.space.lookup(CODE / 4096)!;
    m.space.mapPfn(ALIAS, pte.pfn, pte.flags);
    for (const at of [CODE, ALIAS, CODE]) {
      m.cpu.rip = at;
      expect(isBp(m.run())).toBe(true);
      expect(m.cpu.getRegNum(0), `LEA at 0x${at.toString(16)}`).toBe(at + 7);
      expect(m.cpu.getReg64(3)).toBe(0x1122334455667788n);
    }
    expect(m.cache.size, 'one decoded block: the cache is physical').toBe(1);
  });

  it('consult the access hook at each TLB fill inside a region and fault at the refused page', () => {
    let refuse = true;
    const hook: AccessHook = (req) =>
      refuse && req.vpn === DATA / 4096 + 1
        ? { kind: 'fault', vector: Vector.PF, errorCode: PfErr.P | PfErr.U | PfErr.SGX, addr: req.linear }
        : 'ok';
    const [a, b] = twins(WALK, { accessHook: hook });
    for (const m of [a, b]) {
      m.space.write(DATA + 4096 - 16, Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 4]));
      m.cpu.setRegNum(3, DATA + 4096 - 16);
      m.cpu.setRegNum(6, DATA + 4096 + 16);
    }
    const ra = a.run();
    const rb = b.run();
    same(a, b, ra, rb, 'refused page');
    expect(rb.stop.kind === 'fault' && rb.stop.fault.errorCode, 'the SGX #PF').toBe(PfErr.P | PfErr.U | PfErr.SGX);
    expect(b.cpu.getRegNum(3), 'RBX at the refused page').toBe(DATA + 4096);
    refuse = false;
    for (const m of [a, b]) m.cpu.m.flushWhere((vpn) => vpn === DATA / 4096 + 1);
    same(a, b, a.run(), b.run(), 'after the flush');
    expect(b.cpu.getRegNum(0)).toBe(1 + 2 + 4);
  });

  it('keep scalar doubles exact through NaN results, handlers and a fault that follows them', () => {
    // addsd xmm0,xmm1; mulsd xmm0,xmm0; addsd xmm2,xmm0 (xmm2 a signalling NaN); subsd xmm3,xmm3 (∞ − ∞);
    // movq rcx,xmm3; addsd xmm0,xmm2; addsd xmm1,xmm1; mov rax,[rbx] (unmapped); int3
    const code = [
      0xf2, 0x0f, 0x58, 0xc1, 0xf2, 0x0f, 0x59, 0xc0, 0xf2, 0x0f, 0x58, 0xd0, 0xf2, 0x0f, 0x5c, 0xdb, 0x66, 0x48, 0x0f,
      0x7e, 0xd9, 0xf2, 0x0f, 0x58, 0xc2, 0xf2, 0x0f, 0x58, 0xc9, 0x48, 0x8b, 0x03, 0xcc,
    ];
    const [a, b] = twins(code);
    for (const m of [a, b]) {
      m.cpu.xf64[0] = 1.5;
      m.cpu.xf64[2] = 2.25;
      new BigUint64Array(m.cpu.xmmBuf)[4] = 0x7ff4000000000123n; // xmm2: a signalling NaN with a payload
      m.cpu.xf64[6] = Number.POSITIVE_INFINITY;
      m.cpu.setRegNum(3, 0x50_0000); // never mapped
    }
    const ra = a.run();
    const rb = b.run();
    same(a, b, ra, rb, 'fault after the double arithmetic');
    expect(rb.stop.kind === 'fault' && rb.stop.fault.vector, '#PF at the load').toBe(Vector.PF);
    const q = new BigUint64Array(b.cpu.xmmBuf);
    expect(q[4]!.toString(16), 'xmm2: the quieted NaN keeps its payload').toBe('7ffc000000000123');
    expect(q[0]!.toString(16), 'xmm0: NaN from xmm2').toBe('7ffc000000000123');
    expect(b.cpu.getReg64(1).toString(16), 'rcx: the default NaN of ∞ − ∞').toBe('fff8000000000000');
    expect(b.cpu.xf64[2], 'xmm1 doubled just before the fault').toBe(4.5);
  });

  it('keep packed XMM lanes exact up to a fault that follows them', () => {
    // paddd xmm0,xmm1; pxor xmm2,xmm2; movdqa xmm3,xmm0; psrlq xmm3,4; punpckldq xmm3,xmm1; movq [rsp-16],xmm3;
    // pslldq xmm1,3; mov rax,[rbx] (unmapped); int3
    const code = [
      0x66, 0x0f, 0xfe, 0xc1, 0x66, 0x0f, 0xef, 0xd2, 0x66, 0x0f, 0x6f, 0xd8, 0x66, 0x0f, 0x73, 0xd3, 0x04, 0x66, 0x0f,
      0x62, 0xd9, 0x66, 0x0f, 0xd6, 0x5c, 0x24, 0xf0, 0x66, 0x0f, 0x73, 0xf9, 0x03, 0x48, 0x8b, 0x03, 0xcc,
    ];
    const [a, b] = twins(code);
    for (const m of [a, b]) {
      for (let j = 0; j < 16; j++) m.cpu.x32[j] = Math.imul(j + 1, 0x9e3779b9);
      m.cpu.setRegNum(3, 0x50_0000); // never mapped
    }
    const ra = a.run();
    const rb = b.run();
    same(a, b, ra, rb, 'fault after the packed operations');
    expect(rb.stop.kind === 'fault' && rb.stop.fault.vector, '#PF at the load').toBe(Vector.PF);
    expect(b.cpu.x32[0], 'xmm0 lane 0 = lane sums').toBe((Math.imul(1, 0x9e3779b9) + Math.imul(5, 0x9e3779b9)) | 0);
    expect([...b.cpu.x32.subarray(8, 12)], 'xmm2 zeroed').toEqual([0, 0, 0, 0]);
    expect(
      Buffer.from(b.space.read(STACK_TOP - 8 - 16, 8)).equals(a.space.read(STACK_TOP - 8 - 16, 8)),
      'the stored lanes',
    ).toBe(true);
  });

  it('keep each machine’s state apart when machines share compiled code', () => {
    const [a1, b1] = twins(WALK);
    const [a2, b2] = twins(WALK);
    for (const [m, v] of [
      [a1, 3],
      [b1, 3],
      [a2, 5],
      [b2, 5],
    ] as const) {
      m.space.write(
        DATA,
        Uint8Array.from({ length: 64 }, (_, k) => (k % 8 === 0 ? v : 0)),
      );
      m.cpu.setRegNum(3, DATA);
      m.cpu.setRegNum(6, DATA + 64);
    }
    for (let step = 0; step < 12; step++) {
      same(a1, b1, a1.run(step + 1), b1.run(step + 1), `machine 1, step ${step}`);
      same(a2, b2, a2.run(step + 2), b2.run(step + 2), `machine 2, step ${step}`);
    }
    expect(b1.cpu.getRegNum(0)).toBe(24);
    expect(b2.cpu.getRegNum(0)).toBe(40);
  });
});
