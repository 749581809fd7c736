// The sgxsim command line (node only). Each subcommand lives in its own file and registers itself here.
import { Command, CommanderError } from 'commander';
import { registerDisasm } from './disasm';
import { registerExec } from './exec';

export function buildProgram(): Command {
  const program = new Command('sgxsim')
    .description('An executable, deterministic model of Intel SGX on Linux')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  registerExec(program);
  registerDisasm(program);
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 1;
    // User-facing errors carry a one-line message; anything else is a simulator bug and keeps its stack.
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`sgxsim: ${msg}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv);
