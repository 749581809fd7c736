/**
 * The x86-64 opcode table (user-mode, legacy encodings), one typed row per instruction form, in the style of
 * v86 `gen/x86_table.js`. The same rows drive the decoder (decoder.ts), the disassembler (format.ts), the
 * interpreter's handler lookup (exec-*.ts: `sem` names a handler) and generated tests.
 *
 * Operand specs use the SDM Vol. 2 Appendix A notation:
 *   E  ModRM r/m (register or memory)     G  ModRM reg           M  ModRM r/m, memory only
 *   R  ModRM r/m, register only           I  immediate           J  relative branch target
 *   Z  register in the opcode's low bits   O  absolute moffs64    X/Y string source [rSI] / destination [rDI]
 *   V  XMM in ModRM reg                    W  XMM or memory (r/m) U  XMM in r/m, register only
 *  sizes: b 8, w 16, d 32, q 64, v operand size (16/32/64), y 32/64 by REX.W, z 16/32 (imm sign-extended to 64),
 *         x 128, dq 128, fx 512-byte FXSAVE area, xs XSAVE area; sIb is an imm8 sign-extended to operand size;
 *         yb/yw/yd: a 32/64-bit register but an 8/16/32-bit memory operand (PEXTRB/W, PINSRB/W, EXTRACTPS).
 *  B  the implicit XLAT operand byte ptr [rBX+AL]
 * Fixed operands: AL, AX, rAX (operand size), CL, DX, 1.
 *
 * Flags (the legend v86 uses, trimmed to what 64-bit user mode needs): see the `F` constants below.
 * `pfx` is a *mandatory* prefix (SSE style): 'np' none, '66', 'F3', 'F2'; undefined means prefixes keep their
 * ordinary meaning. `ext` is the ModRM.reg opcode extension (/digit); `mod` restricts to register ('reg') or
 * memory ('mem') forms; `rm` (with mod = 'reg') selects a single ModRM byte such as 0F 01 D7.
 *
 * Anything absent from this table decodes as #UD; every row has a handler (test/hw/cpu/opcodes.test.ts).
 */

/** Row flags. */
export const F = {
  /** LOCK prefix allowed (with a memory destination). */
  LOCK: 1,
  /** Default operand size 64 in 64-bit mode; 66 selects 16 (PUSH, POP, ...; SDM Vol. 1 §3.6.1 Table 3-4). */
  D64: 2,
  /** Operand size forced to 64: near branches ignore 66 on Intel processors (SDM Vol. 2 §2.2.1.3). */
  F64: 4,
  /** REP/REPE/REPNE apply (string instructions). */
  REP: 8,
  /** Ends a basic block (control transfer or an instruction that stops run()). */
  BRANCH: 16,
  /** Unconditional control transfer: nothing after it in the block. */
  STOP: 32,
  /** An F2/F3 prefix makes the encoding a different (unimplemented) instruction: #UD. */
  NOREP: 256,
} as const;

/** Opcode map: one-byte, 0F, 0F 38, 0F 3A. */
export type OpMap = 0 | 0x0f | 0x0f38 | 0x0f3a;
/** Mandatory prefix of an SSE-style row ('np' = none). */
export type Pfx = 'np' | '66' | 'F3' | 'F2';

/** One row of the opcode table (see the file comment for the fields' notation). */
export interface OpRow {
  readonly map: OpMap;
  readonly op: number;
  readonly mnem: string;
  readonly ops: readonly string[];
  /** Handler name in the interpreter. */
  readonly sem: string;
  readonly flags: number;
  readonly pfx?: Pfx;
  readonly ext?: number;
  readonly mod?: 'reg' | 'mem';
  readonly rm?: number;
  /** Condition code for Jcc/SETcc/CMOVcc, ALU sub-op, or an immediate-selected variant. */
  readonly cc?: number;
}

const rows: OpRow[] = [];

interface RowOpts {
  flags?: number;
  pfx?: Pfx;
  ext?: number;
  mod?: 'reg' | 'mem';
  rm?: number;
  cc?: number;
}

function row(map: OpMap, op: number, mnem: string, ops: string, sem: string, o: RowOpts = {}): void {
  rows.push({
    map,
    op,
    mnem,
    ops: ops ? ops.split(',') : [],
    sem,
    flags: o.flags ?? 0,
    ...(o.pfx !== undefined && { pfx: o.pfx }),
    ...(o.ext !== undefined && { ext: o.ext }),
    ...(o.mod !== undefined && { mod: o.mod }),
    ...(o.rm !== undefined && { rm: o.rm }),
    ...(o.cc !== undefined && { cc: o.cc }),
  });
}

const r1 = (op: number, mnem: string, ops: string, sem: string, o?: RowOpts) => row(0, op, mnem, ops, sem, o);
const r2 = (op: number, mnem: string, ops: string, sem: string, o?: RowOpts) => row(0x0f, op, mnem, ops, sem, o);
const r38 = (op: number, mnem: string, ops: string, sem: string, o?: RowOpts) => row(0x0f38, op, mnem, ops, sem, o);
const r3a = (op: number, mnem: string, ops: string, sem: string, o?: RowOpts) => row(0x0f3a, op, mnem, ops, sem, o);

/** Condition-code suffixes in encoding order (SDM Vol. 1 Appendix B). */
export const CC_NAMES = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
/** ALU group order (00-3D and group 1). */
export const ALU_NAMES = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
/** Shift group order (group 2). */
export const SHIFT_NAMES = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];

// ---- one-byte map ----------------------------------------------------------------------------------------

