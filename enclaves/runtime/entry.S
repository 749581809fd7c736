/*
 * The trusted runtime's TCS pages, thread blocks, entry stub and exit path.
 *
 * The image is linked at 0, so every link-time address is an enclave offset: the TCS fields OSSA and OENTRY
 * are offsets from the enclave base (SDM Vol. 3D §38.8), and the code reaches everything RIP-relative. Nothing
 * is relocated at run time. abi.h documents the thread-block convention implemented by encl_entry below.
 */
#include "encl/abi.h"

	/* Name the source, not the preprocessor's temporary file, in .symtab: builds stay reproducible. */
	.file	"entry.S"

#define SGX_EEXIT	4
#define GPRSGX_URSP	144	/* SDM Vol. 3D §38.9.1 Table 38-10 */
#define GPRSGX_URBP	152
#define RFLAGS_AC	(1 << 18)

	.macro ENCLU
	.byte	0x0f, 0x01, 0xd7
	.endm

	/* One TCS page (SDM Vol. 3D §38.8 Table 38-8): its SSA frames start its thread block. */
	.macro tcs_page index
	.quad	0					/* STATE: owned by the CPU */
	.quad	0					/* FLAGS: no DBGOPTIN */
	.quad	encl_threads + (\index) * ENCL_THREAD_SIZE + ENCL_TB_SSA	/* OSSA */
	.long	0					/* CSSA */
	.long	ENCL_NSSA				/* NSSA */
	.quad	encl_entry				/* OENTRY */
	.quad	0					/* AEP: written by EENTER/ERESUME */
	.quad	0					/* OFSBASGX: the runtime uses neither FS nor GS */
	.quad	0					/* OGSBASGX */
	.long	0xffffffff				/* FSLIMIT */
	.long	0xffffffff				/* GSLIMIT */
	.fill	4024, 1, 0				/* reserved: EADD requires zero */
	.endm

	.macro tcs_pages from, to
	tcs_page \from
	.if	\to - \from
	tcs_pages "(\from + 1)", \to
	.endif
	.endm

	.section ".tcs", "aw"
	.balign	ENCL_PAGE_SIZE
	.globl	encl_tcs
encl_tcs:
	tcs_pages 0, (ENCL_NR_TCS - 1)

	/* The thread blocks of the static TCS pages. The linker script aligns them to ENCL_THREAD_SIZE. */
	.section ".encl_threads", "aw"
	.balign	ENCL_PAGE_SIZE
	.globl	encl_threads
encl_threads:
	.space	ENCL_NR_TCS * ENCL_THREAD_SIZE

	/* Build configuration the linker script reads (absolute symbols). */
	.globl	__encl_cfg_thread_size, __encl_cfg_heap_size, __encl_cfg_nr_tcs
	.set	__encl_cfg_thread_size, ENCL_THREAD_SIZE
	.set	__encl_cfg_heap_size, ENCL_HEAP_SIZE
	.set	__encl_cfg_nr_tcs, ENCL_NR_TCS

	.section ".rodata.encl_rt", "a"
	.balign	4
encl_rt_mxcsr:
	.long	0x1f80		/* the MXCSR reset value (SDM Vol. 1 §10.2.3.1) */

	/*
	 * Entry sanitising, done on the enclave stack only: the untrusted RSP may point anywhere, even into the
	 * enclave, so nothing is pushed before the stack switch. DF and AC come from the host (EENTER leaves RFLAGS
	 * alone, SDM Vol. 3D §40 EENTER); the SysV ABI requires DF = 0, and AC = 1 would make misaligned accesses
	 * fault. MXCSR is reset so host rounding or exception masks do not leak into enclave arithmetic.
	 */
	.macro sanitize
	cld
	pushfq
	andq	$~RFLAGS_AC, (%rsp)
	popfq
	ldmxcsr	encl_rt_mxcsr(%rip)
	.endm

	/* Saves the host registers that the matching EEXIT restores; %r11 = thread data, \gpr = SSA GPRSGX. */
	.macro save_host slot, gpr
	mov	%r12, \slot + ENCL_HC_R12(%r11)
	mov	%r13, \slot + ENCL_HC_R13(%r11)
	mov	%r14, \slot + ENCL_HC_R14(%r11)
	mov	%r15, \slot + ENCL_HC_R15(%r11)
	mov	%rcx, \slot + ENCL_HC_TARGET(%r11)
	mov	\gpr, \slot + ENCL_HC_GPR(%r11)
	.endm

	.text
	/*
	 * EENTER leaves RAX = TCS.CSSA, RBX = the TCS's linear address, RCX = the address after EENTER, and every
	 * other register as the host set it (SDM Vol. 3D §40 EENTER; sgx-isa.md §5.1). The host passes RDI = command,
	 * RSI = its argument, RDX = the call block.
	 */
	.globl	encl_entry
	.type	encl_entry, @function
