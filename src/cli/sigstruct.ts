/** `sgxsim sigstruct <file>`: dump every field of a SIGSTRUCT and verify it as EINIT would. */
import type { Command } from 'commander';
import { nodeBackend } from '../node/index';
import { formatSigstruct, inspectSigstruct, sigstructToJson } from '../sdk/index';
import { CliError } from './cli-error';
import { readInput } from './files';
import type { CliIo } from './io';

export interface SigstructOptions {
  readonly json?: boolean;
}

/** Prints the SIGSTRUCT; a SIGSTRUCT that fails a check is printed, then reported as an error (exit status 1). */
export function sigstructCommand(path: string, options: SigstructOptions, io: CliIo): void {
  const bytes = readInput(path);
  const info = CliError.about(path, () => inspectSigstruct(nodeBackend, bytes));
  io.stdout(
    options.json
      ? `${JSON.stringify({ file: path, ...sigstructToJson(info) }, null, 2)}\n`
      : `${formatSigstruct(info)}\n`,
  );
  if (!info.valid) {
    const failed = info.checks.filter((c) => !c.ok).map((c) => c.name);
    throw new CliError({ kind: 'sigstruct-invalid', path, failed });
  }
}

export function registerSigstruct(program: Command, io: CliIo): void {
  program
    .command('sigstruct')
    .description('dump a SIGSTRUCT and check its headers, exponent, signature and Q1/Q2; print MRSIGNER')
    .argument('<file>', '1808-byte SIGSTRUCT')
    .option('--json', 'print JSON')
    .action((path: string, options: SigstructOptions) => sigstructCommand(path, options, io));
}
