/** `sgxsim sign <enclave.elf> --key <key.pem> -o <file.sigstruct>`: measure an enclave and sign it. */
import type { Command } from 'commander';
import { computeMrSigner, toHex } from '../hw/index';
import { nodeBackend, parseSigningKeyPem } from '../node/index';
import { DEFAULT_HEAP_SIZE, measureEnclave, signSigstruct } from '../sdk/index';
import { CliError } from './cli-error';
import { checkOutput, readInput, writeOutput } from './files';
import type { CliIo } from './io';
import { loadEnclave } from './measure';
import { parseBcdDate, parsePageBytes, parseU16 } from './options';

export interface SignOptions {
  readonly key: string;
  readonly output: string;
  readonly heap?: number;
  readonly date?: number;
  readonly isvprodid?: number;
  readonly isvsvn?: number;
  readonly force?: boolean;
  readonly json?: boolean;
}

export function signCommand(path: string, options: SignOptions, io: CliIo): void {
  const force = options.force ?? false;
  checkOutput(options.output, force);
  const layout = loadEnclave(path, options.heap ?? DEFAULT_HEAP_SIZE);
  const pem = new TextDecoder('latin1').decode(readInput(options.key));
  const key = CliError.about(options.key, () => parseSigningKeyPem(pem));
  const mrenclave = measureEnclave(nodeBackend, layout);
  // Other fields keep the selftests' values (SELFTEST_SIGSTRUCT_DEFAULTS); DATE defaults to 0 so a signature is
  // reproducible, as in the selftests.
  const sig = signSigstruct(nodeBackend, key, {
    enclaveHash: mrenclave,
    date: options.date ?? 0,
    isvProdId: options.isvprodid ?? 0,
    isvSvn: options.isvsvn ?? 0,
  });
  writeOutput(options.output, sig, { force });
  const mrsigner = toHex(computeMrSigner(nodeBackend, sig));
  if (options.json) {
    const out = { file: path, output: options.output, mrenclave: toHex(mrenclave), mrsigner, size: layout.size };
    io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  io.stdout(`wrote ${options.output} (${sig.length} bytes)\nMRENCLAVE  ${toHex(mrenclave)}\nMRSIGNER   ${mrsigner}\n`);
}

export function registerSign(program: Command, io: CliIo): void {
  program
    .command('sign')
    .description('measure an enclave ELF and write its SIGSTRUCT signed with an RSA-3072 e=3 key')
    .argument('<enclave.elf>', 'static-pie enclave ELF (first PT_LOAD = TCS pages)')
    .requiredOption('--key <key.pem>', 'PEM private key (PKCS#1 or PKCS#8), RSA-3072 with exponent 3')
    .requiredOption('-o, --output <file.sigstruct>', 'where to write the 1808-byte SIGSTRUCT')
    .option('--heap <bytes>', 'unmeasured heap after the image, a multiple of 4096', parsePageBytes, DEFAULT_HEAP_SIZE)
    .option('--date <yyyymmdd>', 'SIGSTRUCT.DATE (default 0, as the selftests)', parseBcdDate)
    .option('--isvprodid <n>', 'ISVPRODID (0..65535)', parseU16)
    .option('--isvsvn <n>', 'ISVSVN (0..65535)', parseU16)
    .option('--force', 'overwrite an existing output file')
    .option('--json', 'print JSON')
    .action((path: string, options: SignOptions) => signCommand(path, options, io));
}
