/**
 * The driver's uAPI against the installed header: gcc compiles a program that prints sizeof/offsetof of every
 * struct in <asm/sgx.h> and the value of every ioctl number and flag; our layout data must match.
 */
import { describe, expect, it } from 'vitest';
import * as d from '../../../src/driver/index';
import type { Layout } from '../../../src/hw/index';
import { hasGcc, runC } from '../../util/native';

const STRUCTS: Array<[string, Layout]> = [
  ['sgx_enclave_create', d.SGX_ENCLAVE_CREATE],
  ['sgx_enclave_add_pages', d.SGX_ENCLAVE_ADD_PAGES],
  ['sgx_enclave_init', d.SGX_ENCLAVE_INIT],
  ['sgx_enclave_provision', d.SGX_ENCLAVE_PROVISION],
  ['sgx_enclave_restrict_permissions', d.SGX_ENCLAVE_RESTRICT_PERMISSIONS],
  ['sgx_enclave_modify_types', d.SGX_ENCLAVE_MODIFY_TYPES],
  ['sgx_enclave_remove_pages', d.SGX_ENCLAVE_REMOVE_PAGES],
];

const NUMBERS: Array<[string, number]> = [
  ['SGX_MAGIC', d.SGX_MAGIC],
  ['SGX_PAGE_MEASURE', d.SGX_PAGE_MEASURE],
  ['SGX_IOC_ENCLAVE_CREATE', d.SGX_IOC_ENCLAVE_CREATE],
  ['SGX_IOC_ENCLAVE_ADD_PAGES', d.SGX_IOC_ENCLAVE_ADD_PAGES],
  ['SGX_IOC_ENCLAVE_INIT', d.SGX_IOC_ENCLAVE_INIT],
  ['SGX_IOC_ENCLAVE_PROVISION', d.SGX_IOC_ENCLAVE_PROVISION],
  ['SGX_IOC_VEPC_REMOVE_ALL', d.SGX_IOC_VEPC_REMOVE_ALL],
  ['SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS', d.SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS],
  ['SGX_IOC_ENCLAVE_MODIFY_TYPES', d.SGX_IOC_ENCLAVE_MODIFY_TYPES],
  ['SGX_IOC_ENCLAVE_REMOVE_PAGES', d.SGX_IOC_ENCLAVE_REMOVE_PAGES],
];

function program(): string {
  const lines: string[] = [];
  for (const [name, l] of STRUCTS) {
    lines.push(`printf("${name} size %zu\\n", sizeof(struct ${name}));`);
    for (const f of l.fields) lines.push(`printf("${name}.${f.name} %zu\\n", offsetof(struct ${name}, ${f.name}));`);
  }
  for (const [name] of NUMBERS) lines.push(`printf("${name} %lu\\n", (unsigned long)(${name}));`);
  return `#include <stdio.h>\n#include <stddef.h>\n#include <asm/sgx.h>\nint main(void){\n${lines.join('\n')}\nreturn 0;}\n`;
}

function ours(): string {
  const out: string[] = [];
  for (const [name, l] of STRUCTS) {
    out.push(`${name} size ${l.size}`);
    for (const f of l.fields) out.push(`${name}.${f.name} ${f.offset}`);
  }
  for (const [name, v] of NUMBERS) out.push(`${name} ${v}`);
  return `${out.join('\n')}\n`;
}

describe('SGX uAPI layouts and ioctl numbers', () => {
  it.skipIf(!hasGcc())('match <asm/sgx.h> compiled with gcc', () => {
    expect(ours()).toBe(runC(program()));
  });

  it('are the documented encodings (linux-driver.md §2)', () => {
    expect(d.SGX_IOC_ENCLAVE_CREATE).toBe(0x4008a400);
    expect(d.SGX_IOC_ENCLAVE_ADD_PAGES).toBe(0xc030a401);
    expect(d.SGX_IOC_ENCLAVE_INIT).toBe(0x4008a402);
    expect(d.SGX_IOC_ENCLAVE_PROVISION).toBe(0x4008a403);
    expect(d.SGX_IOC_VEPC_REMOVE_ALL).toBe(0xa404);
    expect(d.SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS).toBe(0xc028a405);
    expect(d.SGX_IOC_ENCLAVE_MODIFY_TYPES).toBe(0xc028a406);
    expect(d.SGX_IOC_ENCLAVE_REMOVE_PAGES).toBe(0xc018a407);
  });
});
