/**
 * Every documented error path of the /dev/sgx_enclave ioctls (linux-driver.md §2, ioctl.c), one row per rule, in
 * the order the driver checks them. Each row runs in a fresh system, as a host program, against an enclave in a
 * given state, and names the errno the uAPI documents.
 */
import { describe, expect, it } from 'vitest';
import {
  SGX_ENCL_DEBUG,
  SGX_ENCLAVE_ADD_PAGES,
  SGX_ENCLAVE_CREATE,
  SGX_ENCLAVE_MODIFY_TYPES,
  SGX_ENCLAVE_REMOVE_PAGES,
  SGX_ENCLAVE_RESTRICT_PERMISSIONS,
  SGX_IOC_ENCLAVE_ADD_PAGES,
  SGX_IOC_ENCLAVE_CREATE,
  SGX_IOC_ENCLAVE_INIT,
  SGX_IOC_ENCLAVE_MODIFY_TYPES,
  SGX_IOC_ENCLAVE_PROVISION,
  SGX_IOC_ENCLAVE_REMOVE_PAGES,
  SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS,
  SGX_IOC_VEPC_REMOVE_ALL,
  type Sgx,
  type SgxEncl,
} from '../../../src/driver/index';
import {
  AttrFlags,
  EnclsLeaf,
  encls,
  encode,
  PAGE_SIZE,
  SECINFO,
  type SgxFeatures,
  SIGSTRUCT,
  setField,
  TCS,
} from '../../../src/hw/index';
import {
  type FileOperations,
  type Kernel,
  Libc,
  MAP_PRIVATE,
  O_RDONLY,
  O_RDWR,
  PROT_READ,
  SIGUSR1,
  type Sys,
  VM_MAYEXEC,
  type Vma,
} from '../../../src/kernel/index';
import { nodeBackend, readSigningKey } from '../../../src/node/index';
import { buildEnclaveWithDriver, signSigstruct } from '../../../src/sdk/index';
import { errName } from '../../kernel/fixtures/kernel';
import {
  ioctlAddPages,
  ioctlCreate,
  ioctlInit,
  ioctlProvision,
  reserve,
  secsImage,
  sourcePages,
} from '../fixtures/ioctls';
import { makeSgxSystem, ROOT, sampleEnclave } from '../fixtures/sgx-system';

const P = PAGE_SIZE;
const SIZE = 16 * P;

type State = 'fresh' | 'created' | 'built' | 'initialized';

interface Ctx {
  readonly sys: Sys;
  readonly libc: Libc;
  readonly k: Kernel;
  readonly sgx: Sgx;
  readonly fd: number;
  /** ELRANGE base once created (or a reserved base for 'fresh'). */
  readonly base: number;
  readonly size: number;
  readonly encl: () => SgxEncl;
}

interface Row {
  readonly rule: string;
  readonly want: string;
  readonly state: State;
  readonly epcPages?: number;
  readonly features?: Partial<SgxFeatures>;
  /** SECS attributes for created/built/initialized states. */
  readonly attributes?: bigint;
  readonly run: (c: Ctx) => Promise<number>;
}

/** Runs one row in a fresh system. @returns the errno name (or "ok") of what `run` returned. */
async function runRow(row: Row): Promise<string> {
  const { k, sgx } = makeSgxSystem({ epcPages: row.epcPages, features: row.features });
  let result = 'not run';
  k.spawn(async (sys) => {
    const libc = new Libc(sys);
    let fd: number;
    let base: number;
    let size = SIZE;
    if (row.state === 'built' || row.state === 'initialized') {
      const { layout, sigstruct } = sampleEnclave();
      const e = await buildEnclaveWithDriver(sys, libc, {
        layout,
        sigstruct,
        attributes: row.attributes,
        noInit: row.state === 'built',
        map: false,
      });
      fd = e.fd;
      base = e.base;
      size = e.size;
    } else {
      fd = await libc.open('/dev/sgx_enclave', O_RDWR);
      base = await reserve(sys, SIZE);
      if (row.state === 'created') {
        const r = await ioctlCreate(
          sys,
          libc,
          fd,
          secsImage({ size: BigInt(SIZE), baseAddr: BigInt(base), attributes: row.attributes ?? AttrFlags.MODE64BIT }),
        );
        if (r !== 0) throw new Error(`setup CREATE failed: ${errName(r)}`);
      }
    }
    const encl = () => {
      const f = sys.task.files!.get(fd)!;
      return f.privateData as SgxEncl;
    };
    result = errName(await row.run({ sys, libc, k, sgx, fd, base, size, encl }));
    return 0;
  });
  await k.run({ maxSteps: 200_000 });
  return result;
}

/** Takes every free RAM page (kmalloc() then fails). */
function exhaustRam(sys: Sys): Promise<number> {
  return sys.kcall('exhaust', (t) => {
    while (t.kernel.pages.alloc() !== undefined);
    return 0;
  });
}

