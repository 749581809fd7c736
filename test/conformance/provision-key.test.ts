/**
 * PROVISIONKEY end to end (linux-driver.md §2.3, §2.4; arch/x86/kernel/cpu/sgx/ioctl.c; SDM Vol. 3D §41.3
 * EGETKEY): an enclave whose SECS and SIGSTRUCT ask for ATTRIBUTES.PROVISIONKEY initializes only after
 * ENCLAVE_PROVISION with an fd of /dev/sgx_provision, and then gets the provisioning key from EGETKEY; an enclave
 * without the attribute gets SGX_INVALID_ATTRIBUTE. The keys are compared with each other along the dependencies
 * the SDM's EGETKEY pseudo-code lists for PROVISION_KEY (MRSIGNER, not MRENCLAVE, KEYID or KEYPOLICY).
 *
 * The enclave is seal.elf, whose `getkey` ecall runs EGETKEY with the host's KEYREQUEST as is
 * (enclaves/README.md): it returns 16 and the key, or -0x1000 - the EGETKEY status.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SGX_IOC_ENCLAVE_INIT, SGX_IOC_ENCLAVE_PROVISION } from '../../src/driver/index';
import { AttrFlags } from '../../src/hw/index';
import { Libc, O_RDONLY, type Sys } from '../../src/kernel/index';
import { nodeBackend, readSigningKey } from '../../src/node/index';
import {
  buildEnclaveLayout,
  buildEnclaveWithDriver,
  type EnclaveLayout,
  type LoadedEnclave,
  mapEnclaveSegments,
  measureEnclave,
  signSigstruct,
} from '../../src/sdk/index';
import { ecallNames, readMeta } from '../enclaves/native-enclave';
import { elf, platform, ROOT, Run } from '../vdso/fixture';
import { ecall } from '../vdso/runtime-call';

const SEAL = 'seal.elf';
const GETKEY = ecallNames(elf(SEAL)).indexOf('getkey');
const HEAP = Number(readMeta(elf(SEAL)).heapSize);

// KEYREQUEST.KEYNAME and KEYPOLICY bits (SDM Vol. 3D §38.17 "Key Request (KEYREQUEST)").
const PROVISION = 1;
const PROVISION_SEAL = 2;
const SEAL_KEY = 4;
const POLICY_MRENCLAVE = 1;
const POLICY_MRSIGNER = 2;
/** SGX_INVALID_ATTRIBUTE (SDM Vol. 3D §40.1.4 "Error Codes"). */
const SGX_INVALID_ATTRIBUTE = 2;
/** seal.elf's refusal: SEAL_E_KEY - status (enclaves/seal/blob.h). */
const refused = (status: number) => BigInt(-0x1000 - status);
/** asm-generic/errno-base.h. */
const EACCES = 13;

const SELFTEST_KEY = readSigningKey(join(ROOT, 'test/fixtures/selftest-sign_key.pem'));
const DEMO_KEY = readSigningKey(join(ROOT, 'enclaves/keys/demo-key.pem'));
const WANTS_PROVISION = AttrFlags.MODE64BIT | AttrFlags.PROVISIONKEY;

/**
 * seal.elf laid out with `heapPages` of heap (the heap is EADDed, so it changes MRENCLAVE) and signed by `key`;
 * with `provisionKey`, the SIGSTRUCT asks for PROVISIONKEY and EINIT compares it (ATTRIBUTEMASK covers it).
 */
function sealImage(o: { key?: typeof SELFTEST_KEY; heap?: number; provisionKey: boolean }) {
  const layout = buildEnclaveLayout(elf(SEAL), { heapSize: o.heap ?? HEAP });
  const sigstruct = signSigstruct(nodeBackend, o.key ?? SELFTEST_KEY, {
    enclaveHash: measureEnclave(nodeBackend, layout),
    ...(o.provisionKey ? { attributes: WANTS_PROVISION, attributeMask: WANTS_PROVISION | AttrFlags.DEBUG } : {}),
  });
  return { layout, sigstruct };
}

/** u64 little-endian argument structs of the uAPI: struct sgx_enclave_provision { fd }, sgx_enclave_init { sigstruct }. */
async function u64Arg(libc: Libc, v: number): Promise<number> {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return libc.bytes(b);
}

/** SGX_IOC_ENCLAVE_PROVISION with a fresh fd of /dev/sgx_provision. @returns the ioctl's return. */
async function provision(sys: Sys, libc: Libc, fd: number): Promise<number> {
  const pfd = await libc.open('/dev/sgx_provision', O_RDONLY);
  if (pfd < 0) throw new Error(`open /dev/sgx_provision: ${pfd}`);
  return sys.ioctl(fd, SGX_IOC_ENCLAVE_PROVISION, await u64Arg(libc, pfd));
}

