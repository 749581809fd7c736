/* Runtime-internal interfaces between entry.S and the C files. Not for enclave code. */
#ifndef ENCL_INTERNAL_H
#define ENCL_INTERNAL_H

#include "encl/abi.h"
#include "encl/sgx.h"

extern volatile uint64_t encl_rt_aborted;

/* entry.S */
__attribute__((noreturn)) void encl_rt_eexit(struct encl_host_ctx *h, uint64_t status, uint64_t ret, uint64_t a2,
					     uint64_t a3, uint64_t a4);
long encl_rt_ocall_switch(struct encl_thread *td, uint64_t index, uint64_t in_len, uint64_t out_off,
			  uint64_t out_len);
void encl_rt_unhandled(void);

/* edge.c: called from entry.S on fresh stacks; none of them returns. */
__attribute__((noreturn)) void encl_rt_ecall(struct encl_thread *td, uint64_t index, uint64_t block);
__attribute__((noreturn)) void encl_rt_abort_ecall(struct encl_thread *td, uint64_t reason);
__attribute__((noreturn)) void encl_rt_die(uint64_t reason);
struct encl_thread *encl_rt_current(void);
/* A call block must be 8-byte aligned and wholly outside ELRANGE. */
int encl_rt_block_ok(uint64_t block);
void encl_rt_write_block(uint64_t block, size_t offset, uint64_t value);

/* exception.c */
__attribute__((noreturn)) void encl_rt_exception(struct encl_thread *td, uint64_t block, uint64_t cssa);
__attribute__((noreturn)) void encl_rt_exception_panicked(struct encl_thread *td, uint64_t reason);

/* The GPRSGX of SSA frame `frame` of a thread block. */
static inline struct sgx_gprsgx *encl_rt_gpr(struct encl_thread *td, uint64_t frame)
{
	return (struct sgx_gprsgx *)((uint8_t *)td - ENCL_TB_TD + ENCL_TB_SSA +
				     frame * ENCL_SSA_FRAME_PAGES * ENCL_PAGE_SIZE + ENCL_SSA_GPRSGX);
}

static inline struct sgx_exinfo *encl_rt_exinfo(struct encl_thread *td, uint64_t frame)
{
	return (struct sgx_exinfo *)((uint8_t *)td - ENCL_TB_TD + ENCL_TB_SSA +
				     frame * ENCL_SSA_FRAME_PAGES * ENCL_PAGE_SIZE + ENCL_SSA_EXINFO);
}

#endif /* ENCL_INTERNAL_H */
