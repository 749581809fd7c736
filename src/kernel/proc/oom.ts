/**
 * The OOM killer (mm/oom_kill.c out_of_memory()): when a page allocation cannot be satisfied, the process
 * with the most resident memory (oom_badness() without adjustments; the first created on a tie) is killed
 * with SIGKILL, and the allocation is retried.
 */
import { SIGKILL, wSignaled } from '../abi/index';
import type { Kernel } from '../kernel';
import type { Process } from './process';

/** Picks and kills a victim. @returns it, or undefined when nothing can be killed. */
export function outOfMemory(k: Kernel): Process | undefined {
  let victim: Process | undefined;
  let best = -1;
  for (const p of k.processes.values()) {
    if (p.isInit || p.state !== 'alive' || p.groupExit !== undefined) continue;
    const mm = p.threads[0]?.mm;
    if (!mm) continue;
    if (mm.rss > best) {
      best = mm.rss;
      victim = p;
    }
  }
  if (!victim) return undefined;
  k.traceProcess(victim, 'oom_kill', { rss: best });
  k.exits.groupExit(victim, wSignaled(SIGKILL));
  return victim;
}
