// The sgxsim command line (node only). Each subcommand lives in its own file and registers itself here.
import { Command, CommanderError } from 'commander';
import { ElfError, isSdkError } from '../sdk/index';
import { CliError } from './cli-error';
import { registerDemo } from './demo';
import { registerDisasm } from './disasm';
import { registerExec } from './exec';
import { type CliIo, processIo } from './io';
import { registerKeygen } from './keygen';
import { registerMeasure } from './measure';
import { registerPs } from './ps';
import { registerRun } from './run';
import { registerSign } from './sign';
import { registerSigstruct } from './sigstruct';
import { registerStats } from './stats';

export function buildProgram(io: CliIo = processIo): Command {
  const program = new Command('sgxsim')
    .description('An executable, deterministic model of Intel SGX on Linux')
    .version('0.1.0')
    .exitOverride()
    // Subcommands inherit this: commander's own errors (unknown option, missing argument, bad value) come out
    // as one "sgxsim: …" line, like ours.
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
      outputError: (s, write) =>
        write(
          `sgxsim: ${s
            .replace(/^error: /, '')
            .trim()
            .replace(/\s*\n\s*/g, ' ')}\n`,
        ),
    });
  registerMeasure(program, io);
  registerSign(program, io);
  registerSigstruct(program, io);
  registerKeygen(program, io);
  registerExec(program, io);
  registerDisasm(program, io);
  registerDemo(program, io);
  registerPs(program, io);
  registerRun(program, io);
  registerStats(program, io);
  return program;
}

/** Bad input the user can fix; anything else escaping a command is a simulator bug. */
function isUserError(e: unknown): e is Error {
  return e instanceof CliError || isSdkError(e) || e instanceof ElfError;
}

/** Runs the command line and returns the exit status. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 1;
    if (isUserError(e)) {
      io.stderr(`sgxsim: ${e.message}\n`);
      return 1;
    }
    // A simulator bug: keep the stack.
    io.stderr(`sgxsim: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}
