/*
 * The host <-> enclave ABI of the sgxsim trusted runtime: entry commands, exit statuses, the call block in
 * untrusted memory, the thread-block layout a host loader must follow, and the metadata the host reads from the
 * ELF. README.md next to this directory is the prose version; src/sdk/runtime-abi.ts mirrors every number here
 * (test/sdk/runtime-abi.test.ts compiles this header and compares).
 *
 * Included by C and by assembler sources, so the structs are behind !__ASSEMBLER__ and their field offsets are
 * also #defines (checked against offsetof() below).
 */
#ifndef ENCL_ABI_H
#define ENCL_ABI_H

#define ENCL_ABI_VERSION	1
/* "SGXSIMRT" as a little-endian u64: the first eight bytes of struct encl_rt_meta. */
#define ENCL_RT_MAGIC		0x54524d4953584753

#define ENCL_PAGE_SIZE		4096

/* ---- Threads: TCS pages, SSA frames, stacks ---------------------------------------------------------------- */

/* TCS pages in the image (PT_LOAD #0), at enclave offsets 0, 4096, ... */
#define ENCL_NR_TCS		2
/* SSA frames per TCS (TCS.NSSA): frame 0 for the ecall context, frame 1 for the exception-handler entry. */
#define ENCL_NSSA		2
/* SECS.SSAFRAMESIZE in pages the runtime is built for. The loader must create the enclave with this value. */
#define ENCL_SSA_FRAME_PAGES	1
/* GPRSGX is the last 184 bytes of an SSA frame, EXINFO the 16 bytes below it (SDM Vol. 3D §38.9). */
#define ENCL_GPRSGX_SIZE	184
#define ENCL_SSA_GPRSGX		(ENCL_SSA_FRAME_PAGES * ENCL_PAGE_SIZE - ENCL_GPRSGX_SIZE)
#define ENCL_SSA_EXINFO		(ENCL_SSA_GPRSGX - 16)

/*
 * Every TCS owns one thread block of ENCL_THREAD_SIZE bytes, aligned to ENCL_THREAD_SIZE (a power of two), so
 * any stack address inside it finds the block by masking (the runtime's "current thread"). Layout:
 *
 *   +0x0000  SSA frames, ENCL_NSSA x ENCL_SSA_FRAME_PAGES pages (TCS.OSSA points here)
 *   +0x2000  edge buffer: ecall input and output are copied here (ENCL_EDGE_BUF_SIZE)
 *   +0x4000  ecall stack, grows down from +0x7000 (ENCL_STACK_SIZE)
 *   +0x7000  exception/entry stack, grows down from +0x7e00
 *   +0x7e00  struct encl_thread (ENCL_TD_SIZE)
 *
 * Static TCS i (TCS page at enclave offset i * 4096, i < ENCL_NR_TCS) uses block i of the image's thread area
 * (symbol encl_threads). Any other TCS page at enclave offset t (added by a loader, or by SGX2 EAUG + EMODT)
 * must satisfy t % ENCL_THREAD_SIZE == 0 and t + 4096 <= the enclave size (encl_rt_meta.enclave_size), and uses
 * the block just below it, [t - ENCL_THREAD_SIZE, t), with TCS.OSSA = t - ENCL_THREAD_SIZE and TCS.NSSA =
 * ENCL_NSSA; the block's pages start out zero and must be measured (or EAUGed and EACCEPTed). A loader makes
 * room for such TCSs by choosing a larger SECS.SIZE and writing it to encl_rt_meta.enclave_size (and the heap
 * it adds to heap_size) in the image before EADD, so MRENCLAVE covers the size the runtime checks against.
 */
#define ENCL_THREAD_SHIFT	15
#define ENCL_THREAD_SIZE	(1 << ENCL_THREAD_SHIFT)
#define ENCL_TB_SSA		0x0000
#define ENCL_TB_EDGE_BUF	0x2000
#define ENCL_EDGE_BUF_SIZE	0x2000
#define ENCL_TB_STACK		0x4000
#define ENCL_STACK_SIZE		0x3000
#define ENCL_TB_STACK_TOP	(ENCL_TB_STACK + ENCL_STACK_SIZE)
#define ENCL_TB_XSTACK		ENCL_TB_STACK_TOP
#define ENCL_TD_SIZE		0x200
#define ENCL_TB_TD		(ENCL_THREAD_SIZE - ENCL_TD_SIZE)
#define ENCL_TB_XSTACK_TOP	ENCL_TB_TD