for (let k = 0; k < 8; k++) {
  const m = ALU_NAMES[k]!;
  const lock = k === 7 ? 0 : F.LOCK; // CMP writes nothing
  r1(k * 8 + 0, m, 'Eb,Gb', 'alu', { flags: lock, cc: k });
  r1(k * 8 + 1, m, 'Ev,Gv', 'alu', { flags: lock, cc: k });
  r1(k * 8 + 2, m, 'Gb,Eb', 'alu', { cc: k });
  r1(k * 8 + 3, m, 'Gv,Ev', 'alu', { cc: k });
  r1(k * 8 + 4, m, 'AL,Ib', 'alu', { cc: k });
  r1(k * 8 + 5, m, 'rAX,Iz', 'alu', { cc: k });
  r1(0x80, m, 'Eb,Ib', 'alu', { ext: k, flags: lock, cc: k });
  r1(0x81, m, 'Ev,Iz', 'alu', { ext: k, flags: lock, cc: k });
  // 82 is invalid in 64-bit mode (SDM Vol. 2 Table A-6 note "i64").
  r1(0x83, m, 'Ev,sIb', 'alu', { ext: k, flags: lock, cc: k });
}
for (let r = 0; r < 8; r++) {
  r1(0x50 + r, 'push', 'Zv', 'push', { flags: F.D64 });
  r1(0x58 + r, 'pop', 'Zv', 'pop', { flags: F.D64 });
}
r1(0x63, 'movsxd', 'Gv,Ez', 'movsxd'); // with 66 the source is r/m16 (MOVSXD r16, r/m16)
r1(0x68, 'push', 'Iz', 'push', { flags: F.D64 });
r1(0x69, 'imul', 'Gv,Ev,Iz', 'imul3');
r1(0x6a, 'push', 'sIb', 'push', { flags: F.D64 });
r1(0x6b, 'imul', 'Gv,Ev,sIb', 'imul3');
for (let c = 0; c < 16; c++) r1(0x70 + c, `j${CC_NAMES[c]}`, 'Jb', 'jcc', { cc: c, flags: F.F64 | F.BRANCH });
r1(0x84, 'test', 'Eb,Gb', 'test');
r1(0x85, 'test', 'Ev,Gv', 'test');
r1(0x86, 'xchg', 'Eb,Gb', 'xchg', { flags: F.LOCK });
r1(0x87, 'xchg', 'Ev,Gv', 'xchg', { flags: F.LOCK });
r1(0x88, 'mov', 'Eb,Gb', 'mov');
r1(0x89, 'mov', 'Ev,Gv', 'mov');
r1(0x8a, 'mov', 'Gb,Eb', 'mov');
r1(0x8b, 'mov', 'Gv,Ev', 'mov');
// 8C: MOV r/m, Sreg reads a selector: user code sees the Linux flat selectors.
r1(0x8c, 'mov', 'Ev,Sw', 'movFromSeg');
r1(0x8d, 'lea', 'Gv,M', 'lea');
r1(0x8f, 'pop', 'Ev', 'pop', { ext: 0, flags: F.D64 });
// 90 is NOP only without REX.B (with it, XCHG r8, rAX); F3 90 is PAUSE.
r1(0x90, 'nop', '', 'nop', { pfx: 'np' });
r1(0x90, 'pause', '', 'nop', { pfx: 'F3' });
// 90 with REX.B is XCHG r8, rAX (the decoder picks this row only then).
for (let r = 0; r < 8; r++) r1(0x90 + r, 'xchg', 'Zv,rAX', 'xchg');
r1(0x98, 'cwde', '', 'cbw');
r1(0x99, 'cdq', '', 'cwd');
r1(0x9b, 'wait', '', 'fwait'); // WAIT/FWAIT; iced and objdump print "wait"
r1(0x9c, 'pushf', '', 'pushf', { flags: F.D64 });
r1(0x9d, 'popf', '', 'popf', { flags: F.D64 | F.BRANCH });
r1(0x9e, 'sahf', '', 'sahf');
r1(0x9f, 'lahf', '', 'lahf');
r1(0xa0, 'mov', 'AL,Ob', 'movMoffs');
r1(0xa1, 'mov', 'rAX,Ov', 'movMoffs');
r1(0xa2, 'mov', 'Ob,AL', 'movMoffs');
r1(0xa3, 'mov', 'Ov,rAX', 'movMoffs');
r1(0xa4, 'movsb', 'Yb,Xb', 'movs', { flags: F.REP });
r1(0xa5, 'movs', 'Yv,Xv', 'movs', { flags: F.REP });
r1(0xa6, 'cmpsb', 'Xb,Yb', 'cmps', { flags: F.REP });
r1(0xa7, 'cmps', 'Xv,Yv', 'cmps', { flags: F.REP });
r1(0xa8, 'test', 'AL,Ib', 'test');
r1(0xa9, 'test', 'rAX,Iz', 'test');
r1(0xaa, 'stosb', 'Yb,AL', 'stos', { flags: F.REP });
r1(0xab, 'stos', 'Yv,rAX', 'stos', { flags: F.REP });
r1(0xac, 'lodsb', 'AL,Xb', 'lods', { flags: F.REP });
r1(0xad, 'lods', 'rAX,Xv', 'lods', { flags: F.REP });
r1(0xae, 'scasb', 'AL,Yb', 'scas', { flags: F.REP });
r1(0xaf, 'scas', 'rAX,Yv', 'scas', { flags: F.REP });
for (let r = 0; r < 8; r++) {
  r1(0xb0 + r, 'mov', 'Zb,Ib', 'mov');
  r1(0xb8 + r, 'mov', 'Zv,Iv', 'mov');
}
for (let k = 0; k < 8; k++) {
  if (k === 6) continue; // /6 is an undocumented alias of SHL that iced and the SDM treat as invalid
  const m = SHIFT_NAMES[k]!;
  r1(0xc0, m, 'Eb,Ib', 'shift', { ext: k, cc: k });
  r1(0xc1, m, 'Ev,Ib', 'shift', { ext: k, cc: k });
  r1(0xd0, m, 'Eb,1', 'shift', { ext: k, cc: k });
  r1(0xd1, m, 'Ev,1', 'shift', { ext: k, cc: k });
  r1(0xd2, m, 'Eb,CL', 'shift', { ext: k, cc: k });
  r1(0xd3, m, 'Ev,CL', 'shift', { ext: k, cc: k });
}
r1(0xc2, 'ret', 'Iw', 'ret', { flags: F.F64 | F.BRANCH | F.STOP });
r1(0xc3, 'ret', '', 'ret', { flags: F.F64 | F.BRANCH | F.STOP });
r1(0xc6, 'mov', 'Eb,Ib', 'mov', { ext: 0 });
r1(0xc7, 'mov', 'Ev,Iz', 'mov', { ext: 0 });
r1(0xc8, 'enter', 'Iw,Ib', 'enter', { flags: F.D64 });
r1(0xc9, 'leave', '', 'leave', { flags: F.D64 });
r1(0xcc, 'int3', '', 'int3', { flags: F.BRANCH | F.STOP });
r1(0xcd, 'int', 'Ib', 'intn', { flags: F.BRANCH | F.STOP });
r1(0xd7, 'xlatb', 'Bb', 'xlat'); // implicit byte ptr [rBX+AL]
r1(0xe0, 'loopne', 'Jb', 'loop', { cc: 0, flags: F.F64 | F.BRANCH });
r1(0xe1, 'loope', 'Jb', 'loop', { cc: 1, flags: F.F64 | F.BRANCH });
r1(0xe2, 'loop', 'Jb', 'loop', { cc: 2, flags: F.F64 | F.BRANCH });
r1(0xe3, 'jrcxz', 'Jb', 'jrcxz', { flags: F.F64 | F.BRANCH });
// Port I/O faults with #GP(0) at CPL 3 with IOPL 0 (SDM Vol. 1 §19.5.1), which is how Linux runs user code.
r1(0xe4, 'in', 'AL,Ib', 'io');
r1(0xe5, 'in', 'eAX,Ib', 'io');
r1(0xe6, 'out', 'Ib,AL', 'io');
r1(0xe7, 'out', 'Ib,eAX', 'io');
r1(0xe8, 'call', 'Jz', 'call', { flags: F.F64 | F.BRANCH | F.STOP });
r1(0xe9, 'jmp', 'Jz', 'jmp', { flags: F.F64 | F.BRANCH | F.STOP });
r1(0xeb, 'jmp', 'Jb', 'jmp', { flags: F.F64 | F.BRANCH | F.STOP });
r1(0xec, 'in', 'AL,DX', 'io');
r1(0xed, 'in', 'eAX,DX', 'io');
r1(0xee, 'out', 'DX,AL', 'io');
r1(0xef, 'out', 'DX,eAX', 'io');
r1(0xf1, 'int1', '', 'int1', { flags: F.BRANCH | F.STOP });
r1(0xf4, 'hlt', '', 'hlt', { flags: F.BRANCH | F.STOP });
r1(0xf5, 'cmc', '', 'flagop', { cc: 0 });
r1(0xf8, 'clc', '', 'flagop', { cc: 1 });
r1(0xf9, 'stc', '', 'flagop', { cc: 2 });
r1(0xfa, 'cli', '', 'cli');
r1(0xfb, 'sti', '', 'cli');
r1(0xfc, 'cld', '', 'flagop', { cc: 3 });
r1(0xfd, 'std', '', 'flagop', { cc: 4 });
r1(0x6c, 'insb', 'Yb,DX', 'io', { flags: F.REP });
r1(0x6d, 'ins', 'Yz,DX', 'io', { flags: F.REP });
r1(0x6e, 'outsb', 'DX,Xb', 'io', { flags: F.REP });
r1(0x6f, 'outs', 'DX,Xz', 'io', { flags: F.REP });
const GRP3 = ['test', 'test', 'not', 'neg', 'mul', 'imul', 'div', 'idiv'];
for (let k = 0; k < 8; k++) {
  if (k === 1) continue; // F6/F7 /1 is an undocumented TEST alias; iced decodes it as invalid
  const m = GRP3[k]!;
  const ops = k < 2 ? 'Eb,Ib' : 'Eb';
  const opsv = k < 2 ? 'Ev,Iz' : 'Ev';
  const sem = k < 2 ? 'test' : k === 2 ? 'not' : k === 3 ? 'neg' : k === 4 ? 'mul1' : k === 5 ? 'imul1' : 'div';
  const fl = k === 2 || k === 3 ? F.LOCK : 0;
  r1(0xf6, m, ops, sem, { ext: k, flags: fl, cc: k });
  r1(0xf7, m, opsv, sem, { ext: k, flags: fl, cc: k });
}
r1(0xfe, 'inc', 'Eb', 'incdec', { ext: 0, flags: F.LOCK, cc: 0 });
r1(0xfe, 'dec', 'Eb', 'incdec', { ext: 1, flags: F.LOCK, cc: 1 });
r1(0xff, 'inc', 'Ev', 'incdec', { ext: 0, flags: F.LOCK, cc: 0 });
r1(0xff, 'dec', 'Ev', 'incdec', { ext: 1, flags: F.LOCK, cc: 1 });
r1(0xff, 'call', 'Ev', 'callInd', { ext: 2, flags: F.F64 | F.BRANCH | F.STOP });
r1(0xff, 'jmp', 'Ev', 'jmpInd', { ext: 4, flags: F.F64 | F.BRANCH | F.STOP });
r1(0xff, 'push', 'Ev', 'push', { ext: 6, flags: F.D64 });

