import { SdkError } from './sdk-error';

/** Why a key cannot sign a SIGSTRUCT, which needs RSA-3072 with public exponent 3 (SDM Vol. 3D §38.13). */
export type SigningKeyProblem =
  | { readonly kind: 'read'; readonly detail: string }
  | { readonly kind: 'not-a-private-key'; readonly detail: string }
  | { readonly kind: 'encrypted' }
  | { readonly kind: 'not-rsa'; readonly keyType: string }
  | { readonly kind: 'modulus-size'; readonly bits: number }
  | { readonly kind: 'exponent'; readonly exponent: string }
  | { readonly kind: 'inconsistent' };

function describe(p: SigningKeyProblem): string {
  switch (p.kind) {
    case 'read':
      return p.detail;
    case 'not-a-private-key':
      return `not a PEM private key (${p.detail})`;
    case 'encrypted':
      return 'the private key is encrypted; give an unencrypted PEM key';
    case 'not-rsa':
      return `the key is ${p.keyType}, not RSA; SIGSTRUCT needs an RSA-3072 key with exponent 3`;
    case 'modulus-size':
      return `the RSA modulus has ${p.bits} bits; SIGSTRUCT needs exactly 3072`;
    case 'exponent':
      return `the RSA public exponent is ${p.exponent}; SIGSTRUCT needs exponent 3`;
    case 'inconsistent':
      return 'the RSA private key is inconsistent (its signature does not verify against its modulus)';
    default: {
      const _exhaustive: never = p;
      return String(_exhaustive);
    }
  }
}

/** A key that cannot be used to sign an enclave. */
export class SigningKeyError extends SdkError<'SIGNING_KEY', SigningKeyProblem> {
  readonly code = 'SIGNING_KEY';
  override readonly name = 'SigningKeyError';

  constructor(problem: SigningKeyProblem, options?: { cause?: unknown }) {
    super(describe(problem), problem, options);
  }
}