encl_entry:
	/* The thread block, from the TCS address alone (no memory access before the TCS is known to be ours). */
	lea	__encl_base(%rip), %r11
	mov	%rbx, %r10
	sub	%r11, %r10			/* TCS enclave offset */
	cmp	$(ENCL_NR_TCS * ENCL_PAGE_SIZE), %r10
	jae	1f
	shr	$12, %r10			/* static TCS i uses block i */
	shl	$ENCL_THREAD_SHIFT, %r10
	lea	encl_threads(%rip), %r11
	add	%r11, %r10
	jmp	2f
1:	test	$(ENCL_THREAD_SIZE - 1), %r10	/* any other TCS: the aligned block just below it */
	jnz	.Lbad_tcs
	/*
	 * ... and inside the ELRANGE the runtime checks pointers against, encl_rt_meta.enclave_size (measured; a
	 * loader that enlarges ELRANGE writes it before EADD): a TCS beyond it would have a thread block that
	 * "untrusted" buffers could overlap.
	 */
	mov	(encl_rt_meta + ENCL_META_ENCLAVE_SIZE)(%rip), %r11
	sub	%r10, %r11
	cmp	$ENCL_PAGE_SIZE, %r11
	jl	.Lbad_tcs
	lea	-ENCL_THREAD_SIZE(%rbx), %r10
2:	cmp	$ENCL_NSSA, %rax		/* a loader-made TCS with a larger NSSA would overrun the block */
	jae	.Lbad_tcs
	lea	ENCL_TB_TD(%r10), %r11		/* %r10 = thread block, %r11 = struct encl_thread */

	test	%rax, %rax
	jnz	.Lcssa
	cmp	$ENCL_CMD_ECALL, %rdi
	jne	.Lmaybe_oret
	cmpq	$ENCL_TD_STATE_IDLE, ENCL_TD_STATE(%r11)
	jne	.Lreject

	/* ECALL: a fresh ecall stack; EENTER wrote URSP/URBP into SSA frame 0 (CSSA = 0). */
	lea	(ENCL_TB_SSA + ENCL_SSA_GPRSGX)(%r10), %rax
	save_host ENCL_TD_HOST_ECALL, %rax
	movq	$ENCL_TD_STATE_ECALL, ENCL_TD_STATE(%r11)
	lea	ENCL_TB_STACK_TOP(%r10), %rsp
	xor	%ebp, %ebp			/* no frame chain into host memory */
	sanitize
	mov	%r11, %rdi			/* encl_rt_ecall(td, index = RSI, block = RDX) */
	call	encl_rt_ecall
	ud2					/* it leaves through encl_rt_eexit */

