/**
 * Native oracles for tests: compile C with the host gcc and run it. Builds are cached by content hash in the OS
 * temp directory, so repeated runs cost one compile.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CACHE_DIR = join(tmpdir(), 'sgxsim-test-cache');

export function hasGcc(): boolean {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Compiles `source` with `flags` and returns the path of the binary (or object, with -c). */
export function compileC(source: string, flags: readonly string[] = ['-O2'], ext = ''): string {
  mkdirSync(CACHE_DIR, { recursive: true });
  const key = createHash('sha256').update(source).update('\0').update(flags.join(' ')).digest('hex').slice(0, 24);
  const out = join(CACHE_DIR, `${key}${ext}`);
  if (existsSync(out)) return out;
  const src = join(CACHE_DIR, `${key}.c`);
  writeFileSync(src, source);
  const tmp = `${out}.${process.pid}.tmp`;
  execFileSync('gcc', [...flags, '-o', tmp, src], { stdio: ['ignore', 'ignore', 'pipe'] });
  renameSync(tmp, out);
  return out;
}

/** Compiles and runs a C program, returning its stdout. */
export function runC(
  source: string,
  flags: readonly string[] = ['-O2'],
  args: readonly string[] = [],
  input?: Uint8Array,
): string {
  const bin = compileC(source, flags);
  return execFileSync(bin, args, { input, maxBuffer: 1 << 28 }).toString();
}

/** Runs a command and returns stdout as bytes. */
export function runTool(cmd: string, args: readonly string[], input?: Uint8Array): Buffer {
  return execFileSync(cmd, args, { input, maxBuffer: 1 << 28 });
}
