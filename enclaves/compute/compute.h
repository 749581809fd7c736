/* The compute enclave's ecall inputs and outputs (shared with tests and hosts). */
#ifndef COMPUTE_H
#define COMPUTE_H

#include <stdint.h>

/* fault(kind, mode): input two little-endian u32. */
#define FAULT_UD		0	/* UD2: #UD */
#define FAULT_DE		1	/* DIV by zero: #DE */
#define FAULT_PF_TCS		2	/* a load from TCS 0: #PF, EPCM page type is not REG (SGX bit set) */
#define FAULT_PF_TEXT		3	/* a store to the code page: #PF, the page is not writable */
#define FAULT_GP		4	/* a load from a non-canonical address: #GP(0) */

#define FAULT_MODE_NO_HANDLER	0	/* no handler registered: the ecall aborts */
#define FAULT_MODE_CONTINUE	1	/* the handler skips the instruction and sets RAX = FAULT_FIXED_RAX */
#define FAULT_MODE_DECLINE	2	/* the handler returns ENCL_EXCEPTION_NOT_HANDLED: the ecall aborts */
#define FAULT_MODE_PANIC	3	/* the handler panics with FAULT_PANIC_CODE */

#define FAULT_FIXED_RAX		0x5eed5eed5eed5eedull
#define FAULT_PANIC_CODE	0xfa017

/* fault()'s output, 48 bytes: what the handler saw and what the faulting routine returned. */
struct fault_report {
	uint32_t vector, exit_type, exinfo_valid, errcd;
	uint64_t maddr;		/* EXINFO.MADDR (0 unless exinfo_valid), as an enclave offset if inside ELRANGE */
	uint64_t rip;		/* the faulting RIP as an enclave offset */
	uint64_t rax;		/* the routine's result after the handler resumed it */
	uint64_t handled;	/* handler calls during this ecall */
};

#define HELLO_MESSAGE "hello from the compute enclave"

#endif
