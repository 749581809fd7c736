/*
 * The compute enclave: work that exercises the CPU, ocalls, and exceptions.
 *
 *   sha256(buf) -> digest[32]        crc32(buf) -> crc (u32 LE; also the return value)
 *   sort(u32 LE array) -> sorted     returns the element count
 *   fault(kind, mode) -> struct fault_report   (compute.h)
 *   hello() -> ()                    ocall print(HELLO_MESSAGE); returns the host's value
 *   echo(buf) -> buf'                ocall echo(buf) into the output; returns the host's value
 *   ocall_rounds(u32 n) -> ()        n ocalls echo(i) (4 bytes each); returns how many came back unchanged
 *   abort(u64 code)                  encl_panic(code)
 *   nop() -> ()                      returns 0
 *
 * Ecalls return a length or count, or -1 for malformed input / -2 for a short output buffer.
 */
#include "encl/runtime.h"

#include "compute.h"
#include "crc32.h"
#include "sha256.h"
#include "sort.h"

#define COMPUTE_ECALLS(X) X(sha256) X(crc32) X(sort) X(fault) X(hello) X(echo) X(ocall_rounds) X(abort) X(nop)
#define COMPUTE_OCALLS(X) X(print) X(echo)

ENCL_OCALL_ENUM(COMPUTE_OCALLS);
ENCL_DEFINE_RUNTIME(COMPUTE_ECALLS, COMPUTE_OCALLS);

#define E_INPUT (-1)
#define E_SPACE (-2)

long ecall_sha256(const uint8_t *in, size_t n, uint8_t *out, size_t out_len)
{
	if (out_len < SHA256_DIGEST_SIZE)
		return E_SPACE;
	sha256(in, n, out);
	return SHA256_DIGEST_SIZE;
}

long ecall_crc32(const uint8_t *in, size_t n, uint8_t *out, size_t out_len)
{
	uint32_t crc = crc32_update(0, in, n);

	if (out_len >= 4)
		for (int i = 0; i < 4; i++)
			out[i] = (uint8_t)(crc >> 8 * i);
	return crc;
}

long ecall_sort(const uint8_t *in, size_t n, uint8_t *out, size_t out_len)
{
	if (n % 4)
		return E_INPUT;
	if (out_len < n)
		return E_SPACE;
	/* The edge buffer places the output 16-byte aligned, so it can be sorted in place as u32. */
	memcpy(out, in, n);
	sort_u32((uint32_t *)(void *)out, n / 4);
	return (long)(n / 4);
}

/* ---- Exceptions ---- */

extern char __encl_base[], encl_tcs[];
extern char fault_ud[], fault_ud_insn[], fault_ud_resume[], fault_de[], fault_de_insn[], fault_de_resume[];
extern char fault_read_insn[], fault_read_resume[], fault_write_insn[], fault_write_resume[];
uint64_t fault_ud_fn(void) __asm__("fault_ud");
uint64_t fault_de_fn(void) __asm__("fault_de");
uint64_t fault_read(volatile void *p);
uint64_t fault_write(volatile void *p);

/* The demo handler's state. One faulting ecall at a time: a demo, not a thread-safe facility. */
static volatile uint32_t fault_mode;
static struct fault_report seen;

static uint64_t resume_point(uint64_t rip)
{
	if (rip == (uintptr_t)fault_ud_insn)
		return (uintptr_t)fault_ud_resume;
	if (rip == (uintptr_t)fault_de_insn)
		return (uintptr_t)fault_de_resume;
	if (rip == (uintptr_t)fault_read_insn)
		return (uintptr_t)fault_read_resume;
	if (rip == (uintptr_t)fault_write_insn)
		return (uintptr_t)fault_write_resume;
	return 0;
}

static int demo_handler(struct encl_exception *e)
{
	uint64_t resume = resume_point(e->gpr->rip);

	seen.vector = e->vector;
	seen.exit_type = e->exit_type;
	seen.exinfo_valid = e->exinfo_valid;
	seen.errcd = (uint32_t)e->errcd;
	seen.maddr = encl_is_inside((const void *)(uintptr_t)e->maddr, 1) ? e->maddr - (uintptr_t)__encl_base : e->maddr;
	seen.rip = e->gpr->rip - (uintptr_t)__encl_base;
	seen.handled++;

	switch (fault_mode) {
	case FAULT_MODE_CONTINUE:
		if (!resume)
			return ENCL_EXCEPTION_NOT_HANDLED;
		e->gpr->rip = resume; /* skip the faulting instruction */
		e->gpr->rax = FAULT_FIXED_RAX;
		return ENCL_EXCEPTION_CONTINUE;
	case FAULT_MODE_PANIC:
		encl_panic(FAULT_PANIC_CODE);
	default:
		return ENCL_EXCEPTION_NOT_HANDLED;
	}
}

long ecall_fault(const uint8_t *in, size_t n, uint8_t *out, size_t out_len)
{
	uint32_t kind, mode;
	uint64_t rax;

	if (n != 8)
		return E_INPUT;
	if (out_len < sizeof(seen))
		return E_SPACE;
	memcpy(&kind, in, 4);
	memcpy(&mode, in + 4, 4);
	memset(&seen, 0, sizeof(seen));
	fault_mode = mode;
	register_exception_handler(mode == FAULT_MODE_NO_HANDLER ? NULL : demo_handler);

	switch (kind) {
	case FAULT_UD:
		rax = fault_ud_fn();
		break;
	case FAULT_DE:
		rax = fault_de_fn();
		break;
	case FAULT_PF_TCS:
		rax = fault_read(encl_tcs);
		break;
	case FAULT_PF_TEXT:
		rax = fault_write(fault_ud);
		break;
	case FAULT_GP:
		rax = fault_read((volatile void *)0x8000000000000000ull);
		break;
	default:
		return E_INPUT;
	}
	seen.rax = rax;
	memcpy(out, &seen, sizeof(seen));
	return sizeof(seen);
}

/* ---- Ocalls ---- */

long ecall_hello(const uint8_t *in, size_t n, uint8_t *out, size_t out_len)
{
	(void)in, (void)n, (void)out, (void)out_len;
	return ocall(ENCL_OCALL(print), HELLO_MESSAGE, sizeof(HELLO_MESSAGE) - 1, NULL, 0);
}

long ecall_echo(const uint8_t *in, size_t n, uint8_t *out, size_t out_len)
{
	return ocall(ENCL_OCALL(echo), in, n, out, out_len);
}

long ecall_ocall_rounds(const uint8_t *in, size_t n, uint8_t *out, size_t out_len)
{
	uint32_t rounds, back, same = 0;

	(void)out, (void)out_len;
	if (n != 4)
		return E_INPUT;
	memcpy(&rounds, in, 4);
	for (uint32_t i = 0; i < rounds; i++) {
		back = ~i;
		ocall(ENCL_OCALL(echo), &i, 4, &back, 4);
		same += back == i;
	}
	return same;
}

/* ---- The rest ---- */

long ecall_abort(const uint8_t *in, size_t n, uint8_t *out, size_t out_len)
{
	uint64_t code;

	(void)out, (void)out_len;
	if (n != 8)
		return E_INPUT;
	memcpy(&code, in, 8);
	encl_panic(code);
}

long ecall_nop(const uint8_t *in, size_t n, uint8_t *out, size_t out_len)
{
	(void)in, (void)n, (void)out, (void)out_len;
	return 0;
}
