/**
 * Each process's untrusted memory for ecalls: one slot per TCS of the pool, used by whichever of the process's
 * threads holds that TCS, with the vDSO's struct sgx_enclave_run, the runtime's call block, the input and output
 * buffers (enclaves/runtime/README.md "The call block") and the ocall scratch area. Private anonymous memory, so
 * a fork()ed child gets its own copy at the same addresses, and nothing in it is shared between processes.
 *
 * ```
 *   slot + 0x0000   struct sgx_enclave_run (256 bytes), then the call block (128 bytes, 8-aligned)
 *   slot + 0x1000   input buffer   (edge buffer size)
 *   slot + 0x3000   output buffer  (edge buffer size)
 *   slot + 0x5000   scratch area   (SCRATCH_SIZE): ocall input at +0, output at the input length rounded to 16
 * ```
 */
import { PAGE_SIZE } from '../../hw/index';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, type Sys } from '../../kernel/index';
import { check } from '../loader/driver-build';

/** Bytes of ocall arguments a slot offers (input and output together). */
export const SCRATCH_SIZE = 4 * PAGE_SIZE;

/** Addresses inside one slot. */
export interface AreaSlot {
  readonly run: number;
  readonly callBlock: number;
  readonly input: number;
  readonly output: number;
  readonly scratch: number;
  /** Capacity of the input and output buffers each. */
  readonly bufferSize: number;
}

/** The slots of one process. */
export class UntrustedArea {
  private constructor(
    readonly addr: number,
    readonly slotSize: number,
    readonly bufferSize: number,
    readonly slots: number,
  ) {}

  /**
   * Maps the area for `slots` TCS with buffers of `bufferSize` bytes (the runtime's edge buffer).
   * @throws EnclaveLoadError `syscall` (ENOMEM).
   */
  static async map(sys: Sys, slots: number, bufferSize: number): Promise<UntrustedArea> {
    const buf = Math.ceil(bufferSize / PAGE_SIZE) * PAGE_SIZE;
    const slotSize = PAGE_SIZE + 2 * buf + SCRATCH_SIZE;
    const addr = check(
      'mmap untrusted area',
      await sys.mmap(0, slots * slotSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
    );
    return new UntrustedArea(addr, slotSize, buf, slots);
  }

  slot(i: number): AreaSlot {
    const s = this.addr + i * this.slotSize;
    return {
      run: s,
      callBlock: s + 256,
      input: s + PAGE_SIZE,
      output: s + PAGE_SIZE + this.bufferSize,
      scratch: s + PAGE_SIZE + 2 * this.bufferSize,
      bufferSize: this.bufferSize,
    };
  }

  get length(): number {
    return this.slots * this.slotSize;
  }
}