const sampleSecs = (c: Ctx, v: Partial<Parameters<typeof secsImage>[0]> = {}) =>
  secsImage({ size: BigInt(SIZE), baseAddr: BigInt(c.base), ...v });

const createRows: Row[] = [
  {
    rule: 'the enclave is already created',
    want: 'EINVAL',
    state: 'created',
    run: (c) => ioctlCreate(c.sys, c.libc, c.fd, sampleSecs(c)),
  },
  {
    rule: 'the argument pointer is unmapped',
    want: 'EFAULT',
    state: 'fresh',
    run: (c) => ioctlCreate(c.sys, c.libc, c.fd, { arg: 0x10 }),
  },
  {
    rule: 'no memory for the kernel copy of the SECS',
    want: 'ENOMEM',
    state: 'fresh',
    run: async (c) => {
      const src = await c.libc.bytes(sampleSecs(c));
      const arg = await c.libc.bytes(encode(SGX_ENCLAVE_CREATE, { src: BigInt(src) }));
      await exhaustRam(c.sys);
      return c.sys.ioctl(c.fd, SGX_IOC_ENCLAVE_CREATE, arg);
    },
  },
  {
    rule: 'the SECS pointer is unmapped',
    want: 'EFAULT',
    state: 'fresh',
    run: async (c) =>
      c.sys.ioctl(c.fd, SGX_IOC_ENCLAVE_CREATE, await c.libc.bytes(encode(SGX_ENCLAVE_CREATE, { src: 0x1000n }))),
  },
  {
    rule: 'SECS.SIZE is not a power of two',
    want: 'EINVAL',
    state: 'fresh',
    run: (c) => ioctlCreate(c.sys, c.libc, c.fd, sampleSecs(c, { size: 3n * 4096n })),
  },
  {
    rule: 'SECS.SIZE (2^63) is too large for the backing file',
    want: 'EINVAL',
    state: 'fresh',
    run: (c) => ioctlCreate(c.sys, c.libc, c.fd, sampleSecs(c, { size: 1n << 63n })),
  },
  {
    rule: 'no EPC page for the first VA page and nothing reclaimable',
    want: 'ENOMEM',
    state: 'fresh',
    epcPages: 2,
    run: async (c) => {
      const fd2 = await c.libc.open('/dev/sgx_enclave', O_RDWR);
      const b2 = await reserve(c.sys, SIZE);
      const r = await ioctlCreate(c.sys, c.libc, fd2, secsImage({ size: BigInt(SIZE), baseAddr: BigInt(b2) }));
      if (r) throw new Error('first enclave failed');
      return ioctlCreate(c.sys, c.libc, c.fd, sampleSecs(c));
    },
  },
  {
    rule: 'no EPC page for the SECS and nothing reclaimable',
    want: 'ENOMEM',
    state: 'fresh',
    epcPages: 3,
    run: async (c) => {
      const fd2 = await c.libc.open('/dev/sgx_enclave', O_RDWR);
      const b2 = await reserve(c.sys, SIZE);
      if (await ioctlCreate(c.sys, c.libc, fd2, secsImage({ size: BigInt(SIZE), baseAddr: BigInt(b2) })))
        throw new Error('first enclave failed');
      const r = await ioctlCreate(c.sys, c.libc, c.fd, sampleSecs(c));
      // The VA page allocated first went back (sgx_encl_shrink()).
      if (c.sgx.nrFreePages !== 1) throw new Error(`want 1 free EPC page after the failure, got ${c.sgx.nrFreePages}`);
      return r;
    },
  },
  {
    rule: 'ECREATE faults: BASEADDR is not aligned to SIZE',
    want: 'EIO',
    state: 'fresh',
    run: (c) => ioctlCreate(c.sys, c.libc, c.fd, sampleSecs(c, { baseAddr: BigInt(c.base + P) })),
  },
  {
    rule: 'ECREATE faults: SIZE is below two pages',
    want: 'EIO',
    state: 'fresh',
    run: (c) => ioctlCreate(c.sys, c.libc, c.fd, sampleSecs(c, { size: 4096n })),
  },
  {
    rule: 'ECREATE faults: ATTRIBUTES.KSS on a CPU without KSS',
    want: 'EIO',
    state: 'fresh',
    run: (c) => ioctlCreate(c.sys, c.libc, c.fd, sampleSecs(c, { attributes: AttrFlags.MODE64BIT | AttrFlags.KSS })),
  },
  {
    rule: 'a valid SECS creates the enclave',
    want: 'ok',
    state: 'fresh',
    run: (c) => ioctlCreate(c.sys, c.libc, c.fd, sampleSecs(c)),
  },
];

