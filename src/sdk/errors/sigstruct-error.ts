import { SdkError } from './sdk-error';

/** A SIGSTRUCT field value the signer cannot encode, or bytes that are not a SIGSTRUCT at all. */
export type SigstructProblem =
  | { readonly kind: 'field'; readonly field: string; readonly reason: string }
  | { readonly kind: 'size'; readonly size: number };

function describe(p: SigstructProblem): string {
  switch (p.kind) {
    case 'field':
      return `SIGSTRUCT ${p.field}: ${p.reason}`;
    case 'size':
      return `a SIGSTRUCT is 1808 bytes, this is ${p.size}`;
    default: {
      const _exhaustive: never = p;
      return String(_exhaustive);
    }
  }
}

/** Bad SIGSTRUCT input: an out-of-range field for the signer, or a wrong-sized blob for the decoder. */
export class SigstructError extends SdkError<'SIGSTRUCT', SigstructProblem> {
  readonly code = 'SIGSTRUCT';
  override readonly name = 'SigstructError';

  constructor(problem: SigstructProblem, options?: { cause?: unknown }) {
    super(describe(problem), problem, options);
  }
}
