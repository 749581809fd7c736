/**
 * SGX_IOC_ENCLAVE_INIT (ioctl.c sgx_ioc_enclave_init(), sgx_encl_init(), sgx_get_key_hash(); main.c
 * sgx_update_lepubkeyhash()): check the SIGSTRUCT against what this kernel allows, point IA32_SGXLEPUBKEYHASH at
 * its signer and EINIT, retrying while an interrupt keeps EINIT from finishing.
 */
import { decode, MSR_IA32_SGXLEPUBKEYHASH0, PAGE_SIZE, SgxStatus, SIGSTRUCT } from '../../hw/index';
import {
  block,
  EACCES,
  EFAULT,
  EINVAL,
  EIO,
  ENOMEM,
  EPERM,
  ERESTARTSYS,
  type Errno,
  type FileOpResult,
  isBlock,
  isErrno,
  type Task,
} from '../../kernel/index';
import {
  SGX_EINIT_SLEEP_COUNT,
  SGX_EINIT_SLEEP_TIME_MS,
  SGX_EINIT_SPIN_COUNT,
  SGX_ENCL_CREATED,
  SGX_ENCL_INITIALIZED,
  SGX_LAUNCH_TOKEN_SIZE,
  SGX_MODULUS_SIZE,
} from './constants';
import type { SgxEncl } from './encl';
import { __einit, enclsFailed, enclsFaulted } from './encls';
import type { Sgx } from './sgx';
import { SGX_ENCLAVE_INIT } from './uapi';

/** The token sits in the second half of the sigstruct's page ("'token' on a 512 byte boundary"). */
const TOKEN_OFFSET = PAGE_SIZE / 2;

/** What ENCLAVE_INIT keeps across its msleep_interruptible(). */
interface InitState {
  /** The kmalloc'd page holding the SIGSTRUCT copy and the zero token. */
  readonly pfn: number;
  readonly mrsigner: Uint8Array;
  /** Outer iterations done (each ended with a sleep). */
  i: number;
  /** The last EINIT result. */
  ret: number;
}

/** sgx_update_lepubkeyhash(): the four MSR words of MRSIGNER. */
function sgxUpdateLepubkeyhash(sgx: Sgx, mrsigner: Uint8Array): void {
  const dv = new DataView(mrsigner.buffer, mrsigner.byteOffset, 32);
  for (let i = 0; i < 4; i++) {
    // /dev/sgx_enclave exists only with launch control, so the MSRs are writable (a #GP would be a kernel bug).
    const f = sgx.m.wrmsr(MSR_IA32_SGXLEPUBKEYHASH0 + i, dv.getBigUint64(8 * i, true));
    if (f) throw new Error('WRMSR IA32_SGXLEPUBKEYHASH faulted: the driver requires launch control');
  }
}

/**
 * The EINIT loop of sgx_encl_init() from outer iteration `st.i`: up to SGX_EINIT_SPIN_COUNT attempts while EINIT
 * returns SGX_UNMASKED_EVENT, then a 20 ms interruptible sleep, SGX_EINIT_SLEEP_COUNT times.
 * @returns 0, EIO (EINIT faulted), EPERM (any SGX error code, including UNMASKED_EVENT after every retry),
 *   ERESTARTSYS (a signal during the sleeps), or a Block for the sleep.
 */
function einitLoop(encl: SgxEncl, st: InitState, t: Task): FileOpResult {
  const sgx = encl.sgx;
  const sig = st.pfn * PAGE_SIZE;
  while (st.i < SGX_EINIT_SLEEP_COUNT) {
    for (let j = 0; j < SGX_EINIT_SPIN_COUNT; j++) {
      sgxUpdateLepubkeyhash(sgx, st.mrsigner);
      st.ret = __einit(sgx, sig, sig + TOKEN_OFFSET, encl.secs.epcPage!.pa, { encl: encl.id });
      if (st.ret !== SgxStatus.UNMASKED_EVENT) break;
    }
    if (st.ret !== SgxStatus.UNMASKED_EVENT) break;
    st.i++;
    // msleep_interruptible(SGX_EINIT_SLEEP_TIME) returns at once with a signal pending; then
    // "if (signal_pending(current)) ret = -ERESTARTSYS" (checked again by the caller when the sleep ends).
    if (t.signalPending()) return ERESTARTSYS;
    const cycles = Math.round((sgx.k.costs.cpuHz * SGX_EINIT_SLEEP_TIME_MS) / 1000);
    return block([], { deadline: t.now() + cycles });
  }
  const ret = st.ret;
  if (enclsFaulted(ret)) {
    if (enclsFailed(ret)) sgx.enclsWarn(ret, 'EINIT');
    return EIO;
  }
  if (ret) {
    // pr_debug("EINIT returned %d\n", ret)
    sgx.trace('sgx_einit_failed', { encl: encl.id, ret });
    return EPERM;
  }
  encl.flags |= SGX_ENCL_INITIALIZED;
  sgx.trace('sgx_encl_init', { encl: encl.id });
  return 0;
}

