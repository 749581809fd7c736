/**
 * A native register harness: runs a machine-code snippet on the host CPU with chosen GPRs and RFLAGS, and
 * dumps the GPRs and RFLAGS afterwards. Snippets use RAX, RCX, RDX, RBX, RSI, RDI and R8-R11 only (the
 * trampoline owns RSP, RBP and R12-R15). The same snippet runs in the interpreter for comparison.
 */
import { execFileSync } from 'node:child_process';
import { createCpu, FlatAddressSpace, RETURN_SENTINEL, run } from '../../../../src/hw/index';
import { compileC } from '../../../util/native';

/** Registers a snippet may use (encoding numbers). */
export const TEST_REGS = [0, 1, 2, 3, 6, 7, 8, 9, 10, 11];

const DRIVER = String.raw`
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
typedef unsigned long u64;
/* state: 16 GPRs (RAX..R15 order, RSP/RBP/R12-R15 ignored), RFLAGS at index 16, XMM0-15 at 17..48 (lo, hi) */
extern void tramp(u64 *s, void *code);
#define X(n, off) "movdqu " #off "(%r12), %xmm" #n "\n"
#define XMM_LOAD X(0,136) X(1,152) X(2,168) X(3,184) X(4,200) X(5,216) X(6,232) X(7,248) X(8,264) X(9,280) X(10,296) X(11,312) X(12,328) X(13,344) X(14,360) X(15,376)
#define Y(n, off) "movdqu %xmm" #n ", " #off "(%r12)\n"
#define XMM_SAVE Y(0,136) Y(1,152) Y(2,168) Y(3,184) Y(4,200) Y(5,216) Y(6,232) Y(7,248) Y(8,264) Y(9,280) Y(10,296) Y(11,312) Y(12,328) Y(13,344) Y(14,360) Y(15,376)
__asm__(
  ".text\n.globl tramp\ntramp:\n"
  "push %rbx\npush %rbp\npush %r12\npush %r13\npush %r14\npush %r15\n"
  "mov %rdi, %r12\nmov %rsi, %r13\n"
  "pushq 128(%r12)\npopfq\n"
  "mov 0(%r12), %rax\nmov 8(%r12), %rcx\nmov 16(%r12), %rdx\nmov 24(%r12), %rbx\n"
  "mov 48(%r12), %rsi\nmov 56(%r12), %rdi\nmov 64(%r12), %r8\nmov 72(%r12), %r9\n"
  "mov 80(%r12), %r10\nmov 88(%r12), %r11\n"
  XMM_LOAD
  "call *%r13\n"
  "pushfq\npopq 128(%r12)\n"
  "mov %rax, 0(%r12)\nmov %rcx, 8(%r12)\nmov %rdx, 16(%r12)\nmov %rbx, 24(%r12)\n"
  "mov %rsi, 48(%r12)\nmov %rdi, 56(%r12)\nmov %r8, 64(%r12)\nmov %r9, 72(%r12)\n"
  "mov %r10, 80(%r12)\nmov %r11, 88(%r12)\n"
  XMM_SAVE
  "pop %r15\npop %r14\npop %r13\npop %r12\npop %rbp\npop %rbx\nret\n");
static int nib(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }
int main(void) {
  unsigned char *code = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  static char hex[512], dhex[8192]; u64 s[49];
  while (scanf("%511s %8191s", hex, dhex) == 2) {
    /* data bytes (or "-") go at code + 2048, where RIP-relative operands of the snippet point */
    if (dhex[0] != '-') for (size_t i = 0; i < strlen(dhex) / 2; i++) code[2048 + i] = (unsigned char)(nib(dhex[2 * i]) << 4 | nib(dhex[2 * i + 1]));
    for (int k = 0; k < 49; k++) if (scanf("%lx", &s[k]) != 1) return 1;
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) code[i] = (unsigned char)(nib(hex[2 * i]) << 4 | nib(hex[2 * i + 1]));
    code[n] = 0xc3;
    tramp(s, code);
    for (int k = 0; k < 49; k++) printf("%lx ", s[k]);
    printf("\n");
  }
  return 0;
}
`;

export interface RegCase {
  readonly code: Uint8Array;
  /** 16 GPR values. */
  readonly regs: readonly bigint[];
  readonly flags: number;
  /** XMM0-15 as 32 u64 halves (low, high); zeros when absent. */
  readonly xmm?: readonly bigint[];
  /** Bytes placed 2048 bytes after the code (reachable RIP-relative from the snippet). */
  readonly data?: Uint8Array;
}

export interface RegResult {
  readonly regs: bigint[];
  readonly flags: number;
  readonly xmm: bigint[];
}

/** Runs every case natively in one process. */
export function runNativeRegs(cases: readonly RegCase[]): RegResult[] {
  const bin = compileC(DRIVER, ['-O1']);
  const input = cases
    .map(
      (c) =>
        `${Buffer.from(c.code).toString('hex')} ${c.data?.length ? Buffer.from(c.data).toString('hex') : '-'} ${c.regs.map((r) => r.toString(16)).join(' ')} ${c.flags.toString(16)} ${(c.xmm ?? Array(32).fill(0n)).map((r) => r.toString(16)).join(' ')}`,
    )
    .join('\n');
  const out = execFileSync(bin, [], { input: `${input}\n`, maxBuffer: 1 << 26 })
    .toString()
    .trim()
    .split('\n');
  return out.map((l) => {
    const v = l
      .trim()
      .split(' ')
      .map((x) => BigInt(`0x${x}`));
    return { regs: v.slice(0, 16), flags: Number(v[16]), xmm: v.slice(17, 49) };
  });
}

const CODE = 0x40_0000;
const STACK = 0x7000_0000;

/** Runs one case in the interpreter, or (jit) through the block compiler on first use. */
export function runInterpRegs(c: RegCase, jit = false): RegResult & { stop: string } {
  const space = new FlatAddressSpace();
  space.map(CODE, 4096, { exec: true, write: true });
  if (c.data) space.write(CODE + 2048, c.data);
  space.map(STACK - 65536, 65536, { write: true });
  space.write(CODE, Uint8Array.from([...c.code, 0xc3]));
  const cpu = createCpu({ mem: space.mem, pageTable: space, jit, jitThreshold: 0 });
  for (const [k, v] of c.regs.entries()) cpu.setReg64(k, v);
  cpu.setFlags(c.flags);
  const xv = new BigUint64Array(cpu.xmmBuf);
  (c.xmm ?? []).forEach((v, k) => {
    xv[k] = v;
  });
  cpu.m.wr64(STACK - 8, (RETURN_SENTINEL % 2 ** 32) | 0, Math.floor(RETURN_SENTINEL / 2 ** 32));
  cpu.setRegNum(4, STACK - 8);
  cpu.rip = CODE;
  const res = run(cpu, 1000);
  const s = res.stop;
  const returned = s.kind === 'fault' && s.fault.vector === 14 && s.fault.addr === RETURN_SENTINEL;
  const regs: bigint[] = [];
  for (let k = 0; k < 16; k++) regs.push(cpu.getReg64(k));
  return {
    regs,
    flags: cpu.getFlags(),
    xmm: [...new BigUint64Array(cpu.xmmBuf)],
    stop: returned ? 'returned' : JSON.stringify(s),
  };
}
