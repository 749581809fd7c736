import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  AbortReason,
  CALL_BLOCK,
  ECALL_ENTRY,
  EDGE_ALIGN,
  EnclCommand,
  EnclStatus,
  OCALL_NO_SCRATCH,
  RUNTIME_ABI_VERSION,
  RUNTIME_MAGIC,
  RUNTIME_META,
  RuntimeThreads,
  threadBlockOffset,
} from '../../src/sdk/index';
import { compileWith, RUNTIME_INCLUDE } from '../enclaves/native-enclave';
import { hasGcc } from '../util/native';

// src/sdk/runtime-abi.ts mirrors enclaves/runtime/include/encl/abi.h. The oracle is the C compiler: a program
// built from the header prints every constant and every offsetof(), and each TypeScript value must match.
const FIELDS = {
  encl_call_block: [
    'in',
    'in_len',
    'out',
    'out_len',
    'scratch',
    'scratch_len',
    'status',
    'ret',
    'ocall_index',
    'ocall_in_len',
    'ocall_out_off',
    'ocall_out_len',
    'reserved',
  ],
  encl_rt_meta: [
    'magic',
    'version',
    'nr_tcs',
    'tcs',
    'nssa',
    'ssa_frame_pages',
    'thread_size',
    'threads',
    'entry',
    'heap',
    'heap_size',
    'enclave_size',
    'edge_buf_size',
    'stack_size',
    'call_block_size',
    'nr_ecalls',
    'ecalls',
    'nr_ocalls',
    'ocalls',
  ],
  encl_ecall: ['fn', 'name'],
} as const;

const CONSTANTS = [
  'ENCL_ABI_VERSION',
  'ENCL_RT_MAGIC',
  'ENCL_CMD_ECALL',
  'ENCL_CMD_ORET',
  'ENCL_CMD_EXCEPTION',
  'ENCL_STATUS_OK',
  'ENCL_STATUS_OCALL',
  'ENCL_STATUS_EXCEPTION_HANDLED',
  'ENCL_STATUS_EXCEPTION_ABORTED',
  'ENCL_STATUS_ABORT',
  'ENCL_STATUS_DEAD',
  'ENCL_STATUS_BAD_COMMAND',
  'ENCL_STATUS_BAD_STATE',
  'ENCL_STATUS_BAD_ECALL',
  'ENCL_STATUS_BAD_POINTER',
  'ENCL_STATUS_TOO_LARGE',
  'ENCL_STATUS_BAD_TCS',
  'ENCL_ABORT_EXCEPTION',
  'ENCL_ABORT_RUNTIME',
  'ENCL_PANIC_CODE_MASK',
  'ENCL_PANIC_RDRAND',
  'ENCL_PANIC_OCALL_INDEX',
  'ENCL_PANIC_OCALL_CONTEXT',
  'ENCL_OCALL_NO_SCRATCH',
  'ENCL_EDGE_ALIGN',
  'ENCL_NR_TCS',
  'ENCL_NSSA',
  'ENCL_SSA_FRAME_PAGES',
  'ENCL_THREAD_SIZE',
  'ENCL_TB_SSA',
  'ENCL_TB_EDGE_BUF',
  'ENCL_EDGE_BUF_SIZE',
  'ENCL_TB_STACK',
  'ENCL_STACK_SIZE',
  'ENCL_TB_STACK_TOP',
  'ENCL_TB_XSTACK_TOP',
  'ENCL_TB_TD',
  'ENCL_TD_SIZE',
  'ENCL_HEAP_SIZE',
  'ENCL_CB_SIZE',
  'ENCL_CB_ALIGN',
  'ENCL_META_SIZE',
] as const;

function cProgram(): string {
  const lines: string[] = [];
  for (const c of CONSTANTS) lines.push(`\tprintf("${c} %lld\\n", (long long)(${c}));`);
  for (const [struct, fields] of Object.entries(FIELDS)) {
    lines.push(`\tprintf("sizeof ${struct} %zu\\n", sizeof(struct ${struct}));`);
    for (const f of fields) {
      lines.push(
        `\tprintf("field ${struct}.${f} %zu %zu\\n", offsetof(struct ${struct}, ${f}), sizeof(((struct ${struct} *)0)->${f}));`,
      );
    }
  }
  return `#include <stdio.h>\n#include <stddef.h>\n#include "encl/abi.h"\nint main(void)\n{\n${lines.join('\n')}\n\treturn 0;\n}\n`;
}

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