/** SGX_IOC_ENCLAVE_INIT with `sigstruct` (page aligned, as libc.bytes gives). @returns the ioctl's return. */
async function init(sys: Sys, libc: Libc, fd: number, sigstruct: Uint8Array): Promise<number> {
  return sys.ioctl(fd, SGX_IOC_ENCLAVE_INIT, await u64Arg(libc, await libc.bytes(sigstruct)));
}

interface Built extends LoadedEnclave {
  readonly layout: EnclaveLayout;
}

/** CREATE (SECS.ATTRIBUTES `attributes`) and ADD_PAGES, stopping before INIT (load.c's encl_build() order). */
async function create(sys: Sys, libc: Libc, img: ReturnType<typeof sealImage>, attributes: bigint): Promise<Built> {
  const e = await buildEnclaveWithDriver(sys, libc, { ...img, attributes, noInit: true });
  return { ...e, layout: img.layout };
}

/** A KEYREQUEST (SDM Vol. 3D §38.17, Table 38-23): KEYNAME @0, KEYPOLICY @2, ISVSVN @4, CPUSVN @8, KEYID @40; rest 0. */
function keyRequest(keyName: number, keyPolicy = 0, keyIdByte = 0): Uint8Array {
  const b = new Uint8Array(512);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, keyName, true);
  dv.setUint16(2, keyPolicy, true);
  b.fill(keyIdByte, 40, 72);
  return b;
}

/** The enclave's EGETKEY through the getkey ecall on TCS #0: the key as hex, or the ecall's negative return. */
async function getKey(sys: Sys, libc: Libc, e: Built, req: Uint8Array): Promise<string | bigint> {
  const run = await Run.alloc(sys, libc, e.base);
  const r = await ecall(sys, libc, run, GETKEY, req, 16);
  if (r.status !== 0n) throw new Error(`getkey: runtime status ${r.status}`);
  const ret = BigInt.asIntN(64, r.value);
  return ret === 16n ? Buffer.from(r.out.subarray(0, 16)).toString('hex') : ret;
}

async function scenario(body: (sys: Sys, libc: Libc) => Promise<void>): Promise<void> {
  const p = platform({ epcPages: 512 });
  let failure: unknown;
  p.k.spawn(async (sys) => {
    try {
      await body(sys, new Libc(sys));
    } catch (e) {
      failure = e;
    }
    return 0;
  });
  await p.k.run({ maxSteps: 5_000_000 });
  if (failure) throw failure;
}