// x87: only the control/state instructions that library code and FXSAVE users need; arithmetic is #UD.
r1(0xd9, 'fldcw', 'Mw', 'fldcw', { ext: 5, mod: 'mem' });
r1(0xd9, 'fnstcw', 'Mw', 'fnstcw', { ext: 7, mod: 'mem' });
r1(0xdb, 'fninit', '', 'fninit', { ext: 4, mod: 'reg', rm: 0xe3 });
r1(0xdb, 'fnclex', '', 'fnclex', { ext: 4, mod: 'reg', rm: 0xe2 });
r1(0xdd, 'fnstsw', 'Mw', 'fnstsw', { ext: 7, mod: 'mem' });
r1(0xdf, 'fnstsw', 'AX', 'fnstsw', { ext: 4, mod: 'reg', rm: 0xe0 });

// ---- two-byte map 0F -------------------------------------------------------------------------------------

r2(0x01, 'xgetbv', '', 'xgetbv', { ext: 2, mod: 'reg', rm: 0xd0, pfx: 'np' });
// ENCLS (0F 01 CF) and ENCLU (0F 01 D7) stop run() so the SGX leaves can be dispatched (SDM Vol. 3D §40/41).
r2(0x01, 'encls', '', 'encls', { ext: 1, mod: 'reg', rm: 0xcf, pfx: 'np', flags: F.BRANCH | F.STOP });
r2(0x01, 'enclu', '', 'enclu', { ext: 2, mod: 'reg', rm: 0xd7, pfx: 'np', flags: F.BRANCH | F.STOP });
r2(0x01, 'rdtscp', '', 'rdtscp', { ext: 7, mod: 'reg', rm: 0xf9, pfx: 'np' });
r2(0x05, 'syscall', '', 'syscall', { flags: F.BRANCH | F.STOP });
r2(0x0b, 'ud2', '', 'ud2', { flags: F.BRANCH | F.STOP });
r2(0x0d, 'prefetch', 'Mb', 'nop', { ext: 0, mod: 'mem' });
r2(0x0d, 'prefetchw', 'Mb', 'nop', { ext: 1, mod: 'mem' });
for (const [e, m] of [
  [0, 'prefetchnta'],
  [1, 'prefetcht0'],
  [2, 'prefetcht1'],
  [3, 'prefetcht2'],
] as const) {
  r2(0x18, m, 'Mb', 'nop', { ext: e, mod: 'mem' });
}
// 0F 1E FA with F3 is ENDBR64 (CET off: a NOP). Other 0F 19-1F forms are the multi-byte "hint NOP" Ev.
r2(0x1e, 'endbr64', '', 'nop', { pfx: 'F3', ext: 7, mod: 'reg', rm: 0xfa });
r2(0x1e, 'endbr32', '', 'nop', { pfx: 'F3', ext: 7, mod: 'reg', rm: 0xfb });
r2(0x1f, 'nop', 'Ev', 'nop', { ext: 0 });
r2(0x31, 'rdtsc', '', 'rdtsc');
r2(0xa2, 'cpuid', '', 'cpuid');
for (let c = 0; c < 16; c++) {
  r2(0x40 + c, `cmov${CC_NAMES[c]}`, 'Gv,Ev', 'cmov', { cc: c });
  r2(0x80 + c, `j${CC_NAMES[c]}`, 'Jz', 'jcc', { cc: c, flags: F.F64 | F.BRANCH });
  r2(0x90 + c, `set${CC_NAMES[c]}`, 'Eb', 'setcc', { cc: c });
}
r2(0xa3, 'bt', 'Ev,Gv', 'bt', { cc: 0 });
r2(0xab, 'bts', 'Ev,Gv', 'bt', { cc: 1, flags: F.LOCK });
r2(0xb3, 'btr', 'Ev,Gv', 'bt', { cc: 2, flags: F.LOCK });
r2(0xbb, 'btc', 'Ev,Gv', 'bt', { cc: 3, flags: F.LOCK });
r2(0xba, 'bt', 'Ev,Ib', 'bt', { ext: 4, cc: 0 });
r2(0xba, 'bts', 'Ev,Ib', 'bt', { ext: 5, cc: 1, flags: F.LOCK });
r2(0xba, 'btr', 'Ev,Ib', 'bt', { ext: 6, cc: 2, flags: F.LOCK });
r2(0xba, 'btc', 'Ev,Ib', 'bt', { ext: 7, cc: 3, flags: F.LOCK });
r2(0xa4, 'shld', 'Ev,Gv,Ib', 'shld', { cc: 0 });
r2(0xa5, 'shld', 'Ev,Gv,CL', 'shld', { cc: 0 });
r2(0xac, 'shrd', 'Ev,Gv,Ib', 'shld', { cc: 1 });
r2(0xad, 'shrd', 'Ev,Gv,CL', 'shld', { cc: 1 });
r2(0xaf, 'imul', 'Gv,Ev', 'imul2');
r2(0xb0, 'cmpxchg', 'Eb,Gb', 'cmpxchg', { flags: F.LOCK });
r2(0xb1, 'cmpxchg', 'Ev,Gv', 'cmpxchg', { flags: F.LOCK });
r2(0xb6, 'movzx', 'Gv,Eb', 'movzx');
r2(0xb7, 'movzx', 'Gv,Ew', 'movzx');
r2(0xbe, 'movsx', 'Gv,Eb', 'movsx');
r2(0xbf, 'movsx', 'Gv,Ew', 'movsx');
r2(0xb8, 'popcnt', 'Gv,Ev', 'popcnt', { pfx: 'F3' });
r2(0xbc, 'bsf', 'Gv,Ev', 'bsf', { cc: 0 });
r2(0xbd, 'bsr', 'Gv,Ev', 'bsf', { cc: 1 });
// F3 0F BC/BD are TZCNT/LZCNT (BMI1/ABM); the host and our CPUID report them.
r2(0xbc, 'tzcnt', 'Gv,Ev', 'bsf', { pfx: 'F3', cc: 2 });
r2(0xbd, 'lzcnt', 'Gv,Ev', 'bsf', { pfx: 'F3', cc: 3 });
r2(0xc0, 'xadd', 'Eb,Gb', 'xadd', { flags: F.LOCK });
r2(0xc1, 'xadd', 'Ev,Gv', 'xadd', { flags: F.LOCK });
r2(0xc7, 'cmpxchg8b', 'Mq', 'cmpxchg8b', { ext: 1, mod: 'mem', flags: F.LOCK });
r2(0xc7, 'rdrand', 'Rv', 'rdrand', { ext: 6, mod: 'reg', cc: 0, flags: F.NOREP });
r2(0xc7, 'rdseed', 'Rv', 'rdrand', { ext: 7, mod: 'reg', cc: 1, flags: F.NOREP });
r2(0xc7, 'rdpid', 'Rq', 'rdpid', { ext: 7, mod: 'reg', pfx: 'F3' });
for (let r = 0; r < 8; r++) r2(0xc8 + r, 'bswap', 'Zv', 'bswap');
// Group 15 (0F AE): state save/restore, MXCSR, fences, FS/GS base (CR4.FSGSBASE is on in Linux ≥ 5.9).
r2(0xae, 'fxsave', 'Mfx', 'fxsave', { ext: 0, mod: 'mem', pfx: 'np' });
r2(0xae, 'fxrstor', 'Mfx', 'fxrstor', { ext: 1, mod: 'mem', pfx: 'np' });
r2(0xae, 'ldmxcsr', 'Md', 'ldmxcsr', { ext: 2, mod: 'mem', pfx: 'np' });
r2(0xae, 'stmxcsr', 'Md', 'stmxcsr', { ext: 3, mod: 'mem', pfx: 'np' });
r2(0xae, 'xsave', 'Mxs', 'xsave', { ext: 4, mod: 'mem', pfx: 'np', cc: 0 });
r2(0xae, 'xrstor', 'Mxs', 'xrstor', { ext: 5, mod: 'mem', pfx: 'np' });
r2(0xae, 'xsaveopt', 'Mxs', 'xsave', { ext: 6, mod: 'mem', pfx: 'np', cc: 1 });
r2(0xae, 'clflush', 'Mb', 'nop', { ext: 7, mod: 'mem', pfx: 'np' });
r2(0xae, 'clflushopt', 'Mb', 'nop', { ext: 7, mod: 'mem', pfx: '66' });
r2(0xae, 'lfence', '', 'nop', { ext: 5, mod: 'reg', rm: 0xe8, pfx: 'np' });
r2(0xae, 'mfence', '', 'nop', { ext: 6, mod: 'reg', rm: 0xf0, pfx: 'np' });
r2(0xae, 'sfence', '', 'nop', { ext: 7, mod: 'reg', rm: 0xf8, pfx: 'np' });
r2(0xae, 'rdfsbase', 'Ry', 'fsgsbase', { ext: 0, mod: 'reg', pfx: 'F3', cc: 0 });
r2(0xae, 'rdgsbase', 'Ry', 'fsgsbase', { ext: 1, mod: 'reg', pfx: 'F3', cc: 1 });
r2(0xae, 'wrfsbase', 'Ry', 'fsgsbase', { ext: 2, mod: 'reg', pfx: 'F3', cc: 2 });
r2(0xae, 'wrgsbase', 'Ry', 'fsgsbase', { ext: 3, mod: 'reg', pfx: 'F3', cc: 3 });
r2(0xc3, 'movnti', 'My,Gy', 'mov', { pfx: 'np', mod: 'mem' });

