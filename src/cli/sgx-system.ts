/** A simulated machine for the CLI scenarios: RAM and one EPC section, the kernel on it, and the SGX driver. */
import { type Sgx, sgxInit } from '../driver/index';
import { type CryptoBackend, DEFAULT_EPC_BASE, PAGE_SIZE, PhysMem, Rng, SgxMachine } from '../hw/index';
import { Kernel } from '../kernel/index';

export interface SgxSystem {
  readonly k: Kernel;
  readonly m: SgxMachine;
  readonly sgx: Sgx;
}

export interface SgxSystemOptions {
  readonly crypto: CryptoBackend;
  readonly epcPages: number;
  readonly ramBytes?: number;
  readonly seed?: number | string;
  readonly cpus?: number;
}

/** Boots the machine: physical memory, the SGX package, the kernel, sgx_init(). */
export function bootSgxSystem(o: SgxSystemOptions): SgxSystem {
  const mem = new PhysMem({
    ramBytes: o.ramBytes ?? 64 * 2 ** 20,
    epcSections: [{ base: DEFAULT_EPC_BASE, size: o.epcPages * PAGE_SIZE }],
  });
  const m = new SgxMachine({ physMem: mem, crypto: o.crypto, rng: new Rng(`machine-${o.seed ?? 1}`) });
  const k = new Kernel({ mem, seed: o.seed ?? 1, crypto: o.crypto, cpus: o.cpus ?? 2 });
  const r = sgxInit(k, m);
  if (r.kind !== 'ok') throw new Error(`sgx_init failed with ${r.errno.name}: ${r.dmesg.join(' ')}`);
  return { k, m, sgx: r.sgx };
}
