/*
 * Instructions that fault on purpose, for the exception tests. Each routine returns RAX; the faulting
 * instruction and the one after it carry global labels, so a handler can recognise the site and skip it.
 */

	/* Name the source, not the preprocessor's temporary file, in .symtab: builds stay reproducible. */
	.file	"faults.S"

	.macro site name
	.globl	\name
	.type	\name, @function
\name:
	.endm

	.text
	/* #UD (vector 6): UD2, SDM Vol. 2B "UD". */
	site fault_ud
	xor	%eax, %eax
	site fault_ud_insn
	ud2
	site fault_ud_resume
	ret

	/* #DE (vector 0): an unsigned divide by zero, SDM Vol. 2A "DIV". */
	site fault_de
	xor	%eax, %eax
	xor	%edx, %edx
	xor	%ecx, %ecx
	site fault_de_insn
	div	%rcx
	site fault_de_resume
	ret

	/* A load from the address in RDI: #PF or #GP depending on the address. */
	site fault_read
	xor	%eax, %eax
	site fault_read_insn
	mov	(%rdi), %rax
	site fault_read_resume
	ret

	/* A store to the address in RDI. */
	site fault_write
	xor	%eax, %eax
	site fault_write_insn
	movb	$1, (%rdi)
	site fault_write_resume
	ret

	.section .note.GNU-stack, "", @progbits