/** A TCS page image with a non-zero reserved byte (EADD #GP). */
function badTcs(): Uint8Array {
  const t = new Uint8Array(P);
  setField(TCS, t, 0, 'nssa', 1);
  t[100] = 1;
  return t;
}

let noexecDevice = false;
const addRows: Row[] = [
  {
    rule: 'the enclave is not created',
    want: 'EINVAL',
    state: 'fresh',
    run: async (c) =>
      (await ioctlAddPages(c.sys, c.libc, c.fd, { src: await sourcePages(c.sys, 1), offset: 0, length: P })).ret,
  },
  {
    rule: 'the enclave is initialized',
    want: 'EINVAL',
    state: 'initialized',
    run: async (c) =>
      (await ioctlAddPages(c.sys, c.libc, c.fd, { src: await sourcePages(c.sys, 1), offset: c.size - P, length: P }))
        .ret,
  },
  {
    rule: 'the argument pointer is unmapped',
    want: 'EFAULT',
    state: 'created',
    run: (c) => c.sys.ioctl(c.fd, SGX_IOC_ENCLAVE_ADD_PAGES, 0x10),
  },
  {
    rule: 'src is not page aligned',
    want: 'EINVAL',
    state: 'created',
    run: async (c) =>
      (await ioctlAddPages(c.sys, c.libc, c.fd, { src: (await sourcePages(c.sys, 1)) + 8, offset: 0, length: P })).ret,
  },
  {
    rule: 'offset is not page aligned',
    want: 'EINVAL',
    state: 'created',
    run: async (c) =>
      (await ioctlAddPages(c.sys, c.libc, c.fd, { src: await sourcePages(c.sys, 1), offset: 8, length: P })).ret,
  },
  {
    rule: 'length is 0',
    want: 'EINVAL',
    state: 'created',
    run: async (c) =>
      (await ioctlAddPages(c.sys, c.libc, c.fd, { src: await sourcePages(c.sys, 1), offset: 0, length: 0 })).ret,
  },
  {
    rule: 'length is not page aligned',
    want: 'EINVAL',
    state: 'created',
    run: async (c) =>
      (await ioctlAddPages(c.sys, c.libc, c.fd, { src: await sourcePages(c.sys, 1), offset: 0, length: 100 })).ret,
  },
  {
    rule: 'offset + length wraps around',
    want: 'EINVAL',
    state: 'created',
    run: async (c) =>
      (
        await ioctlAddPages(c.sys, c.libc, c.fd, {
          src: await sourcePages(c.sys, 1),
          offset: (1n << 64n) - 4096n,
          length: 8192n,
        })
      ).ret,
  },
  {
    rule: 'the range ends beyond SECS.SIZE',
    want: 'EINVAL',
    state: 'created',
    run: async (c) =>
      (await ioctlAddPages(c.sys, c.libc, c.fd, { src: await sourcePages(c.sys, 2), offset: SIZE - P, length: 2 * P }))
        .ret,
  },
  {
    rule: 'the SECINFO pointer is unmapped',
    want: 'EFAULT',
    state: 'created',
    run: async (c) =>
      (
        await ioctlAddPages(c.sys, c.libc, c.fd, {
          src: await sourcePages(c.sys, 1),
          offset: 0,
          length: P,
          secinfoPtr: 0x40,
        })
      ).ret,
  },
  ...(
    [
      ['SECINFO page type is SECS', 0x001n],
      ['SECINFO page type is TRIM', 0x401n],
      ['SECINFO has W without R', 0x202n],
      ['SECINFO of a TCS has permissions', 0x101n],
      ['SECINFO has a reserved flag bit (PENDING)', 0x20bn],
    ] as const
  ).map(
    ([rule, flags]): Row => ({
      rule,
      want: 'EINVAL',
      state: 'created',
      run: async (c) =>
        (
          await ioctlAddPages(c.sys, c.libc, c.fd, {
            src: await sourcePages(c.sys, 1),
            offset: 0,
            length: P,
            secinfo: flags,
          })
        ).ret,
    }),
  ),
  {
    rule: 'SECINFO reserved bytes are not zero',
    want: 'EINVAL',
    state: 'created',
    run: async (c) => {
      const s = encode(SECINFO, { flags: 0x203n });
      s[40] = 1;
      return (
        await ioctlAddPages(c.sys, c.libc, c.fd, { src: await sourcePages(c.sys, 1), offset: 0, length: P, secinfo: s })
      ).ret;
    },
  },
  {
    rule: 'a page already exists at the offset',
    want: 'EBUSY',
    state: 'created',
    run: async (c) => {
      const src = await sourcePages(c.sys, 1);
      await ioctlAddPages(c.sys, c.libc, c.fd, { src, offset: P, length: P });
      return (await ioctlAddPages(c.sys, c.libc, c.fd, { src, offset: P, length: P })).ret;
    },
  },
  {
    rule: 'no VMA at or above src',
    want: 'EFAULT',
    state: 'created',
    run: async (c) => (await ioctlAddPages(c.sys, c.libc, c.fd, { src: 2 ** 47 - 2 * P, offset: 0, length: P })).ret,
  },
  {
    rule: 'src is in a PROT_NONE mapping (get_user_pages refuses it)',
    want: 'EFAULT',
    state: 'created',
    run: async (c) => {
      const src = await sourcePages(c.sys, 1);
      await c.sys.mprotect(src, P, 0);
      return (await ioctlAddPages(c.sys, c.libc, c.fd, { src, offset: 0, length: P })).ret;
    },
  },
  {
    rule: 'src is in a mapping that can never be executable (noexec: no VM_MAYEXEC)',
    want: 'EACCES',
    state: 'created',
    run: async (c) => {
      if (!noexecDevice) noexecDevice = true;
      const fops: FileOperations = {
        mmap(_f, vma: Vma) {
          // What do_mmap() does for a file on a noexec mount.
          vma.flags &= ~VM_MAYEXEC;
          vma.ops = {};
          return 0;
        },
      };
      await c.sys.kcall('register', (t) => {
        t.kernel.registerDevice('/dev/noexec', fops);
        return 0;
      });
      const nfd = await c.libc.open('/dev/noexec', O_RDONLY);
      const src = await c.sys.mmap(0, P, PROT_READ, MAP_PRIVATE, nfd, 0);
      return (await ioctlAddPages(c.sys, c.libc, c.fd, { src, offset: 0, length: P })).ret;
    },
  },
  {
    rule: 'EADD faults: a TCS with a non-zero reserved field',
    want: 'EIO',
    state: 'created',
    run: async (c) => {
      const src = await sourcePages(c.sys, 1);
      await c.sys.store(src, badTcs());
      return (await ioctlAddPages(c.sys, c.libc, c.fd, { src, offset: 0, length: P, secinfo: 0x100n })).ret;
    },
  },
  {
    rule: 'pages are added, measured or not',
    want: 'ok',
    state: 'created',
    run: async (c) => {
      const src = await sourcePages(c.sys, 2, 0x90);
      const a = await ioctlAddPages(c.sys, c.libc, c.fd, { src, offset: 0, length: 2 * P, flags: 1n });
      const b = await ioctlAddPages(c.sys, c.libc, c.fd, { src, offset: 2 * P, length: P, flags: 0x80n });
      if (a.count !== 2 * P || b.count !== P) throw new Error(`counts ${a.count} ${b.count}`);
      return a.ret || b.ret;
    },
  },
];

