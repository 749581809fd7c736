/**
 * The scenario `sgxsim demo` and `sgxsim ps` run: process A builds an enclave through /dev/sgx_enclave, forks B
 * (which inherits the fd and the mapping) and passes the fd over a unix socket (SCM_RIGHTS) to C, which was
 * forked before the enclave existed and maps it itself. Each touches one data page. Hooks let the caller look at
 * the system while all three have the page mapped, and after they have all exited.
 */
import type { SgxEncl } from '../driver/index';
import { AF_UNIX, Libc, MAP_FIXED, MAP_SHARED, PROT_READ, PROT_WRITE, SOCK_DGRAM, type Sys } from '../kernel/index';
import type { EnclaveLayout } from '../sdk/index';
import { buildEnclaveWithDriver, type LoadedEnclave } from '../sdk/index';
import type { SgxSystem } from '../vdso/index';

/** What the hooks see while the three processes have the data page mapped. */
export interface SharedView {
  readonly sys: Sys;
  readonly encl: SgxEncl;
  readonly enclave: LoadedEnclave;
  /** The data page every process touched. */
  readonly addr: number;
  readonly pids: { readonly A: number; readonly B: number; readonly C: number };
  /** What each process's host read of the page returned. */
  readonly reads: Readonly<Record<'A' | 'B' | 'C', Uint8Array>>;
  /** Makes B and C (and A) touch the page again; resolves when all three did. */
  touchAgain(): Promise<void>;
}

export interface ShareScenario {
  readonly system: SgxSystem;
  readonly layout: EnclaveLayout;
  readonly sigstruct: Uint8Array;
  /** Called in A once all three touched the page. */
  readonly whileMapped?: (v: SharedView) => Promise<void>;
}

/** prctl(PR_SET_NAME): the kernel has no prctl, so the name is set directly, as the syscall would. */
function setComm(sys: Sys, name: string): Promise<number> {
  return sys.kcall('prctl', (t) => {
    t.process.comm = name;
    return 0;
  });
}

/** Runs the scenario to completion. @returns the pids of A, B and C. */
export async function runShareScenario(o: ShareScenario): Promise<{ A: number; B: number; C: number }> {
  const { k, sgx } = o.system;
  const data = o.layout.segments.find((s) => s.kind === 'load' && s.prot === (PROT_READ | PROT_WRITE));
  if (!data) throw new Error('the enclave has no RW data segment to touch');
  const pids = { A: 0, B: 0, C: 0 };
  const reads: Record<string, Uint8Array> = {};
  const round = { want: 0, B: 0, C: 0, done: false };
  let addr = 0;
  // B and C touch the page each time `round.want` goes up, until `round.done`.
  const follower = async (sys: Sys, who: 'B' | 'C') => {
    while (!round.done) {
      if (round[who] < round.want) {
        const v = await sys.load(addr, 8);
        if (round[who] === 0) reads[who] = v;
        round[who]++;
      } else {
        await sys.sched_yield();
      }
    }
  };
  k.spawn(
    async (sys) => {
      const libc = new Libc(sys);
      pids.A = await sys.getpid();
      const sv = await libc.socketpair(AF_UNIX, SOCK_DGRAM);
      if (typeof sv === 'number') throw new Error(`socketpair failed: ${sv}`);
      const c = await sys.fork(async (cs) => {
        const cl = new Libc(cs);
        pids.C = await cs.getpid();
        await setComm(cs, 'C');
        await cs.close(sv[0]);
        const msg = await cl.recvmsg(sv[1], 8, 1);
        const fd = msg.fds[0]!;
        const base = Number(new DataView(msg.data.buffer, msg.data.byteOffset).getBigUint64(0, true));
        await cs.mmap(base + data.offset, data.size, data.prot, MAP_SHARED | MAP_FIXED, fd, 0);
        await follower(cs, 'C');
        return 0;
      });
      await sys.close(sv[1]);
      const e = await buildEnclaveWithDriver(sys, libc, { layout: o.layout, sigstruct: o.sigstruct });
      addr = e.base + data.offset;
      const b = await sys.fork(async (bs) => {
        pids.B = await bs.getpid();
        await setComm(bs, 'B');
        await follower(bs, 'B');
        return 0;
      });
      const msg = new Uint8Array(8);
      new DataView(msg.buffer).setBigUint64(0, BigInt(e.base), true);
      await libc.sendmsg(sv[0], msg, [e.fd]);
      const touchAll = async () => {
        round.want++;
        await sys.load(addr, 8);
        while (round.B < round.want || round.C < round.want) await sys.sched_yield();
      };
      round.want++;
      reads.A = await sys.load(addr, 8);
      while (round.B < round.want || round.C < round.want) await sys.sched_yield();
      const encl = sys.task.files!.get(e.fd)!.privateData as SgxEncl;
      await o.whileMapped?.({
        sys,
        encl,
        enclave: e,
        addr,
        pids,
        reads: reads as Record<'A' | 'B' | 'C', Uint8Array>,
        touchAgain: touchAll,
      });
      round.done = true;
      await libc.waitpid(b);
      await libc.waitpid(c);
      return 0;
    },
    { comm: 'A' },
  );
  await k.run({ maxSteps: 1_000_000 });
  // A batch ksgxd started may still hold pages: let it finish.
  k.spawn(async (sys) => {
    while (sgx.reclaimInFlight) await sys.sched_yield();
    return 0;
  });
  await k.run({ maxSteps: 10_000 });
  return pids;
}
