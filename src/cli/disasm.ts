// `sgxsim disasm`: disassembles an ELF's executable sections (or one symbol) with our own decoder and
// Intel-syntax formatter (src/hw/cpu/format.ts).
import type { Command } from 'commander';
import { decodeInsn, formatInsn, OK } from '../hw/index';
import { ElfError, type ElfFile, parseElf64, SHF_EXECINSTR } from '../sdk/index';
import { readInput } from './files';
import type { CliIo } from './io';

/** Disassembles `[addr, addr+size)` of the section holding it; returns the lines. */
function disasmRange(elf: ElfFile, addr: number, size: number, labels: Map<number, string>): string[] {
  const sec = elf.sections.find((s) => s.flags & SHF_EXECINSTR && addr >= s.addr && addr < s.addr + s.size);
  if (!sec) throw new ElfError(`address 0x${addr.toString(16)} is not in an executable section`);
  const end = Math.min(addr + size, sec.addr + sec.size);
  const bytes = elf.bytes.subarray(sec.offset + (addr - sec.addr), sec.offset + (end - sec.addr));
  const lines: string[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const ip = addr + pos;
    const label = labels.get(ip);
    if (label) lines.push(`${lines.length ? '\n' : ''}${ip.toString(16).padStart(16, '0')} <${label}>:`);
    const insn = decodeInsn(bytes, pos, bytes.length);
    const len = insn.len > 0 ? insn.len : 1;
    const hex = Buffer.from(bytes.subarray(pos, pos + len))
      .toString('hex')
      .replace(/(..)/g, '$1 ')
      .trim();
    let text = insn.len > 0 ? formatInsn(insn, ip) : '(bad)';
    const rel = insn.ops.some((o) => o.kind === OK.REL) ? labels.get(ip + insn.len + insn.imm) : undefined;
    if (rel) text += ` <${rel}>`;
    lines.push(`  ${ip.toString(16).padStart(8, ' ')}:  ${hex.padEnd(30)} ${text}`);
    pos += len;
  }
  return lines;
}

export function disassemble(bytes: Uint8Array, symbol?: string): string[] {
  const elf = parseElf64(bytes);
  const funcs = elf.symbols.filter((s) => s.type === 2 && s.shndx !== 0 && s.name);
  const labels = new Map(funcs.map((s) => [s.value, s.name] as const));
  if (symbol !== undefined) {
    const s = elf.symbols.find((x) => x.name === symbol && x.shndx !== 0);
    if (!s) throw new ElfError(`symbol '${symbol}' is not defined in the ELF`);
    if (s.size === 0) throw new ElfError(`symbol '${symbol}' has size 0`);
    return disasmRange(elf, s.value, s.size, labels);
  }
  const out: string[] = [];
  for (const sec of elf.sections.filter((s) => s.flags & SHF_EXECINSTR && s.size > 0)) {
    out.push(`${out.length ? '\n' : ''}section ${sec.name}:`);
    out.push(...disasmRange(elf, sec.addr, sec.size, labels));
  }
  return out;
}

export function registerDisasm(program: Command, io: CliIo): void {
  program
    .command('disasm')
    .description('disassemble an ELF (Intel syntax) with the interpreter decoder')
    .argument('<elf>', 'ELF file')
    .option('--symbol <name>', 'only this function')
    .action((file: string, opts: { symbol?: string }) => {
      io.stdout(`${disassemble(readInput(file), opts.symbol).join('\n')}\n`);
    });
}