.Lmaybe_oret:
	cmp	$ENCL_CMD_ORET, %rdi
	jne	.Lreject
	cmpq	$ENCL_TD_STATE_OCALL, ENCL_TD_STATE(%r11)
	jne	.Lreject
	cmp	ENCL_TD_BLOCK(%r11), %rdx	/* ORET must name the ecall's (validated) call block */
	jne	.Lreject
	cmpq	$0, encl_rt_aborted(%rip)
	jne	.Lreject

	/* ORET: resume encl_rt_ocall_switch()'s caller with RAX = the host's value. */
	lea	(ENCL_TB_SSA + ENCL_SSA_GPRSGX)(%r10), %rax
	save_host ENCL_TD_HOST_ECALL, %rax
	movq	$ENCL_TD_STATE_ECALL, ENCL_TD_STATE(%r11)
	mov	ENCL_TD_OCTX_RSP(%r11), %rsp
	mov	ENCL_TD_OCTX_RBX(%r11), %rbx
	mov	ENCL_TD_OCTX_RBP(%r11), %rbp
	mov	ENCL_TD_OCTX_R12(%r11), %r12
	mov	ENCL_TD_OCTX_R13(%r11), %r13
	mov	ENCL_TD_OCTX_R14(%r11), %r14
	mov	ENCL_TD_OCTX_R15(%r11), %r15
	sanitize
	mov	%rsi, %rax
	ret

.Lcssa:
	cmp	$ENCL_CMD_EXCEPTION, %rdi
	jne	.Lreject
	/*
	 * The exception entry runs on the entry stack at the top of the block: the ecall stack holds the interrupted
	 * context. It cannot itself be the interrupted context: with NSSA = 2 an AEX out of it leaves CSSA = NSSA,
	 * and EENTER refuses that TCS (SDM Vol. 3D §40 EENTER). EENTER wrote URSP/URBP into SSA frame CSSA.
	 */
	imul	$(ENCL_SSA_FRAME_PAGES * ENCL_PAGE_SIZE), %rax, %rbx	/* RBX (the TCS address) is free now */
	lea	(ENCL_TB_SSA + ENCL_SSA_GPRSGX)(%r10, %rbx), %rbx
	save_host ENCL_TD_HOST_OTHER, %rbx
	lea	ENCL_TB_XSTACK_TOP(%r10), %rsp
	xor	%ebp, %ebp
	sanitize
	mov	%rdx, %rsi			/* encl_rt_exception(td, block, cssa) */
	mov	%rax, %rdx
	mov	%r11, %rdi
	call	encl_rt_exception
	ud2

	/*
	 * A command this thread cannot take. Decided from registers and thread data alone, without a stack switch or a
	 * write to host memory, so RSP, RBP and R12-R15 are still the host's and a suspended ecall is not disturbed.
	 * The exit shares encl_rt_eexit's scrubbing, so every EEXIT leaves the same register state.
	 */
.Lreject:
	cmp	$ENCL_CMD_EXCEPTION, %rdi
	je	.Lbad_state			/* EXCEPTION with CSSA = 0 */
	cmp	$ENCL_CMD_ECALL, %rdi
	je	1f
	cmp	$ENCL_CMD_ORET, %rdi
	je	1f
	mov	$ENCL_STATUS_BAD_COMMAND, %edi
	jmp	.Lexit_regs
1:	cmpq	$0, encl_rt_aborted(%rip)
	je	2f
	mov	$ENCL_STATUS_DEAD, %edi
	jmp	.Lexit_regs
2:	cmp	$ENCL_CMD_ORET, %rdi
	jne	.Lbad_state
	test	%rax, %rax
	jnz	.Lbad_state
	cmpq	$ENCL_TD_STATE_OCALL, ENCL_TD_STATE(%r11)
	jne	.Lbad_state
	mov	$ENCL_STATUS_BAD_POINTER, %edi	/* an ORET naming another call block */
	jmp	.Lexit_regs
.Lbad_state:
	mov	$ENCL_STATUS_BAD_STATE, %edi
	jmp	.Lexit_regs

.Lbad_tcs:
	mov	$ENCL_STATUS_BAD_TCS, %edi
.Lexit_regs:
	mov	%rcx, %rbx
	xor	%esi, %esi
	xor	%edx, %edx
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	jmp	.Lscrub_and_exit
	.size	encl_entry, . - encl_entry

	/*
	 * void encl_rt_eexit(struct encl_host_ctx *h, u64 status, u64 ret, u64 a2, u64 a3, u64 a4): the one way
	 * out. Leaves RDI = status, RSI = ret, RDX = a2, R8 = a3, R9 = a4; restores the host's R12-R15 and, from
	 * the SSA frame EENTER wrote, RSP = URSP and RBP = URBP (EEXIT restores neither: SDM Vol. 3D §40 EEXIT);
	 * clears every other register that could hold enclave data, then EEXITs to the entry's RCX.
	 */
	.globl	encl_rt_eexit
	.type	encl_rt_eexit, @function
