/**
 * One enclave, several processes (DESIGN.md §4, linux-driver.md §1 and §9): the fd shared by fork and by
 * SCM_RIGHTS is the same enclave; every mm that maps it joins mm_list; a zap removes the page from every mm and
 * each faults it back; the enclave is released exactly once, after the last fd and the last mapping, and gives
 * back every EPC page; the same seed gives the same trace.
 */
import { describe, expect, it } from 'vitest';
import { type SgxEncl, sgxCheckInvariants, sgxZapEnclavePtes } from '../../../src/driver/index';
import { enclaveEnter, enclaveExit, PAGE_SIZE } from '../../../src/hw/index';
import {
  AF_UNIX,
  type Kernel,
  Libc,
  MAP_FIXED,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  SOCK_DGRAM,
  type Sys,
} from '../../../src/kernel/index';
import { buildEnclaveWithDriver } from '../../../src/sdk/index';
import { makeSgxSystem, sampleEnclave } from '../fixtures/sgx-system';

const P = PAGE_SIZE;

/** The enclave behind `fd` in the calling process. */
function enclOf(sys: Sys, fd: number): SgxEncl {
  return sys.task.files!.get(fd)!.privateData as SgxEncl;
}

/** Whether `addr` has a PTE in the calling process. */
const hasPte = (sys: Sys, addr: number) => sys.task.mm!.pageTable.lookup(addr / P) !== undefined;

/** The sample's RW data segment. */
function dataSeg() {
  return sampleEnclave().layout.segments.find((s) => s.kind === 'load' && s.prot === (PROT_READ | PROT_WRITE))!;
}

/**
 * A builds and maps the sample enclave, forks B (which inherits fd and mapping) and sends the fd to C (forked
 * before the enclave existed, so C has it only through SCM_RIGHTS). Each maps (C) and touches a data page.
 */
async function sharingScenario(seed: number) {
  const s = makeSgxSystem({ seed, cpus: 2 });
  const { layout, sigstruct } = sampleEnclave();
  const data = dataSeg();
  const log: string[] = [];
  let shared: SgxEncl | undefined;
  const mms: Record<string, number> = {};
  const barrier = { touched: 0, zapped: false, refaulted: 0, done: 0 };
  const baseline = s.sgx.nrFreePages;
  s.k.spawn(async (sys) => {
    const libc = new Libc(sys);
    const sv = (await libc.socketpair(AF_UNIX, SOCK_DGRAM)) as [number, number];
    const c = await sys.fork(async (cs) => {
      const cl = new Libc(cs);
      await cs.close(sv[0]);
      const m = await cl.recvmsg(sv[1], 64, 1);
      const fd = m.fds[0]!;
      const base = Number(new DataView(m.data.buffer, m.data.byteOffset).getBigUint64(0, true));
      log.push(`C same enclave ${enclOf(cs, fd) === shared}`);
      await cs.mmap(base + data.offset, data.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
      const v = await cs.load(base + data.offset, 4);
      log.push(`C reads ${Array.from(v).join(',')}`);
      mms.C = cs.task.mm!.id;
      barrier.touched++;
      while (!barrier.zapped) await cs.sched_yield();
      log.push(`C pte after zap ${hasPte(cs, base + data.offset)}`);
      await cs.load(base + data.offset, 1);
      log.push(`C pte after touch ${hasPte(cs, base + data.offset)}`);
      barrier.refaulted++;
      while (barrier.done === 0) await cs.sched_yield();
      return 0;
    });
    await sys.close(sv[1]);
    const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct });
    shared = enclOf(sys, e.fd);
    const addr = e.base + data.offset;
    mms.A = sys.task.mm!.id;
    const b = await sys.fork(async (bs) => {
      log.push(`B same enclave ${enclOf(bs, e.fd) === shared}`);
      log.push(`B inherited VMA ${bs.task.mm!.vmas.lookup(addr)?.ops === s.sgx.vmOps}`);
      await bs.load(addr, 1);
      mms.B = bs.task.mm!.id;
      barrier.touched++;
      while (!barrier.zapped) await bs.sched_yield();
      log.push(`B pte after zap ${hasPte(bs, addr)}`);
      await bs.load(addr, 1);
      log.push(`B pte after touch ${hasPte(bs, addr)}`);
      barrier.refaulted++;
      while (barrier.done === 0) await bs.sched_yield();
      return 0;
    });
    const msg = new Uint8Array(8);
    new DataView(msg.buffer).setBigUint64(0, BigInt(e.base), true);
    await libc.sendmsg(sv[0], msg, [e.fd]);
    await sys.load(addr, 1);
    barrier.touched++;
    while (barrier.touched < 3) await sys.sched_yield();
    log.push(
      `mm_list ${shared.mmList.map((x) => Object.entries(mms).find(([, id]) => id === x.mm.id)?.[0]).join(' ')}`,
    );
    log.push(`refcount ${shared.refcount}`);
    log.push(`invariants ${sgxCheckInvariants(s.sgx).join('; ') || 'ok'}`);
    await sys.kcall('zap', () => {
      sgxZapEnclavePtes(shared!, addr);
      return 0;
    });
    log.push(`A pte after zap ${hasPte(sys, addr)}`);
    barrier.zapped = true;
    await sys.load(addr, 1);
    log.push(`A pte after touch ${hasPte(sys, addr)}`);
    while (barrier.refaulted < 2) await sys.sched_yield();
    barrier.done = 1;
    await libc.waitpid(b);
    await libc.waitpid(c);
    return 0;
  });
  await s.k.run({ maxSteps: 200_000 });
  return { ...s, log, baseline, shared: shared! };
}

