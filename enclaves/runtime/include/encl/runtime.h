/*
 * The trusted runtime's API for enclave code: ecall/ocall tables, ocall(), panic, the exception-handler hook,
 * ENCLU wrappers, randomness and the freestanding string functions.
 */
#ifndef ENCL_RUNTIME_H
#define ENCL_RUNTIME_H

/*
 * An enclave is one static image: every symbol, declared or defined, binds locally. -fvisibility=hidden covers
 * definitions only; without this, -fPIC code would reach an extern (e.g. a linker-script symbol) through a GOT,
 * which the image must not have. Deliberately not popped: it covers the rest of the including file.
 */
#pragma GCC visibility push(hidden)

#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "sgx.h"

/* ---- Ecall and ocall tables -------------------------------------------------------------------------------- */

/*
 * An enclave lists its ecalls and ocalls as X-macros and instantiates the tables once:
 *
 *   #define MY_ECALLS(X) X(sha256) X(sort)          // ecall_sha256(), ecall_sort() implement them
 *   #define MY_OCALLS(X) X(print)                    // ocall index ENCL_OCALL(print) == 0
 *   ENCL_OCALL_ENUM(MY_OCALLS);
 *   ENCL_DEFINE_RUNTIME(MY_ECALLS, MY_OCALLS);
 *
 * Ecall i is the i-th name in the list; hosts find the numbers by name in encl_rt_meta (see abi.h).
 */
#define ENCL_OCALL(name)		encl_ocall_index_##name
#define ENCL__OCALL_ENUMERATOR(name)	ENCL_OCALL(name),
#define ENCL_OCALL_ENUM(OCALLS)		enum { OCALLS(ENCL__OCALL_ENUMERATOR) }

#define ENCL__ECALL_DECL(name)		long ecall_##name(const uint8_t *, size_t, uint8_t *, size_t);
#define ENCL__ECALL_ENTRY(name)		{ ecall_##name, #name },
#define ENCL__OCALL_NAME(name)		#name,

#define ENCL_DEFINE_RUNTIME(ECALLS, OCALLS)                                                                   \
	ECALLS(ENCL__ECALL_DECL)                                                                              \
	const struct encl_ecall encl_ecalls[] = { ECALLS(ENCL__ECALL_ENTRY) };                                \
	const char *const encl_ocall_names[] = { OCALLS(ENCL__OCALL_NAME) };                                  \
	extern char encl_tcs[], encl_threads[], encl_entry[], __encl_heap[], __encl_end[];                    \
	const struct encl_rt_meta encl_rt_meta __attribute__((used)) = {                                      \
		.magic = ENCL_RT_MAGIC,                                                                       \
		.version = ENCL_ABI_VERSION,                                                                  \
		.nr_tcs = ENCL_NR_TCS,                                                                        \
		.tcs = (uint64_t)(uintptr_t)encl_tcs,                                                         \
		.nssa = ENCL_NSSA,                                                                            \
		.ssa_frame_pages = ENCL_SSA_FRAME_PAGES,                                                      \
		.thread_size = ENCL_THREAD_SIZE,                                                              \
		.threads = (uint64_t)(uintptr_t)encl_threads,                                                 \
		.entry = (uint64_t)(uintptr_t)encl_entry,                                                     \
		.heap = (uint64_t)(uintptr_t)__encl_heap,                                                     \
		.heap_size = ENCL_HEAP_SIZE,                                                                  \
		.enclave_size = (uint64_t)(uintptr_t)__encl_end,                                              \
		.edge_buf_size = ENCL_EDGE_BUF_SIZE,                                                          \
		.stack_size = ENCL_STACK_SIZE,                                                                \
		.call_block_size = ENCL_CB_SIZE,                                                              \
		.nr_ecalls = sizeof(encl_ecalls) / sizeof(encl_ecalls[0]),                                    \
		.ecalls = encl_ecalls,                                                                        \
		.nr_ocalls = sizeof(encl_ocall_names) / sizeof(encl_ocall_names[0]),                          \
		.ocalls = encl_ocall_names,                                                                   \
	}

