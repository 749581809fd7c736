/**
 * The driver-level enclave build (load.c's encl_build()) moved to the SDK loader (src/sdk/loader/driver-build.ts);
 * these names keep `sgxsim demo`, `ps`, `stats` and the driver tests working.
 */

import type { Sys } from '../kernel/index';
import type { EnclaveLayout, LoadedEnclave } from '../sdk/index';
import { mapEnclaveSegments } from '../sdk/index';

export {
  buildEnclaveWithDriver as loadEnclave,
  type DriverBuildOptions as LoadOptions,
  EnclaveLoadError as LoadError,
  type LoadedEnclave,
} from '../sdk/index';

/** mmap(base + offset, size, prot, MAP_SHARED | MAP_FIXED, fd, 0) for every segment of `layout` (load.c). */
export function mapEnclave(sys: Sys, e: LoadedEnclave, layout: EnclaveLayout): Promise<void> {
  return mapEnclaveSegments(sys, e, layout.segments);
}