describe('an enclave shared by fork and SCM_RIGHTS', () => {
  it('is the same enclave in A, B and C; each mm joins mm_list once; a zap empties every mm and each faults back', async () => {
    const r = await sharingScenario(11);
    const log = r.log;
    expect(log).toContain('B same enclave true');
    expect(log).toContain('B inherited VMA true');
    expect(log).toContain('C same enclave true');
    expect(log).toContain('C reads 255,255,255,255');
    const mmList = log.find((l) => l.startsWith('mm_list'))!;
    expect(mmList.split(' ').slice(1).sort()).toEqual(['A', 'B', 'C']);
    // file + 3 mm_list entries
    expect(log).toContain('refcount 4');
    expect(log).toContain('invariants ok');
    for (const p of ['A', 'B', 'C']) {
      expect(log).toContain(`${p} pte after zap false`);
      expect(log).toContain(`${p} pte after touch true`);
    }
  });

  it('is released once everything exited, and every EPC page is free again', async () => {
    const r = await sharingScenario(11);
    expect(r.shared.released).toBe(true);
    expect(r.k.trace.events.filter((e) => e.ev === 'sgx_encl_release')).toHaveLength(1);
    expect(r.sgx.nrFreePages).toBe(r.baseline);
    expect(r.m.epcm.validCount).toBe(0);
    expect(sgxCheckInvariants(r.sgx)).toEqual([]);
  });

  it('gives the same trace hash for the same seed, and another for another seed', async () => {
    const a = await sharingScenario(21);
    const b = await sharingScenario(21);
    const c = await sharingScenario(22);
    expect(a.k.trace.digest()).toBe(b.k.trace.digest());
    expect(a.log).toEqual(b.log);
    expect(c.k.trace.digest()).not.toBe(a.k.trace.digest());
  });
});

