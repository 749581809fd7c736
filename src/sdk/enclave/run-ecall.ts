/**
 * The host half of one ecall on a TCS the thread holds, through __vdso_sgx_enter_enclave() (enclaves/runtime/
 * README.md "Flows"):
 *
 *   EENTER(ECALL, index, block) ──► EEXIT OK ─────────────► read the output, done
 *        ▲                      ├─► EEXIT OCALL ─► run the TS handler, write its output to scratch ─► EENTER(ORET)
 *        │                      ├─► EEXIT ABORT / DEAD ─► EnclaveAbortedError
 *        │                      ├─► EEXIT other status ─► EcallError
 *        │                      └─► exception reported (run.function = EENTER/ERESUME after the AEX)
 *        │                              └─► EENTER(EXCEPTION, 0, block) ─► EEXIT EXCEPTION_HANDLED/ABORTED ─► ERESUME
 *
 * Interrupts inside the enclave never get here: the vDSO's AEP resumes them (ERESUME through the ENCLU). Faults
 * the kernel resolves (an evicted EPC page reloaded with ELDU) are invisible too. The exit registers come from the
 * vDSO (what a C caller's user handler would see); refused commands write nothing to memory.
 */
import { offsetOf, PAGE_SIZE } from '../../hw/index';
import { EIO, ENOSYS, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, type Sys } from '../../kernel/index';
import { EENTER, ERESUME, SGX_ENCLAVE_RUN, type VdsoExitInfo, vdsoSgxEnterEnclave } from '../../vdso/index';
import { EcallError, EnclaveAbortedError } from '../errors/index';
import { check } from '../loader/driver-build';
import { AbortReason, CALL_BLOCK, EnclCommand, EnclStatus } from '../runtime-abi';
import type { AreaSlot } from './untrusted-area';
import { SCRATCH_SIZE } from './untrusted-area';

/** What an ocall handler gets. */
export interface OcallRequest {
  readonly name: string;
  readonly index: number;
  /** The enclave's input (a copy). */
  readonly input: Uint8Array;
  /** Bytes the enclave expects back at most. */
  readonly outLen: number;
  /** The ecall it came from. */
  readonly ecall: string;
  /** The calling thread, for syscalls the handler makes (printing, files, sockets). */
  readonly sys: Sys;
}

/** What an ocall handler returns: the value ocall() returns in the enclave, and output bytes (truncated to outLen). */
export interface OcallReply {
  readonly ret?: bigint | number;
  readonly out?: Uint8Array;
}

export type OcallHandler = (req: OcallRequest) => OcallReply | undefined | Promise<OcallReply | undefined>;

/** How an ecall went. */
export interface EcallResult {
  /** The ecall's return value (RSI at the OK exit), signed. */
  readonly ret: bigint;
  /** All `outLen` bytes of the output buffer. */
  readonly out: Uint8Array;
  /** Index of the TCS it ran on. */
  readonly tcs: number;
  /** Ocalls served and exceptions handled along the way. */
  readonly ocalls: number;
  readonly exceptions: number;
}

/** Counters a process keeps over its ecalls. */
export interface EcallCounters {
  ecalls: number;
  ocalls: number;
  /** Exceptions the vDSO reported, by vector. */
  readonly exceptions: Record<number, number>;
  eenter: number;
  eresume: number;
}

export interface RunEcallArgs {
  readonly sys: Sys;
  /** The pool's grant (its ticket and whether the thread slept for it), for the trace. */
  readonly ticket: number;
  readonly waited: boolean;
  readonly slot: AreaSlot;
  /** The TCS's linear address and pool index. */
  readonly tcsAddr: number;
  readonly tcsIndex: number;
  readonly name: string;
  readonly index: number;
  readonly input: Uint8Array;
  readonly outLen: number;
  readonly ocallNames: readonly string[];
  readonly handler: (name: string) => OcallHandler | undefined;
  readonly counters: EcallCounters;
}

const STATUS_NAMES = Object.fromEntries(Object.entries(EnclStatus).map(([k, v]) => [v, k])) as Record<number, string>;
const RUNTIME_PANICS: Record<string, string> = {
  '1': 'RDRAND failed',
  '2': 'undeclared ocall',
  '3': 'ocall outside an ecall',
};

const hex = (v: bigint) => `0x${v.toString(16)}`;

function signed(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}

/** The error for an ABORT exit with reason `rsi`. */
function abortError(ecall: string, rsi: bigint): EnclaveAbortedError {
  const reason = hex(rsi);
  if (rsi & AbortReason.EXCEPTION)
    return new EnclaveAbortedError({ kind: 'exception', ecall, reason, vector: Number(rsi & 0xffn) });
  if (rsi & AbortReason.RUNTIME) {
    const code = (rsi & AbortReason.PANIC_CODE_MASK).toString();
    return new EnclaveAbortedError({ kind: 'runtime', ecall, reason, panic: RUNTIME_PANICS[code] ?? `panic ${code}` });
  }
  return new EnclaveAbortedError({ kind: 'panic', ecall, reason, code: hex(rsi & AbortReason.PANIC_CODE_MASK) });
}

