// The sample enclave (the Linux selftests' op set) on a LogicalProcessor: the selftests' unclobbered_vdso, tcs_entry
// and pte_permissions cases, and the enclave-mode access rules of SDM Vol. 3D §38.5 with their #PF error codes
// (linux-driver.md §6: 0x7 for a read-only PTE, 0x8007 for an EPCM write violation, 0x8005 for a read of a TRIM
// page), a fetch outside ELRANGE (#GP(0)) and EPC seen from outside enclave mode (abort page). The AEX'ed state is
// checked field by field against the SDM's AEX flow; instruction addresses come from objdump, not from us.
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  EncluLeaf,
  EXINFO,
  GPRSGX,
  getField,
  type LogicalProcessor,
  type LpRunResult,
  PageType,
  PfErr,
  PTE_NX,
  PTE_P,
  PTE_U,
  PTE_W,
  Vector,
} from '../../../../src/hw/index';
import { runTool } from '../../../util/native';
import {
  atStub,
  DATA,
  type Enclave,
  epcBytes,
  loadEnclave,
  makePlatform,
  type Platform,
  PREBUILT,
  peek64,
  poke64,
  R,
  SAMPLE_ELF,
  STACK_TOP,
  STUB,
  TCS,
  tcsPage,
} from './fixture';

const Op = { PUT_TO_BUFFER: 0n, GET_FROM_BUFFER: 1n, PUT_TO_ADDRESS: 2n, GET_FROM_ADDRESS: 3n, NOP: 4n } as const;
const MAGIC = 0x1122334455667788n;
const MAGIC2 = 0x8877665544332211n;
const OP = DATA;
/** Host code outside any enclave: MOV RAX, [RBX]; INT 0x80 and MOV [RBX], RAX; INT 0x80. */
const HOST_READ = STUB + 0x100;
const HOST_WRITE = STUB + 0x110;

/** Address of the instruction `mnemonic` (objdump's text) inside encl_body of the prebuilt sample. */
function sampleInsn(mnemonic: string): number {
  const text = runTool('objdump', ['-d', '--no-show-raw-insn', join(PREBUILT, 'sample.elf')]).toString();
  const body = text.slice(text.indexOf('<encl_body>:'));
  const line = body.split('\n').find((l) => l.replace(/\s+/g, ' ').includes(mnemonic));
  if (!line) throw new Error(`objdump shows no "${mnemonic}" in encl_body`);
  return Number.parseInt(line.trim().split(':')[0]!, 16);
}

let p: Platform;
let e: Enclave;
let lp: LogicalProcessor;

function enter(tcs: number, type: bigint, value = 0n, addr = 0n): LpRunResult {
  poke64(p, OP, type);
  poke64(p, OP + 8, value);
  poke64(p, OP + 16, addr);
  atStub(lp, EncluLeaf.EENTER, e.tcs[tcs]!, { [R.RDI]: BigInt(OP) });
  return lp.run(1_000_000);
}

function resume(tcs: number): LpRunResult {
  atStub(lp, EncluLeaf.ERESUME, e.tcs[tcs]!);
  return lp.run(1_000_000);
}

function expectEexit(r: LpRunResult, what: string): void {
  expect(r.stop, `${what}: EEXIT lands on the INT 0x80 after ENCLU`).toEqual({ kind: 'int', vector: 0x80 });
  expect(lp.inEnclave, `${what}: out of enclave mode`).toBe(false);
}

function expectAex(r: LpRunResult, vector: number, errorCode: number, addr: number): void {
  expect(r.stop, 'an exception after an AEX').toEqual({
    kind: 'exception',
    fault: { kind: 'fault', vector, errorCode, addr },
    trap: false,
    aex: true,
  });
  expect(lp.cpu.rip, 'RIP = AEP').toBe(STUB);
}

/** A page-table entry for an ELRANGE page, replacing the fixture's. */
function remap(offset: number, flags: number): void {
  p.space.mapPfn(e.base + offset, e.pageAt.get(offset)! / 4096, flags);
}

beforeEach(() => {
  p = makePlatform();
  e = loadEnclave(p, SAMPLE_ELF);
  lp = p.lps[0]!;
  p.space.write(HOST_READ, Uint8Array.of(0x48, 0x8b, 0x03, 0xcd, 0x80));
  p.space.write(HOST_WRITE, Uint8Array.of(0x48, 0x89, 0x03, 0xcd, 0x80));
});

