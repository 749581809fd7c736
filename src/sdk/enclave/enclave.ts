/**
 * The SDK's enclave handle: load an enclave built on the trusted runtime, call its ecalls by name, serve its
 * ocalls with TypeScript handlers, and share it — with the other threads of the process, with fork()ed children
 * and, through its two fds, with any process that receives them over SCM_RIGHTS.
 *
 * ```ts
 * const e = await loadEnclave(sys, computeElf, { tcs: 4 });
 * e.onOcall('print', ({ input }) => { console.log(new TextDecoder().decode(input)); });
 * const { out: digest } = await e.ecall('sha256', data, 32);
 * await sys.fork(async (child) => { await e.forked(child).ecall('nop'); return 0; });
 * ```
 *
 * A handle belongs to one process; what it knows is either immutable (addresses, names) or per process (the
 * untrusted buffers, the handlers, counters). Everything the processes share — the TCS pool and the descriptor
 * another process attaches with — is in the shared region (src/sdk/pool).
 */
import {
  AttrFlags,
  type CryptoBackend,
  computeMrSigner,
  getField,
  MiscSelect,
  nobleBackend,
  type RsaPrivateKey,
  SIGSTRUCT,
  toHex,
  Xfrm,
} from '../../hw/index';
import { F_GETFD, Libc, type Process, type Sys } from '../../kernel/index';
import { EcallError, EnclaveLoadError } from '../errors/index';
import { measureEnclave } from '../layout/index';
import { DEMO_SIGNING_KEY } from '../loader/demo-key';
import { buildEnclaveWithDriver, check, mapEnclaveSegments, reserveElrange } from '../loader/driver-build';
import { planEnclave } from '../loader/enclave-plan';
import type { RuntimeMeta } from '../loader/runtime-info';
import {
  createEnclaveShare,
  DEFAULT_WAIT_SLOTS,
  type EnclaveDescriptor,
  type MappedShare,
  mapEnclaveShare,
  type TcsPoolState,
} from '../pool/index';
import { type SigstructFields, signSigstruct } from '../sign/index';
import { type EcallCounters, type EcallResult, type OcallHandler, runEcall } from './run-ecall';
import { UntrustedArea } from './untrusted-area';

/** A signing key, or something that produces one when the loader needs it (e.g. reads a PEM file). */
export type SigningKeySource = RsaPrivateKey | (() => RsaPrivateKey);

export interface LoadEnclaveOptions {
  /** TCS pages in the pool (default: the runtime's built-in ones; more are added after the image). */
  readonly tcs?: number;
  /** The unmeasured heap in bytes (default: the runtime's), a multiple of 4096. */
  readonly heap?: number;
  /** The signer (default: the demo key, enclaves/keys/demo-key.pem). Ignored with `sigstruct`. */
  readonly key?: SigningKeySource;
  /** A ready SIGSTRUCT; its ENCLAVEHASH must be the enclave's MRENCLAVE. */
  readonly sigstruct?: Uint8Array;
  /** Signed fields beyond the defaults (ISVPRODID, ISVSVN, …); the hash, attributes and MISCSELECT are the load's. */
  readonly sigstructFields?: Omit<Partial<SigstructFields>, 'enclaveHash'>;
  /** SECS.ATTRIBUTES.DEBUG (EDBGRD/EDBGWR allowed). Default false. */
  readonly debug?: boolean;
  /** SECS.MISCSELECT (default EXINFO: exception handlers see the #PF/#GP address and error code). */
  readonly miscSelect?: number;
  /** Hashing and signing (default @noble). */
  readonly crypto?: CryptoBackend;
  /** Futex words waiters of the TCS pool spread over (default 64). */
  readonly waitSlots?: number;
}

/** What a process holds of an enclave. */
class ProcessState {
  readonly handlers: Map<string, OcallHandler>;
  readonly counters: EcallCounters = { ecalls: 0, ocalls: 0, exceptions: {}, eenter: 0, eresume: 0 };
  /** TCS this process left owned after an entry it could not finish (never handed out again). */
  poisoned = 0;
  /** The handler lookup runEcall() gets (made once: a closure per ecall costs on the hot path). */
  readonly handler = (name: string): OcallHandler | undefined => this.handlers.get(name);

  constructor(
    readonly process: Process,
    readonly enclaveFd: number,
    readonly share: MappedShare,
    readonly area: UntrustedArea,
    handlers?: ReadonlyMap<string, OcallHandler>,
  ) {
    this.handlers = new Map(handlers);
  }
}

/** An enclave as one thread of one process uses it. */
export class Enclave {
  private constructor(
    private readonly st: ProcessState,
    /** The thread this handle makes its calls on. */
    readonly sys: Sys,
  ) {}

  /** @internal */
  static _create(st: ProcessState, sys: Sys): Enclave {
    return new Enclave(st, sys);
  }

