/** Runs the sgxsim command line in-process, through commander exactly as bin/sgxsim does, capturing its output. */
import { main } from '../../src/cli/main';

export interface CliResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runCli(...args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const status = await main(['node', 'sgxsim', ...args], {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
  });
  return { status, stdout, stderr };
}

/** A failed run: exit status 1, nothing on stdout unless asked, and exactly one line on stderr. */
export function expectOneLineError(r: CliResult, message: string): void {
  if (r.status !== 1) throw new Error(`exit status got ${r.status}, want 1 (stderr: ${r.stderr})`);
  if (r.stderr !== `sgxsim: ${message}\n`)
    throw new Error(`stderr got ${JSON.stringify(r.stderr)}, want "sgxsim: ${message}\\n"`);
}
