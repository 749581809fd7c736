/** `sgxsim keygen <key.pem>`: a new enclave signing key, RSA-3072 with public exponent 3. */
import type { Command } from 'commander';
import { toHex } from '../hw/index';
import { generateSigningKeyPem, nodeBackend, parseSigningKeyPem } from '../node/index';
import { mrSignerOfKey } from '../sdk/index';
import { checkOutput, writeOutput } from './files';
import type { CliIo } from './io';

export interface KeygenOptions {
  readonly force?: boolean;
}

export function keygenCommand(path: string, options: KeygenOptions, io: CliIo): void {
  const force = options.force ?? false;
  checkOutput(path, force);
  const pem = generateSigningKeyPem();
  const key = parseSigningKeyPem(pem);
  writeOutput(path, pem, { force, mode: 0o600 });
  io.stdout(`wrote ${path} (RSA-3072, exponent 3)\nMRSIGNER   ${toHex(mrSignerOfKey(nodeBackend, key.n))}\n`);
}

export function registerKeygen(program: Command, io: CliIo): void {
  program
    .command('keygen')
    .description('write a new enclave signing key (RSA-3072, public exponent 3) as a PEM file')
    .argument('<key.pem>', 'where to write the private key (mode 0600)')
    .option('--force', 'overwrite an existing file')
    .action((path: string, options: KeygenOptions) => keygenCommand(path, options, io));
}