function sigFor(mut: (sig: Uint8Array) => void): Uint8Array {
  const s = Uint8Array.from(sampleEnclave().sigstruct);
  mut(s);
  return s;
}

const KEY = readSigningKey(`${ROOT}/test/fixtures/selftest-sign_key.pem`);
function signedWith(fields: Parameters<typeof signSigstruct>[2]): Uint8Array {
  return signSigstruct(nodeBackend, KEY, fields);
}

const initRows: Row[] = [
  {
    rule: 'the enclave is not created',
    want: 'EINVAL',
    state: 'fresh',
    run: (c) => ioctlInit(c.sys, c.libc, c.fd, sampleEnclave().sigstruct),
  },
  {
    rule: 'the enclave is already initialized',
    want: 'EINVAL',
    state: 'initialized',
    run: (c) => ioctlInit(c.sys, c.libc, c.fd, sampleEnclave().sigstruct),
  },
  {
    rule: 'the argument pointer is unmapped',
    want: 'EFAULT',
    state: 'built',
    run: (c) => ioctlInit(c.sys, c.libc, c.fd, { arg: 0x10 }),
  },
  {
    rule: 'no memory for the kernel copy of the SIGSTRUCT',
    want: 'ENOMEM',
    state: 'built',
    run: async (c) => {
      const p = await c.libc.bytes(sampleEnclave().sigstruct);
      const arg = await c.libc.bytes(encode(SGX_ENCLAVE_CREATE, { src: BigInt(p) }));
      await exhaustRam(c.sys);
      return c.sys.ioctl(c.fd, SGX_IOC_ENCLAVE_INIT, arg);
    },
  },
  {
    rule: 'the SIGSTRUCT pointer is unmapped',
    want: 'EFAULT',
    state: 'built',
    run: async (c) =>
      c.sys.ioctl(c.fd, SGX_IOC_ENCLAVE_INIT, await c.libc.bytes(encode(SGX_ENCLAVE_CREATE, { src: 0x2000n }))),
  },
  {
    rule: 'SIGSTRUCT.VENDOR is neither 0 nor 0x8086',
    want: 'EINVAL',
    state: 'built',
    run: (c) =>
      ioctlInit(
        c.sys,
        c.libc,
        c.fd,
        sigFor((s) => setField(SIGSTRUCT, s, 0, 'vendor', 0x1234)),
      ),
  },
  {
    rule: 'SECS.ATTRIBUTES has PROVISIONKEY without ENCLAVE_PROVISION',
    want: 'EACCES',
    state: 'built',
    attributes: AttrFlags.MODE64BIT | AttrFlags.PROVISIONKEY,
    run: (c) => ioctlInit(c.sys, c.libc, c.fd, sampleEnclave().sigstruct),
  },
  {
    rule: 'SECS.ATTRIBUTES has EINITTOKENKEY, which nothing allows',
    want: 'EACCES',
    state: 'built',
    attributes: AttrFlags.MODE64BIT | AttrFlags.EINITTOKENKEY,
    run: (c) => ioctlInit(c.sys, c.libc, c.fd, sampleEnclave().sigstruct),
  },
  {
    rule: 'the SIGSTRUCT requires a reserved ATTRIBUTES bit',
    want: 'EINVAL',
    state: 'built',
    run: (c) =>
      ioctlInit(
        c.sys,
        c.libc,
        c.fd,
        sigFor((s) => {
          setField(SIGSTRUCT, s, 0, 'attributes', AttrFlags.MODE64BIT | 8n);
          setField(SIGSTRUCT, s, 0, 'attributeMask', 8n);
        }),
      ),
  },
  {
    rule: 'the SIGSTRUCT requires a reserved MISCSELECT bit',
    want: 'EINVAL',
    state: 'built',
    run: (c) =>
      ioctlInit(
        c.sys,
        c.libc,
        c.fd,
        sigFor((s) => {
          setField(SIGSTRUCT, s, 0, 'miscSelect', 2);
          setField(SIGSTRUCT, s, 0, 'miscMask', 2);
        }),
      ),
  },
  {
    rule: 'the SIGSTRUCT requires an XFRM bit the CPU does not support (AVX)',
    want: 'EINVAL',
    state: 'built',
    run: (c) =>
      ioctlInit(
        c.sys,
        c.libc,
        c.fd,
        sigFor((s) => {
          setField(SIGSTRUCT, s, 0, 'xfrm', 7n);
          setField(SIGSTRUCT, s, 0, 'xfrmMask', 4n);
        }),
      ),
  },
  {
    rule: 'EINIT fails: the SIGSTRUCT signature does not verify',
    want: 'EPERM',
    state: 'built',
    run: (c) =>
      ioctlInit(
        c.sys,
        c.libc,
        c.fd,
        sigFor((s) => (s[600]! ^= 1)),
      ),
  },
  {
    rule: 'EINIT fails: MRENCLAVE differs from the SIGSTRUCT',
    want: 'EPERM',
    state: 'built',
    run: (c) => ioctlInit(c.sys, c.libc, c.fd, signedWith({ enclaveHash: new Uint8Array(32).fill(7) })),
  },
  {
    rule: 'EINIT faults: the SECS is gone (EPC lost across a power cycle)',
    want: 'EIO',
    state: 'created',
    run: async (c) => {
      await c.sys.kcall('power cycle', () => {
        const o = encls(c.sgx.m, EnclsLeaf.EREMOVE, { rcx: c.encl().secs.epcPage!.pa });
        if (o.kind !== 'status' || o.rax !== 0) throw new Error('EREMOVE of the SECS failed');
        return 0;
      });
      return ioctlInit(c.sys, c.libc, c.fd, sampleEnclave().sigstruct);
    },
  },
  {
    rule: 'a SIGSTRUCT over the built enclave initializes it',
    want: 'ok',
    state: 'built',
    run: (c) => ioctlInit(c.sys, c.libc, c.fd, sampleEnclave().sigstruct),
  },
];

