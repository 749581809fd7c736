/**
 * The enclave an SDK load builds from a runtime ELF: the selftests' layout (src/sdk/layout) with the heap the
 * caller asks for, plus as many TCS as asked beyond the image's built-in ones, each with its own thread block,
 * following the runtime's thread-block convention (enclaves/runtime/README.md "Threads"): a loader-added TCS at
 * enclave offset t (a multiple of the thread size) uses the block [t − thread_size, t), with OSSA = that block,
 * NSSA = encl_rt_meta.nssa and OENTRY = encl_rt_meta.entry. Slots are 2 × thread_size apart from the first
 * thread-size boundary after the heap (a TCS page and the next block cannot share one aligned window), and
 * SECS.SIZE becomes the next power of two above the last TCS page.
 *
 * The runtime bounds ELRANGE with encl_rt_meta.enclave_size, so the plan writes the new size there (and the
 * heap size to heap_size) in the image before EADD: both are measured, as the Intel SDK's signer measures the
 * layout it patches into its `global_data` (intel/linux-sgx sdk/sign_tool/SignTool/manage_metadata.cpp).
 */
import { encode, PAGE_SIZE, PageType, SecinfoFlags, TCS } from '../../hw/index';
import { EnclaveLoadError } from '../errors/index';
import {
  buildEnclaveLayout,
  type EnclaveLayout,
  type EnclaveSegment,
  enclaveSizeFor,
  Prot,
  segmentPages,
} from '../layout/index';
import { RUNTIME_META, RuntimeThreads } from '../runtime-abi';
import { type RuntimeInfo, readRuntimeInfo } from './runtime-info';

/** Most TCS an SDK load makes (each loader-added one takes 64 KiB of ELRANGE and 9 EPC pages). */
export const MAX_TCS = 256;

export interface EnclavePlanOptions {
  /** TCS pages the pool will use (default: the image's built-in ones). Extra ones are added after the heap. */
  readonly tcs?: number;
  /** The unmeasured heap in bytes (default encl_rt_meta.heap_size), a multiple of 4096. */
  readonly heapSize?: number;
}

/** What to add, the runtime's metadata as the enclave will see it, and the TCS the pool hands out. */
export interface EnclavePlan {
  readonly layout: EnclaveLayout;
  readonly runtime: RuntimeInfo;
  /** Enclave offsets of the TCS pages to use, built-in ones first. */
  readonly tcs: readonly number[];
}

const REG_RW = (BigInt(PageType.REG) << SecinfoFlags.PAGE_TYPE_SHIFT) | BigInt(Prot.READ | Prot.WRITE);
const TCS_FLAGS = BigInt(PageType.TCS) << SecinfoFlags.PAGE_TYPE_SHIFT;

function fieldOffset(name: 'enclaveSize' | 'heapSize'): number {
  return RUNTIME_META.fields.find((f) => f.name === name)!.offset;
}

/** The runtime conventions this host drives; an enclave built for others is refused. */
function checkConventions(info: RuntimeInfo, layout: EnclaveLayout): void {
  const { meta } = info;
  const want: ReadonlyArray<readonly [string, number, number]> = [
    ['ssa_frame_pages', meta.ssaFramePages, RuntimeThreads.SSA_FRAME_PAGES],
    ['nssa', meta.nssa, RuntimeThreads.NSSA],
    ['thread_size', meta.threadSize, RuntimeThreads.THREAD_SIZE],
    ['call_block_size', meta.callBlockSize, 128],
    ['tcs', meta.tcs, 0],
    ['nr_tcs', meta.nrTcs, layout.tcs.length],
  ];
  for (const [field, value, expected] of want)
    if (value !== expected) throw new EnclaveLoadError({ kind: 'runtime-mismatch', field, value, expected });
}

/**
 * Plans the enclave for an SDK load.
 * @throws EnclaveLayoutError for an ELF the selftests' recipe cannot lay out; EnclaveLoadError `no-runtime`,
 *   `runtime-mismatch`, `tcs-count`, `heap-size`.
 */
export function planEnclave(file: Uint8Array, options: EnclavePlanOptions = {}): EnclavePlan {
  const probe = buildEnclaveLayout(file);
  const runtime0 = readRuntimeInfo(probe);
  checkConventions(runtime0, probe);
  const meta0 = runtime0.meta;
  const heapSize = options.heapSize ?? meta0.heapSize;
  if (!Number.isSafeInteger(heapSize) || heapSize < 0 || heapSize % PAGE_SIZE !== 0)
    throw new EnclaveLoadError({ kind: 'heap-size', heapSize, min: 0 });
  const tcs = options.tcs ?? meta0.nrTcs;
  if (!Number.isInteger(tcs) || tcs < 1 || tcs > MAX_TCS)
    throw new EnclaveLoadError({ kind: 'tcs-count', tcs, max: MAX_TCS });

  const base = heapSize === probe.heapSize ? probe : buildEnclaveLayout(file, { heapSize });

  const threadSize = meta0.threadSize;
  const extra = Math.max(0, tcs - meta0.nrTcs);
  const firstSlot = Math.ceil(base.imageSize / threadSize) * threadSize;
  const added: EnclaveSegment[] = [];
  const tcsOffsets = base.tcs.slice(0, tcs).map((t) => t.offset);
  const zeroBlock = new Uint8Array(threadSize);
  let end = base.imageSize;
  for (let k = 0; k < extra; k++) {
    const block = firstSlot + 2 * k * threadSize;
    const t = block + threadSize;
    const page = encode(TCS, {
      ossa: BigInt(block),
      nssa: meta0.nssa,
      oentry: BigInt(meta0.entry),
      // As the runtime's own TCS pages (entry.S tcs_page): FS/GS unused, limits all ones.
      fsLimit: 0xffff_ffff,
      gsLimit: 0xffff_ffff,
    });
    const common = { kind: 'thread', phdr: -1, prot: Prot.READ | Prot.WRITE, measure: true } as const;
    added.push({ ...common, offset: block, size: threadSize, secinfoFlags: REG_RW, bytes: zeroBlock });
    added.push({ ...common, offset: t, size: PAGE_SIZE, secinfoFlags: TCS_FLAGS, bytes: page });
    tcsOffsets.push(t);
    end = t + PAGE_SIZE;
  }
  const size = enclaveSizeFor(end);

  // Write SECS.SIZE and the heap size into encl_rt_meta in a copy of the segment that holds it.
  const segments = base.segments.map((seg): EnclaveSegment => {
    if (seg.kind !== 'load' || runtime0.metaOffset < seg.offset || runtime0.metaOffset >= seg.offset + seg.size)
      return seg;
    const bytes = seg.bytes.slice();
    const dv = new DataView(bytes.buffer);
    const at = runtime0.metaOffset - seg.offset;
    dv.setBigUint64(at + fieldOffset('enclaveSize'), BigInt(size), true);
    dv.setBigUint64(at + fieldOffset('heapSize'), BigInt(heapSize), true);
    return { ...seg, bytes };
  });
  segments.push(...added);
  const { pages, tcs: tcsPages } = segmentPages(segments);
  const layout: EnclaveLayout = {
    elf: base.elf,
    segments,
    pages,
    tcs: tcsPages,
    imageSize: end,
    size,
    ssaFrameSize: base.ssaFrameSize,
    heapSize,
  };
  return {
    layout,
    runtime: { ...runtime0, meta: { ...meta0, enclaveSize: size, heapSize } },
    tcs: tcsOffsets,
  };
}
