/**
 * sgx_enclave_user_handler_t for host programs. In C, `run.user_handler` holds a function pointer into the
 * program's text; a TypeScript function has no address in the simulated process, so a program registers it and
 * gets an address-like token to store there. Tokens are valid in the registering process and in processes forked
 * from it later or earlier (they share the program text); anywhere else, as for any bad pointer, calling one is a
 * SIGSEGV.
 */
import type { Process, Sys, Task } from '../kernel/index';
import { platformOf } from './platform';

/** What the vDSO passes: handler(rdi, rsi, rdx, rsp, r8, r9, run) with the registers at the enclave exit. */
export interface VdsoHandlerArgs {
  /** The calling thread's syscall handle (the handler runs on it). */
  readonly sys: Sys;
  readonly rdi: bigint;
  readonly rsi: bigint;
  readonly rdx: bigint;
  /** The untrusted RSP at exit (vsgx.S passes it in RCX). */
  readonly rsp: bigint;
  readonly r8: bigint;
  readonly r9: bigint;
  /** User address of the struct sgx_enclave_run. */
  readonly run: number;
}

/**
 * A handler's return: ≤ 0 ends the vDSO call with that value; > 0 is the ENCLU leaf to invoke next (EENTER or
 * ERESUME, else -EINVAL). The object form also sets argument registers for that entry, as a handler written in
 * assembly can; registers not given keep their exit values.
 */
export type VdsoHandlerResult =
  | number
  | {
      readonly ret: number;
      readonly rdi?: bigint;
      readonly rsi?: bigint;
      readonly rdx?: bigint;
      readonly r8?: bigint;
      readonly r9?: bigint;
    };

/** A user handler (sgx_enclave_user_handler_t). It may make syscalls through `args.sys`. */
export type VdsoUserHandler = (args: VdsoHandlerArgs) => VdsoHandlerResult | Promise<VdsoHandlerResult>;

/** Where tokens start: the text of a PIE loaded without ASLR (0x555555554000 + 0x1000), where handlers live in C. */
const TOKEN_BASE = 0x555555555000n;
const TOKEN_STRIDE = 0x10n;

interface Registration {
  readonly fn: VdsoUserHandler;
  readonly owner: Process;
}

const registries = new WeakMap<object, Map<bigint, Registration>>();

function registry(sys: Sys): Map<bigint, Registration> {
  const p = platformOf(sys.task.kernel);
  let r = registries.get(p);
  if (!r) {
    r = new Map();
    registries.set(p, r);
  }
  return r;
}

/**
 * Registers `fn` for the calling process.
 * @returns the token to store in `run.user_handler` (a u64).
 */
export function registerUserHandler(sys: Sys, fn: VdsoUserHandler): bigint {
  const r = registry(sys);
  const token = TOKEN_BASE + BigInt(r.size) * TOKEN_STRIDE;
  r.set(token, { fn, owner: sys.task.process });
  return token;
}

/** Whether `a` and `b` share program text: one is the other or descends from it by fork. */
function related(a: Process, b: Process): boolean {
  for (let p: Process | undefined = a; p; p = p.parent) if (p === b) return true;
  for (let p: Process | undefined = b; p; p = p.parent) if (p === a) return true;
  return false;
}

/** The handler `token` names for task `t`, or undefined (a bad function pointer). */
export function lookupUserHandler(sys: Sys, t: Task, token: bigint): VdsoUserHandler | undefined {
  const reg = registry(sys).get(token);
  if (!reg || !related(t.process, reg.owner)) return undefined;
  return reg.fn;
}