const provisionRows: Row[] = [
  {
    rule: 'the argument pointer is unmapped',
    want: 'EFAULT',
    state: 'fresh',
    run: (c) => c.sys.ioctl(c.fd, SGX_IOC_ENCLAVE_PROVISION, 0x10),
  },
  { rule: 'the fd is not open', want: 'EINVAL', state: 'fresh', run: (c) => ioctlProvision(c.sys, c.libc, c.fd, 77n) },
  {
    rule: 'the fd is not /dev/sgx_provision (/dev/null)',
    want: 'EINVAL',
    state: 'fresh',
    run: async (c) => ioctlProvision(c.sys, c.libc, c.fd, BigInt(await c.libc.open('/dev/null', O_RDONLY))),
  },
  {
    rule: 'the fd is the enclave fd itself',
    want: 'EINVAL',
    state: 'fresh',
    run: (c) => ioctlProvision(c.sys, c.libc, c.fd, BigInt(c.fd)),
  },
  {
    rule: 'only the low 32 bits of the fd count (fd + 2^32 is the same fd)',
    want: 'ok',
    state: 'fresh',
    run: async (c) =>
      ioctlProvision(c.sys, c.libc, c.fd, BigInt(await c.libc.open('/dev/sgx_provision', O_RDONLY)) + (1n << 32n)),
  },
  {
    rule: '/dev/sgx_provision before CREATE allows PROVISIONKEY',
    want: 'ok',
    state: 'fresh',
    run: async (c) => {
      const r = await ioctlProvision(c.sys, c.libc, c.fd, BigInt(await c.libc.open('/dev/sgx_provision', O_RDONLY)));
      if (!(c.encl().attributesMask & AttrFlags.PROVISIONKEY)) throw new Error('PROVISIONKEY not in attributes_mask');
      return r;
    },
  },
  {
    rule: 'after /dev/sgx_provision an enclave with PROVISIONKEY initializes',
    want: 'ok',
    state: 'built',
    attributes: AttrFlags.MODE64BIT | AttrFlags.PROVISIONKEY,
    run: async (c) => {
      const r = await ioctlProvision(c.sys, c.libc, c.fd, BigInt(await c.libc.open('/dev/sgx_provision', O_RDONLY)));
      if (r) throw new Error('PROVISION failed');
      return ioctlInit(c.sys, c.libc, c.fd, sampleEnclave().sigstruct);
    },
  },
  {
    rule: '/dev/sgx_provision after INIT is accepted (and has no effect)',
    want: 'ok',
    state: 'initialized',
    run: async (c) => ioctlProvision(c.sys, c.libc, c.fd, BigInt(await c.libc.open('/dev/sgx_provision', O_RDONLY))),
  },
];