extern const struct encl_rt_meta encl_rt_meta;

/**
 * Calls the host: copies `in` to the host's scratch area, exits with ENCL_STATUS_OCALL and, once the host
 * re-enters with ORET, copies `out_len` bytes of the scratch area's output back to `out`.
 * Returns the host's value (RSI at ORET), or ENCL_OCALL_NO_SCRATCH without exiting if the scratch area cannot
 * hold in_len + out_len. Panics on an undeclared index or outside an ecall.
 */
long ocall(uint64_t index, const void *in, size_t in_len, void *out, size_t out_len);

/** Aborts the current ecall with ENCL_STATUS_ABORT, reason = code & ENCL_PANIC_CODE_MASK; the enclave is dead. */
__attribute__((noreturn)) void encl_panic(uint64_t code);

/** Whether [p, p + len) is wholly outside ELRANGE and does not wrap. */
int encl_is_outside(const void *p, size_t len);
/** Whether [p, p + len) is wholly inside ELRANGE. */
int encl_is_inside(const void *p, size_t len);

/* ---- Exceptions -------------------------------------------------------------------------------------------- */

#define ENCL_EXCEPTION_CONTINUE		0	/* the context in `gpr` is fixed: resume it */
#define ENCL_EXCEPTION_NOT_HANDLED	1	/* abort the ecall */

/** What the first-phase exception handler tells a registered handler, read from SSA[CSSA - 1]. */
struct encl_exception {
	uint32_t vector;	/* EXITINFO.VECTOR */
	uint32_t exit_type;	/* EXITINFO.EXIT_TYPE: 3 hardware exception, 6 software exception */
	uint32_t exitinfo;	/* EXITINFO as the CPU wrote it */
	uint32_t exinfo_valid;	/* 1 if maddr/errcd are EXINFO (SECS.MISCSELECT.EXINFO and #PF or #GP) */
	uint64_t maddr;		/* EXINFO.MADDR: the #PF linear address */
	uint64_t errcd;		/* EXINFO.ERRCD: the error code */
	struct sgx_gprsgx *gpr;	/* the interrupted context; the handler may change RIP and registers */
};

typedef int encl_exception_handler(struct encl_exception *e);

/** Installs the handler called for exceptions in this enclave (NULL removes it). */
void register_exception_handler(encl_exception_handler *fn);

/* ---- ENCLU ------------------------------------------------------------------------------------------------- */

/** ENCLU[EGETKEY]: copies `req` to an aligned enclave buffer, derives the key. Returns RAX (0 on success). */
uint64_t encl_egetkey(const struct sgx_keyrequest *req, uint8_t key[16]);
/** ENCLU[EREPORT] with aligned enclave copies of the target info and report data. */
void encl_ereport(const struct sgx_targetinfo *ti, const uint8_t reportdata[64], struct sgx_report *report);
/** This enclave's own REPORT (zero target info and report data), computed once and cached. */
const struct sgx_report *encl_self_report(void);
/** ENCLU[EACCEPT] of `page` with SECINFO.FLAGS = flags. Returns RAX. */
uint64_t encl_eaccept(uint64_t flags, void *page);
/** ENCLU[EMODPE] of `page` with SECINFO.FLAGS = flags. */
void encl_emodpe(uint64_t flags, void *page);

/** Fills buf with RDRAND output; panics (ENCL_PANIC_RDRAND) if RDRAND keeps failing. */
void encl_random(void *buf, size_t len);

/** Zeroes memory the compiler may not elide (for keys). */
void encl_memzero(void *p, size_t n);

/* ---- Freestanding libc subset ------------------------------------------------------------------------------ */

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif /* ENCL_RUNTIME_H */