describe('enclave lifetime', () => {
  /** Builds and maps the sample, then runs `body`. Returns the system and the enclave. */
  async function run(
    body: (sys: Sys, libc: Libc, e: { fd: number; base: number }, encl: SgxEncl, k: Kernel) => Promise<void>,
  ) {
    const s = makeSgxSystem();
    const { layout, sigstruct } = sampleEnclave();
    let encl: SgxEncl | undefined;
    const baseline = s.sgx.nrFreePages;
    s.k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct });
      encl = enclOf(sys, e.fd);
      await body(sys, libc, e, encl, s.k);
      return 0;
    });
    await s.k.run({ maxSteps: 100_000 });
    return { ...s, encl: encl!, baseline };
  }

  it('closing the fd keeps the enclave while a mapping exists; the last munmap releases it', async () => {
    const out: string[] = [];
    const r = await run(async (sys, _l, e, encl) => {
      const addr = e.base + dataSeg().offset;
      await sys.close(e.fd);
      out.push(`after close: released ${encl.released}, refs ${encl.refcount}`);
      await sys.load(addr, 1);
      out.push(`touch works: pte ${hasPte(sys, addr)}`);
      // Unmap every enclave VMA: the file's last reference (vm_file) goes, sgx_release() drains mm_list.
      await sys.munmap(e.base, encl.size);
      out.push(`after munmap: released ${encl.released}, mm_list ${encl.mmList.length}`);
    });
    expect(out).toEqual([
      'after close: released false, refs 2',
      'touch works: pte true',
      'after munmap: released true, mm_list 0',
    ]);
    expect(r.k.trace.events.filter((e) => e.ev === 'sgx_encl_release')).toHaveLength(1);
    expect(r.sgx.nrFreePages).toBe(r.baseline);
  });

  it('unmapping keeps the mm on mm_list until the fd is closed (release drains it) or the process exits', async () => {
    const out: string[] = [];
    const r = await run(async (sys, _l, e, encl) => {
      await sys.munmap(e.base, encl.size);
      out.push(`unmapped: mm_list ${encl.mmList.length}, refs ${encl.refcount}`);
      await sys.close(e.fd);
      out.push(`closed: released ${encl.released}, mm_list ${encl.mmList.length}`);
    });
    expect(out).toEqual(['unmapped: mm_list 1, refs 2', 'closed: released true, mm_list 0']);
    expect(r.sgx.nrFreePages).toBe(r.baseline);
  });

  it('a process exit with the fd still shared drops only its mm (the notifier), the enclave lives on', async () => {
    const out: string[] = [];
    await run(async (sys, libc, e, encl) => {
      const child = await sys.fork(async (c) => {
        await c.load(e.base + dataSeg().offset, 1);
        return 0;
      });
      await libc.waitpid(child);
      out.push(`after child exit: mm_list ${encl.mmList.length}, refs ${encl.refcount}, released ${encl.released}`);
    });
    expect(out).toEqual(['after child exit: mm_list 1, refs 2, released false']);
  });

  it('an EREMOVE that fails at release leaks the page with the upstream warning (a CPU is still inside)', async () => {
    const s = makeSgxSystem();
    const { layout, sigstruct } = sampleEnclave();
    let secsPa = 0;
    s.k.spawn(async (sys) => {
      const libc = new Libc(sys);
      const e = await buildEnclaveWithDriver(sys, libc, { layout, sigstruct });
      secsPa = enclOf(sys, e.fd).secs.epcPage!.pa;
      // A logical processor stays in enclave mode (a thread that never left) while the process goes away.
      await sys.kcall('enter', () => {
        enclaveEnter(s.m, secsPa, 1);
        return 0;
      });
      return 0;
    });
    await s.k.run({ maxSteps: 100_000 });
    const leaked = layout.pages.length + 1;
    expect(s.sgx.dmesg).toContain(
      'sgx: WARNING: EREMOVE returned 14 (0xe) and an EPC page was leaked. SGX may become unusable. Refer to Documentation/x86/sgx.rst for more information.',
    );
    expect(
      s.sgx.dmesg.filter((l) => l.includes('EREMOVE returned')),
      'WARN_ONCE: one line per call site',
    ).toHaveLength(1);
    expect(s.sgx.stats.leaked, 'every child (SGX_ENCLAVE_ACT) and the SECS (SGX_CHILD_PRESENT)').toBe(leaked);
    expect(s.sgx.nrFreePages).toBe(256 - leaked);
    expect(s.m.epcm.validCount).toBe(leaked);
    expect(sgxCheckInvariants(s.sgx)).toEqual([]);
    enclaveExit(s.m, secsPa, 1);
  });
});