const sgx2Zero = [
  ['SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS', SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, SGX_ENCLAVE_RESTRICT_PERMISSIONS.size],
  ['SGX_IOC_ENCLAVE_MODIFY_TYPES', SGX_IOC_ENCLAVE_MODIFY_TYPES, SGX_ENCLAVE_MODIFY_TYPES.size],
  ['SGX_IOC_ENCLAVE_REMOVE_PAGES', SGX_IOC_ENCLAVE_REMOVE_PAGES, SGX_ENCLAVE_REMOVE_PAGES.size],
] as const;

const sgx2Rows: Row[] = sgx2Zero.flatMap(([name, cmd, size]): Row[] => {
  const zero = (c: Ctx) => c.libc.alloc(size).then(async (p) => c.sys.ioctl(c.fd, cmd, p));
  const withFields = (fields: Record<string, bigint>) => async (c: Ctx) => {
    const layout =
      cmd === SGX_IOC_ENCLAVE_REMOVE_PAGES
        ? SGX_ENCLAVE_REMOVE_PAGES
        : cmd === SGX_IOC_ENCLAVE_MODIFY_TYPES
          ? SGX_ENCLAVE_MODIFY_TYPES
          : SGX_ENCLAVE_RESTRICT_PERMISSIONS;
    return c.sys.ioctl(c.fd, cmd, await c.libc.bytes(encode(layout, fields as never)));
  };
  const sgx2 = { sgx2: true };
  const rows: Row[] = [
    {
      rule: `${name}: the CPU has no SGX2 (a zeroed struct, the selftests' probe)`,
      want: 'ENODEV',
      state: 'initialized',
      run: zero,
    },
    { rule: `${name}: no SGX2 comes before the state check`, want: 'ENODEV', state: 'fresh', run: zero },
    {
      rule: `${name}: SGX2, the enclave is not initialized`,
      want: 'EINVAL',
      state: 'built',
      features: sgx2,
      run: zero,
    },
    {
      rule: `${name}: SGX2, the argument pointer is unmapped`,
      want: 'EFAULT',
      state: 'initialized',
      features: sgx2,
      run: (c) => c.sys.ioctl(c.fd, cmd, 0x10),
    },
    {
      rule: `${name}: SGX2, a zeroed struct has length 0`,
      want: 'EINVAL',
      state: 'initialized',
      features: sgx2,
      run: zero,
    },
  ];
  if (cmd === SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS) {
    rows.push(
      {
        rule: `${name}: SGX2, permissions beyond RWX`,
        want: 'EINVAL',
        state: 'initialized',
        features: sgx2,
        run: withFields({ length: 4096n, permissions: 8n }),
      },
      {
        rule: `${name}: SGX2, W without R`,
        want: 'EINVAL',
        state: 'initialized',
        features: sgx2,
        run: withFields({ length: 4096n, permissions: 2n }),
      },
      {
        rule: `${name}: SGX2, result not zero on input`,
        want: 'EINVAL',
        state: 'initialized',
        features: sgx2,
        run: withFields({ length: 4096n, permissions: 1n, result: 1n }),
      },
      {
        rule: `${name}: SGX2, count not zero on input`,
        want: 'EINVAL',
        state: 'initialized',
        features: sgx2,
        run: withFields({ length: 4096n, permissions: 1n, count: 1n }),
      },
    );
  } else if (cmd === SGX_IOC_ENCLAVE_MODIFY_TYPES) {
    rows.push(
      {
        rule: `${name}: SGX2, page_type beyond 0xFF`,
        want: 'EINVAL',
        state: 'initialized',
        features: sgx2,
        run: withFields({ length: 4096n, page_type: 0x104n }),
      },
      {
        rule: `${name}: SGX2, result not zero on input`,
        want: 'EINVAL',
        state: 'initialized',
        features: sgx2,
        run: withFields({ length: 4096n, page_type: 4n, result: 1n }),
      },
    );
  } else {
    rows.push({
      rule: `${name}: SGX2, count not zero on input`,
      want: 'EINVAL',
      state: 'initialized',
      features: sgx2,
      run: withFields({ length: 4096n, count: 1n }),
    });
  }
  return rows;
});

