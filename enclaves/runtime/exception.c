/*
 * The first-phase exception handler: the host EENTERs with ENCL_CMD_EXCEPTION after an exception's AEX
 * (CSSA > 0, SDM Vol. 3D §40 "AEX"; the Intel SGX SDK's convention, sgx-isa.md §5.5). The interrupted context is
 * in SSA frame CSSA - 1: GPRSGX with EXITINFO, and EXINFO below it when SECS.MISCSELECT.EXINFO is set. A
 * registered handler may fix RIP and registers there and continue; otherwise the context is pointed at
 * encl_rt_unhandled, so the host's ERESUME ends the ecall with ENCL_STATUS_ABORT. Either way the host ERESUMEs,
 * which restores the (possibly changed) frame and decrements CSSA (SDM Vol. 3D §40 ERESUME).
 */
#include "encl/runtime.h"
#include "internal.h"

static encl_exception_handler *volatile exception_handler;

void register_exception_handler(encl_exception_handler *fn)
{
	exception_handler = fn;
}

/* Leaves the exception entry with `status`, reported in its call block when that is valid. */
__attribute__((noreturn)) static void finish(struct encl_thread *td, uint64_t status, uint64_t ret)
{
	td->in_exception = 0;
	if (td->xblock) {
		encl_rt_write_block(td->xblock, ENCL_CB_STATUS, status);
		encl_rt_write_block(td->xblock, ENCL_CB_RET, ret);
	}
	encl_rt_eexit(&td->host_other, status, ret, 0, 0, 0);
}

/* Points the interrupted ecall at encl_rt_unhandled(td, reason) on a fresh ecall stack, then reports that. */
__attribute__((noreturn)) static void abort_interrupted(struct encl_thread *td, struct sgx_gprsgx *gpr,
							 uint64_t reason)
{
	encl_rt_aborted = 1;
	gpr->rip = (uint64_t)(uintptr_t)encl_rt_unhandled;
	gpr->rsp = (uint64_t)(uintptr_t)((uint8_t *)td - ENCL_TB_TD + ENCL_TB_STACK_TOP);
	gpr->rdi = (uint64_t)(uintptr_t)td;
	gpr->rsi = reason;
	finish(td, ENCL_STATUS_EXCEPTION_ABORTED, reason);
}

static int exinfo_reported(uint32_t vector)
{
	/* "#PF and #GP" only (SDM Vol. 3D §38.9.3), and only when the enclave was created with MISCSELECT.EXINFO. */
	if (vector != SGX_VECTOR_PF && vector != SGX_VECTOR_GP)
		return 0;
	return (encl_self_report()->miscselect & SGX_MISC_EXINFO) != 0;
}

void encl_rt_exception(struct encl_thread *td, uint64_t block, uint64_t cssa)
{
	struct sgx_gprsgx *gpr = encl_rt_gpr(td, cssa - 1);
	uint32_t exitinfo = gpr->exitinfo;
	encl_exception_handler *handler = exception_handler;
	struct encl_exception e;

	td->xcssa = cssa;
	td->xblock = encl_rt_block_ok(block) ? block : 0;
	td->in_exception = 0;

	/* EXITINFO.VALID = 0: an interrupt or another event the enclave has nothing to do about. */
	if (!(exitinfo & SGX_EXITINFO_VALID))
		finish(td, ENCL_STATUS_EXCEPTION_HANDLED, exitinfo);
	if (encl_rt_aborted || !handler)
		abort_interrupted(td, gpr, ENCL_ABORT_EXCEPTION | exitinfo);

	e.exitinfo = exitinfo;
	e.vector = SGX_EXITINFO_VECTOR(exitinfo);
	e.exit_type = SGX_EXITINFO_TYPE(exitinfo);
	e.exinfo_valid = exinfo_reported(e.vector);
	e.maddr = 0;
	e.errcd = 0;
	if (e.exinfo_valid) {
		const struct sgx_exinfo *x = encl_rt_exinfo(td, cssa - 1);

		e.maddr = x->maddr;
		e.errcd = x->errcd;
	}
	e.gpr = gpr;

	td->in_exception = 1;
	if (handler(&e) == ENCL_EXCEPTION_CONTINUE)
		finish(td, ENCL_STATUS_EXCEPTION_HANDLED, exitinfo);
	abort_interrupted(td, gpr, ENCL_ABORT_EXCEPTION | exitinfo);
}

void encl_rt_exception_panicked(struct encl_thread *td, uint64_t reason)
{
	abort_interrupted(td, encl_rt_gpr(td, td->xcssa - 1), reason);
}