// ---- SSE/SSE2/SSE3 (0F map) ------------------------------------------------------------------------------
// `cc` on these rows selects a lane width or predicate variant inside a shared handler.

r2(0x10, 'movups', 'V,Wx', 'movx', { pfx: 'np' });
r2(0x10, 'movupd', 'V,Wx', 'movx', { pfx: '66' });
r2(0x10, 'movss', 'V,Wd', 'movss', { pfx: 'F3' });
r2(0x10, 'movsd', 'V,Wq', 'movsd', { pfx: 'F2' });
r2(0x11, 'movups', 'Wx,V', 'movx', { pfx: 'np' });
r2(0x11, 'movupd', 'Wx,V', 'movx', { pfx: '66' });
r2(0x11, 'movss', 'Wd,V', 'movss', { pfx: 'F3' });
r2(0x11, 'movsd', 'Wq,V', 'movsd', { pfx: 'F2' });
// 0F 12/13/16/17: register forms are MOVHLPS/MOVLHPS; memory forms load/store one 64-bit half.
r2(0x12, 'movhlps', 'V,U', 'movhl', { pfx: 'np', mod: 'reg', cc: 0 });
r2(0x12, 'movlps', 'V,Mq', 'movlo', { pfx: 'np', mod: 'mem' });
r2(0x12, 'movlpd', 'V,Mq', 'movlo', { pfx: '66', mod: 'mem' });
r2(0x12, 'movsldup', 'V,Wx', 'movdup', { pfx: 'F3', cc: 0 });
r2(0x12, 'movddup', 'V,Wq', 'movdup', { pfx: 'F2', cc: 2 });
r2(0x13, 'movlps', 'Mq,V', 'movlo', { pfx: 'np', mod: 'mem' });
r2(0x13, 'movlpd', 'Mq,V', 'movlo', { pfx: '66', mod: 'mem' });
r2(0x14, 'unpcklps', 'V,Wx', 'punpck', { pfx: 'np', cc: 0x04 });
r2(0x14, 'unpcklpd', 'V,Wx', 'punpck', { pfx: '66', cc: 0x08 });
r2(0x15, 'unpckhps', 'V,Wx', 'punpck', { pfx: 'np', cc: 0x14 });
r2(0x15, 'unpckhpd', 'V,Wx', 'punpck', { pfx: '66', cc: 0x18 });
r2(0x16, 'movlhps', 'V,U', 'movhl', { pfx: 'np', mod: 'reg', cc: 1 });
r2(0x16, 'movhps', 'V,Mq', 'movhi', { pfx: 'np', mod: 'mem' });
r2(0x16, 'movhpd', 'V,Mq', 'movhi', { pfx: '66', mod: 'mem' });
r2(0x16, 'movshdup', 'V,Wx', 'movdup', { pfx: 'F3', cc: 1 });
r2(0x17, 'movhps', 'Mq,V', 'movhi', { pfx: 'np', mod: 'mem' });
r2(0x17, 'movhpd', 'Mq,V', 'movhi', { pfx: '66', mod: 'mem' });
r2(0x28, 'movaps', 'V,Wx', 'movxa', { pfx: 'np' });
r2(0x28, 'movapd', 'V,Wx', 'movxa', { pfx: '66' });
r2(0x29, 'movaps', 'Wx,V', 'movxa', { pfx: 'np' });
r2(0x29, 'movapd', 'Wx,V', 'movxa', { pfx: '66' });
r2(0x2a, 'cvtsi2ss', 'V,Ey', 'cvtsi2f', { pfx: 'F3', cc: 4 });
r2(0x2a, 'cvtsi2sd', 'V,Ey', 'cvtsi2f', { pfx: 'F2', cc: 8 });
r2(0x2b, 'movntps', 'Mx,V', 'movxa', { pfx: 'np', mod: 'mem' });
r2(0x2b, 'movntpd', 'Mx,V', 'movxa', { pfx: '66', mod: 'mem' });
r2(0x2c, 'cvttss2si', 'Gy,Wd', 'cvtf2si', { pfx: 'F3', cc: 4 | 0x10 });
r2(0x2c, 'cvttsd2si', 'Gy,Wq', 'cvtf2si', { pfx: 'F2', cc: 8 | 0x10 });
r2(0x2d, 'cvtss2si', 'Gy,Wd', 'cvtf2si', { pfx: 'F3', cc: 4 });
r2(0x2d, 'cvtsd2si', 'Gy,Wq', 'cvtf2si', { pfx: 'F2', cc: 8 });
r2(0x2e, 'ucomiss', 'V,Wd', 'comis', { pfx: 'np', cc: 4 });
r2(0x2e, 'ucomisd', 'V,Wq', 'comis', { pfx: '66', cc: 8 });
r2(0x2f, 'comiss', 'V,Wd', 'comis', { pfx: 'np', cc: 4 | 0x10 });
r2(0x2f, 'comisd', 'V,Wq', 'comis', { pfx: '66', cc: 8 | 0x10 });
r2(0x50, 'movmskps', 'Gy,U', 'movmsk', { pfx: 'np', mod: 'reg', cc: 4 });
r2(0x50, 'movmskpd', 'Gy,U', 'movmsk', { pfx: '66', mod: 'reg', cc: 8 });
// Floating-point arithmetic: cc = (lane width) | (scalar ? 0x10 : 0); the op is in `sem`.
for (const [op, name] of [
  [0x51, 'sqrt'],
  [0x58, 'add'],
  [0x59, 'mul'],
  [0x5c, 'sub'],
  [0x5d, 'min'],
  [0x5e, 'div'],
  [0x5f, 'max'],
] as const) {
  r2(op, `${name}ps`, 'V,Wx', `f${name}`, { pfx: 'np', cc: 4 });
  r2(op, `${name}pd`, 'V,Wx', `f${name}`, { pfx: '66', cc: 8 });
  r2(op, `${name}ss`, 'V,Wd', `f${name}`, { pfx: 'F3', cc: 4 | 0x10 });
  r2(op, `${name}sd`, 'V,Wq', `f${name}`, { pfx: 'F2', cc: 8 | 0x10 });
}
r2(0x54, 'andps', 'V,Wx', 'plogic', { pfx: 'np', cc: 0 });
r2(0x54, 'andpd', 'V,Wx', 'plogic', { pfx: '66', cc: 0 });
r2(0x55, 'andnps', 'V,Wx', 'plogic', { pfx: 'np', cc: 1 });
r2(0x55, 'andnpd', 'V,Wx', 'plogic', { pfx: '66', cc: 1 });
r2(0x56, 'orps', 'V,Wx', 'plogic', { pfx: 'np', cc: 2 });
r2(0x56, 'orpd', 'V,Wx', 'plogic', { pfx: '66', cc: 2 });
r2(0x57, 'xorps', 'V,Wx', 'plogic', { pfx: 'np', cc: 3 });
r2(0x57, 'xorpd', 'V,Wx', 'plogic', { pfx: '66', cc: 3 });
r2(0x5a, 'cvtps2pd', 'V,Wq', 'cvtfp', { pfx: 'np', cc: 0 });
r2(0x5a, 'cvtpd2ps', 'V,Wx', 'cvtfp', { pfx: '66', cc: 1 });
r2(0x5a, 'cvtss2sd', 'V,Wd', 'cvtfp', { pfx: 'F3', cc: 2 });
r2(0x5a, 'cvtsd2ss', 'V,Wq', 'cvtfp', { pfx: 'F2', cc: 3 });
r2(0x5b, 'cvtdq2ps', 'V,Wx', 'cvtfp', { pfx: 'np', cc: 4 });
r2(0x5b, 'cvtps2dq', 'V,Wx', 'cvtfp', { pfx: '66', cc: 5 });
r2(0x5b, 'cvttps2dq', 'V,Wx', 'cvtfp', { pfx: 'F3', cc: 6 });
r2(0xe6, 'cvttpd2dq', 'V,Wx', 'cvtfp', { pfx: '66', cc: 7 });
r2(0xe6, 'cvtdq2pd', 'V,Wq', 'cvtfp', { pfx: 'F3', cc: 8 });
r2(0xe6, 'cvtpd2dq', 'V,Wx', 'cvtfp', { pfx: 'F2', cc: 9 });
r2(0x7c, 'haddpd', 'V,Wx', 'fhadd', { pfx: '66', cc: 8 });
r2(0x7c, 'haddps', 'V,Wx', 'fhadd', { pfx: 'F2', cc: 4 });
r2(0x7d, 'hsubpd', 'V,Wx', 'fhadd', { pfx: '66', cc: 8 | 0x10 });
r2(0x7d, 'hsubps', 'V,Wx', 'fhadd', { pfx: 'F2', cc: 4 | 0x10 });
r2(0xd0, 'addsubpd', 'V,Wx', 'faddsub', { pfx: '66', cc: 8 });
r2(0xd0, 'addsubps', 'V,Wx', 'faddsub', { pfx: 'F2', cc: 4 });
r2(0xc2, 'cmpps', 'V,Wx,Ib', 'fcmp', { pfx: 'np', cc: 4 });
r2(0xc2, 'cmppd', 'V,Wx,Ib', 'fcmp', { pfx: '66', cc: 8 });
r2(0xc2, 'cmpss', 'V,Wd,Ib', 'fcmp', { pfx: 'F3', cc: 4 | 0x10 });
r2(0xc2, 'cmpsd', 'V,Wq,Ib', 'fcmp', { pfx: 'F2', cc: 8 | 0x10 });
r2(0xc6, 'shufps', 'V,Wx,Ib', 'shufp', { pfx: 'np', cc: 4 });
r2(0xc6, 'shufpd', 'V,Wx,Ib', 'shufp', { pfx: '66', cc: 8 });
r2(0xf0, 'lddqu', 'V,Mx', 'movx', { pfx: 'F2', mod: 'mem' });
r2(0xf7, 'maskmovdqu', 'Yx,V,U', 'maskmov', { pfx: '66', mod: 'reg' }); // implicit destination [rDI]