describe.skipIf(!hasGcc())('src/sdk/runtime-abi.ts against the C header enclaves/runtime/include/encl/abi.h', () => {
  const out = execFileSync(compileWith(cProgram(), [], [RUNTIME_INCLUDE])).toString();
  const values = new Map<string, bigint>();
  const fields = new Map<string, [number, number]>();
  for (const line of out.trim().split('\n')) {
    const [kind, name, a, b] = line.split(' ') as [string, string, string, string | undefined];
    if (kind === 'field') fields.set(name, [Number(a), Number(b)]);
    else if (kind === 'sizeof') values.set(`sizeof ${name}`, BigInt(a));
    else values.set(kind, BigInt.asUintN(64, BigInt(name)));
  }
  const c = (name: string) => {
    const v = values.get(name);
    if (v === undefined) throw new Error(`the C program printed no ${name}`);
    return v;
  };
  const u64 = (v: bigint | number) => BigInt.asUintN(64, BigInt(v));

  it('has the same version, magic, commands and statuses', () => {
    expect(u64(RUNTIME_ABI_VERSION)).toBe(c('ENCL_ABI_VERSION'));
    expect(RUNTIME_MAGIC).toBe(c('ENCL_RT_MAGIC'));
    expect(Buffer.from(RUNTIME_MAGIC.toString(16), 'hex').reverse().toString(), 'magic spells SGXSIMRT').toBe(
      'SGXSIMRT',
    );
    for (const [k, v] of Object.entries(EnclCommand)) expect(u64(v), k).toBe(c(`ENCL_CMD_${k}`));
    for (const [k, v] of Object.entries(EnclStatus)) expect(u64(v), k).toBe(c(`ENCL_STATUS_${k}`));
    expect(Object.keys(EnclStatus).length, 'every C status has a TypeScript name').toBe(
      CONSTANTS.filter((n) => n.startsWith('ENCL_STATUS_')).length,
    );
  });

  it('has the same abort reasons, ocall sentinel and edge alignment', () => {
    expect(AbortReason.EXCEPTION).toBe(c('ENCL_ABORT_EXCEPTION'));
    expect(AbortReason.RUNTIME).toBe(c('ENCL_ABORT_RUNTIME'));
    expect(AbortReason.PANIC_CODE_MASK).toBe(c('ENCL_PANIC_CODE_MASK'));
    expect(AbortReason.RDRAND).toBe(c('ENCL_PANIC_RDRAND'));
    expect(AbortReason.OCALL_INDEX).toBe(c('ENCL_PANIC_OCALL_INDEX'));
    expect(AbortReason.OCALL_CONTEXT).toBe(c('ENCL_PANIC_OCALL_CONTEXT'));
    expect(u64(OCALL_NO_SCRATCH)).toBe(c('ENCL_OCALL_NO_SCRATCH'));
    expect(u64(EDGE_ALIGN)).toBe(c('ENCL_EDGE_ALIGN'));
  });

  it('has the same thread-block convention', () => {
    const pairs: [keyof typeof RuntimeThreads, string][] = [
      ['NR_TCS', 'ENCL_NR_TCS'],
      ['NSSA', 'ENCL_NSSA'],
      ['SSA_FRAME_PAGES', 'ENCL_SSA_FRAME_PAGES'],
      ['THREAD_SIZE', 'ENCL_THREAD_SIZE'],
      ['SSA', 'ENCL_TB_SSA'],
      ['EDGE_BUF', 'ENCL_TB_EDGE_BUF'],
      ['EDGE_BUF_SIZE', 'ENCL_EDGE_BUF_SIZE'],
      ['STACK', 'ENCL_TB_STACK'],
      ['STACK_SIZE', 'ENCL_STACK_SIZE'],
      ['STACK_TOP', 'ENCL_TB_STACK_TOP'],
      ['XSTACK_TOP', 'ENCL_TB_XSTACK_TOP'],
      ['THREAD_DATA', 'ENCL_TB_TD'],
      ['THREAD_DATA_SIZE', 'ENCL_TD_SIZE'],
      ['HEAP_SIZE', 'ENCL_HEAP_SIZE'],
    ];
    for (const [ts, name] of pairs) expect(u64(RuntimeThreads[ts]), ts).toBe(c(name));
    expect(Object.keys(RuntimeThreads).length, 'no TypeScript-only thread constant').toBe(pairs.length);
  });

  it.each([
    ['encl_call_block', CALL_BLOCK],
    ['encl_rt_meta', RUNTIME_META],
    ['encl_ecall', ECALL_ENTRY],
  ] as const)('lays out %s field by field as the C struct', (struct, layout) => {
    expect(BigInt(layout.size), 'size').toBe(c(`sizeof ${struct}`));
    expect(
      layout.fields.map((f) => snake(f.name)),
      'field names',
    ).toEqual(FIELDS[struct]);
    for (const f of layout.fields) {
      expect([f.offset, f.size], `${struct}.${snake(f.name)} offset and size`).toEqual(
        fields.get(`${struct}.${snake(f.name)}`),
      );
    }
    if (struct === 'encl_call_block') {
      expect(BigInt(layout.size)).toBe(c('ENCL_CB_SIZE'));
      expect(BigInt(layout.align)).toBe(c('ENCL_CB_ALIGN'));
    }
    if (struct === 'encl_rt_meta') expect(BigInt(layout.size)).toBe(c('ENCL_META_SIZE'));
  });
});

describe('threadBlockOffset: the TCS → thread block convention', () => {
  const meta = { nrTcs: 2, threads: 0x8000, threadSize: 0x8000, enclaveSize: 0x40000 };

  it('gives static TCS i block i of the image’s thread area', () => {
    expect(threadBlockOffset(0, meta)).toBe(0x8000);
    expect(threadBlockOffset(0x1000, meta)).toBe(0x10000);
  });

  it('gives any other TCS the aligned block just below it', () => {
    expect(threadBlockOffset(0x30000, meta)).toBe(0x28000);
    expect(threadBlockOffset(0x38000, meta)).toBe(0x30000);
  });

  it('refuses a TCS that is not thread-size aligned or whose page leaves the enclave size', () => {
    expect(threadBlockOffset(0x31000, meta)).toBeNull();
    expect(threadBlockOffset(0x40000, meta)).toBeNull();
  });
});
