/**
 * The base of every SDK error: bad user input (an enclave ELF that breaks the layout rules, an unusable
 * signing key, a malformed SIGSTRUCT), never a CPU fault, an SGX status code or an errno (DESIGN.md §7).
 * Modelled on isomorphic-git's BaseError: a stable string `code`, a plain-data `data` payload that says
 * which problem it is, an optional `cause`, and `toJSON()` so the error crosses a worker boundary intact.
 */
export abstract class SdkError<Code extends string, Data extends { readonly kind: string }> extends Error {
  abstract readonly code: Code;

  protected constructor(
    message: string,
    readonly data: Data,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJSON(): { name: string; code: Code; message: string; data: Data } {
    return { name: this.name, code: this.code, message: this.message, data: this.data };
  }
}

/** True for the SDK's user-input errors (as opposed to simulator bugs). */
export function isSdkError(e: unknown): e is SdkError<string, { readonly kind: string }> {
  return e instanceof SdkError;
}