/* Unmeasured RW heap after the image (the selftests' loader adds it; the runtime does not use it). */
#define ENCL_HEAP_SIZE		0x1000

/* ---- Entry: RDI at EENTER ---------------------------------------------------------------------------------- */

#define ENCL_CMD_ECALL		1	/* RSI = ecall index, RDX = call block */
#define ENCL_CMD_ORET		2	/* RSI = the ocall's return value, RDX = the same call block as the ecall */
#define ENCL_CMD_EXCEPTION	3	/* only with CSSA > 0; RDX = a call block for the status */

/* ---- Exit: RDI at EEXIT (also call_block.status) ------------------------------------------------------------ */

#define ENCL_STATUS_OK			0	/* the ecall returned; RSI = its return value */
#define ENCL_STATUS_OCALL		1	/* RSI = ocall index, RDX = input length, R8 = output offset, R9 = output length */
#define ENCL_STATUS_EXCEPTION_HANDLED	2	/* the handler fixed the context: ERESUME */
#define ENCL_STATUS_EXCEPTION_ABORTED	3	/* not handled: ERESUME; the ecall then ends with ENCL_STATUS_ABORT */
#define ENCL_STATUS_ABORT		4	/* this ecall aborted (panic, unhandled exception); RSI = reason */
#define ENCL_STATUS_DEAD		5	/* refused: the enclave aborted earlier */
#define ENCL_STATUS_BAD_COMMAND		6	/* RDI is not a command */
#define ENCL_STATUS_BAD_STATE		7	/* a command this thread cannot take now (see README) */
#define ENCL_STATUS_BAD_ECALL		8	/* ecall index out of range */
#define ENCL_STATUS_BAD_POINTER		9	/* a call block or buffer not wholly outside ELRANGE, wrapping, misaligned */
#define ENCL_STATUS_TOO_LARGE		10	/* ecall input + output do not fit the edge buffer */
#define ENCL_STATUS_BAD_TCS		11	/* the TCS breaks the thread-block convention */

/* ENCL_STATUS_ABORT reasons (RSI): a panic code (bits 61:0), or one of these. */
#define ENCL_ABORT_EXCEPTION	(1ull << 63)	/* | EXITINFO of the unhandled exception */
#define ENCL_ABORT_RUNTIME	(1ull << 62)	/* | one of ENCL_PANIC_* */
#define ENCL_PANIC_CODE_MASK	((1ull << 62) - 1)
#define ENCL_PANIC_RDRAND	1	/* RDRAND failed ten times in a row */
#define ENCL_PANIC_OCALL_INDEX	2	/* ocall() with an index the enclave does not declare */
#define ENCL_PANIC_OCALL_CONTEXT 3	/* ocall() outside an ecall (e.g. from an exception handler) */

/* The ocall() result when the host's scratch area cannot hold the arguments (no exit happens). */
#define ENCL_OCALL_NO_SCRATCH	(-0x7fffffffffffffffl - 1)

/* ---- The call block: 128 bytes in untrusted memory, 8-byte aligned ----------------------------------------- */

#define ENCL_CB_IN		0	/* in:  ecall input buffer */
#define ENCL_CB_IN_LEN		8	/* in */
#define ENCL_CB_OUT		16	/* in:  ecall output buffer */
#define ENCL_CB_OUT_LEN		24	/* in */
#define ENCL_CB_SCRATCH		32	/* in:  per-TCS untrusted scratch area for ocall arguments */
#define ENCL_CB_SCRATCH_LEN	40	/* in */
#define ENCL_CB_STATUS		48	/* out: = RDI at EEXIT */
#define ENCL_CB_RET		56	/* out: = RSI at EEXIT */
#define ENCL_CB_OCALL_INDEX	64	/* out: ENCL_STATUS_OCALL only */
#define ENCL_CB_OCALL_IN_LEN	72	/* out: ocall input at scratch + 0 */
#define ENCL_CB_OCALL_OUT_OFF	80	/* out: ocall output at scratch + this (16-aligned) */
#define ENCL_CB_OCALL_OUT_LEN	88	/* out */
#define ENCL_CB_SIZE		128	/* 96..127 reserved: the enclave neither reads nor writes them */
#define ENCL_CB_ALIGN		8

