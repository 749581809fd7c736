/*
 * The sample enclave's calls: one op struct in untrusted memory, its address in RDI at EENTER.
 * The numbers and field offsets are those of the Linux SGX selftests (tools/testing/selftests/sgx/defines.h),
 * so conformance scenarios written after those tests can drive this enclave unchanged. Every field is a u64.
 */
#ifndef SAMPLE_OPS_H
#define SAMPLE_OPS_H

typedef unsigned long u64;

enum encl_op_type {
	ENCL_OP_PUT_TO_BUFFER = 0,	/* encl_buffer[0..8) = value */
	ENCL_OP_GET_FROM_BUFFER = 1,	/* value = encl_buffer[0..8) */
	ENCL_OP_PUT_TO_ADDRESS = 2,	/* *(u64 *)addr = value */
	ENCL_OP_GET_FROM_ADDRESS = 3,	/* value = *(u64 *)addr */
	ENCL_OP_NOP = 4,
	ENCL_OP_EACCEPT = 5,		/* ENCLU[EACCEPT] on epc_addr with SECINFO.FLAGS = flags; ret = RAX */
	ENCL_OP_EMODPE = 6,		/* ENCLU[EMODPE] on epc_addr with SECINFO.FLAGS = flags */
	ENCL_OP_INIT_TCS_PAGE = 7,	/* write a TCS image at tcs_page (SGX2 dynamic threads) */
	ENCL_OP_MAX = 8,
	/*
	 * sgxsim's own ops, numbered far above the selftests' range so that their numbering can grow: deliberate
	 * exceptions for the exception-reporting scenarios (issue 6).
	 */
	ENCL_OP_UD = 0x100,		/* ud2: #UD inside the enclave */
	ENCL_OP_PF = 0x101,		/* a write to the enclave's own code page: #PF (read-only PTE; EPCM W = 0 too) */
	ENCL_OP_BP = 0x102,		/* int3: #BP inside the enclave (a trap: the enclave resumes after it) */
	ENCL_OP_TF = 0x103,		/* POPF sets RFLAGS.TF for one instruction: #DB on an opt-in (DBGOPTIN) entry */
};

struct encl_op_header {
	u64 type;
};

struct encl_op_put_to_buf {
	struct encl_op_header header;
	u64 value;
};

struct encl_op_get_from_buf {
	struct encl_op_header header;
	u64 value;
};

struct encl_op_put_to_addr {
	struct encl_op_header header;
	u64 value;
	u64 addr;
};

struct encl_op_get_from_addr {
	struct encl_op_header header;
	u64 value;
	u64 addr;
};

struct encl_op_eaccept {
	struct encl_op_header header;
	u64 epc_addr;
	u64 flags;
	u64 ret;
};

struct encl_op_emodpe {
	struct encl_op_header header;
	u64 epc_addr;
	u64 flags;
};

struct encl_op_init_tcs_page {
	struct encl_op_header header;
	u64 tcs_page;	/* enclave linear address of the page to fill */
	u64 ssa;	/* OSSA: an offset from the enclave base */
	u64 entry;	/* OENTRY: an offset from the enclave base */
};

#endif