  private get d(): EnclaveDescriptor {
    return this.st.share.descriptor;
  }

  /** ELRANGE: SECS.BASEADDR and SECS.SIZE. */
  get base(): number {
    return this.d.base;
  }
  get size(): number {
    return this.d.size;
  }
  get mrEnclave(): Uint8Array {
    return this.d.mrEnclave;
  }
  get mrSigner(): Uint8Array {
    return this.d.mrSigner;
  }
  /** TCS pages in the pool, and their linear addresses. */
  get tcsCount(): number {
    return this.d.tcs.length;
  }
  get tcsAddresses(): readonly number[] {
    return this.d.tcs.map((t) => this.d.base + t);
  }
  /** encl_rt_meta as the enclave sees it (enclave_size and heap_size as the loader wrote them). */
  get runtimeMeta(): RuntimeMeta {
    return this.d.runtime.meta;
  }
  get ecallNames(): readonly string[] {
    return this.d.runtime.ecalls;
  }
  get ocallNames(): readonly string[] {
    return this.d.runtime.ocalls;
  }
  /** The enclave's fd and the shared region's fd: what another process needs (send both over SCM_RIGHTS). */
  get fds(): { readonly enclave: number; readonly share: number } {
    return { enclave: this.st.enclaveFd, share: this.st.share.fd };
  }
  /** This process's ecall counters. */
  get counters(): Readonly<EcallCounters> {
    return this.st.counters;
  }
  get poisonedTcs(): number {
    return this.st.poisoned;
  }

  /**
   * The same enclave for another thread of this process.
   * @throws EnclaveLoadError `wrong-process` when `sys` belongs to another process (use forked() or attachEnclave()).
   */
  on(sys: Sys): Enclave {
    if (sys.task.process !== this.st.process)
      throw new EnclaveLoadError({ kind: 'wrong-process', pid: sys.task.tgid, owner: this.st.process.pid });
    return sys === this.sys ? this : new Enclave(this.st, sys);
  }

  /**
   * The enclave in a child this process fork()ed after loading or attaching: the child inherited the fds and
   * every mapping (the enclave's and the shared region's MAP_SHARED, the untrusted buffers copy-on-write), and a
   * copy of the ocall handlers, as it would inherit a C host's function table.
   * @throws EnclaveLoadError `wrong-process` when `sys` is this process.
   */
  forked(sys: Sys): Enclave {
    if (sys.task.process === this.st.process)
      throw new EnclaveLoadError({ kind: 'wrong-process', pid: sys.task.tgid, owner: this.st.process.pid });
    const st = this.st;
    return new Enclave(new ProcessState(sys.task.process, st.enclaveFd, st.share, st.area, st.handlers), sys);
  }

  /** Registers the handler of ocall `name` in this process (replacing any). */
  onOcall(name: string, handler: OcallHandler): this {
    this.st.handlers.set(name, handler);
    return this;
  }

  /**
   * Calls ecall `name` with `input`, giving it `outLen` bytes of output: takes a TCS from the pool (sleeping until
   * one is free), runs the ecall through the vDSO with its ocalls and exceptions, and gives the TCS back.
   * @returns the ecall's return value and all `outLen` output bytes.
   * @throws EcallError `unknown-ecall`, `status` (the runtime refused the call: TOO_LARGE, BAD_POINTER …),
   *   `no-ocall-handler`, `ocall-threw`, `vdso`, `entry-fault`; EnclaveAbortedError (the enclave aborted, now or
   *   earlier).
   */
  async ecall(name: string, input: Uint8Array = new Uint8Array(0), outLen = 0): Promise<EcallResult> {
    const index = this.ecallNames.indexOf(name);
    if (index < 0) throw new EcallError({ kind: 'unknown-ecall', ecall: name, known: this.ecallNames });
    const { sys, st } = this;
    const pool = st.share.pool;
    const grant = await pool.acquire(sys);
    let release = true;
    try {
      return await runEcall({
        sys,
        slot: st.area.slot(grant.index),
        tcsAddr: this.d.base + this.d.tcs[grant.index]!,
        tcsIndex: grant.index,
        ticket: grant.ticket,
        waited: grant.waited,
        name,
        index,
        input,
        outLen,
        ocallNames: this.ocallNames,
        handler: st.handler,
        counters: st.counters,
      });
    } catch (e) {
      // After a failed entry the TCS may be mid-ecall (CSSA > 0, or waiting for an ORET): never hand it out again.
      if (e instanceof EcallError && (e.data.kind === 'vdso' || e.data.kind === 'entry-fault')) {
        release = false;
        st.poisoned++;
      }
      throw e;
    } finally {
      if (release) await pool.release(sys, grant);
    }
  }

  /** The pool's shared words now (owners, use counts, waits). */
  pool(): Promise<TcsPoolState> {
    return this.st.share.pool.state(this.sys);
  }

