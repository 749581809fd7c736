/**
 * ksgxd, the EPC reclaimer thread (main.c ksgxd(), sgx_page_reclaimer_init()). It sleeps until fewer than
 * SGX_NR_HIGH_PAGES pages are free and something is reclaimable (allocations that leave fewer than
 * SGX_NR_LOW_PAGES free wake it), then reclaims a batch at a time. Each phase of a batch is a scheduling point
 * here, so the rest of the system runs between them as it would on the other CPUs.
 *
 * The boot-time sanitization ksgxd starts with runs in sgx_init() in this model (sgx-init.ts), before any user
 * process exists, which is where a real boot has finished it.
 */
import { block, type KthreadHandle, type Task } from '../../kernel/index';
import { SGX_NR_HIGH_PAGES } from './constants';
import { sgxShouldReclaim } from './lru';
import { type ReclaimBatch, sgxReclaimBlockBatch, sgxReclaimIsolate, sgxReclaimWriteBatch } from './reclaim';
import type { Sgx } from './sgx';

/** The body of ksgxd. */
async function ksgxd(sgx: Sgx, h: KthreadHandle): Promise<void> {
  while (!h.shouldStop) {
    // wait_event_freezable(ksgxd_waitq, kthread_should_stop() || sgx_should_reclaim(SGX_NR_HIGH_PAGES))
    await h.call('ksgxd_wait', () =>
      h.shouldStop || sgxShouldReclaim(sgx, SGX_NR_HIGH_PAGES) ? 0 : block(sgx.ksgxdWq),
    );
    if (h.shouldStop) break;
    let batch: ReclaimBatch | undefined;
    await h.call('sgx_reclaim_pages', () => {
      if (!sgxShouldReclaim(sgx, SGX_NR_HIGH_PAGES)) return 0;
      sgx.stats.ksgxdBatches++;
      batch = sgxReclaimIsolate(sgx);
      sgx.reclaimInFlight = true;
      sgx.reclaimPhase = 'isolated';
      return 0;
    });
    if (batch) {
      const b = batch;
      await h.call('sgx_reclaimer_block', () => {
        sgxReclaimBlockBatch(b);
        sgx.reclaimPhase = 'blocked';
        return 0;
      });
      await h.call('sgx_reclaimer_write', () => {
        sgxReclaimWriteBatch(sgx, b);
        sgx.reclaimInFlight = false;
        sgx.reclaimPhase = null;
        return 0;
      });
    }
    // cond_resched()
    await h.yield();
  }
}

/** sgx_page_reclaimer_init(): kthread_run(ksgxd, NULL, "ksgxd"). */
export function sgxPageReclaimerInit(sgx: Sgx): Task {
  const t = sgx.k.kthreadRun('ksgxd', (h) => ksgxd(sgx, h));
  sgx.ksgxdTask = t;
  return t;
}