describe('the selftests’ ops', () => {
  it('round-trips a value through encl_buffer (unclobbered_vdso)', () => {
    expectEexit(enter(0, Op.PUT_TO_BUFFER, MAGIC), 'PUT');
    expect(peek64(p, OP + 8), 'PUT does not touch the op value').toBe(MAGIC);
    expectEexit(enter(0, Op.GET_FROM_BUFFER), 'GET');
    expect(peek64(p, OP + 8), 'GET returns what PUT stored').toBe(MAGIC);
    expect(epcBytes(p, e, e.base + 0x3000, 8), 'the value is in the EPC page of encl_buffer').toEqual(
      new Uint8Array(new BigUint64Array([MAGIC]).buffer),
    );
  });

  it('puts and gets at an enclave address', () => {
    const addr = BigInt(e.base + 0x4000);
    expectEexit(enter(0, Op.PUT_TO_ADDRESS, MAGIC2, addr), 'PUT');
    expectEexit(enter(1, Op.GET_FROM_ADDRESS, 0n, addr), 'GET');
    expect(peek64(p, OP + 8)).toBe(MAGIC2);
  });

  it('runs NOP through both TCS pages, leaving each inactive with CSSA 0 (tcs_entry)', () => {
    for (const t of [0, 1]) {
      expectEexit(enter(t, Op.NOP), `TCS #${t}`);
      expect(getField(TCS, tcsPage(p, e, t), 0, 'cssa'), 'CSSA').toBe(0);
      expect(getField(TCS, tcsPage(p, e, t), 0, 'state'), 'STATE').toBe(0n);
      expect(getField(TCS, tcsPage(p, e, t), 0, 'aep'), 'TCS.AEP = RCX at EENTER').toBe(BigInt(STUB));
    }
  });

  it('leaves RCX = AEP, RSP/RBP as the enclave restored them, and the other registers as the stub cleared them', () => {
    expectEexit(enter(0, Op.NOP), 'NOP');
    const c = lp.cpu;
    expect(c.getReg64(R.RCX), 'RCX = AEP (SDM EEXIT)').toBe(BigInt(STUB));
    expect(c.getReg64(R.RAX), 'RAX = the EEXIT leaf').toBe(4n);
    expect(c.getReg64(R.RSP), 'RSP restored by the enclave').toBe(BigInt(STACK_TOP - 64));
    expect(c.getReg64(R.RBP), 'RBP untouched').toBe(0x5151n);
    expect(c.fsBase, 'untrusted FS base back').toBe(0);
  });
});

