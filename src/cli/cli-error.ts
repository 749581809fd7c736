/**
 * Errors the sgxsim command reports to its user: a file it cannot read or write, an existing output file it will
 * not overwrite, a SIGSTRUCT that does not verify, or an SDK error about a file's contents (bad ELF, bad key, bad
 * SIGSTRUCT). main.ts prints `message` as one line and exits with status 1. Like the SDK errors: a stable
 * `code`, a plain-data `data`, an optional `cause` and `toJSON()` (STYLE.md practice 13).
 */
import { isSdkError } from '../sdk/index';

export type CliProblem =
  | { readonly kind: 'file-not-found'; readonly path: string }
  | { readonly kind: 'is-a-directory'; readonly path: string }
  | { readonly kind: 'unreadable'; readonly path: string; readonly reason: string }
  | { readonly kind: 'file-exists'; readonly path: string }
  | { readonly kind: 'write-failed'; readonly path: string; readonly reason: string }
  | { readonly kind: 'sigstruct-invalid'; readonly path: string; readonly failed: readonly string[] }
  /** A bad option value or combination the option parser could not catch on its own. */
  | { readonly kind: 'usage'; readonly message: string }
  /** An SDK error about the contents of `path`; `code` is the SDK error's code. */
  | { readonly kind: 'bad-input'; readonly path: string; readonly code: string; readonly detail: string };

const CODES = {
  'file-not-found': 'FILE_NOT_FOUND',
  'is-a-directory': 'IS_A_DIRECTORY',
  unreadable: 'FILE_UNREADABLE',
  'file-exists': 'FILE_EXISTS',
  'write-failed': 'WRITE_FAILED',
  'sigstruct-invalid': 'SIGSTRUCT_INVALID',
  usage: 'USAGE',
  'bad-input': 'BAD_INPUT',
} as const satisfies Record<CliProblem['kind'], string>;

function describe(p: CliProblem): string {
  switch (p.kind) {
    case 'file-not-found':
      return `${p.path}: no such file`;
    case 'is-a-directory':
      return `${p.path}: is a directory`;
    case 'unreadable':
      return `${p.path}: cannot read (${p.reason})`;
    case 'file-exists':
      return `${p.path}: already exists (use --force to overwrite it)`;
    case 'write-failed':
      return `${p.path}: cannot write (${p.reason})`;
    case 'sigstruct-invalid':
      return `${p.path}: SIGSTRUCT does not verify (failed: ${p.failed.join(', ')})`;
    case 'usage':
      return p.message;
    case 'bad-input':
      return `${p.path}: ${p.detail}`;
    default: {
      const _exhaustive: never = p;
      return String(_exhaustive);
    }
  }
}

export class CliError extends Error {
  override readonly name = 'CliError';
  /** FILE_NOT_FOUND, …, or for `bad-input` the SDK error's code (ENCLAVE_LAYOUT, SIGNING_KEY, SIGSTRUCT). */
  readonly code: string;

  constructor(
    readonly data: CliProblem,
    options?: { cause?: unknown },
  ) {
    super(describe(data), options);
    this.code = data.kind === 'bad-input' ? data.code : CODES[data.kind];
  }

  /** Runs `f` on the contents of `path`, reporting an SDK error as a CliError that names the file. */
  static about<T>(path: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (isSdkError(e)) throw new CliError({ kind: 'bad-input', path, code: e.code, detail: e.message }, { cause: e });
      throw e;
    }
  }

  toJSON(): { name: string; code: string; message: string; data: CliProblem } {
    return { name: this.name, code: this.code, message: this.message, data: this.data };
  }
}
