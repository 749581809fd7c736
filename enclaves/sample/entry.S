/*
 * The sample enclave's TCS pages, entry stub, SSA frames and stacks.
 *
 * It has the shape of the Linux SGX selftests' enclave (tools/testing/selftests/sgx/test_encl_bootstrap.S), so
 * the selftests' loader rules apply: the TCS pages form the first PT_LOAD segment, and the image is linked at
 * address 0, which makes every link-time address an enclave offset. OSSA and OENTRY are offsets from the
 * enclave base (SDM Vol. 3D §38.8), so the linker fills them in and nothing is relocated at run time.
 */
#define NR_TCS		2
#define PAGE_SIZE	4096
#define STACK_SIZE	PAGE_SIZE
#define EEXIT		4

	.macro ENCLU
	.byte 0x0f, 0x01, 0xd7
	.endm

	/* One TCS page (SDM Vol. 3D §38.8, Table 38-8). */
	.macro TCS ssa
	.quad	0			/* STATE: owned by the CPU */
	.quad	0			/* FLAGS: no DBGOPTIN */
	.quad	\ssa			/* OSSA */
	.long	0			/* CSSA: set by the CPU */
	.long	1			/* NSSA: one frame */
	.quad	encl_entry		/* OENTRY */
	.quad	0			/* AEP: written by EENTER/ERESUME */
	.quad	0			/* OFSBASE */
	.quad	0			/* OGSBASE */
	.long	0xffffffff		/* FSLIMIT */
	.long	0xffffffff		/* GSLIMIT */
	.fill	4024, 1, 0		/* reserved, must be zero for EADD */
	.endm

	.section ".tcs", "aw"
	.balign	PAGE_SIZE
	.globl	encl_tcs
encl_tcs:
	TCS	encl_ssa
	TCS	encl_ssa + PAGE_SIZE

	.text
	/*
	 * EENTER leaves RBX = the linear address of the TCS used and RCX = the address after EENTER (SDM Vol. 3D
	 * §40 EENTER); RDI and RSI carry the host's arguments. TCS number i runs on stack number i.
	 */
	.globl	encl_entry
	.type	encl_entry, @function
encl_entry:
	lea	__encl_base(%rip), %rax
	mov	%rbx, %r11
	sub	%rax, %r11		/* offset of this TCS */
	shr	$12, %r11		/* its index */
	inc	%r11
	shl	$12, %r11		/* (index + 1) * STACK_SIZE */
	lea	encl_stacks(%rip), %rax
	add	%r11, %rax		/* top of this TCS's stack */
	jmp	1f

	/*
	 * Entry for a TCS added at run time (SGX2, ENCL_OP_INIT_TCS_PAGE): its stack is the page just below the
	 * TCS page, the convention of the selftests' tcs_create test.
	 */
	.globl	encl_dyn_entry
	.type	encl_dyn_entry, @function
encl_dyn_entry:
	mov	%rbx, %rax

1:	xchg	%rsp, %rax		/* RAX = the untrusted stack pointer */
	push	%rax
	push	%rcx			/* the EEXIT target */
	call	encl_body		/* encl_body(rdi, rsi) */
	pop	%rbx
	pop	%rax
	mov	%rax, %rsp

	/* Leave nothing of the enclave's state in the volatile registers, then EEXIT to RBX. */
	xor	%ecx, %ecx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d
	xor	%edx, %edx		/* also clears CF, OF and SF */
	mov	$EEXIT, %eax
	ENCLU
	ud2				/* EEXIT does not return */

	/* One SSA frame per TCS (SSAFRAMESIZE = 1 page, NSSA = 1), then one stack page per TCS. */
	.section ".data.encl_ssa", "aw"
	.balign	PAGE_SIZE
	.globl	encl_ssa
encl_ssa:
	.space	NR_TCS * PAGE_SIZE
	.globl	encl_stacks
encl_stacks:
	.space	NR_TCS * STACK_SIZE
