/**
 * Reading inputs and writing outputs without losing data: inputs are only read; an output is written to a
 * temporary file in the same directory and then linked into place, which fails if the target exists (unless
 * --force, where it is renamed over it), so an existing file is never truncated or half-written.
 */
import { linkSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CliError } from './cli-error';

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such directory',
  ENOTDIR: 'a path component is not a directory',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  EISDIR: 'is a directory',
};

/** Reads a whole input file. @throws CliError file-not-found, is-a-directory or unreadable. */
export function readInput(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'ENOENT') throw new CliError({ kind: 'file-not-found', path }, { cause: e });
    if (code === 'EISDIR') throw new CliError({ kind: 'is-a-directory', path }, { cause: e });
    throw new CliError({ kind: 'unreadable', path, reason: REASONS[code ?? ''] ?? code ?? String(e) }, { cause: e });
  }
}

/**
 * Fails early, before expensive work, when `path` exists and may not be overwritten or its directory is missing.
 * writeOutput() checks again when it writes.
 * @throws CliError file-exists or write-failed.
 */
export function checkOutput(path: string, force: boolean): void {
  let exists = true;
  try {
    statSync(path);
  } catch {
    exists = false;
  }
  if (exists && !force) throw new CliError({ kind: 'file-exists', path });
  try {
    if (!statSync(dirname(path)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (e) {
    const code = errnoOf(e);
    throw new CliError({ kind: 'write-failed', path, reason: REASONS[code ?? ''] ?? code ?? String(e) }, { cause: e });
  }
}

/**
 * Writes an output file atomically.
 * @param force replace an existing file (atomically); without it an existing file is an error.
 * @throws CliError file-exists or write-failed.
 */
export function writeOutput(path: string, data: Uint8Array | string, options: { force: boolean; mode?: number }): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, data, { flag: 'wx', mode: options.mode ?? 0o644 });
  } catch (e) {
    const code = errnoOf(e);
    throw new CliError({ kind: 'write-failed', path, reason: REASONS[code ?? ''] ?? code ?? String(e) }, { cause: e });
  }
  try {
    if (options.force) renameSync(tmp, path);
    else linkSync(tmp, path); // link(2) refuses to replace an existing file: no clobbering even in a race.
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'EEXIST') throw new CliError({ kind: 'file-exists', path }, { cause: e });
    throw new CliError({ kind: 'write-failed', path, reason: REASONS[code ?? ''] ?? code ?? String(e) }, { cause: e });
  } finally {
    rmSync(tmp, { force: true });
  }
}
