/** `sgxsim measure <enclave.elf>`: MRENCLAVE, enclave size and page count of an enclave ELF. */
import type { Command } from 'commander';
import { PAGE_SIZE, toHex } from '../hw/index';
import { nodeBackend } from '../node/index';
import { buildEnclaveLayout, DEFAULT_HEAP_SIZE, type EnclaveLayout, measureEnclave } from '../sdk/index';
import { CliError } from './cli-error';
import { readInput } from './files';
import type { CliIo } from './io';
import { parsePageBytes } from './options';

export interface MeasureOptions {
  readonly json?: boolean;
  readonly heap?: number;
}

/** Reads and lays out an enclave ELF, naming the file in any error. */
export function loadEnclave(path: string, heapSize: number): EnclaveLayout {
  const bytes = readInput(path);
  return CliError.about(path, () => buildEnclaveLayout(bytes, { heapSize }));
}

/** Counts of the layout's pages by role. */
export function pageCounts(layout: EnclaveLayout): { total: number; tcs: number; measured: number; heap: number } {
  const heapSeg = layout.segments.find((s) => s.kind === 'heap');
  return {
    total: layout.pages.length,
    tcs: layout.tcs.length,
    measured: layout.pages.filter((p) => p.measure).length,
    heap: heapSeg ? heapSeg.size / PAGE_SIZE : 0,
  };
}

export function measureCommand(path: string, options: MeasureOptions, io: CliIo): void {
  const layout = loadEnclave(path, options.heap ?? DEFAULT_HEAP_SIZE);
  const mrenclave = toHex(measureEnclave(nodeBackend, layout));
  const pages = pageCounts(layout);
  if (options.json) {
    const out = {
      file: path,
      mrenclave,
      size: layout.size,
      pages: pages.total,
      tcsPages: pages.tcs,
      measuredPages: pages.measured,
      heapSize: layout.heapSize,
      ssaFrameSize: layout.ssaFrameSize,
    };
    io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  io.stdout(
    [
      `MRENCLAVE  ${mrenclave}`,
      `size       0x${layout.size.toString(16)} (${layout.size} bytes)`,
      `pages      ${pages.total} (${pages.tcs} TCS; ${pages.measured} measured, TCS included; ${pages.heap} unmeasured heap)`,
      '',
    ].join('\n'),
  );
}

export function registerMeasure(program: Command, io: CliIo): void {
  program
    .command('measure')
    .description("compute an enclave ELF's MRENCLAVE the way the Linux SGX selftests' loader lays it out")
    .argument('<enclave.elf>', 'static-pie enclave ELF (first PT_LOAD = TCS pages)')
    .option('--heap <bytes>', 'unmeasured heap after the image, a multiple of 4096', parsePageBytes, DEFAULT_HEAP_SIZE)
    .option('--json', 'print JSON')
    .action((path: string, options: MeasureOptions) => measureCommand(path, options, io));
}
