// The execution model: precise faults with exact error codes and no side effects, stop reasons, single-step,
// interruptible REP, self-modifying code, and save/restore giving an identical continuation.
import { beforeEach, describe, expect, it } from 'vitest';
import {
  createCpu,
  DecodeCache,
  PfErr,
  PTE_A,
  PTE_D,
  PTE_P,
  PTE_U,
  PTE_W,
  restoreCpu,
  run,
  saveCpu,
  Vector,
} from '../../../src/hw/index';
import { CODE, DATA, le32, makeTestMachine, STACK_TOP, setJitMode } from './util/machine';

const HOLE = 0x50_0000; // never mapped

for (const jit of [false, true]) {
  describe(jit ? 'with compiled blocks' : 'interpreted', () => {
    beforeEach(() => setJitMode(jit));
    describe('page faults', () => {
      const cases: Array<{
        name: string;
        code: number[];
        addr: number;
        err: number;
        setup?: (m: ReturnType<typeof makeTestMachine>) => void;
      }> = [
        { name: 'a read of an unmapped page', code: [0x8b, 0x04, 0x25, ...le32(HOLE)], addr: HOLE, err: PfErr.U },
        {
          name: 'a write to an unmapped page',
          code: [0x89, 0x04, 0x25, ...le32(HOLE)],
          addr: HOLE,
          err: PfErr.U | PfErr.W,
        },
        {
          name: 'a write to a read-only page',
          code: [0x89, 0x04, 0x25, ...le32(CODE)],
          addr: CODE,
          err: PfErr.U | PfErr.W | PfErr.P,
        },
        {
          name: 'a user read of a supervisor page',
          code: [0x8b, 0x04, 0x25, ...le32(DATA)],
          addr: DATA,
          err: PfErr.U | PfErr.P,
          setup: (m) => m.space.map(DATA, 4096, { write: true, user: false }),
        },
        {
          name: 'a jump to a non-executable page',
          code: [0xb8, ...le32(DATA), 0xff, 0xe0],
          addr: DATA,
          err: PfErr.U | PfErr.I | PfErr.P,
        },
        {
          name: 'a jump to an unmapped page',
          code: [0xb8, ...le32(HOLE), 0xff, 0xe0],
          addr: HOLE,
          err: PfErr.U | PfErr.I,
        },
      ];
      for (const c of cases) {
        it(`reports ${c.name} with the SDM error code and CR2`, () => {
          const m = makeTestMachine(c.code);
          c.setup?.(m);
          const r = m.run();
          expect(r.stop.kind).toBe('fault');
          if (r.stop.kind !== 'fault') return;
          expect(r.stop.fault.vector, 'vector').toBe(Vector.PF);
          expect(r.stop.fault.errorCode.toString(2), 'error code').toBe(c.err.toString(2));
          expect(r.stop.fault.addr.toString(16), 'CR2').toBe(c.addr.toString(16));
        });
      }

      it('faults on an instruction fetch that runs into an unmapped page, with RIP at the instruction', () => {
        // A 10-byte MOV RAX, imm64 whose last bytes would lie on the (unmapped) page after the code.
        const m = makeTestMachine([]);
        m.space.write(CODE + 8192 - 4, Uint8Array.from([0x48, 0xb8, 1, 2]));
        m.cpu.rip = CODE + 8192 - 4;
        const r = m.run();
        expect(r.stop.kind === 'fault' && r.stop.fault.vector).toBe(Vector.PF);
        expect(r.stop.kind === 'fault' && r.stop.fault.addr, 'CR2 is the next page').toBe(CODE + 8192);
        expect(r.stop.kind === 'fault' && r.stop.fault.errorCode, 'instruction fetch, user, not present').toBe(
          PfErr.I | PfErr.U,
        );
        expect(m.cpu.rip).toBe(CODE + 8192 - 4);
        // Once the page is mapped, the instruction decodes across the boundary.
        m.space.map(CODE + 8192, 4096, { exec: true });
        m.space.write(CODE + 8192, Uint8Array.from([3, 4, 5, 6, 7, 8, 0xf4]));
        m.run(1);
        expect(m.cpu.getReg64(0)).toBe(0x0807060504030201n);
      });

      it('leaves RIP at the faulting instruction and RSP unchanged when a push faults', () => {
        const m = makeTestMachine([0x90, 0x50]); // nop; push rax
        m.cpu.setRegNum(4, HOLE + 8);
        const r = m.run();
        expect(r.executed, 'the nop retired').toBe(1);
        expect(m.cpu.rip, 'RIP at the push').toBe(CODE + 1);
        expect(m.cpu.getRegNum(4), 'RSP untouched').toBe(HOLE + 8);
      });

      it('writes nothing when the second page of a page-crossing store is read-only', () => {
        // mov [rbx], rax with rbx = last 4 bytes of the writable page; the next page is read-only.
        const m = makeTestMachine([0x48, 0x89, 0x03]);
        m.space.map(DATA + 4096, 4096, { write: false });
        m.cpu.setRegNum(3, DATA + 4092);
        m.cpu.setReg64(0, 0x1122334455667788n);
        const r = m.run();
        expect(r.stop.kind === 'fault' && r.stop.fault.addr, 'CR2 is the read-only page').toBe(DATA + 4096);
        expect([...m.space.read(DATA + 4092, 4)], 'first page unchanged').toEqual([0, 0, 0, 0]);
      });

      it('does not modify a read-modify-write destination whose page is read-only', () => {
        const m = makeTestMachine([0x48, 0x01, 0x03]); // add [rbx], rax
        m.cpu.setRegNum(3, CODE + 0x100);
        m.cpu.setReg64(0, 5n);
        const flags = m.cpu.getFlags();
        const r = m.run();
        expect(r.stop.kind).toBe('fault');
        expect(m.cpu.getFlags(), 'flags unchanged').toBe(flags);
      });

      it('sets Accessed on reads and Dirty on writes in the PTE', () => {
        const m = makeTestMachine([0x8b, 0x04, 0x25, ...le32(DATA), 0x89, 0x04, 0x25, ...le32(DATA + 4096)]);
        m.run(2);
        const a = m.space.lookup(DATA / 4096)!;
        const b = m.space.lookup(DATA / 4096 + 1)!;
        expect(a.flags & (PTE_A | PTE_D), 'read page: A only').toBe(PTE_A);
        expect(b.flags & (PTE_A | PTE_D), 'written page: A and D').toBe(PTE_A | PTE_D);
      });
    });

    describe('other faults', () => {
      it('raises #GP(0) for a non-canonical data address and #SS(0) through RSP', () => {
        const m = makeTestMachine([0x48, 0x8b, 0x03]); // mov rax, [rbx]
        m.cpu.setReg64(3, 0x0000_8000_0000_0000n);
        const r = m.run();
        expect(r.stop.kind === 'fault' && r.stop.fault.vector).toBe(Vector.GP);
        const s = makeTestMachine([0x48, 0x8b, 0x04, 0x24]); // mov rax, [rsp]
        s.cpu.setReg64(4, 0x0000_8000_0000_0000n);
        const r2 = s.run();
        expect(r2.stop.kind === 'fault' && r2.stop.fault.vector).toBe(Vector.SS);
      });

      it('raises #DE for division by zero and quotient overflow, with RIP at the DIV', () => {
        for (const [code, rdx, rcx] of [
          [[0x48, 0xf7, 0xf1], 0n, 0n],
          [[0x48, 0xf7, 0xf1], 5n, 2n],
          [[0x48, 0xf7, 0xf9], 0n, -1n],
        ] as const) {
          const m = makeTestMachine([...code]);
          m.cpu.setReg64(0, code[2] === 0xf9 ? -(2n ** 63n) : 7n);
          m.cpu.setReg64(2, code[2] === 0xf9 ? -1n : rdx);
          m.cpu.setReg64(1, rcx);
          const r = m.run();
          expect(r.stop.kind === 'fault' && r.stop.fault.vector, `${code} rdx=${rdx} rcx=${rcx}`).toBe(Vector.DE);
          expect(m.cpu.rip).toBe(CODE);
        }
      });

      it('raises #UD for UD2, VEX encodings and LOCK on a register destination', () => {
        for (const code of [
          [0x0f, 0x0b],
          [0xc5, 0xf9, 0xef, 0xc0],
          [0xf0, 0x01, 0xc0],
        ]) {
          const r = makeTestMachine(code).run();
          expect(r.stop.kind === 'fault' && r.stop.fault.vector, Buffer.from(code).toString('hex')).toBe(Vector.UD);
        }
      });

      it('raises #GP(0) at the branch for a non-canonical target', () => {
        const m = makeTestMachine([0xff, 0xe0]); // jmp rax
        m.cpu.setReg64(0, 0x8000_0000_0000n);
        const r = m.run();
        expect(r.stop.kind === 'fault' && r.stop.fault.vector).toBe(Vector.GP);
        expect(m.cpu.rip, 'RIP at the jmp').toBe(CODE);
      });

      it('raises #GP(0) for misaligned MOVAPS and FXSAVE but not for MOVUPS', () => {
        for (const [code, fault] of [
          [[0x0f, 0x28, 0x03], true],
          [[0x0f, 0x10, 0x03], false],
          [[0x0f, 0xae, 0x03], true],
        ] as const) {
          const m = makeTestMachine([...code]);
          m.cpu.setRegNum(3, DATA + 8);
          const r = m.run(1);
          expect(r.stop.kind === 'fault' && r.stop.fault.vector === Vector.GP, Buffer.from(code).toString('hex')).toBe(
            fault,
          );
        }
      });
    });

    describe('stop reasons', () => {
      it('stops on SYSCALL with RCX = next RIP and R11 = RFLAGS', () => {
        const m = makeTestMachine([0x90, 0x0f, 0x05, 0x90]);
        const r = m.run();
        expect(r.stop.kind).toBe('syscall');
        expect(r.executed).toBe(2);
        expect(m.cpu.rip).toBe(CODE + 3);
        expect(m.cpu.getRegNum(1)).toBe(CODE + 3);
        expect(m.cpu.getRegNum(11)).toBe(m.cpu.getFlags());
      });

      it('stops on ENCLU at CPL 3 with the leaf from EAX and RIP at the instruction', () => {
        const m = makeTestMachine([0xb8, 0x04, 0, 0, 0, 0x0f, 0x01, 0xd7]);
        const r = m.run();
        expect(r.stop).toEqual({ kind: 'enclu', leaf: 4 });
        expect(m.cpu.rip).toBe(CODE + 5);
      });

      it('raises #UD for ENCLS at CPL 3 and stops on it at CPL 0', () => {
        const user = makeTestMachine([0x0f, 0x01, 0xcf]).run();
        expect(user.stop.kind === 'fault' && user.stop.fault.vector).toBe(Vector.UD);
        const m = makeTestMachine([0x0f, 0x01, 0xcf]);
        m.space.map(CODE, 4096, { exec: true, user: false });
        m.cpu.setMode(0, null);
        expect(m.run().stop).toEqual({ kind: 'encls', leaf: 0 });
      });

      it('raises #GP(0) for HLT at CPL 3 and stops on it at CPL 0', () => {
        expect(((r) => r.stop.kind === 'fault' && r.stop.fault.vector)(makeTestMachine([0xf4]).run())).toBe(Vector.GP);
        const m = makeTestMachine([0xf4]);
        m.space.map(CODE, 4096, { exec: true, user: false });
        m.cpu.setMode(0, null);
        expect(m.run().stop).toEqual({ kind: 'hlt' });
      });

      it('reports INT3 as a #BP trap with RIP after it, and INT n as its own stop', () => {
        const m = makeTestMachine([0xcc, 0xcd, 0x80]);
        const r = m.run();
        expect(r.stop).toEqual({
          kind: 'fault',
          fault: { kind: 'fault', vector: Vector.BP, errorCode: 0, addr: 0 },
          trap: true,
        });
        expect(m.cpu.rip).toBe(CODE + 1);
        expect(m.run().stop).toEqual({ kind: 'int', vector: 0x80 });
      });

      it('executes exactly the budget', () => {
        const m = makeTestMachine([0x48, 0xff, 0xc0, 0xeb, 0xfb]); // inc rax; jmp back
        const r = m.run(1001);
        expect(r).toEqual({ stop: { kind: 'budget' }, executed: 1001 });
        expect(m.cpu.getRegNum(0)).toBe(501);
        expect(m.cpu.icount).toBe(1001);
      });

      it('raises #UD for CPUID in enclave mode and answers leaf 0x12 through the hook outside it', () => {
        const m = makeTestMachine([0xb8, 0x12, 0, 0, 0, 0x0f, 0xa2], {
          cpu: { cpuid: (leaf) => (leaf === 0x12 ? [1, 2, 3, 4] : undefined) },
        });
        m.run();
        expect([0, 3, 1, 2].map((k) => m.cpu.getRegNum(k))).toEqual([1, 2, 3, 4]);
        const e = makeTestMachine([0x0f, 0xa2]);
        e.cpu.setMode(3, { secs: 0, tcs: 0, cssa: 0, elrangeBase: 0, elrangeSize: 0 });
        const r = e.run();
        expect(r.stop.kind === 'fault' && r.stop.fault.vector).toBe(Vector.UD);
      });
    });

    describe('single-step', () => {
      it('raises a #DB trap after each instruction while TF is set', () => {
        const m = makeTestMachine([0x90, 0x48, 0xff, 0xc0, 0x90]);
        m.cpu.setFlags(m.cpu.getFlags() | 0x100);
        const rips: number[] = [];
        for (let k = 0; k < 3; k++) {
          const r = m.run();
          expect(r.stop).toEqual({
            kind: 'fault',
            // DR6.BS (bit 14): the #DB is a single-step trap (SDM Vol. 3B §18.2.3).
            fault: { kind: 'fault', vector: Vector.DB, errorCode: 0, addr: 0, dr6: 0x4000 },
            trap: true,
          });
          expect(r.executed).toBe(1);
          rips.push(m.cpu.rip - CODE);
        }
        expect(rips).toEqual([1, 4, 5]);
      });
    });

    describe('interruptible REP and faults inside string instructions', () => {
      it('faults mid-copy with RCX, RSI, RDI reflecting the bytes done, then resumes', () => {
        // rep movsb from DATA to DATA+4096-8, 16 bytes: crosses into the unmapped page after DATA+8192.
        const m = makeTestMachine([0xf3, 0xa4]);
        m.space.write(
          DATA,
          Uint8Array.from({ length: 16 }, (_, k) => k + 1),
        );
        m.cpu.setRegNum(6, DATA);
        m.cpu.setRegNum(7, DATA + 8192 - 8);
        m.cpu.setRegNum(1, 16);
        const r = m.run();
        expect(r.stop.kind === 'fault' && r.stop.fault.addr).toBe(DATA + 8192);
        expect(m.cpu.rip, 'RIP at the rep movsb').toBe(CODE);
        expect(m.cpu.getRegNum(1), 'RCX = bytes left').toBe(8);
        expect(m.cpu.getRegNum(6)).toBe(DATA + 8);
        m.space.map(DATA + 8192, 4096, { write: true });
        expect(m.run(1).executed).toBe(1);
        expect(m.cpu.getRegNum(1)).toBe(0);
        expect([...m.space.read(DATA + 8192 - 8, 16)]).toEqual(Array.from({ length: 16 }, (_, k) => k + 1));
      });

      it('reports the instructions retired when a loop faults after several iterations', () => {
        // loop: mov rax, [rbx]; add rbx, 8; jmp loop — walks off the end of the data pages.
        const m = makeTestMachine([0x48, 0x8b, 0x03, 0x48, 0x83, 0xc3, 0x08, 0xeb, 0xf7]);
        m.cpu.setRegNum(3, DATA + 8192 - 24);
        const r = m.run(100);
        expect(r.stop.kind === 'fault' && r.stop.fault.addr, 'CR2').toBe(DATA + 8192);
        expect(r.executed, 'three full iterations').toBe(9);
        expect(m.cpu.rip, 'RIP at the load').toBe(CODE);
        expect(m.cpu.getRegNum(3)).toBe(DATA + 8192);
        expect(m.cpu.icount).toBe(9);
      });

      it('yields between chunks of a long REP STOSB without losing progress', () => {
        const m = makeTestMachine([0xf3, 0xaa, 0x90]);
        m.space.map(DATA, 65536, { write: true });
        m.cpu.setRegNum(7, DATA);
        m.cpu.setRegNum(1, 40000);
        m.cpu.setReg64(0, 0xabn);
        let steps = 0;
        while (m.cpu.rip === CODE) {
          m.run(1);
          steps++;
        }
        expect(steps, 'the REP ran as several resumable steps').toBeGreaterThan(1);
        expect(m.space.read(DATA + 39999, 2)).toEqual(Uint8Array.from([0xab, 0]));
      });
    });

    describe('self-modifying code', () => {
      it('executes the new bytes after a store into the instruction stream', () => {
        // lea rdi,[rip+4]; mov byte [rdi+1], 42; target: mov eax, 1
        const code = [0x48, 0x8d, 0x3d, 0x04, 0, 0, 0, 0xc6, 0x47, 0x01, 42, 0xb8, 1, 0, 0, 0, 0xf4];
        const m = makeTestMachine(code, { writableCode: true });
        m.run(3);
        expect(m.cpu.getRegNum(0)).toBe(42);
      });

      it('sees code written by another CPU sharing the decode cache', () => {
        const m = makeTestMachine([0xb8, 1, 0, 0, 0, 0xeb, 0xf9], { writableCode: true }); // mov eax,1; jmp back
        m.run(10);
        expect(m.cpu.getRegNum(0)).toBe(1);
        // A second CPU on the same memory and decode cache patches the immediate from its own code page.
        const CODE2 = 0x48_0000;
        m.space.map(CODE2, 4096, { exec: true });
        m.space.write(CODE2, Uint8Array.from([0xc6, 0x04, 0x25, ...le32(CODE + 1), 7, 0xf4]));
        const cpu2 = createCpu({ mem: m.space.mem, pageTable: m.space, cache: m.cache });
        cpu2.rip = CODE2;
        expect(run(cpu2, 1).executed).toBe(1);
        m.run(10);
        expect(m.cpu.getRegNum(0)).toBe(7);
      });
    });

    describe('save and restore', () => {
      it('gives the same continuation after a JSON round trip as running straight through', () => {
        // A loop mixing integer, SSE and flags: rax += rcx*3; xmm0 += xmm0; rcx--; jnz
        const code = [
          0x48,
          0x8d,
          0x04,
          0x48, // lea rax,[rax+rcx*2]
          0x48,
          0x01,
          0xc8, // add rax, rcx
          0x66,
          0x0f,
          0xd4,
          0xc0, // paddq xmm0, xmm0
          0x48,
          0xff,
          0xc9, // dec rcx
          0x75,
          0xf0, // jnz
          0xf4,
        ];
        const a = makeTestMachine(code);
        const b = makeTestMachine(code);
        for (const m of [a, b]) {
          m.cpu.setRegNum(1, 1000);
          m.cpu.x32[0] = 1;
        }
        a.run(5001);
        for (let k = 0; k < 50; k++) {
          b.run(100 + (k % 3));
          const s = JSON.parse(JSON.stringify(saveCpu(b.cpu)));
          const fresh = makeTestMachine(code, { mem: b.space.mem });
          restoreCpu(fresh.cpu, s);
          Object.assign(b, { cpu: fresh.cpu, run: (n = 1000) => run(fresh.cpu, n) });
        }
        b.run(5001 - b.cpu.icount);
        expect(saveCpu(b.cpu)).toEqual(saveCpu(a.cpu));
      });
    });

    describe('TLB and the access hook', () => {
      it('gives abort-page semantics for EPC reached outside enclave mode (default hook)', () => {
        const m = makeTestMachine([0x48, 0x8b, 0x03, 0x48, 0x89, 0x0b, 0x48, 0x8b, 0x13]);
        const epcPfn = 2 ** 40 / 4096;
        m.space.mapPfn(DATA, epcPfn, PTE_P | PTE_W | PTE_U | (1 << 30));
        m.space.mem.page(epcPfn).fill(0x5a);
        m.cpu.setRegNum(3, DATA);
        m.cpu.setReg64(1, 0x1234n);
        m.run(3);
        expect(m.cpu.getReg64(0), 'reads are all-ones').toBe(0xffffffffffffffffn);
        expect(m.space.mem.page(epcPfn)[0], 'writes are dropped').toBe(0x5a);
      });

      it('delivers the fault the hook returns, with the SGX bit, and consults it again after a flush', () => {
        let refuse = true;
        const m = makeTestMachine([0x8b, 0x03, 0xf4], {
          accessHook: (req) =>
            refuse && req.access === 'r'
              ? { kind: 'fault', vector: 14, errorCode: PfErr.P | PfErr.U | PfErr.SGX, addr: req.linear }
              : 'ok',
        });
        m.cpu.setRegNum(3, DATA);
        const r = m.run();
        expect(r.stop.kind === 'fault' && r.stop.fault.errorCode).toBe(PfErr.P | PfErr.U | PfErr.SGX);
        refuse = false;
        m.cpu.m.flushWhere((vpn) => vpn === DATA / 4096);
        expect(m.run(1).stop.kind).toBe('budget');
      });

      it('keeps using a cached translation until the TLB is flushed', () => {
        const m = makeTestMachine([0x8b, 0x03, 0x8b, 0x03, 0x8b, 0x03]);
        m.cpu.setRegNum(3, DATA);
        m.run(1);
        m.space.unmap(DATA, 4096);
        expect(m.run(1).stop.kind, 'stale TLB entry still used').toBe('budget');
        m.cpu.m.flushPage(DATA);
        const r = m.run(1);
        expect(r.stop.kind === 'fault' && r.stop.fault.vector).toBe(Vector.PF);
      });
    });

    describe('state instructions', () => {
      it('RDRAND draws from the seeded Rng and sets CF', () => {
        const code = [0x48, 0x0f, 0xc7, 0xf0, 0xf4]; // rdrand rax
        const a = makeTestMachine(code);
        const b = makeTestMachine(code);
        a.run(1);
        b.run(1);
        expect(a.cpu.getReg64(0)).toBe(b.cpu.getReg64(0));
        expect(a.cpu.getFlags() & 0x8d5).toBe(1);
      });

      it('RDTSC reads the virtual time source', () => {
        const m = makeTestMachine([0x0f, 0x31], { cpu: { tsc: () => 0x1_2345_6789 } });
        m.run(1);
        expect([m.cpu.getRegNum(0), m.cpu.getRegNum(2)]).toEqual([0x2345_6789, 1]);
      });

      it('FXSAVE writes the SDM layout and FXRSTOR reads it back', () => {
        // fxsave [rbx]; fxrstor [rbx+512]
        const m = makeTestMachine([0x0f, 0xae, 0x03, 0x0f, 0xae, 0x8b, 0x00, 0x02, 0, 0]);
        m.space.map(DATA, 8192, { write: true });
        m.cpu.setRegNum(3, DATA);
        m.cpu.x32[4 * 3 + 1] = 0x01020304;
        m.cpu.mxcsr = 0x1fa0;
        m.run(1);
        const img = m.space.read(DATA, 512);
        const dv = new DataView(img.buffer);
        expect(dv.getUint16(0, true), 'FCW').toBe(0x037f);
        expect(dv.getUint32(24, true), 'MXCSR').toBe(0x1fa0);
        expect(dv.getUint32(28, true), 'MXCSR_MASK').toBe(0xffff);
        expect(dv.getUint32(160 + 16 * 3 + 4, true), 'XMM3').toBe(0x01020304);
        const img2 = Uint8Array.from(img);
        new DataView(img2.buffer).setUint32(160, 0xcafe, true);
        m.space.write(DATA + 512, img2);
        m.run(1);
        expect(m.cpu.x32[0]).toBe(0xcafe);
        // Reserved MXCSR bits make FXRSTOR fault.
        new DataView(img2.buffer).setUint32(24, 0x10000, true);
        m.space.write(DATA + 512, img2);
        m.cpu.rip = CODE + 3;
        const r = m.run(1);
        expect(r.stop.kind === 'fault' && r.stop.fault.vector).toBe(Vector.GP);
      });

      it('XSAVE records XSTATE_BV and XRSTOR initialises components whose bit is clear', () => {
        // mov eax, 3; xor edx, edx; xsave [rbx]; xrstor [rbx]
        const m = makeTestMachine([0xb8, 3, 0, 0, 0, 0x31, 0xd2, 0x0f, 0xae, 0x23, 0x0f, 0xae, 0x2b]);
        m.cpu.setRegNum(3, DATA);
        m.cpu.x32[5] = 77;
        m.run(3);
        const bv = m.space.read(DATA + 512, 8);
        expect(bv[0], 'XSTATE_BV: SSE in use, x87 in init state').toBe(2);
        m.space.write(DATA + 512, new Uint8Array(8)); // clear XSTATE_BV
        m.run(1);
        expect(m.cpu.x32[5], 'XMM initialised').toBe(0);
      });
    });

    describe('integer corner cases', () => {
      it('copies backwards with STD; REP MOVSB and scans with REPNE SCASB and REPE CMPSB', () => {
        // std; rep movsb; cld; mov rdi, rbx; mov al, 0; mov rcx, -1; repne scasb; ...
        const m = makeTestMachine([
          0xfd, 0xf3, 0xa4, 0xfc, 0x48, 0x89, 0xdf, 0xb0, 0x00, 0x48, 0xc7, 0xc1, 0xff, 0xff, 0xff, 0xff, 0xf2, 0xae,
        ]);
        m.space.write(DATA, new TextEncoder().encode('hello, world\0'));
        m.cpu.setRegNum(6, DATA + 11);
        m.cpu.setRegNum(7, DATA + 111);
        m.cpu.setRegNum(1, 12);
        m.cpu.setRegNum(3, DATA);
        m.run(7);
        expect(new TextDecoder().decode(m.space.read(DATA + 100, 12))).toBe('hello, world');
        expect(m.cpu.getRegNum(6), 'RSI moved down').toBe(DATA - 1);
        // strlen idiom: RCX = -1 - (len + 1)
        expect(BigInt.asIntN(64, m.cpu.getReg64(1))).toBe(-14n);
        const cmp = makeTestMachine([0xf3, 0xa6]);
        cmp.space.write(DATA, new TextEncoder().encode('abcdXf'));
        cmp.space.write(DATA + 100, new TextEncoder().encode('abcdYf'));
        cmp.cpu.setRegNum(6, DATA);
        cmp.cpu.setRegNum(7, DATA + 100);
        cmp.cpu.setRegNum(1, 6);
        cmp.run(1);
        expect(cmp.cpu.getRegNum(1), 'stopped after the mismatch').toBe(1);
        expect(cmp.cpu.getFlags() & 0x40, 'ZF clear').toBe(0);
      });

      it('LOCK XADD and LOCK CMPXCHG16B on memory', () => {
        // lock xadd [rbx], rax; lock cmpxchg16b [rbx+16]
        const m = makeTestMachine([0xf0, 0x48, 0x0f, 0xc1, 0x03, 0xf0, 0x48, 0x0f, 0xc7, 0x4b, 0x10]);
        m.space.write(DATA, Uint8Array.from([5, 0, 0, 0, 0, 0, 0, 0]));
        m.space.write(DATA + 16, Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]));
        m.cpu.setRegNum(3, DATA);
        m.cpu.setRegNum(0, 10);
        m.run(1);
        expect(m.space.read(DATA, 1)[0], 'memory = 5 + 10').toBe(15);
        expect(m.cpu.getRegNum(0), 'RAX = old value').toBe(5);
        // RDX:RAX = 2:1 matches → memory ← RCX:RBX
        m.cpu.setRegNum(0, 1);
        m.cpu.setRegNum(2, 2);
        m.cpu.setRegNum(1, 0x77);
        m.run(1);
        expect(m.cpu.getFlags() & 0x40, 'ZF set on success').toBe(0x40);
        expect([...m.space.read(DATA + 16, 8)], 'low qword ← RBX').toEqual([0, 0, 0x60, 0, 0, 0, 0, 0]);
        expect(m.space.read(DATA + 24, 1)[0], 'high qword ← RCX').toBe(0x77);
      });

      it('CMPXCHG16B faults with #GP(0) on a misaligned operand', () => {
        const m = makeTestMachine([0x48, 0x0f, 0xc7, 0x0b]);
        m.cpu.setRegNum(3, DATA + 8);
        const r = m.run(1);
        expect(r.stop.kind === 'fault' && r.stop.fault.vector).toBe(Vector.GP);
      });

      it('POPF changes the user flags but not IF, and PUSHF reads them back', () => {
        // push rax; popf; pushf; pop rbx
        const m = makeTestMachine([0x50, 0x9d, 0x9c, 0x5b]);
        m.cpu.setRegNum(0, 0x240cd5); // arithmetic flags, DF, AC and ID set; IF clear (TF left clear: it would trap)
        m.run(4);
        const f = m.cpu.getRegNum(3);
        expect(f & 0x200, 'IF unchanged (set)').toBe(0x200);
        expect(f & 0x40cd5, 'arithmetic, DF and AC bits as popped').toBe(0x40cd5);
        expect(f & 0x200000, 'ID toggles').toBe(0x200000);
      });

      it('addresses FS and GS relative to their bases, and WRFSBASE rejects non-canonical values', () => {
        // mov rax, fs:[8]; mov rcx, gs:[rbx]; wrfsbase rdx
        const m = makeTestMachine([
          0x64, 0x48, 0x8b, 0x04, 0x25, 0x08, 0, 0, 0, 0x65, 0x48, 0x8b, 0x0b, 0xf3, 0x48, 0x0f, 0xae, 0xd2,
        ]);
        m.space.write(DATA + 8, Uint8Array.from([0x11]));
        m.space.write(DATA + 0x20, Uint8Array.from([0x22]));
        m.cpu.fsBase = DATA;
        m.cpu.gsBase = DATA + 0x10;
        m.cpu.setRegNum(3, 0x10);
        m.cpu.setReg64(2, 0x8000_0000_0000_0000n);
        const r = m.run(3);
        expect(m.cpu.getRegNum(0)).toBe(0x11);
        expect(m.cpu.getRegNum(1)).toBe(0x22);
        expect(r.stop.kind === 'fault' && r.stop.fault.vector, 'non-canonical base').toBe(Vector.GP);
      });

      it('ENTER with a nesting level copies frame pointers, and LEAVE undoes it', () => {
        // enter 16, 2; leave
        const m = makeTestMachine([0xc8, 0x10, 0x00, 0x02, 0xc9]);
        const sp = m.cpu.getRegNum(4);
        m.cpu.setRegNum(5, sp - 0x100);
        m.space.write(sp - 0x108, Uint8Array.from([0xaa, 0xbb, 0, 0, 0, 0, 0, 0]));
        m.run(1);
        expect(m.cpu.getRegNum(5), 'RBP = frame').toBe(sp - 8);
        expect(m.cpu.getRegNum(4), 'RSP = frame - 8*level - 16').toBe(sp - 8 - 16 - 16);
        expect([...m.space.read(sp - 16, 2)], 'outer frame pointer copied').toEqual([0xaa, 0xbb]);
        m.run(1);
        expect(m.cpu.getRegNum(4)).toBe(sp);
        expect(m.cpu.getRegNum(5)).toBe(sp - 0x100);
      });
    });

    describe('documented fault paths of system instructions', () => {
      const cases: Array<{
        name: string;
        code: number[];
        vector: number;
        setup?: (m: ReturnType<typeof makeTestMachine>) => void;
      }> = [
        {
          name: 'LDMXCSR with a reserved bit set',
          code: [0x0f, 0xae, 0x13], // ldmxcsr [rbx]
          vector: Vector.GP,
          setup: (m) => m.space.write(DATA, Uint8Array.from([0x80, 0x1f, 0x01, 0])),
        },
        {
          name: 'XRSTOR with XSTATE_BV naming a component outside XCR0',
          code: [0xb8, 3, 0, 0, 0, 0x31, 0xd2, 0x0f, 0xae, 0x2b],
          vector: Vector.GP,
          setup: (m) => m.space.write(DATA + 512, Uint8Array.from([4])),
        },
        {
          name: 'XRSTOR with a non-zero reserved header byte',
          code: [0xb8, 3, 0, 0, 0, 0x31, 0xd2, 0x0f, 0xae, 0x2b],
          vector: Vector.GP,
          setup: (m) => m.space.write(DATA + 512 + 20, Uint8Array.from([1])),
        },
        { name: 'XSAVE to a misaligned area', code: [0x0f, 0xae, 0x63, 0x08], vector: Vector.GP },
        { name: 'XGETBV with ECX ≠ 0', code: [0xb9, 1, 0, 0, 0, 0x0f, 0x01, 0xd0], vector: Vector.GP },
        { name: 'CLI at CPL 3', code: [0xfa], vector: Vector.GP },
        { name: 'IN from a port at CPL 3', code: [0xe4, 0x60], vector: Vector.GP },
        {
          name: 'RDTSC in enclave mode',
          code: [0x0f, 0x31],
          vector: Vector.UD,
          setup: (m) => m.cpu.setMode(3, { secs: 0, tcs: 0, cssa: 0, elrangeBase: 0, elrangeSize: 0 }),
        },
        {
          name: 'SYSCALL in enclave mode',
          code: [0x0f, 0x05],
          vector: Vector.UD,
          setup: (m) => m.cpu.setMode(3, { secs: 0, tcs: 0, cssa: 0, elrangeBase: 0, elrangeSize: 0 }),
        },
        { name: 'ENCLU with a 66 prefix', code: [0x66, 0x0f, 0x01, 0xd7], vector: Vector.UD },
        { name: 'MOV from segment register 6', code: [0x8c, 0xf0], vector: Vector.UD },
        { name: 'LEA with a register operand', code: [0x8d, 0xc0], vector: Vector.UD },
        { name: 'an instruction longer than 15 bytes', code: [...Array(15).fill(0x66), 0x90], vector: Vector.GP },
      ];
      for (const c of cases) {
        it(`faults on ${c.name}`, () => {
          const m = makeTestMachine(c.code);
          m.cpu.setRegNum(3, DATA);
          c.setup?.(m);
          const r = m.run(10);
          expect(r.stop.kind === 'fault' && r.stop.fault.vector, c.name).toBe(c.vector);
        });
      }
    });

    describe('decode cache', () => {
      it('is shared by physical address', () => {
        const cache = new DecodeCache();
        expect(cache.size).toBe(0);
        const m = makeTestMachine([0x90, 0x90, 0xf4]);
        m.run(2);
        expect(m.cache.size).toBeGreaterThan(0);
        m.cache.invalidateAll();
        expect(m.cache.size).toBe(0);
        expect(STACK_TOP).toBeGreaterThan(0);
      });
    });
  });
}