/* Edge buffers and scratch areas place the output at the input length rounded up to this. */
#define ENCL_EDGE_ALIGN		16

/* ---- struct encl_thread: per-TCS runtime state at thread block + ENCL_TB_TD --------------------------------- */

#define ENCL_TD_STATE_IDLE	0	/* zero: a fresh block is idle */
#define ENCL_TD_STATE_ECALL	1	/* running an ecall (possibly interrupted by an AEX) */
#define ENCL_TD_STATE_OCALL	2	/* exited for an ocall, waiting for ORET */

/* struct encl_host_ctx: the host registers of one entry, restored at the matching EEXIT. */
#define ENCL_HC_R12		0
#define ENCL_HC_R13		8
#define ENCL_HC_R14		16
#define ENCL_HC_R15		24
#define ENCL_HC_TARGET		32	/* RCX at EENTER: where EEXIT goes */
#define ENCL_HC_GPR		40	/* the GPRSGX whose URSP/URBP EENTER wrote */
#define ENCL_HC_SIZE		48

#define ENCL_TD_STATE		0
#define ENCL_TD_BLOCK		8	/* the validated call block of the ecall (0 if none) */
#define ENCL_TD_IN		16	/* validated copies of the call block's inputs */
#define ENCL_TD_IN_LEN		24
#define ENCL_TD_OUT		32
#define ENCL_TD_OUT_LEN		40
#define ENCL_TD_SCRATCH		48
#define ENCL_TD_SCRATCH_LEN	56
#define ENCL_TD_HOST_ECALL	64	/* host context of the ECALL/ORET entry */
#define ENCL_TD_HOST_OTHER	112	/* host context of any other entry (exception, rejected command) */
#define ENCL_TD_OCTX		160	/* enclave callee-saved context during an ocall */
#define ENCL_TD_OCTX_RSP	(ENCL_TD_OCTX + 0)
#define ENCL_TD_OCTX_RBX	(ENCL_TD_OCTX + 8)
#define ENCL_TD_OCTX_RBP	(ENCL_TD_OCTX + 16)
#define ENCL_TD_OCTX_R12	(ENCL_TD_OCTX + 24)
#define ENCL_TD_OCTX_R13	(ENCL_TD_OCTX + 32)
#define ENCL_TD_OCTX_R14	(ENCL_TD_OCTX + 40)
#define ENCL_TD_OCTX_R15	(ENCL_TD_OCTX + 48)
#define ENCL_TD_IN_EXCEPTION	216	/* 1 while an exception handler runs */
#define ENCL_TD_XCSSA		224	/* CSSA of the exception entry */
#define ENCL_TD_XBLOCK		232	/* validated call block of the exception entry (0 if none) */
#define ENCL_TD_ABORTING	240	/* 1 once the current ecall started to abort */
#define ENCL_TD_END		248

/* struct encl_rt_meta offsets the entry stub reads and a loader that enlarges ELRANGE writes. */
#define ENCL_META_HEAP_SIZE	80
#define ENCL_META_ENCLAVE_SIZE	88

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

/** The call block (host memory). The enclave reads the inputs once into enclave memory, then checks them. */
struct encl_call_block {
	uint64_t in, in_len, out, out_len, scratch, scratch_len;
	uint64_t status, ret;
	uint64_t ocall_index, ocall_in_len, ocall_out_off, ocall_out_len;
	uint64_t reserved[4];
};

struct encl_host_ctx {
	uint64_t r12, r13, r14, r15, target, gpr;
};

struct encl_thread {
	uint64_t state;
	uint64_t block;
	uint64_t in, in_len, out, out_len, scratch, scratch_len;
	struct encl_host_ctx host_ecall;
	struct encl_host_ctx host_other;
	uint64_t octx_rsp, octx_rbx, octx_rbp, octx_r12, octx_r13, octx_r14, octx_r15;
	uint64_t in_exception;
	uint64_t xcssa;
	uint64_t xblock;
	uint64_t aborting;
};