const dispatchRows: Row[] = [
  { rule: 'an unknown command', want: 'ENOTTY', state: 'fresh', run: (c) => c.sys.ioctl(c.fd, 0xc008a4ff, 0) },
  {
    rule: 'SGX_IOC_VEPC_REMOVE_ALL on an enclave fd',
    want: 'ENOTTY',
    state: 'initialized',
    run: (c) => c.sys.ioctl(c.fd, SGX_IOC_VEPC_REMOVE_ALL, 0),
  },
  {
    rule: 'an ioctl on /dev/sgx_provision (empty fops)',
    want: 'ENOTTY',
    state: 'fresh',
    run: async (c) => c.sys.ioctl(await c.libc.open('/dev/sgx_provision', O_RDWR), SGX_IOC_ENCLAVE_CREATE, 0),
  },
];

describe.each([
  ['SGX_IOC_ENCLAVE_CREATE', createRows],
  ['SGX_IOC_ENCLAVE_ADD_PAGES', addRows],
  ['SGX_IOC_ENCLAVE_INIT', initRows],
  ['SGX_IOC_ENCLAVE_PROVISION', provisionRows],
  ['SGX2 ioctls', sgx2Rows],
  ['the ioctl dispatcher', dispatchRows],
] as const)('%s', (_name, rows) => {
  it.each(rows.map((r) => [r.rule, r] as const))('%s', async (_rule, row) => {
    expect(await runRow(row), `${row.rule}: want ${row.want}`).toBe(row.want);
  });
});

describe('SGX_IOC_ENCLAVE_CREATE side effects', () => {
  it('records DEBUG and the SECS fields, and uses one VA page and the SECS', async () => {
    const { k, sgx } = makeSgxSystem();
    const seen: string[] = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/sgx_enclave', O_RDWR);
      const base = await reserve(sys, SIZE);
      const free = sgx.nrFreePages;
      const r = await ioctlCreate(
        sys,
        libc,
        fd,
        secsImage({ size: BigInt(SIZE), baseAddr: BigInt(base), attributes: AttrFlags.MODE64BIT | AttrFlags.DEBUG }),
      );
      const e = sys.task.files!.get(fd)!.privateData as SgxEncl;
      seen.push(
        errName(r),
        `debug ${(e.flags & SGX_ENCL_DEBUG) !== 0}`,
        `base ${e.base === base}`,
        `size ${e.size}`,
        `epc ${free - sgx.nrFreePages}`,
        `va ${e.vaPages.length}`,
        `backing ${e.backing?.size}`,
      );
      return 0;
    });
    await k.run();
    expect(seen).toEqual([
      'ok',
      'debug true',
      'base true',
      `size ${SIZE}`,
      'epc 2',
      'va 1',
      `backing ${SIZE + P + (SIZE + P) / 32}`,
    ]);
  });
});

