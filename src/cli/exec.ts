// `sgxsim exec`: runs one function of a freestanding static-pie ELF on the interpreter (System V ABI) and
// prints RAX, XMM0, the instruction count and why execution stopped.
import type { Command } from 'commander';
import { callFunction, describeFault, type StopReason } from '../hw/index';
import { loadFlatElf } from '../sdk/index';
import { CliError } from './cli-error';
import { readInput } from './files';
import type { CliIo } from './io';

/** Parses a u64 argument: decimal, 0x-hex, or a negative decimal (two's complement). */
export function parseU64(text: string): bigint {
  const usage = (message: string) => new CliError({ kind: 'usage', message });
  if (!/^(-?\d+|0x[0-9a-fA-F]+)$/.test(text)) throw usage(`--arg '${text}' is not an integer (decimal or 0x-hex)`);
  const v = BigInt(text);
  if (v < -(1n << 63n) || v >= 1n << 64n) throw usage(`--arg '${text}' does not fit in 64 bits`);
  return BigInt.asUintN(64, v);
}

/** A `--double` value: a finite or special JavaScript number literal (`1.5`, `-2e-3`, `inf`, `nan`). */
export function parseF64(text: string): number {
  const special: Record<string, number> = { inf: Infinity, '+inf': Infinity, '-inf': -Infinity, nan: Number.NaN };
  const s = special[text.toLowerCase()];
  if (s !== undefined) return s;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text))
    throw new CliError({ kind: 'usage', message: `--double '${text}' is not a number` });
  return Number(text);
}

function stopText(s: StopReason): string {
  switch (s.kind) {
    case 'budget':
      return 'instruction budget spent';
    case 'fault':
      return `${s.trap ? 'trap' : 'fault'} ${describeFault(s.fault)}`;
    case 'syscall':
      return 'SYSCALL';
    case 'enclu':
      return `ENCLU leaf ${s.leaf}`;
    case 'encls':
      return `ENCLS leaf ${s.leaf}`;
    case 'hlt':
      return 'HLT';
    case 'int':
      return `INT 0x${s.vector.toString(16)}`;
    default: {
      const _exhaustive: never = s;
      return String(_exhaustive);
    }
  }
}

export interface ExecResult {
  readonly rax: bigint;
  readonly xmm0: bigint;
  readonly instructions: number;
  readonly returned: boolean;
  readonly stop: string;
  readonly rip: number;
}

/** Loads `bytes`, calls `symbol` with integer `args`, returns the outcome. Throws a one-line Error on bad input. */
export function execElf(
  bytes: Uint8Array,
  symbol: string,
  args: readonly bigint[],
  budget: number,
  doubles: readonly number[] = [],
): ExecResult {
  // System V AMD64 ABI §3.2.3: six INTEGER registers and eight SSE registers; the rest would go on the stack.
  if (args.length > 6)
    throw new CliError({ kind: 'usage', message: `at most 6 --arg values are supported (got ${args.length})` });
  if (doubles.length > 8)
    throw new CliError({ kind: 'usage', message: `at most 8 --double values are supported (got ${doubles.length})` });
  const prog = loadFlatElf(bytes);
  const addr = prog.symbol(symbol);
  const out = callFunction(prog.cpu, addr, { ints: args, doubles, stackTop: prog.stackTop, budget });
  const c = prog.cpu;
  const xmm0 = new BigUint64Array(c.xmmBuf.slice(0, 8))[0]!;
  return {
    rax: c.getReg64(0),
    xmm0,
    instructions: out.executed,
    returned: out.kind === 'returned',
    stop: out.kind === 'returned' ? 'returned' : stopText(out.stop),
    rip: c.rip,
  };
}

/** commander's accumulator for a repeatable option. */
const collect = (v: string, acc: string[]) => [...acc, v];

export function registerExec(program: Command, io: CliIo): void {
  program
    .command('exec')
    .description('run a function of a freestanding static-pie ELF on the x86-64 interpreter')
    .argument('<elf>', 'static-pie ELF file')
    .requiredOption('--call <symbol>', 'function to call')
    .option('--arg <u64>', 'integer argument (repeatable; RDI, RSI, RDX, RCX, R8, R9)', collect, [])
    .option('--double <f64>', 'floating argument (repeatable; XMM0-XMM7)', collect, [])
    .option('--budget <n>', 'maximum number of instructions', '1000000000')
    .option('--json', 'print the result as JSON')
    .action((file: string, opts: { call: string; arg: string[]; double: string[]; budget: string; json?: boolean }) => {
      const args = opts.arg.map(parseU64);
      const doubles = opts.double.map(parseF64);
      const budget = Number(opts.budget);
      if (!Number.isSafeInteger(budget) || budget <= 0)
        throw new CliError({ kind: 'usage', message: `--budget '${opts.budget}' is not a positive integer` });
      const bytes = readInput(file);
      const r = execElf(bytes, opts.call, args, budget, doubles);
      const f64 = new Float64Array(new BigUint64Array([r.xmm0]).buffer)[0]!;
      if (opts.json) {
        io.stdout(
          `${JSON.stringify({
            rax: `0x${r.rax.toString(16)}`,
            raxSigned: BigInt.asIntN(64, r.rax).toString(),
            xmm0: `0x${r.xmm0.toString(16)}`,
            xmm0Double: Number.isFinite(f64) ? f64 : String(f64),
            instructions: r.instructions,
            returned: r.returned,
            stop: r.stop,
            rip: `0x${r.rip.toString(16)}`,
          })}\n`,
        );
      } else {
        io.stdout(
          `rax          0x${r.rax.toString(16)} (${BigInt.asIntN(64, r.rax)})\n` +
            `xmm0         0x${r.xmm0.toString(16).padStart(16, '0')} (${f64})\n` +
            `instructions ${r.instructions}\n` +
            `stop         ${r.stop}${r.returned ? '' : ` at rip 0x${r.rip.toString(16)}`}\n`,
        );
      }
      // Exit status 2 tells scripts the function did not return normally.
      if (!r.returned) process.exitCode = 2;
    });
}