/** Signature of every ecall: input and output are enclave copies; returns a value passed to the host in RSI. */
typedef long encl_ecall_fn(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len);

/**
 * One ecall table entry. Both pointers hold link-time addresses, which are enclave offsets because the image is
 * linked at 0; the runtime adds the enclave base before calling (the loader applies no relocations).
 */
struct encl_ecall {
	encl_ecall_fn *fn;
	const char *name;
};

/**
 * What a host needs to drive the enclave, found through the ELF symbol encl_rt_meta. Every field is 8 bytes;
 * pointer fields are enclave offsets (see struct encl_ecall), and so are tcs, threads, entry and heap.
 */
struct encl_rt_meta {
	uint64_t magic;			/* ENCL_RT_MAGIC */
	uint64_t version;		/* ENCL_ABI_VERSION */
	uint64_t nr_tcs;
	uint64_t tcs;			/* enclave offset of TCS 0 */
	uint64_t nssa;
	uint64_t ssa_frame_pages;	/* required SECS.SSAFRAMESIZE */
	uint64_t thread_size;
	uint64_t threads;		/* enclave offset of thread block 0 */
	uint64_t entry;			/* OENTRY */
	uint64_t heap;			/* enclave offset of the heap */
	uint64_t heap_size;		/* the heap the loader adds (ENCL_HEAP_SIZE unless the loader wrote more) */
	uint64_t enclave_size;		/* SECS.SIZE and the runtime's ELRANGE bound; a loader may enlarge both */
	uint64_t edge_buf_size;
	uint64_t stack_size;
	uint64_t call_block_size;
	uint64_t nr_ecalls;
	const struct encl_ecall *ecalls;	/* nr_ecalls entries, indexed by ecall number */
	uint64_t nr_ocalls;
	const char *const *ocalls;		/* nr_ocalls names, indexed by ocall number */
};

#define ENCL_META_SIZE 152

_Static_assert(sizeof(struct encl_call_block) == ENCL_CB_SIZE, "call block size");
_Static_assert(offsetof(struct encl_call_block, in) == ENCL_CB_IN, "cb.in");
_Static_assert(offsetof(struct encl_call_block, in_len) == ENCL_CB_IN_LEN, "cb.in_len");
_Static_assert(offsetof(struct encl_call_block, out) == ENCL_CB_OUT, "cb.out");
_Static_assert(offsetof(struct encl_call_block, out_len) == ENCL_CB_OUT_LEN, "cb.out_len");
_Static_assert(offsetof(struct encl_call_block, scratch) == ENCL_CB_SCRATCH, "cb.scratch");
_Static_assert(offsetof(struct encl_call_block, scratch_len) == ENCL_CB_SCRATCH_LEN, "cb.scratch_len");
_Static_assert(offsetof(struct encl_call_block, status) == ENCL_CB_STATUS, "cb.status");
_Static_assert(offsetof(struct encl_call_block, ret) == ENCL_CB_RET, "cb.ret");
_Static_assert(offsetof(struct encl_call_block, ocall_index) == ENCL_CB_OCALL_INDEX, "cb.ocall_index");
_Static_assert(offsetof(struct encl_call_block, ocall_in_len) == ENCL_CB_OCALL_IN_LEN, "cb.ocall_in_len");
_Static_assert(offsetof(struct encl_call_block, ocall_out_off) == ENCL_CB_OCALL_OUT_OFF, "cb.ocall_out_off");
_Static_assert(offsetof(struct encl_call_block, ocall_out_len) == ENCL_CB_OCALL_OUT_LEN, "cb.ocall_out_len");

_Static_assert(sizeof(struct encl_host_ctx) == ENCL_HC_SIZE, "host ctx size");
_Static_assert(offsetof(struct encl_host_ctx, r12) == ENCL_HC_R12, "hc.r12");
_Static_assert(offsetof(struct encl_host_ctx, r13) == ENCL_HC_R13, "hc.r13");
_Static_assert(offsetof(struct encl_host_ctx, r14) == ENCL_HC_R14, "hc.r14");
_Static_assert(offsetof(struct encl_host_ctx, r15) == ENCL_HC_R15, "hc.r15");
_Static_assert(offsetof(struct encl_host_ctx, target) == ENCL_HC_TARGET, "hc.target");
_Static_assert(offsetof(struct encl_host_ctx, gpr) == ENCL_HC_GPR, "hc.gpr");