describe('ENCLAVE_PROVISION, EINIT and EGETKEY(PROVISION)', () => {
  it('EINIT of a PROVISIONKEY enclave is EACCES without ENCLAVE_PROVISION; after it the retried EINIT succeeds and EGETKEY(PROVISION) gives a key', async () => {
    const log: string[] = [];
    await scenario(async (sys, libc) => {
      const img = sealImage({ provisionKey: true });
      const e = await create(sys, libc, img, WANTS_PROVISION);
      // sgx_encl_init(): "if (encl->attributes & ~encl->attributes_mask) return -EACCES;" before any EINIT.
      log.push(`init ${await init(sys, libc, e.fd, img.sigstruct)}`);
      // sgx_ioc_enclave_provision() works in any state: PROVISIONKEY joins attributes_mask (sgx_set_attribute()).
      log.push(`provision ${await provision(sys, libc, e.fd)}`);
      log.push(`init ${await init(sys, libc, e.fd, img.sigstruct)}`);
      await mapEnclaveSegments(sys, e, e.layout.segments);
      const k = await getKey(sys, libc, e, keyRequest(PROVISION));
      log.push(`provision key ${typeof k === 'string' ? `${k.length / 2} bytes` : k}`);
    });
    expect(log).toEqual([`init ${-EACCES}`, 'provision 0', 'init 0', 'provision key 16 bytes']);
  });

  it('the provisioning key depends on MRSIGNER and KEYNAME, not on MRENCLAVE, KEYID or KEYPOLICY (EGETKEY PROVISION_KEY dependencies)', async () => {
    const keys: Record<string, string | bigint> = {};
    await scenario(async (sys, libc) => {
      const provisioned = async (o: Parameters<typeof sealImage>[0]) => {
        const img = sealImage(o);
        const e = await create(sys, libc, img, WANTS_PROVISION);
        expect(await provision(sys, libc, e.fd)).toBe(0);
        expect(await init(sys, libc, e.fd, img.sigstruct)).toBe(0);
        await mapEnclaveSegments(sys, e, e.layout.segments);
        return e;
      };
      const a = await provisioned({ provisionKey: true });
      // Another MRENCLAVE (one more heap page is one more EADD), the same signer.
      const b = await provisioned({ provisionKey: true, heap: HEAP + 4096 });
      // Another signer, so another MRSIGNER.
      const c = await provisioned({ provisionKey: true, key: DEMO_KEY });
      keys.a = await getKey(sys, libc, a, keyRequest(PROVISION));
      keys.aPolicyKeyId = await getKey(sys, libc, a, keyRequest(PROVISION, POLICY_MRENCLAVE, 0x5a));
      keys.aPolicy2 = await getKey(sys, libc, a, keyRequest(PROVISION, POLICY_MRSIGNER, 0xa5));
      keys.b = await getKey(sys, libc, b, keyRequest(PROVISION));
      keys.c = await getKey(sys, libc, c, keyRequest(PROVISION));
      keys.aProvisionSeal = await getKey(sys, libc, a, keyRequest(PROVISION_SEAL, POLICY_MRSIGNER));
      keys.aSealMrsigner = await getKey(sys, libc, a, keyRequest(SEAL_KEY, POLICY_MRSIGNER));
      // Seal keys bound to MRENCLAVE tell a and b apart: their MRENCLAVEs really differ.
      keys.aSealMrenclave = await getKey(sys, libc, a, keyRequest(SEAL_KEY, POLICY_MRENCLAVE));
      keys.bSealMrenclave = await getKey(sys, libc, b, keyRequest(SEAL_KEY, POLICY_MRENCLAVE));
    });
    for (const [name, k] of Object.entries(keys)) expect(typeof k, name).toBe('string');
    // "TMP_KEYDEPENDENCIES.MRENCLAVE ← 0; KEYID ← 0": neither the enclave's measurement nor the request's KEYID
    // and KEYPOLICY enter the provisioning key.
    expect(keys.aPolicyKeyId, 'KEYID and KEYPOLICY ignored').toBe(keys.a);
    expect(keys.aPolicy2, 'KEYID and KEYPOLICY ignored').toBe(keys.a);
    expect(keys.aSealMrenclave, 'a and b have different MRENCLAVEs').not.toBe(keys.bSealMrenclave);
    expect(keys.b, 'same MRSIGNER, another MRENCLAVE: the same key').toBe(keys.a);
    // "TMP_KEYDEPENDENCIES.MRSIGNER ← TMP_CURRENTSECS.MRSIGNER"
    expect(keys.c, 'another MRSIGNER: another key').not.toBe(keys.a);
    // KEYNAME is a dependency of every key.
    expect(new Set([keys.a, keys.aProvisionSeal, keys.aSealMrsigner]).size, 'PROVISION, PROVISION_SEAL, SEAL').toBe(3);
  });

  it('an enclave without ATTRIBUTES.PROVISIONKEY gets SGX_INVALID_ATTRIBUTE for PROVISION and PROVISION_SEAL, even after ENCLAVE_PROVISION', async () => {
    const log: string[] = [];
    await scenario(async (sys, libc) => {
      const img = sealImage({ provisionKey: false });
      const e = await create(sys, libc, img, AttrFlags.MODE64BIT);
      // ENCLAVE_PROVISION only allows the attribute (attributes_mask); it does not give it to the SECS.
      log.push(`provision ${await provision(sys, libc, e.fd)}`);
      log.push(`init ${await init(sys, libc, e.fd, img.sigstruct)}`);
      await mapEnclaveSegments(sys, e, e.layout.segments);
      // EGETKEY: "IF (TMP_CURRENTSECS.ATTRIBUTES.PROVISIONKEY = 0) THEN RFLAGS.ZF ← 1; RAX ← SGX_INVALID_ATTRIBUTE".
      log.push(`PROVISION ${await getKey(sys, libc, e, keyRequest(PROVISION))}`);
      log.push(`PROVISION_SEAL ${await getKey(sys, libc, e, keyRequest(PROVISION_SEAL, POLICY_MRSIGNER))}`);
      const seal = await getKey(sys, libc, e, keyRequest(SEAL_KEY, POLICY_MRSIGNER));
      log.push(`SEAL ${typeof seal === 'string' ? 'ok' : seal}`);
    });
    expect(log).toEqual([
      'provision 0',
      'init 0',
      `PROVISION ${refused(SGX_INVALID_ATTRIBUTE)}`,
      `PROVISION_SEAL ${refused(SGX_INVALID_ATTRIBUTE)}`,
      'SEAL ok',
    ]);
  });
});
