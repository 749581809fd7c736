/**
 * Bringing up SGX (main.c sgx_init(), device_initcall): the EPC sections, the reclaimer thread, /dev/sgx_provision,
 * then the enclave driver. KVM's /dev/sgx_vepc is not configured in this model (CONFIG_X86_SGX_KVM=n), so its
 * init fails with ENODEV and the whole of SGX fails when the enclave driver does ("Error out only if both fail").
 */

import type { SgxMachine } from '../../hw/index';
import type { Kernel } from '../../kernel/index';
import { ENOMEM, type Errno } from '../../kernel/index';
import { sgxDrvInit } from './driver';
import { sgxPageCacheInit, sgxSanitizePages } from './epc-allocator';
import { sgxPageReclaimerInit } from './ksgxd';
import { SGX_PROVISION_FOPS } from './provision';
import { Sgx } from './sgx';
import { sgxVmOps } from './vm-ops';

/** How sgx_init() ended: the driver, or the errno with the kernel log explaining it. */
export type SgxInitResult =
  | { readonly kind: 'ok'; readonly sgx: Sgx }
  | { readonly kind: 'error'; readonly errno: Errno; readonly dmesg: readonly string[] };

/**
 * sgx_init() for the machine `m` under kernel `k` (they share physical memory). The machine having SGX stands
 * for X86_FEATURE_SGX.
 * @returns the driver, or ENOMEM (no EPC section, or no RAM for the driver) or ENODEV (no launch control / no SGX1:
 *   /dev/sgx_enclave and /dev/sgx_provision are not registered).
 */
export function sgxInit(k: Kernel, m: SgxMachine): SgxInitResult {
  if (m.physMem !== k.mem) throw new Error('sgxInit: the kernel and the SGX machine must share physical memory');
  const sgx = new Sgx(k, m);
  sgx.vmOps = sgxVmOps();
  if (!sgxPageCacheInit(sgx)) return { kind: 'error', errno: ENOMEM, dmesg: sgx.dmesg };
  const scratch = k.pages.alloc();
  if (scratch === undefined) return { kind: 'error', errno: ENOMEM, dmesg: sgx.dmesg };
  sgx.scratchPfn = scratch;
  // ksgxd's first job, done before anything can allocate (see ksgxd.ts).
  sgxSanitizePages(sgx);
  const ksgxd = sgxPageReclaimerInit(sgx);
  sgx.provisionInode = k.registerDevice('/dev/sgx_provision', SGX_PROVISION_FOPS, { rdev: [10, 126] });
  const ret = sgxDrvInit(sgx);
  // sgx_vepc_init(): not configured.
  if (ret) {
    k.vfs.unregisterDevice('/dev/sgx_provision');
    sgx.provisionInode = null;
    k.kthreadStop(ksgxd);
    k.pages.put(scratch);
    return { kind: 'error', errno: ret, dmesg: sgx.dmesg };
  }
  return { kind: 'ok', sgx };
}
