/** Parsers for option values. They throw commander's InvalidArgumentError, which it reports in one line. */
import { InvalidArgumentError } from 'commander';
import { PAGE_SIZE } from '../hw/index';
import { bcdDate } from '../sdk/index';

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A byte count: decimal, 0x-hex, or with a k/m/g (KiB/MiB/GiB) suffix; a multiple of the page size. */
export function parsePageBytes(value: string): number {
  const m = /^(?:(0x[0-9a-f]+)|(\d+)([kmg]?))$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('Expected a byte count such as 4096, 0x1000 or 64k.');
  const n = m[1] ? Number.parseInt(m[1], 16) : Number(m[2]) * UNITS[(m[3] ?? '').toLowerCase()]!;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('The byte count is too large.');
  if (n % PAGE_SIZE !== 0) throw new InvalidArgumentError(`Expected a multiple of ${PAGE_SIZE}.`);
  return n;
}

/** A 16-bit unsigned integer, decimal or 0x-hex (ISVPRODID, ISVSVN). */
export function parseU16(value: string): number {
  const v = value.trim();
  const n = /^0x[0-9a-f]{1,4}$/i.test(v) ? Number.parseInt(v, 16) : /^\d{1,5}$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= 0 && n <= 0xffff)) throw new InvalidArgumentError('Expected an integer from 0 to 65535.');
  return n;
}

/** A date as YYYYMMDD or YYYY-MM-DD, returned as the BCD value of SIGSTRUCT.DATE. */
export function parseBcdDate(value: string): number {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('Expected a date as YYYYMMDD or YYYY-MM-DD.');
  try {
    return bcdDate(Number(m[1]), Number(m[2]), Number(m[3]));
  } catch {
    throw new InvalidArgumentError(`${value} is not a calendar date.`);
  }
}