  /** Unmaps the enclave, the shared region and the buffers from this process and closes both fds. */
  async close(): Promise<void> {
    const { sys, st } = this;
    await sys.munmap(this.d.base, this.d.size);
    await sys.munmap(st.share.addr, st.share.size);
    await sys.munmap(st.area.addr, st.area.length);
    await sys.close(st.enclaveFd);
    await sys.close(st.share.fd);
  }
}

function keyOf(k: SigningKeySource | undefined): RsaPrivateKey {
  if (k === undefined) return DEMO_SIGNING_KEY;
  return typeof k === 'function' ? k() : k;
}

/**
 * Builds an enclave on the trusted runtime from its ELF, in the calling process: lays it out with the TCS and heap
 * asked for, signs it (or checks the SIGSTRUCT given), creates, adds and initialises it through /dev/sgx_enclave,
 * maps every segment MAP_SHARED|MAP_FIXED, and sets up the TCS pool in a shared memfd.
 * @throws EnclaveLayoutError (bad ELF), EnclaveLoadError (`no-runtime`, `runtime-mismatch`, `tcs-count`,
 *   `heap-size`, `sigstruct-mismatch`, `syscall` with the failing step and errno), SigningKeyError, SigstructError.
 */
export async function loadEnclave(sys: Sys, elf: Uint8Array, o: LoadEnclaveOptions = {}): Promise<Enclave> {
  const crypto = o.crypto ?? nobleBackend;
  const plan = planEnclave(elf, { tcs: o.tcs, heapSize: o.heap });
  const mrEnclave = measureEnclave(crypto, plan.layout);
  const attributes = AttrFlags.MODE64BIT | (o.debug ? AttrFlags.DEBUG : 0n);
  const miscSelect = o.miscSelect ?? MiscSelect.EXINFO;
  let sigstruct = o.sigstruct;
  if (sigstruct) {
    const hash = getField(SIGSTRUCT, sigstruct, 0, 'enclaveHash');
    if (toHex(hash) !== toHex(mrEnclave))
      throw new EnclaveLoadError({ kind: 'sigstruct-mismatch', mrEnclave: toHex(mrEnclave), enclaveHash: toHex(hash) });
  } else {
    sigstruct = signSigstruct(crypto, keyOf(o.key), {
      ...o.sigstructFields,
      attributes,
      xfrm: Xfrm.LEGACY,
      miscSelect,
      enclaveHash: mrEnclave,
    });
  }
  const libc = new Libc(sys);
  const built = await buildEnclaveWithDriver(sys, libc, {
    layout: plan.layout,
    sigstruct,
    attributes,
    miscSelect,
    xfrm: Xfrm.LEGACY,
  });
  const descriptor: EnclaveDescriptor = {
    base: built.base,
    size: built.size,
    mrEnclave,
    mrSigner: computeMrSigner(crypto, sigstruct),
    segments: plan.layout.segments.map((s) => ({ offset: s.offset, size: s.size, prot: s.prot })),
    tcs: plan.tcs,
    runtime: plan.runtime,
  };
  const share = await createEnclaveShare(sys, libc, descriptor, o.waitSlots ?? DEFAULT_WAIT_SLOTS);
  const area = await UntrustedArea.map(sys, plan.tcs.length, plan.runtime.meta.edgeBufSize);
  sys.task.kernel.traceTask(sys.task, 'enclave_loaded', {
    base: built.base,
    size: built.size,
    tcs: plan.tcs.length,
    mrenclave: toHex(mrEnclave),
  });
  return Enclave._create(new ProcessState(sys.task.process, built.fd, share, area), sys);
}

/**
 * Uses an enclave another process loaded, from the two fds it sent (Enclave.fds): maps the shared region, reads
 * the descriptor, maps ELRANGE at the enclave's base (it cannot move: SECS.BASEADDR is fixed at ECREATE) and the
 * segments over it, and joins the TCS pool.
 * @throws EnclaveLoadError `bad-pool` (not a shared region), `syscall` (EBADF, EEXIST when ELRANGE's addresses
 *   are taken in this process, …).
 */
export async function attachEnclave(sys: Sys, enclaveFd: number, shareFd: number): Promise<Enclave> {
  check('fcntl enclave fd', await sys.fcntl(enclaveFd, F_GETFD));
  const share = await mapEnclaveShare(sys, shareFd);
  const d = share.descriptor;
  await reserveElrange(sys, d.size, d.base);
  await mapEnclaveSegments(sys, { fd: enclaveFd, base: d.base, size: d.size }, d.segments);
  const area = await UntrustedArea.map(sys, d.tcs.length, d.runtime.meta.edgeBufSize);
  return Enclave._create(new ProcessState(sys.task.process, enclaveFd, share, area), sys);
}