// SSE2 integer (66 prefix; the no-prefix MMX forms are not implemented and decode as #UD).
// cc for shared handlers: lane width in bytes, plus variant bits documented in exec-sse.ts.
const P = (op: number, mnem: string, sem: string, cc: number, ops = 'V,Wx') =>
  r2(op, mnem, ops, sem, { pfx: '66', cc });
P(0x60, 'punpcklbw', 'punpck', 0x01);
P(0x61, 'punpcklwd', 'punpck', 0x02);
P(0x62, 'punpckldq', 'punpck', 0x04);
P(0x63, 'packsswb', 'pack', 0);
P(0x64, 'pcmpgtb', 'pcmpgt', 1);
P(0x65, 'pcmpgtw', 'pcmpgt', 2);
P(0x66, 'pcmpgtd', 'pcmpgt', 4);
P(0x67, 'packuswb', 'pack', 1);
P(0x68, 'punpckhbw', 'punpck', 0x11);
P(0x69, 'punpckhwd', 'punpck', 0x12);
P(0x6a, 'punpckhdq', 'punpck', 0x14);
P(0x6b, 'packssdw', 'pack', 2);
P(0x6c, 'punpcklqdq', 'punpck', 0x08);
P(0x6d, 'punpckhqdq', 'punpck', 0x18);
r2(0x6e, 'movd', 'V,Ey', 'movdToX', { pfx: '66' });
r2(0x6f, 'movdqa', 'V,Wx', 'movxa', { pfx: '66' });
r2(0x6f, 'movdqu', 'V,Wx', 'movx', { pfx: 'F3' });
r2(0x70, 'pshufd', 'V,Wx,Ib', 'pshuf', { pfx: '66', cc: 0 });
r2(0x70, 'pshufhw', 'V,Wx,Ib', 'pshuf', { pfx: 'F3', cc: 1 });
r2(0x70, 'pshuflw', 'V,Wx,Ib', 'pshuf', { pfx: 'F2', cc: 2 });
for (const [ext, name, cc] of [
  [2, 'psrlw', 0x02],
  [4, 'psraw', 0x12],
  [6, 'psllw', 0x22],
] as const)
  r2(0x71, name, 'U,Ib', 'pshiftI', { pfx: '66', ext, mod: 'reg', cc });
