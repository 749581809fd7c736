/*
 * Edge routines: the ecall dispatcher, ocalls and panics. entry.S gets here with the thread data and a fresh
 * enclave stack (it rejects impossible commands itself); everything leaves through encl_rt_eexit().
 *
 * Untrusted memory is read once into enclave memory and checked there (no double fetch): the call block, then
 * the input bytes. Untrusted pointers must lie wholly outside ELRANGE (encl_range_outside()).
 */
#include "encl/bounds.h"
#include "encl/runtime.h"
#include "internal.h"

/* Set once by a panic or an unhandled exception; from then on the enclave refuses ecalls and ORETs. */
volatile uint64_t encl_rt_aborted;

extern char __encl_base[];

static uint64_t elrange_base(void)
{
	return (uint64_t)(uintptr_t)__encl_base;
}

/* SECS.SIZE as measured into encl_rt_meta (the link-time size, or what a loader that enlarged ELRANGE wrote). */
static uint64_t elrange_size(void)
{
	return encl_rt_meta.enclave_size;
}

int encl_is_outside(const void *p, size_t len)
{
	return encl_range_outside(elrange_base(), elrange_size(), (uint64_t)(uintptr_t)p, len);
}

int encl_is_inside(const void *p, size_t len)
{
	uint64_t a = (uint64_t)(uintptr_t)p, base = elrange_base(), size = elrange_size();

	return a >= base && a - base <= size && len <= size - (a - base);
}

struct encl_thread *encl_rt_current(void)
{
	uint64_t sp;

	asm volatile("mov %%rsp, %0" : "=r"(sp));
	return (struct encl_thread *)(uintptr_t)((sp & ~(uint64_t)(ENCL_THREAD_SIZE - 1)) + ENCL_TB_TD);
}

static uint8_t *thread_block(struct encl_thread *td)
{
	return (uint8_t *)td - ENCL_TB_TD;
}

int encl_rt_block_ok(uint64_t block)
{
	return block % ENCL_CB_ALIGN == 0 && encl_range_outside(elrange_base(), elrange_size(), block, ENCL_CB_SIZE);
}

/* Reads the call block once, with plain loads the compiler cannot repeat. */
static void read_block(uint64_t block, struct encl_call_block *cb)
{
	const volatile uint64_t *src = (const volatile uint64_t *)(uintptr_t)block;
	uint64_t *dst = (uint64_t *)cb;

	for (size_t i = 0; i < ENCL_CB_SIZE / 8; i++)
		dst[i] = src[i];
}

void encl_rt_write_block(uint64_t block, size_t offset, uint64_t value)
{
	*(volatile uint64_t *)(uintptr_t)(block + offset) = value;
}

/* Ends the current ecall flow: the thread is idle again; the status goes to the call block (if valid). */
__attribute__((noreturn)) static void finish_ecall(struct encl_thread *td, uint64_t status, uint64_t ret)
{
	uint64_t block = td->block;

	if (block) {
		encl_rt_write_block(block, ENCL_CB_STATUS, status);
		encl_rt_write_block(block, ENCL_CB_RET, ret);
	}
	td->state = ENCL_TD_STATE_IDLE;
	td->block = 0;
	encl_rt_eexit(&td->host_ecall, status, ret, 0, 0, 0);
}