_Static_assert(sizeof(struct encl_thread) == ENCL_TD_END, "thread data size");
_Static_assert(ENCL_TD_END <= ENCL_TD_SIZE, "thread data fits its slot");
_Static_assert(offsetof(struct encl_thread, state) == ENCL_TD_STATE, "td.state");
_Static_assert(offsetof(struct encl_thread, block) == ENCL_TD_BLOCK, "td.block");
_Static_assert(offsetof(struct encl_thread, in) == ENCL_TD_IN, "td.in");
_Static_assert(offsetof(struct encl_thread, in_len) == ENCL_TD_IN_LEN, "td.in_len");
_Static_assert(offsetof(struct encl_thread, out) == ENCL_TD_OUT, "td.out");
_Static_assert(offsetof(struct encl_thread, out_len) == ENCL_TD_OUT_LEN, "td.out_len");
_Static_assert(offsetof(struct encl_thread, scratch) == ENCL_TD_SCRATCH, "td.scratch");
_Static_assert(offsetof(struct encl_thread, scratch_len) == ENCL_TD_SCRATCH_LEN, "td.scratch_len");
_Static_assert(offsetof(struct encl_thread, host_ecall) == ENCL_TD_HOST_ECALL, "td.host_ecall");
_Static_assert(offsetof(struct encl_thread, host_other) == ENCL_TD_HOST_OTHER, "td.host_other");
_Static_assert(offsetof(struct encl_thread, octx_rsp) == ENCL_TD_OCTX_RSP, "td.octx_rsp");
_Static_assert(offsetof(struct encl_thread, octx_rbx) == ENCL_TD_OCTX_RBX, "td.octx_rbx");
_Static_assert(offsetof(struct encl_thread, octx_rbp) == ENCL_TD_OCTX_RBP, "td.octx_rbp");
_Static_assert(offsetof(struct encl_thread, octx_r12) == ENCL_TD_OCTX_R12, "td.octx_r12");
_Static_assert(offsetof(struct encl_thread, octx_r13) == ENCL_TD_OCTX_R13, "td.octx_r13");
_Static_assert(offsetof(struct encl_thread, octx_r14) == ENCL_TD_OCTX_R14, "td.octx_r14");
_Static_assert(offsetof(struct encl_thread, octx_r15) == ENCL_TD_OCTX_R15, "td.octx_r15");
_Static_assert(offsetof(struct encl_thread, in_exception) == ENCL_TD_IN_EXCEPTION, "td.in_exception");
_Static_assert(offsetof(struct encl_thread, xcssa) == ENCL_TD_XCSSA, "td.xcssa");
_Static_assert(offsetof(struct encl_thread, xblock) == ENCL_TD_XBLOCK, "td.xblock");
_Static_assert(offsetof(struct encl_thread, aborting) == ENCL_TD_ABORTING, "td.aborting");

_Static_assert(sizeof(struct encl_rt_meta) == ENCL_META_SIZE, "meta size");
_Static_assert(offsetof(struct encl_rt_meta, heap_size) == ENCL_META_HEAP_SIZE, "meta.heap_size");
_Static_assert(offsetof(struct encl_rt_meta, enclave_size) == ENCL_META_ENCLAVE_SIZE, "meta.enclave_size");
_Static_assert(sizeof(struct encl_ecall) == 16, "ecall entry size");

_Static_assert(ENCL_TB_SSA + ENCL_NSSA * ENCL_SSA_FRAME_PAGES * ENCL_PAGE_SIZE <= ENCL_TB_EDGE_BUF, "SSA fits");
_Static_assert(ENCL_TB_EDGE_BUF + ENCL_EDGE_BUF_SIZE <= ENCL_TB_STACK, "edge buffer fits");
_Static_assert(ENCL_TB_STACK_TOP <= ENCL_TB_TD, "stack fits");
_Static_assert(ENCL_TB_XSTACK_TOP % 16 == 0 && ENCL_TB_STACK_TOP % 16 == 0, "stack tops are 16-byte aligned");
#endif /* !__ASSEMBLER__ */

#endif /* ENCL_ABI_H */