function trace(sys: Sys, ev: string, data: Record<string, unknown>): void {
  sys.task.kernel.traceTask(sys.task, ev, data);
}

/**
 * Runs one ecall to its end on the TCS the caller holds.
 * @throws EcallError (`status`, `vdso`, `entry-fault`, `no-ocall-handler`, `ocall-threw`) or EnclaveAbortedError.
 */
export async function runEcall(a: RunEcallArgs): Promise<EcallResult> {
  const { sys, slot } = a;
  // The slot's buffers hold anything the edge buffer can; larger calls get a temporary mapping (the runtime will
  // refuse them with TOO_LARGE, but only after checking real pointers, as any caller's would be).
  const big = a.input.length > slot.bufferSize || a.outLen > slot.bufferSize;
  if (!big) return ecallWith(a, slot.input, slot.output);
  const len = Math.ceil((a.input.length + a.outLen + 1) / PAGE_SIZE) * PAGE_SIZE;
  const tmp = check(
    'mmap ecall buffers',
    await sys.mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
  );
  try {
    return await ecallWith(a, tmp, tmp + a.input.length);
  } finally {
    await sys.munmap(tmp, len);
  }
}

/** Offsets of the fields an ecall fills in, from the layouts (everything else is zero). */
const RUN_TCS = offsetOf(SGX_ENCLAVE_RUN, 'tcs');
const CB_IN = offsetOf(CALL_BLOCK, 'in');
const CB_IN_LEN = offsetOf(CALL_BLOCK, 'inLen');
const CB_OUT = offsetOf(CALL_BLOCK, 'out');
const CB_OUT_LEN = offsetOf(CALL_BLOCK, 'outLen');
const CB_SCRATCH = offsetOf(CALL_BLOCK, 'scratch');
const CB_SCRATCH_LEN = offsetOf(CALL_BLOCK, 'scratchLen');

/** A little-endian u64 from a number below 2^53 (addresses and lengths). */
function putU64(dv: DataView, at: number, v: number): void {
  dv.setUint32(at, v >>> 0, true);
  dv.setUint32(at + 4, Math.floor(v / 4294967296), true);
}

/** struct sgx_enclave_run (the TCS, everything else zero) into `dv` at `run`. */
function putRun(dv: DataView, run: number, tcsAddr: number): void {
  putU64(dv, run + RUN_TCS, tcsAddr);
}

/** The call block into `dv` at `at`: the buffers and their lengths, the rest zero. */
function putCallBlock(dv: DataView, at: number, a: RunEcallArgs, inAddr: number, outAddr: number): void {
  putU64(dv, at + CB_IN, inAddr);
  putU64(dv, at + CB_IN_LEN, a.input.length);
  putU64(dv, at + CB_OUT, outAddr);
  putU64(dv, at + CB_OUT_LEN, a.outLen);
  putU64(dv, at + CB_SCRATCH, a.slot.scratch);
  putU64(dv, at + CB_SCRATCH_LEN, SCRATCH_SIZE);
}

