/** `sgxsim ps`: runs the sharing scenario and prints ps with the enclave details while all three processes map it. */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { formatSgxPs } from '../driver/index';
import { nodeBackend, readSigningKey } from '../node/index';
import { buildEnclaveLayout, measureEnclave, signSigstruct } from '../sdk/index';
import { bootPlatform } from '../vdso/index';
import type { CliIo } from './io';
import { ROOT } from './root';
import { runShareScenario } from './share-scenario';

export async function psCommand(io: CliIo): Promise<void> {
  const crypto = nodeBackend;
  const layout = buildEnclaveLayout(new Uint8Array(readFileSync(join(ROOT, 'enclaves/prebuilt/sample.elf'))));
  const key = readSigningKey(join(ROOT, 'enclaves/keys/demo-key.pem'));
  const sigstruct = signSigstruct(crypto, key, { enclaveHash: measureEnclave(crypto, layout) });
  const system = bootPlatform({ crypto, epcPages: 256, seed: 'sgxsim-ps' });
  io.stdout(
    'Process A built the sample enclave, forked B and sent the fd to C over SCM_RIGHTS; each touched a page:\n\n',
  );
  await runShareScenario({
    system,
    layout,
    sigstruct,
    whileMapped: async () => io.stdout(formatSgxPs(system.sgx)),
  });
}

export function registerPs(program: Command, io: CliIo): void {
  program
    .command('ps')
    .description(
      'run a small enclave-sharing scenario and print processes, their enclave maps and fds, and the enclaves',
    )
    .action(() => psCommand(io));
}
