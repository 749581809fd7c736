/**
 * The handler registry: every opcode-table row's `sem` names one handler here. `bindHandler()` attaches the
 * handler to a decoded instruction; an instruction without a row (invalid or unimplemented) gets the #UD
 * handler, so nothing is ever skipped silently.
 */

import { ud } from '../fault';
import type { Insn } from './decoder';
import { type Handler, INT_HANDLERS } from './exec-int';
import { SSE_HANDLERS } from './exec-sse';
import { SYS_HANDLERS } from './exec-sys';

/** All handlers by name. */
export const HANDLERS: Readonly<Record<string, Handler>> = { ...INT_HANDLERS, ...SYS_HANDLERS, ...SSE_HANDLERS };

const raiseUd: Handler = () => {
  throw ud();
};

/** Attaches the handler for `insn.row.sem` (or #UD). */
export function bindHandler(insn: Insn): Handler {
  const h = insn.row ? HANDLERS[insn.row.sem] : undefined;
  insn.exec = h ?? raiseUd;
  return insn.exec as Handler;
}