/**
 * sgx_encl_init() up to the EINIT loop: the attribute policy and the reserved-bit checks on the SIGSTRUCT body.
 * @returns the state for the loop, or EACCES (attributes not allowed, e.g. PROVISIONKEY without
 *   ENCLAVE_PROVISION) or EINVAL (reserved attribute, MISCSELECT or XFRM bits required by the SIGSTRUCT).
 */
function sgxEnclInitChecks(encl: SgxEncl, pfn: number): InitState | Errno {
  const sgx = encl.sgx;
  // "Deny initializing enclaves with attributes (namely provisioning) that have not been explicitly allowed."
  if (encl.attributes & ~encl.attributesMask) return EACCES;
  const s = decode(SIGSTRUCT, sgx.k.mem.read(pfn * PAGE_SIZE, SIGSTRUCT.size));
  if (s.attributes & s.attributeMask & sgx.attributesReservedMask) return EINVAL;
  if (BigInt(s.miscSelect) & BigInt(s.miscMask) & sgx.miscReservedMask) return EINVAL;
  if (s.xfrm & s.xfrmMask & sgx.xfrmReservedMask) return EINVAL;
  // sgx_get_key_hash(): SHA-256 of the 384-byte modulus as stored.
  const mrsigner = sgx.m.crypto.sha256(s.modulus.subarray(0, SGX_MODULUS_SIZE));
  return { pfn, mrsigner, i: 0, ret: 0 };
}

/**
 * sgx_ioc_enclave_init().
 * @returns 0, or EINVAL (not created / already initialized, vendor not 0 or 0x8086, reserved bits), EFAULT, ENOMEM,
 *   EACCES, EIO, EPERM, ERESTARTSYS (see sgx_encl_init()).
 */
export function sgxIocEnclaveInit(encl: SgxEncl, arg: number, t: Task, state: Record<string, unknown>): FileOpResult {
  const sgx = encl.sgx;
  let st = state.sgxInit as InitState | undefined;
  if (!st) {
    if (!(encl.flags & SGX_ENCL_CREATED) || encl.flags & SGX_ENCL_INITIALIZED) return EINVAL;
    const a = t.copyFromUser(arg, SGX_ENCLAVE_INIT.size);
    if (isErrno(a)) return EFAULT;
    const initArg = decode(SGX_ENCLAVE_INIT, a);
    // "'sigstruct' must be on a page boundary and 'token' on a 512 byte boundary. kmalloc() will give this
    // alignment when allocating PAGE_SIZE bytes."
    const pfn = sgx.kmallocPage();
    if (pfn === undefined) return ENOMEM;
    sgx.k.mem.write(pfn * PAGE_SIZE + TOKEN_OFFSET, new Uint8Array(SGX_LAUNCH_TOKEN_SIZE));
    const ptr = initArg.sigstruct > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(initArg.sigstruct);
    const sig = ptr < 0 ? EFAULT : t.copyFromUser(ptr, SIGSTRUCT.size);
    if (isErrno(sig)) {
      sgx.kfree(pfn);
      return EFAULT;
    }
    sgx.k.mem.write(pfn * PAGE_SIZE, sig);
    // "A legacy field used with Intel signed enclaves. … reject any other values."
    const vendor = decode(SIGSTRUCT, sig).vendor;
    if (vendor !== 0x0000 && vendor !== 0x8086) {
      sgx.kfree(pfn);
      return EINVAL;
    }
    const checked = sgxEnclInitChecks(encl, pfn);
    if (isErrno(checked)) {
      sgx.kfree(pfn);
      return checked;
    }
    st = checked;
    state.sgxInit = st;
  } else if (t.signalPending()) {
    // Woken early (or late) from the sleep with a signal: "ret = -ERESTARTSYS".
    state.sgxInit = undefined;
    sgx.kfree(st.pfn);
    return ERESTARTSYS;
  }
  const r = einitLoop(encl, st, t);
  if (isBlock(r)) return r;
  state.sgxInit = undefined;
  sgx.kfree(st.pfn);
  return r;
}