describe('access control in enclave mode (SDM Vol. 3D §38.5)', () => {
  it('reports a write to a read-only PTE as #PF 0x7 after an AEX, with the SSA as the AEX flow writes it (pte_permissions)', () => {
    const dataStart = e.base + 0x4000;
    expectEexit(enter(0, Op.PUT_TO_ADDRESS, MAGIC, BigInt(dataStart)), 'PUT while writable');
    remap(0x4000, PTE_P | PTE_U | PTE_NX); // mprotect(PROT_READ)
    const r = enter(0, Op.PUT_TO_ADDRESS, MAGIC2, BigInt(dataStart));
    expectAex(r, Vector.PF, PfErr.P | PfErr.W | PfErr.U, dataStart);

    // Synthetic state (SDM Vol. 3D Table 40-1).
    const c = lp.cpu;
    expect(c.getReg64(R.RAX), 'RAX = ERESUME').toBe(3n);
    expect(c.getReg64(R.RBX), 'RBX = TCS').toBe(BigInt(e.tcs[0]!));
    expect(c.getReg64(R.RCX), 'RCX = AEP').toBe(BigInt(STUB));
    for (const r of [R.RDX, R.RSI, R.RDI, 8, 9, 10, 11, 12, 13, 14, 15])
      expect(c.getReg64(r), `register ${r} is 0`).toBe(0n);
    expect(c.getReg64(R.RSP), 'RSP = URSP').toBe(BigInt(STACK_TOP - 64));
    expect(c.getReg64(R.RBP), 'RBP = URBP').toBe(0x5151n);
    expect(c.getFlags() & 0x8d5, 'CF, PF, AF, ZF, SF, OF cleared').toBe(0);
    expect(c.mxcsr, 'SSE INIT: MXCSR = 1F80H').toBe(0x1f80);
    expect(
      c.x32.every((w) => w === 0),
      'SSE INIT: XMM = 0',
    ).toBe(true);
    expect(getField(TCS, tcsPage(p, e, 0), 0, 'cssa'), 'CSSA + 1').toBe(1);

    // SSA frame 0 of TCS #0 (OSSA 0x5000, one page): GPRSGX in its last 184 bytes, EXINFO below it.
    const gpr = epcBytes(p, e, e.base + 0x5000 + 4096 - 184, 184);
    const g = (name: Parameters<typeof getField<typeof GPRSGX, 'rip'>>[3]) => getField(GPRSGX, gpr, 0, name);
    expect(g('rip'), 'RIP of the faulting store (objdump: mov %rdx,(%rax))').toBe(
      BigInt(e.base + sampleInsn('mov %rdx,(%rax)')),
    );
    expect(getField(GPRSGX, gpr, 0, 'rax'), 'RAX = the address being written').toBe(BigInt(dataStart));
    expect(getField(GPRSGX, gpr, 0, 'rdx'), 'RDX = the value being written').toBe(MAGIC2);
    expect(getField(GPRSGX, gpr, 0, 'rdi'), 'RDI = the op struct').toBe(BigInt(OP));
    expect(getField(GPRSGX, gpr, 0, 'ursp'), 'URSP').toBe(BigInt(STACK_TOP - 64));
    expect(getField(GPRSGX, gpr, 0, 'urbp'), 'URBP').toBe(0x5151n);
    expect(getField(GPRSGX, gpr, 0, 'rflags') & 0x10100n, 'RF = 1 for a fault, TF = 0').toBe(0x10000n);
    expect(getField(GPRSGX, gpr, 0, 'exitInfo').toString(16), 'EXITINFO: VALID, hardware, #PF').toBe('8000030e');
    expect(getField(GPRSGX, gpr, 0, 'fsBase'), 'FSBASE = BASEADDR + OFSBASGX (0)').toBe(BigInt(e.base));
    const stackTop = e.base + 0x8000;
    const rsp = Number(getField(GPRSGX, gpr, 0, 'rsp'));
    expect(rsp < stackTop && rsp > stackTop - 4096, 'RSP on TCS #0’s stack').toBe(true);
    const exinfo = epcBytes(p, e, e.base + 0x5000 + 4096 - 184 - 16, 16);
    expect(getField(EXINFO, exinfo, 0, 'maddr'), 'EXINFO.MADDR = CR2, all 12 low bits').toBe(BigInt(dataStart));
    expect(getField(EXINFO, exinfo, 0, 'errcd'), 'EXINFO.ERRCD').toBe(7);
    const xsave = epcBytes(p, e, e.base + 0x5000, 576);
    expect(new DataView(xsave.buffer).getUint32(24, true), 'XSAVE: MXCSR').toBe(0x1f80);
    expect(new DataView(xsave.buffer).getUint16(0, true), 'XSAVE: FCW').toBe(0x37f);

    // mprotect(PROT_READ | PROT_WRITE), then ERESUME completes the store.
    remap(0x4000, PTE_P | PTE_U | PTE_W | PTE_NX);
    expectEexit(resume(0), 'ERESUME');
    expect(getField(TCS, tcsPage(p, e, 0), 0, 'cssa'), 'CSSA - 1').toBe(0);
    expectEexit(enter(0, Op.GET_FROM_ADDRESS, 0n, BigInt(dataStart)), 'GET');
    expect(peek64(p, OP + 8)).toBe(MAGIC2);
  });

  it('reports a write to untrusted memory through a read-only PTE as #PF 0x7 (GET into a read-only op struct)', () => {
    poke64(p, OP, Op.GET_FROM_ADDRESS);
    poke64(p, OP + 16, BigInt(e.base + 0x3000));
    p.space.map(OP, 4096, { write: false });
    atStub(lp, EncluLeaf.EENTER, e.tcs[0]!, { [R.RDI]: BigInt(OP) });
    expectAex(lp.run(1_000_000), Vector.PF, PfErr.P | PfErr.W | PfErr.U, OP);
    const exinfo = epcBytes(p, e, e.base + 0x5000 + 4096 - 200, 16);
    expect(getField(EXINFO, exinfo, 0, 'maddr'), 'EXINFO.MADDR = &op->value').toBe(BigInt(OP + 8));
  });

  it('reports a write to an EPCM read-only page as #PF 0x8007 even when the PTE allows it', () => {
    remap(0x2000, PTE_P | PTE_U | PTE_W); // the code page, writable in the page tables
    expectAex(enter(0, Op.PUT_TO_ADDRESS, 1n, BigInt(e.base + 0x2000)), Vector.PF, 0x8007, e.base + 0x2000);
  });

  it('reports a write to a TCS page as #PF 0x8007 and a read as 0x8005 (PT_TCS is never data)', () => {
    expectAex(enter(0, Op.PUT_TO_ADDRESS, 1n, BigInt(e.base + 0x1000)), Vector.PF, 0x8007, e.base + 0x1000);
    // TCS #0 has used its only SSA frame; read through TCS #1.
    expectAex(enter(1, Op.GET_FROM_ADDRESS, 0n, BigInt(e.base + 0x1008)), Vector.PF, 0x8005, e.base + 0x1000);
    // ERESUME retries the write, which faults the same way again.
    expectAex(resume(0), Vector.PF, 0x8007, e.base + 0x1000);
  });

  it('reports a read of a TRIM page as #PF 0x8005 (remove_added_page_invalid_access)', () => {
    const index = p.m.epc.indexOf(e.pageAt.get(0x4000)!)!;
    p.m.epcm.get(index)!.pt = PageType.TRIM; // what EMODT + EACCEPT would leave
    expectAex(enter(0, Op.GET_FROM_ADDRESS, 0n, BigInt(e.base + 0x4008)), Vector.PF, 0x8005, e.base + 0x4000);
  });

  it('reports a read of an ELRANGE page backed by ordinary memory as #PF with the SGX bit', () => {
    p.space.map(e.base + 0xa000, 4096, { write: true }); // a hole inside ELRANGE mapped to RAM
    expectAex(enter(0, Op.GET_FROM_ADDRESS, 0n, BigInt(e.base + 0xa010)), Vector.PF, 0x8005, e.base + 0xa000);
  });

  it('refuses a code fetch outside ELRANGE with #GP(0), saving RIP = the target', () => {
    // PUT over encl_body's return address (TCS #0's stack top 0x8000 − 8 old RSP − 8 RCX − 8), so RET leaves ELRANGE.
    const r = enter(0, Op.PUT_TO_ADDRESS, BigInt(STUB), BigInt(e.base + 0x8000 - 24));
    expectAex(r, Vector.GP, 0, 0);
    const gpr = epcBytes(p, e, e.base + 0x5000 + 4096 - 184, 184);
    expect(getField(GPRSGX, gpr, 0, 'rip'), 'RIP = the fetch target').toBe(BigInt(STUB));
    expect(getField(GPRSGX, gpr, 0, 'exitInfo').toString(16), 'EXITINFO: VALID, hardware, #GP').toBe('8000030d');
    const exinfo = epcBytes(p, e, e.base + 0x5000 + 4096 - 200, 16);
    expect(getField(EXINFO, exinfo, 0, 'maddr'), 'EXINFO.MADDR = 0 for #GP').toBe(0n);
    expect(getField(EXINFO, exinfo, 0, 'errcd'), 'EXINFO.ERRCD').toBe(0);
  });

  it('reads EPC as all-ones and drops writes from outside enclave mode (abort page)', () => {
    expectEexit(enter(0, Op.PUT_TO_BUFFER, MAGIC), 'PUT');
    const c = lp.cpu;
    c.setReg64(R.RBX, BigInt(e.base + 0x3000));
    c.rip = HOST_READ;
    expect(lp.run(10).stop).toEqual({ kind: 'int', vector: 0x80 });
    expect(c.getReg64(R.RAX), 'read of EPC outside enclave mode').toBe(0xffff_ffff_ffff_ffffn);
    c.setReg64(R.RAX, 42n);
    c.rip = HOST_WRITE;
    expect(lp.run(10).stop).toEqual({ kind: 'int', vector: 0x80 });
    expectEexit(enter(0, Op.GET_FROM_BUFFER), 'GET');
    expect(peek64(p, OP + 8), 'the write was dropped').toBe(MAGIC);
  });

  it('drops the enclave’s translations on exit, so the abort page is seen right after EEXIT', () => {
    expectEexit(enter(0, Op.PUT_TO_BUFFER, MAGIC), 'PUT'); // fills the TLB with enclave-mode translations
    const c = lp.cpu;
    c.setReg64(R.RBX, BigInt(e.base + 0x3000));
    c.rip = HOST_READ;
    lp.run(10);
    expect(c.getReg64(R.RAX), 'no stale enclave translation survives EEXIT').toBe(0xffff_ffff_ffff_ffffn);
  });
});