describe('SGX_IOC_ENCLAVE_ADD_PAGES count and partial progress', () => {
  it('writes back the bytes added when a later page fails', async () => {
    const { k } = makeSgxSystem();
    let got: { ret: number; count: number } | undefined;
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/sgx_enclave', O_RDWR);
      const base = await reserve(sys, SIZE);
      await ioctlCreate(sys, libc, fd, secsImage({ size: BigInt(SIZE), baseAddr: BigInt(base) }));
      const src = await sourcePages(sys, 3);
      await ioctlAddPages(sys, libc, fd, { src, offset: 2 * P, length: P });
      got = await ioctlAddPages(sys, libc, fd, { src, offset: 0, length: 3 * P });
      return 0;
    });
    await k.run();
    expect(errName(got!.ret)).toBe('EBUSY');
    expect(got!.count, 'count = the two pages added before the duplicate').toBe(2 * P);
  });

  it('fails with EFAULT when the count cannot be written back, the pages staying added', async () => {
    const { k } = makeSgxSystem();
    const out: string[] = [];
    k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const fd = await libc.open('/dev/sgx_enclave', O_RDWR);
      const base = await reserve(sys, SIZE);
      await ioctlCreate(sys, libc, fd, secsImage({ size: BigInt(SIZE), baseAddr: BigInt(base) }));
      const src = await sourcePages(sys, 1);
      const argPage = await sourcePages(sys, 1);
      const secinfo = await libc.bytes(encode(SECINFO, { flags: 0x203n }));
      await sys.store(
        argPage,
        encode(SGX_ENCLAVE_ADD_PAGES, { src: BigInt(src), offset: 0n, length: 4096n, secinfo: BigInt(secinfo) }),
      );
      await sys.mprotect(argPage, P, PROT_READ);
      out.push(errName(await sys.ioctl(fd, SGX_IOC_ENCLAVE_ADD_PAGES, argPage)));
      const e = sys.task.files!.get(fd)!.privateData as SgxEncl;
      out.push(`pages ${e.pageArray.size}`);
      return 0;
    });
    await k.run();
    expect(out).toEqual(['EFAULT', 'pages 1']);
  });

  it('a signal pending before the first page gives EINTR and count 0', async () => {
    const { k } = makeSgxSystem();
    const rets: string[] = [];
    let count = -1;
    let handled = 0;
    let looping = false;
    const { pid } = k.spawn(async (sys) => {
      const libc = new Libc(sys);
      await sys.sigaction(SIGUSR1, { handler: () => void handled++, flags: 0, mask: 0n });
      const fd = await libc.open('/dev/sgx_enclave', O_RDWR);
      const base = await reserve(sys, SIZE);
      await ioctlCreate(sys, libc, fd, secsImage({ size: BigInt(SIZE), baseAddr: BigInt(base) }));
      const src = await sourcePages(sys, 1);
      await ioctlAddPages(sys, libc, fd, { src, offset: 0, length: P });
      // An ADD_PAGES that fails at its first page (EBUSY), issued until the signal arrives: a signal sent while
      // this process is between syscalls is pending when its next syscall runs.
      const secinfo = await libc.bytes(encode(SECINFO, { flags: 0x203n }));
      const arg = await libc.bytes(
        encode(SGX_ENCLAVE_ADD_PAGES, {
          src: BigInt(src),
          offset: 0n,
          length: 4096n,
          secinfo: BigInt(secinfo),
          count: 7n,
        }),
      );
      looping = true;
      for (let i = 0; i < 200 && handled === 0; i++)
        rets.push(errName(await sys.ioctl(fd, SGX_IOC_ENCLAVE_ADD_PAGES, arg)));
      count = Number((await libc.readU64(arg + 40)) & 0xffffn);
      return 0;
    });
    k.spawn(async (sys) => {
      while (!looping) await sys.sched_yield();
      await sys.kill(pid, SIGUSR1);
      return 0;
    });
    await k.run();
    expect(rets.at(-1), `the ADD_PAGES that saw the signal: ${rets.join(' ')}`).toBe('EINTR');
    expect(rets.slice(0, -1).every((r) => r === 'EBUSY')).toBe(true);
    expect(count, 'count written back as 0').toBe(0);
    expect(handled).toBe(1);
  });

  it('a signal arriving during a long ADD_PAGES ends it early with success and a short count', async () => {
    // One CPU: the adder reschedules (need_resched() → cond_resched()) when its timeslice ends with the sender
    // runnable, and the sender's signal is then pending when the loop goes on.
    const { k, sgx } = makeSgxSystem({ epcPages: 1024, cpus: 1 });
    const pages = 512;
    let got: { ret: number; count: number } | undefined;
    let handled = 0;
    let adding = false;
    const { pid } = k.spawn(async (sys) => {
      const libc = new Libc(sys);
      await sys.sigaction(SIGUSR1, { handler: () => void handled++, flags: 0, mask: 0n });
      const fd = await libc.open('/dev/sgx_enclave', O_RDWR);
      const size = 1024 * P;
      const base = await reserve(sys, size);
      await ioctlCreate(sys, libc, fd, secsImage({ size: BigInt(size), baseAddr: BigInt(base) }));
      const src = await sourcePages(sys, pages);
      adding = true;
      got = await ioctlAddPages(sys, libc, fd, { src, offset: 0, length: pages * P, flags: 1n });
      return 0;
    });
    k.spawn(async (sys) => {
      while (!adding) await sys.sched_yield();
      await sys.kill(pid, SIGUSR1);
      return 0;
    });
    await k.run({ maxSteps: 100_000 });
    expect(errName(got!.ret)).toBe('ok');
    expect(got!.count, 'stopped part-way at a page boundary').toBeGreaterThan(0);
    expect(got!.count).toBeLessThan(pages * P);
    expect(got!.count % P).toBe(0);
    expect(handled).toBe(1);
    expect(sgx.stats.encls.EADD, 'one EADD per page counted').toBe(got!.count / P);
  });
});
