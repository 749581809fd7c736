/**
 * struct sighand_struct: the signal dispositions shared by threads created with CLONE_SIGHAND. Handlers are
 * TypeScript callbacks run on the receiving thread at its next return to user mode.
 */
import { SA_RESTART, type SigInfo } from '../abi/index';
import type { Sys } from '../syscalls/sys';

/** A handler: it runs on the target thread and may make syscalls through `sys`. */
export type SignalHandler = (sys: Sys, signo: number, info: SigInfo) => void | Promise<void>;

/** sa_handler: SIG_DFL, SIG_IGN or a handler. */
export type SigDisposition = 'SIG_DFL' | 'SIG_IGN' | SignalHandler;

/** struct k_sigaction. `mask` is the 64-bit sa_mask. */
export interface SigAction {
  readonly handler: SigDisposition;
  readonly flags: number;
  readonly mask: bigint;
}

export const SIG_DFL_ACTION: SigAction = Object.freeze({ handler: 'SIG_DFL', flags: 0, mask: 0n });

export class SigHand {
  private readonly actions = new Map<number, SigAction>();
  /** Tasks sharing this table. */
  users = 1;

  get(sig: number): SigAction {
    return this.actions.get(sig) ?? SIG_DFL_ACTION;
  }

  set(sig: number, act: SigAction): void {
    if (act.handler === 'SIG_DFL' && act.flags === 0 && act.mask === 0n) this.actions.delete(sig);
    else this.actions.set(sig, act);
  }

  /** copy_sighand(): a private copy for fork(). */
  clone(): SigHand {
    const s = new SigHand();
    for (const [k, v] of this.actions) s.actions.set(k, v);
    return s;
  }

  /** True when `sig` has a handler with SA_RESTART. */
  restarts(sig: number): boolean {
    return (this.get(sig).flags & SA_RESTART) !== 0;
  }

  /** The installed non-default actions, by signal number (for snapshots). */
  list(): Array<[number, SigAction]> {
    return [...this.actions.entries()].sort((a, b) => a[0] - b[0]);
  }
}
