/**
 * The vDSO page: the guest half of __vdso_sgx_enter_enclave() (arch/x86/entry/vdso/vsgx.S), mapped into every
 * new image as "[vdso]" the way arch_setup_additional_pages() maps the vDSO (arch/x86/entry/vdso/vma.c
 * map_vdso()), and found again through the mapping as mm->context.vdso is.
 *
 * vsgx.S keeps a single ENCLU that serves both as EENTER/ERESUME and as the asynchronous exit pointer: after an
 * AEX the CPU "returns" to it with RAX = ERESUME, so an interrupted enclave resumes through the same instruction.
 * Its exception-table entry (_ASM_VDSO_EXTABLE_HANDLE) is what fixup_vdso_exception() matches. The C-visible half
 * of the function (argument checks, the run struct, the user handler) is TypeScript here (enter-enclave.ts), so the
 * instruction EEXIT lands on by convention (the one after ENCLU, RCX at EENTER) is a software interrupt that hands
 * control back to it:
 *
 *   +0x000  0F 01 D7   enclu          .Lenclu_eenter_eresume / .Lasync_exit_pointer (the AEP)
 *   +0x003  CD 81      int $0x81      the EEXIT landing: back to the vDSO's host half
 *   +0x005  CC …       int3           the rest of the page (a stray jump traps)
 */
import { PAGE_SIZE } from '../hw/index';
import {
  installSpecialMapping,
  isErrno,
  type Kernel,
  type Mm,
  mmGetUnmappedArea,
  type SpecialMapping,
  VM_EXEC,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYWRITE,
  VM_READ,
  type Vma,
} from '../kernel/index';

/** Offset of the ENCLU (EENTER/ERESUME, and the AEP) in the vDSO page. */
export const VDSO_ENCLU_OFFSET = 0x000;
/** Offset of the instruction EEXIT returns to: the one after ENCLU. */
export const VDSO_EEXIT_LANDING_OFFSET = 0x003;
/** The vector of the landing's INT n; INT n anywhere else is the #GP of a DPL-0 gate. */
export const VDSO_HOSTCALL_VECTOR = 0x81;
/** Bytes of the landing instruction (INT imm8). */
export const VDSO_HOSTCALL_LENGTH = 2;

/** The page's bytes. */
export function vdsoImage(): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE).fill(0xcc);
  page.set([0x0f, 0x01, 0xd7], VDSO_ENCLU_OFFSET);
  page.set([0xcd, VDSO_HOSTCALL_VECTOR], VDSO_EEXIT_LANDING_OFFSET);
  return page;
}

/** map_vdso()'s vm_flags for the text: "VM_READ|VM_EXEC|VM_MAYREAD|VM_MAYWRITE|VM_MAYEXEC". */
const VDSO_VM_FLAGS = VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;

/** The vDSO of one kernel: its page, and where each mm has it (mm->context.vdso). */
export class Vdso {
  readonly pfn: number;
  private readonly mapping: SpecialMapping;
  /** mm->context.vdso, cached per mm with the VMA it was found in. */
  private readonly where = new WeakMap<Mm, Vma>();

  constructor(k: Kernel) {
    const pfn = k.pages.alloc();
    if (pfn === undefined) throw new Error('no RAM for the vDSO page');
    this.pfn = pfn;
    k.mem.write(pfn * PAGE_SIZE, vdsoImage());
    // vdso_mremap(): "current->mm->context.vdso = (void __user *)new_vma->vm_start".
    this.mapping = {
      name: '[vdso]',
      pages: [pfn],
      mremap: (vma) => {
        this.where.set(vma.mm, vma);
        return 0;
      },
    };
  }

  /**
   * map_vdso(): maps the page into a fresh mm at the top-down unmapped area, as the kernel does at exec.
   * @returns the base address, or undefined when the mm has no room (exec would fail).
   */
  map(mm: Mm): number | undefined {
    const addr = mmGetUnmappedArea(mm, 0, PAGE_SIZE, 0, 0);
    if (isErrno(addr)) return undefined;
    const vma = installSpecialMapping(mm, addr, PAGE_SIZE, VDSO_VM_FLAGS, this.mapping);
    if (isErrno(vma)) return undefined;
    this.where.set(mm, vma);
    return addr;
  }

  /**
   * mm->context.vdso: the base of the vDSO in `mm` (fork copies the mapping, mremap moves it), or undefined once
   * it has been unmapped.
   */
  base(mm: Mm): number | undefined {
    const cached = this.where.get(mm);
    if (cached && mm.vmas.find(cached.start) === cached && cached.privateData === this.mapping) return cached.start;
    const vma = mm.vmas.all().find((v) => v.privateData === this.mapping);
    if (!vma) {
      this.where.delete(mm);
      return undefined;
    }
    this.where.set(mm, vma);
    return vma.start;
  }
}