encl_rt_eexit:
	mov	%rdi, %rax
	mov	%rsi, %rdi
	mov	%rdx, %rsi
	mov	%rcx, %rdx
	mov	ENCL_HC_R12(%rax), %r12
	mov	ENCL_HC_R13(%rax), %r13
	mov	ENCL_HC_R14(%rax), %r14
	mov	ENCL_HC_R15(%rax), %r15
	mov	ENCL_HC_TARGET(%rax), %rbx
	mov	ENCL_HC_GPR(%rax), %rcx
	mov	GPRSGX_URSP(%rcx), %rsp
	mov	GPRSGX_URBP(%rcx), %rbp
.Lscrub_and_exit:
	pxor	%xmm0, %xmm0
	pxor	%xmm1, %xmm1
	pxor	%xmm2, %xmm2
	pxor	%xmm3, %xmm3
	pxor	%xmm4, %xmm4
	pxor	%xmm5, %xmm5
	pxor	%xmm6, %xmm6
	pxor	%xmm7, %xmm7
	pxor	%xmm8, %xmm8
	pxor	%xmm9, %xmm9
	pxor	%xmm10, %xmm10
	pxor	%xmm11, %xmm11
	pxor	%xmm12, %xmm12
	pxor	%xmm13, %xmm13
	pxor	%xmm14, %xmm14
	pxor	%xmm15, %xmm15
	xor	%r10d, %r10d
	xor	%r11d, %r11d
	xor	%ecx, %ecx
	cld
	add	%rcx, %rcx			/* OF = SF = AF = CF = 0, ZF = PF = 1 */
	mov	$SGX_EEXIT, %eax
	ENCLU
	ud2
	.size	encl_rt_eexit, . - encl_rt_eexit

	/*
	 * long encl_rt_ocall_switch(struct encl_thread *td, u64 index, u64 in_len, u64 out_off, u64 out_len):
	 * saves the callee-saved context, exits with ENCL_STATUS_OCALL, and "returns" when the ORET path above
	 * restores that context, with RAX = the host's value.
	 */
	.globl	encl_rt_ocall_switch
	.type	encl_rt_ocall_switch, @function
encl_rt_ocall_switch:
	mov	%rsp, ENCL_TD_OCTX_RSP(%rdi)
	mov	%rbx, ENCL_TD_OCTX_RBX(%rdi)
	mov	%rbp, ENCL_TD_OCTX_RBP(%rdi)
	mov	%r12, ENCL_TD_OCTX_R12(%rdi)
	mov	%r13, ENCL_TD_OCTX_R13(%rdi)
	mov	%r14, ENCL_TD_OCTX_R14(%rdi)
	mov	%r15, ENCL_TD_OCTX_R15(%rdi)
	movq	$ENCL_TD_STATE_OCALL, ENCL_TD_STATE(%rdi)
	mov	%r8, %r9
	mov	%rcx, %r8
	mov	%rdx, %rcx
	mov	%rsi, %rdx
	mov	$ENCL_STATUS_OCALL, %esi
	lea	ENCL_TD_HOST_ECALL(%rdi), %rdi
	jmp	encl_rt_eexit
	.size	encl_rt_ocall_switch, . - encl_rt_ocall_switch

	/*
	 * Where an unhandled exception resumes: the first-phase handler pointed the interrupted context's RIP here,
	 * with RSP = the ecall stack top, RDI = thread data, RSI = abort reason. ERESUME restored RFLAGS from the
	 * SSA, so sanitise again.
	 */
	.globl	encl_rt_unhandled
	.type	encl_rt_unhandled, @function
encl_rt_unhandled:
	sanitize
	call	encl_rt_abort_ecall		/* (td, reason), leaves through encl_rt_eexit */
	ud2
	.size	encl_rt_unhandled, . - encl_rt_unhandled

	.section .note.GNU-stack, "", @progbits
