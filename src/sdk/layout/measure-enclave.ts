/**
 * MRENCLAVE of a laid-out enclave, computed offline with the same record builders the ENCLS leaves use
 * (src/hw/sgx/measure.ts): ECREATE(SSAFRAMESIZE, SIZE), then per page EADD(offset, SECINFO) and, for measured
 * pages, 16 EEXTENDs of 256 bytes (SDM Vol. 3D §41.2; the selftests' sigstruct.c encl_measure()).
 */
import { type CryptoBackend, EEXTEND_CHUNK, Measurement, PAGE_SIZE, PageType, SecinfoFlags } from '../../hw/index';
import type { EnclaveLayout } from './enclave-layout';

/**
 * The MRENCLAVE that EINIT will compute after the loader creates the enclave and adds `layout.pages` in order.
 * @returns the 32-byte measurement.
 */
export function measureEnclave(crypto: CryptoBackend, layout: EnclaveLayout): Uint8Array {
  const m = Measurement.start(crypto);
  m.ecreate(layout.ssaFrameSize, BigInt(layout.size));
  for (const page of layout.pages) {
    // "IF (SCRATCH_SECINFO.FLAGS.PT is PT_TCS) SCRATCH_SECINFO.FLAGS.R/W/X ← 0" before the EADD record — SDM EADD.
    const rwx = SecinfoFlags.R | SecinfoFlags.W | SecinfoFlags.X;
    const flags = page.pageType === PageType.TCS ? page.secinfoFlags & ~rwx : page.secinfoFlags;
    m.eadd(BigInt(page.offset), flags);
    if (!page.measure) continue;
    for (let c = 0; c < PAGE_SIZE; c += EEXTEND_CHUNK) {
      m.eextend(BigInt(page.offset + c), page.bytes.subarray(c, c + EEXTEND_CHUNK));
    }
  }
  return m.finalize();
}