for (const [ext, name, cc] of [
  [2, 'psrld', 0x04],
  [4, 'psrad', 0x14],
  [6, 'pslld', 0x24],
] as const)
  r2(0x72, name, 'U,Ib', 'pshiftI', { pfx: '66', ext, mod: 'reg', cc });
r2(0x73, 'psrlq', 'U,Ib', 'pshiftI', { pfx: '66', ext: 2, mod: 'reg', cc: 0x08 });
r2(0x73, 'psrldq', 'U,Ib', 'pbshift', { pfx: '66', ext: 3, mod: 'reg', cc: 0 });
r2(0x73, 'psllq', 'U,Ib', 'pshiftI', { pfx: '66', ext: 6, mod: 'reg', cc: 0x28 });
r2(0x73, 'pslldq', 'U,Ib', 'pbshift', { pfx: '66', ext: 7, mod: 'reg', cc: 1 });
P(0x74, 'pcmpeqb', 'pcmpeq', 1);
P(0x75, 'pcmpeqw', 'pcmpeq', 2);
P(0x76, 'pcmpeqd', 'pcmpeq', 4);
r2(0x7e, 'movd', 'Ey,V', 'movdFromX', { pfx: '66' });
r2(0x7e, 'movq', 'V,Wq', 'movq', { pfx: 'F3' });
r2(0x7f, 'movdqa', 'Wx,V', 'movxa', { pfx: '66' });
r2(0x7f, 'movdqu', 'Wx,V', 'movx', { pfx: 'F3' });
r2(0xc4, 'pinsrw', 'V,Eyw,Ib', 'pinsr', { pfx: '66', cc: 2 });
r2(0xc5, 'pextrw', 'Gy,U,Ib', 'pextr', { pfx: '66', mod: 'reg', cc: 2 });
P(0xd1, 'psrlw', 'pshift', 0x02);
P(0xd2, 'psrld', 'pshift', 0x04);
P(0xd3, 'psrlq', 'pshift', 0x08);
P(0xd4, 'paddq', 'padd', 8);
P(0xd5, 'pmullw', 'pmul', 0);
r2(0xd6, 'movq', 'Wq,V', 'movq', { pfx: '66' });
r2(0xd7, 'pmovmskb', 'Gy,U', 'pmovmskb', { pfx: '66', mod: 'reg' });
P(0xd8, 'psubusb', 'paddsat', 0x11);
P(0xd9, 'psubusw', 'paddsat', 0x12);
P(0xda, 'pminub', 'pminmax', 0x01);
P(0xdb, 'pand', 'plogic', 0);
P(0xdc, 'paddusb', 'paddsat', 0x01);
P(0xdd, 'paddusw', 'paddsat', 0x02);
P(0xde, 'pmaxub', 'pminmax', 0x11);
P(0xdf, 'pandn', 'plogic', 1);
P(0xe0, 'pavgb', 'pavg', 1);
P(0xe1, 'psraw', 'pshift', 0x12);
P(0xe2, 'psrad', 'pshift', 0x14);
P(0xe3, 'pavgw', 'pavg', 2);
P(0xe4, 'pmulhuw', 'pmul', 1);
P(0xe5, 'pmulhw', 'pmul', 2);
r2(0xe7, 'movntdq', 'Mx,V', 'movxa', { pfx: '66', mod: 'mem' });
P(0xe8, 'psubsb', 'paddsat', 0x31);
P(0xe9, 'psubsw', 'paddsat', 0x32);
P(0xea, 'pminsw', 'pminmax', 0x22);
P(0xeb, 'por', 'plogic', 2);
P(0xec, 'paddsb', 'paddsat', 0x21);
P(0xed, 'paddsw', 'paddsat', 0x22);
P(0xee, 'pmaxsw', 'pminmax', 0x32);
P(0xef, 'pxor', 'plogic', 3);
P(0xf1, 'psllw', 'pshift', 0x22);
P(0xf2, 'pslld', 'pshift', 0x24);
P(0xf3, 'psllq', 'pshift', 0x28);
P(0xf4, 'pmuludq', 'pmul', 3);
P(0xf5, 'pmaddwd', 'pmul', 4);
P(0xf6, 'psadbw', 'psadbw', 0);
P(0xf8, 'psubb', 'psub', 1);
P(0xf9, 'psubw', 'psub', 2);
P(0xfa, 'psubd', 'psub', 4);
P(0xfb, 'psubq', 'psub', 8);
P(0xfc, 'paddb', 'padd', 1);
P(0xfd, 'paddw', 'padd', 2);
P(0xfe, 'paddd', 'padd', 4);

