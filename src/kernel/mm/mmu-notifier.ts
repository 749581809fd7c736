/** mmu_notifier_register() / mmu_notifier_unregister() (mm/mmu_notifier.c), reduced to release and invalidate. */
import { EINVAL, type Errno } from '../abi/index';
import type { Mm } from './mm';
import type { MmuNotifier } from './types';

/**
 * Subscribes `n` to `mm`'s teardown and PTE invalidations.
 * @returns 0, or EINVAL when the mm is already torn down (Linux requires mm_users > 0).
 */
export function mmuNotifierRegister(n: MmuNotifier, mm: Mm): 0 | Errno {
  if (mm.dead) return EINVAL;
  if (!mm.notifiers.includes(n)) mm.notifiers.push(n);
  return 0;
}

/** Removes the subscription if present (mmu_notifier_unregister(); release is not called). */
export function mmuNotifierUnregister(n: MmuNotifier, mm: Mm): void {
  const i = mm.notifiers.indexOf(n);
  if (i >= 0) mm.notifiers.splice(i, 1);
}