void encl_rt_ecall(struct encl_thread *td, uint64_t index, uint64_t block)
{
	struct encl_call_block cb;
	uint64_t base = elrange_base(), size = elrange_size(), out_off;
	uint8_t *buf = thread_block(td) + ENCL_TB_EDGE_BUF;
	const struct encl_ecall *entry;
	encl_ecall_fn *fn;
	long ret;

	td->block = 0;
	td->aborting = 0;
	if (!encl_rt_block_ok(block))
		finish_ecall(td, ENCL_STATUS_BAD_POINTER, 0);
	td->block = block;
	if (encl_rt_aborted)
		finish_ecall(td, ENCL_STATUS_DEAD, 0);
	if (index >= encl_rt_meta.nr_ecalls)
		finish_ecall(td, ENCL_STATUS_BAD_ECALL, index);

	read_block(block, &cb);
	if (!encl_range_outside(base, size, cb.in, cb.in_len) || !encl_range_outside(base, size, cb.out, cb.out_len) ||
	    !encl_range_outside(base, size, cb.scratch, cb.scratch_len))
		finish_ecall(td, ENCL_STATUS_BAD_POINTER, 0);
	if (!encl_edge_layout(cb.in_len, cb.out_len, ENCL_EDGE_BUF_SIZE, ENCL_EDGE_ALIGN, &out_off))
		finish_ecall(td, ENCL_STATUS_TOO_LARGE, 0);
	td->in = cb.in;
	td->in_len = cb.in_len;
	td->out = cb.out;
	td->out_len = cb.out_len;
	td->scratch = cb.scratch;
	td->scratch_len = cb.scratch_len;

	memcpy(buf, (const void *)(uintptr_t)cb.in, cb.in_len);
	memset(buf + out_off, 0, cb.out_len); /* what the ecall does not write goes out as zeros, not stale data */

	/* The table holds link-time addresses = enclave offsets; the loader relocated nothing (abi.h). */
	entry = (const struct encl_ecall *)((uintptr_t)encl_rt_meta.ecalls + (uintptr_t)base);
	fn = (encl_ecall_fn *)((uintptr_t)entry[index].fn + (uintptr_t)base);
	ret = fn(buf, cb.in_len, buf + out_off, cb.out_len);

	memcpy((void *)(uintptr_t)td->out, buf + out_off, td->out_len);
	finish_ecall(td, ENCL_STATUS_OK, (uint64_t)ret);
}

long ocall(uint64_t index, const void *in, size_t in_len, void *out, size_t out_len)
{
	struct encl_thread *td = encl_rt_current();
	uint8_t *scratch;
	uint64_t out_off;
	long ret;

	if (td->state != ENCL_TD_STATE_ECALL || td->in_exception)
		encl_rt_die(ENCL_ABORT_RUNTIME | ENCL_PANIC_OCALL_CONTEXT);
	if (index >= encl_rt_meta.nr_ocalls)
		encl_rt_die(ENCL_ABORT_RUNTIME | ENCL_PANIC_OCALL_INDEX);
	if (!encl_edge_layout(in_len, out_len, td->scratch_len, ENCL_EDGE_ALIGN, &out_off))
		return ENCL_OCALL_NO_SCRATCH;

	scratch = (uint8_t *)(uintptr_t)td->scratch;
	memcpy(scratch, in, in_len);
	encl_rt_write_block(td->block, ENCL_CB_STATUS, ENCL_STATUS_OCALL);
	encl_rt_write_block(td->block, ENCL_CB_RET, index);
	encl_rt_write_block(td->block, ENCL_CB_OCALL_INDEX, index);
	encl_rt_write_block(td->block, ENCL_CB_OCALL_IN_LEN, in_len);
	encl_rt_write_block(td->block, ENCL_CB_OCALL_OUT_OFF, out_off);
	encl_rt_write_block(td->block, ENCL_CB_OCALL_OUT_LEN, out_len);

	ret = encl_rt_ocall_switch(td, index, in_len, out_off, out_len);

	/* Back from ORET: the scratch area was checked at ECALL time and cannot have moved. */
	memcpy(out, scratch + out_off, out_len);
	return ret;
}

void encl_rt_abort_ecall(struct encl_thread *td, uint64_t reason)
{
	encl_rt_aborted = 1;
	/*
	 * A second abort of the same ecall means the first one faulted, i.e. writing the call block faulted (the
	 * host gave an unmapped block); leave through registers only so the host does not loop on that fault.
	 */
	if (td->aborting)
		td->block = 0;
	td->aborting = 1;
	finish_ecall(td, ENCL_STATUS_ABORT, reason);
}

void encl_rt_die(uint64_t reason)
{
	struct encl_thread *td = encl_rt_current();

	encl_rt_aborted = 1;
	if (td->in_exception)
		encl_rt_exception_panicked(td, reason);
	encl_rt_abort_ecall(td, reason);
}

void encl_panic(uint64_t code)
{
	encl_rt_die(code & ENCL_PANIC_CODE_MASK);
}