// ---- 0F 38 -----------------------------------------------------------------------------------------------

const P38 = (op: number, mnem: string, sem: string, cc: number, ops = 'V,Wx') =>
  r38(op, mnem, ops, sem, { pfx: '66', cc });
P38(0x00, 'pshufb', 'pshufb', 0);
P38(0x01, 'phaddw', 'phadd', 0x02);
P38(0x02, 'phaddd', 'phadd', 0x04);
P38(0x03, 'phaddsw', 'phadd', 0x22);
P38(0x04, 'pmaddubsw', 'pmul', 5);
P38(0x05, 'phsubw', 'phadd', 0x12);
P38(0x06, 'phsubd', 'phadd', 0x14);
P38(0x07, 'phsubsw', 'phadd', 0x32);
P38(0x08, 'psignb', 'psign', 1);
P38(0x09, 'psignw', 'psign', 2);
P38(0x0a, 'psignd', 'psign', 4);
P38(0x0b, 'pmulhrsw', 'pmul', 6);
// SSE4.1 variable blends take XMM0 as the implicit mask.
P38(0x10, 'pblendvb', 'pblendv', 1);
P38(0x14, 'blendvps', 'pblendv', 4);
P38(0x15, 'blendvpd', 'pblendv', 8);
P38(0x17, 'ptest', 'ptest', 0);
P38(0x1c, 'pabsb', 'pabs', 1);
P38(0x1d, 'pabsw', 'pabs', 2);
P38(0x1e, 'pabsd', 'pabs', 4);
for (const [op, name, cc, ops] of [
  [0x20, 'pmovsxbw', 0x112, 'V,Wq'],
  [0x21, 'pmovsxbd', 0x114, 'V,Wd'],
  [0x22, 'pmovsxbq', 0x118, 'V,Ww'],
  [0x23, 'pmovsxwd', 0x124, 'V,Wq'],
  [0x24, 'pmovsxwq', 0x128, 'V,Wd'],
  [0x25, 'pmovsxdq', 0x148, 'V,Wq'],
  [0x30, 'pmovzxbw', 0x012, 'V,Wq'],
  [0x31, 'pmovzxbd', 0x014, 'V,Wd'],
  [0x32, 'pmovzxbq', 0x018, 'V,Ww'],
  [0x33, 'pmovzxwd', 0x024, 'V,Wq'],
  [0x34, 'pmovzxwq', 0x028, 'V,Wd'],
  [0x35, 'pmovzxdq', 0x048, 'V,Wq'],
] as const)
  P38(op, name, 'pmovx', cc, ops);
