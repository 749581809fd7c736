// struct sgx_enclave_run's layout against the installed uAPI header, compiled with gcc.
import { describe, expect, it } from 'vitest';
import { SGX_ENCLAVE_RUN } from '../../src/vdso/index';
import { hasGcc, runC } from '../util/native';

describe('struct sgx_enclave_run', () => {
  it.skipIf(!hasGcc())('matches <asm/sgx.h>: size and every field’s offset and size', () => {
    const lines = [`printf("size %zu\\n", sizeof(struct sgx_enclave_run));`];
    for (const f of SGX_ENCLAVE_RUN.fields)
      lines.push(
        `printf("${f.name} %zu %zu\\n", offsetof(struct sgx_enclave_run, ${f.name}), sizeof(((struct sgx_enclave_run *)0)->${f.name}));`,
      );
    const c = `#include <stdio.h>\n#include <stddef.h>\n#include <asm/sgx.h>\nint main(void){\n${lines.join('\n')}\nreturn 0;}\n`;
    const ours = [
      `size ${SGX_ENCLAVE_RUN.size}`,
      ...SGX_ENCLAVE_RUN.fields.map((f) => `${f.name} ${f.offset} ${f.size}`),
    ];
    expect(runC(c)).toBe(`${ours.join('\n')}\n`);
  });

  it('is the documented 256 bytes with the reserved tail from offset 40 (linux-driver.md §5)', () => {
    expect(SGX_ENCLAVE_RUN.size).toBe(256);
    expect(SGX_ENCLAVE_RUN.fields.at(-1)).toMatchObject({ name: 'reserved', offset: 40, size: 216 });
  });
});