async function ecallWith(a: RunEcallArgs, inAddr: number, outAddr: number): Promise<EcallResult> {
  const { sys, slot, name, counters } = a;
  const { input, outLen } = a;
  if (inAddr === slot.input) {
    // run, call block and input are contiguous in the slot: one store.
    const all = new Uint8Array(slot.input - slot.run + input.length);
    const dv = new DataView(all.buffer);
    putRun(dv, 0, a.tcsAddr);
    putCallBlock(dv, slot.callBlock - slot.run, a, inAddr, outAddr);
    all.set(input, slot.input - slot.run);
    await sys.store(slot.run, all);
  } else {
    const run = new Uint8Array(SGX_ENCLAVE_RUN.size);
    putRun(new DataView(run.buffer), 0, a.tcsAddr);
    const block = new Uint8Array(CALL_BLOCK.size);
    putCallBlock(new DataView(block.buffer), 0, a, inAddr, outAddr);
    if (input.length) await sys.store(inAddr, input);
    await sys.store(slot.callBlock, block);
    await sys.store(slot.run, run);
  }
  counters.ecalls++;
  trace(sys, 'ecall', { name, tcs: a.tcsIndex, ticket: a.ticket, waited: a.waited });

  let leaf: number = EENTER;
  let rdi: bigint | number = EnclCommand.ECALL;
  let rsi: bigint | number = a.index;
  let ocalls = 0;
  let exceptions = 0;
  let ocallProblem: EcallError | undefined;
  for (;;) {
    if (leaf === EENTER) counters.eenter++;
    else counters.eresume++;
    const out: VdsoExitInfo = {};
    const r = await vdsoSgxEnterEnclave(sys, { fn: leaf, rdi, rsi, rdx: slot.callBlock, run: slot.run }, out);
    if (r < 0) {
      trace(sys, 'ecall_ret', { name, tcs: a.tcsIndex, status: 'VDSO' });
      throw new EcallError({ kind: 'vdso', ecall: name, ret: r });
    }
    const exit = out.exit!;
    if (exit.kind === 'exception') {
      // sgx_enclave_run.function is EENTER or ERESUME: an exception. Zero the fields for the next report.
      counters.exceptions[exit.vector] = (counters.exceptions[exit.vector] ?? 0) + 1;
      exceptions++;
      await sys.store(slot.run + 12, new Uint8Array(12));
      // An EXCEPTION entry that faults itself, or a fault with no AEX behind it (the ENCLU faulted, e.g. on a
      // busy TCS), cannot be handed to the enclave: report it.
      if (leaf === EENTER && rdi === EnclCommand.EXCEPTION) {
        trace(sys, 'ecall_ret', { name, tcs: a.tcsIndex, status: 'ENTRY_FAULT' });
        throw new EcallError({
          kind: 'entry-fault',
          ecall: name,
          vector: exit.vector,
          errorCode: exit.errorCode,
          addr: hex(exit.addr),
        });
      }
      trace(sys, 'ecall_exception', { name, tcs: a.tcsIndex, vector: exit.vector });
      leaf = EENTER;
      rdi = EnclCommand.EXCEPTION;
      rsi = 0;
      continue;
    }
    const regs = exit.regs;
    const status = Number(regs.rdi);
    switch (status) {
      case EnclStatus.OK: {
        const result = outLen ? await sys.load(outAddr, outLen) : new Uint8Array(0);
        trace(sys, 'ecall_ret', { name, tcs: a.tcsIndex, status: 'OK' });
        if (ocallProblem) throw ocallProblem;
        return { ret: signed(regs.rsi), out: result, tcs: a.tcsIndex, ocalls, exceptions };
      }
      case EnclStatus.OCALL: {
        const index = Number(regs.rsi);
        const inLen = Number(regs.rdx);
        const outOff = Number(regs.r8);
        const oLen = Number(regs.r9);
        const oname = a.ocallNames[index] ?? `#${index}`;
        ocalls++;
        counters.ocalls++;
        trace(sys, 'ocall', { name: oname, tcs: a.tcsIndex });
        const req: OcallRequest = {
          name: oname,
          index,
          input: inLen ? await sys.load(slot.scratch, inLen) : new Uint8Array(0),
          outLen: oLen,
          ecall: name,
          sys,
        };
        const h = a.handler(oname);
        let ret: bigint;
        if (!h) {
          // What a missing system call answers; the enclave decides what to do with it.
          ret = BigInt(-ENOSYS.number);
          ocallProblem ??= new EcallError({ kind: 'no-ocall-handler', ecall: name, ocall: oname, index });
        } else {
          try {
            const reply = await h(req);
            ret = BigInt(reply?.ret ?? 0);
            if (reply?.out?.length) await sys.store(slot.scratch + outOff, reply.out.subarray(0, oLen));
          } catch (e) {
            ret = BigInt(-EIO.number);
            ocallProblem ??= new EcallError(
              { kind: 'ocall-threw', ecall: name, ocall: oname, message: e instanceof Error ? e.message : String(e) },
              { cause: e },
            );
          }
        }
        leaf = EENTER;
        rdi = EnclCommand.ORET;
        rsi = BigInt.asUintN(64, ret);
        continue;
      }
      case EnclStatus.EXCEPTION_HANDLED:
      case EnclStatus.EXCEPTION_ABORTED:
        // Resume the interrupted ecall (or, for ABORTED, its redirection to the abort path).
        leaf = ERESUME;
        continue;
      case EnclStatus.ABORT:
        trace(sys, 'ecall_ret', { name, tcs: a.tcsIndex, status: 'ABORT' });
        throw abortError(name, regs.rsi);
      case EnclStatus.DEAD:
        trace(sys, 'ecall_ret', { name, tcs: a.tcsIndex, status: 'DEAD' });
        throw new EnclaveAbortedError({ kind: 'dead', ecall: name });
      default:
        trace(sys, 'ecall_ret', { name, tcs: a.tcsIndex, status: STATUS_NAMES[status] ?? String(status) });
        throw new EcallError({
          kind: 'status',
          ecall: name,
          status,
          statusName: STATUS_NAMES[status] ?? 'unknown',
          ret: hex(regs.rsi),
        });
    }
  }
}