P38(0x28, 'pmuldq', 'pmul', 7);
P38(0x29, 'pcmpeqq', 'pcmpeq', 8);
r38(0x2a, 'movntdqa', 'V,Mx', 'movxa', { pfx: '66', mod: 'mem' });
P38(0x2b, 'packusdw', 'pack', 3);
P38(0x37, 'pcmpgtq', 'pcmpgt', 8);
P38(0x38, 'pminsb', 'pminmax', 0x21);
P38(0x39, 'pminsd', 'pminmax', 0x24);
P38(0x3a, 'pminuw', 'pminmax', 0x02);
P38(0x3b, 'pminud', 'pminmax', 0x04);
P38(0x3c, 'pmaxsb', 'pminmax', 0x31);
P38(0x3d, 'pmaxsd', 'pminmax', 0x34);
P38(0x3e, 'pmaxuw', 'pminmax', 0x12);
P38(0x3f, 'pmaxud', 'pminmax', 0x14);
P38(0x40, 'pmulld', 'pmul', 8);
P38(0x41, 'phminposuw', 'phminposuw', 0);
// AES-NI (enclave crypto libraries use it for AES-GCM and key derivation).
P38(0xdb, 'aesimc', 'aes', 4);
P38(0xdc, 'aesenc', 'aes', 0);
P38(0xdd, 'aesenclast', 'aes', 1);
P38(0xde, 'aesdec', 'aes', 2);
P38(0xdf, 'aesdeclast', 'aes', 3);
// 0F 38 F0/F1: MOVBE without prefix (memory only), CRC32 with F2 (SSE4.2).
r38(0xf0, 'movbe', 'Gv,Mv', 'movbe', { pfx: 'np', mod: 'mem' });
r38(0xf1, 'movbe', 'Mv,Gv', 'movbe', { pfx: 'np', mod: 'mem' });
r38(0xf0, 'crc32', 'Gy,Eb', 'crc32', { pfx: 'F2' });
r38(0xf1, 'crc32', 'Gy,Ev', 'crc32', { pfx: 'F2' });

// ---- 0F 3A -----------------------------------------------------------------------------------------------

const P3A = (op: number, mnem: string, sem: string, cc: number, ops = 'V,Wx,Ib') =>
  r3a(op, mnem, ops, sem, { pfx: '66', cc });
P3A(0x08, 'roundps', 'fround', 4);
P3A(0x09, 'roundpd', 'fround', 8);
P3A(0x0a, 'roundss', 'fround', 4 | 0x10, 'V,Wd,Ib');
P3A(0x0b, 'roundsd', 'fround', 8 | 0x10, 'V,Wq,Ib');
P3A(0x0c, 'blendps', 'pblend', 4);
P3A(0x0d, 'blendpd', 'pblend', 8);
P3A(0x0e, 'pblendw', 'pblend', 2);
P3A(0x0f, 'palignr', 'palignr', 0);
P3A(0x14, 'pextrb', 'pextr', 1, 'Eyb,V,Ib');
P3A(0x15, 'pextrw', 'pextr', 2, 'Eyw,V,Ib');
P3A(0x16, 'pextrd', 'pextr', 4, 'Ey,V,Ib');
P3A(0x17, 'extractps', 'pextr', 5, 'Eyd,V,Ib');
P3A(0x20, 'pinsrb', 'pinsr', 1, 'V,Eyb,Ib');
P3A(0x21, 'insertps', 'insertps', 0, 'V,Wd,Ib');
P3A(0x22, 'pinsrd', 'pinsr', 4, 'V,Ey,Ib');
P3A(0x40, 'dpps', 'fdp', 4);
P3A(0x41, 'dppd', 'fdp', 8);
P3A(0x42, 'mpsadbw', 'mpsadbw', 0);
P3A(0x44, 'pclmulqdq', 'pclmul', 0);
P3A(0xdf, 'aeskeygenassist', 'aeskeygen', 0);
// SSE4.2 string compares: cc bit 0 = index (I) vs mask (M) output, bit 1 = explicit lengths in rAX/rDX.
P3A(0x60, 'pcmpestrm', 'pcmpstr', 2);
P3A(0x61, 'pcmpestri', 'pcmpstr', 3);
P3A(0x62, 'pcmpistrm', 'pcmpstr', 0);
P3A(0x63, 'pcmpistri', 'pcmpstr', 1);

/** Every row of the table, in declaration order. */
export const OPCODES: readonly OpRow[] = rows;
