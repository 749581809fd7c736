/**
 * Each process's untrusted memory for ecalls: one slot per TCS of the pool, used by whichever of the process's
 * threads holds that TCS, with the vDSO's struct sgx_enclave_run, the runtime's call block, the input and output
 * buffers (enclaves/runtime/README.md "The call block") and the ocall scratch area. Private anonymous memory, so
 * a fork()ed child gets its own copy at the same addresses, and nothing in it is shared between processes.
 *
 * ```
 *   slot + 0x000    struct sgx_enclave_run (256 bytes), the call block (128 bytes), then the input buffer (edge
 *                   buffer size): one store writes all three before an ecall
 *   then, page aligned, the output buffer (edge buffer size) and the scratch area (SCRATCH_SIZE): ocall input at
 *                   +0, output at the input length rounded to 16
 * ```
 */
import { PAGE_SIZE } from '../../hw/index';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, type Sys } from '../../kernel/index';
import { check } from '../loader/driver-build';

/** Bytes of ocall arguments a slot offers (input and output together). */
export const SCRATCH_SIZE = 4 * PAGE_SIZE;

/** Offsets in a slot: the run struct, the call block right after it, the input right after that. */
const CALL_BLOCK_AT = 256;
const INPUT = 384;

/** Addresses inside one slot (run, callBlock and input are contiguous). */
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
    const slotSize = Math.ceil((INPUT + buf) / PAGE_SIZE) * PAGE_SIZE + buf + SCRATCH_SIZE;
    const addr = check(
      'mmap untrusted area',
      await sys.mmap(0, slots * slotSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
    );
    return new UntrustedArea(addr, slotSize, buf, slots);
  }

  slot(i: number): AreaSlot {
    const s = this.addr + i * this.slotSize;
    const output = s + Math.ceil((INPUT + this.bufferSize) / PAGE_SIZE) * PAGE_SIZE;
    return {
      run: s,
      callBlock: s + CALL_BLOCK_AT,
      input: s + INPUT,
      output,
      scratch: output + this.bufferSize,
      bufferSize: this.bufferSize,
    };
  }

  get length(): number {
    return this.slots * this.slotSize;
  }
}
