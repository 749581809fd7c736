import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/cli-error';
import { SigningKeyError } from '../../src/sdk/index';

describe('CliError', () => {
  it('has a stable code per problem and serialises to plain JSON', () => {
    const e = new CliError({ kind: 'file-exists', path: 'k.pem' });
    expect(e.code).toBe('FILE_EXISTS');
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      name: 'CliError',
      code: 'FILE_EXISTS',
      message: 'k.pem: already exists (use --force to overwrite it)',
      data: { kind: 'file-exists', path: 'k.pem' },
    });
  });

  it('reports an SDK error about a file under the SDK error’s code, naming the file, with the SDK error as cause', () => {
    const inner = new SigningKeyError({ kind: 'exponent', exponent: '65537' });
    let err: unknown;
    try {
      CliError.about('k.pem', () => {
        throw inner;
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CliError);
    const e = err as CliError;
    expect([e.code, e.message, e.cause]).toEqual([
      'SIGNING_KEY',
      'k.pem: the RSA public exponent is 65537; SIGSTRUCT needs exponent 3',
      inner,
    ]);
  });

  it('lets errors that are not SDK errors (simulator bugs) pass through unchanged', () => {
    const bug = new TypeError('boom');
    expect(() =>
      CliError.about('x', () => {
        throw bug;
      }),
    ).toThrow(bug);
  });
});
