/*
 * sgx-lite: runs an enclave ELF natively on the host, for tests of the trusted runtime before the simulator's
 * interpreter exists. It plays the CPU's part the way the Intel SGX SDK's simulation mode does
 * (intel/linux-sgx sdk/simulation): ENCLU traps (SIGILL or SIGSEGV) on a host that cannot run it, and the
 * handler performs the leaf on the signal context; faults inside the enclave become an emulated AEX.
 *
 * Modelled after the SDM (sgx-isa.md §5): EENTER (URSP/URBP into SSA[CSSA], RCX = next instruction, RAX = CSSA,
 * RIP = OENTRY), EEXIT (RIP = RBX, RCX = AEP), AEX (GPRSGX + EXITINFO + EXINFO + the legacy FXSAVE area into
 * SSA[CSSA], CSSA++, synthetic state), ERESUME (restore SSA[CSSA-1], CSSA--), EGETKEY and EREPORT with their
 * alignment/ELRANGE #GPs and status codes. Keys come from a harness-private derivation (SHA-256 over the SDM's
 * key-dependency fields); the simulator has its own. What the harness cannot model: EPCM checks (TCS pages are
 * mapped PROT_NONE instead, so their #PF lacks the SGX bit), and #PF error codes are Linux's.
 *
 * The host side follows the runtime's ABI (enclaves/runtime/README.md) and checks the exit-register promises
 * after every EEXIT, printing "abi ..." lines when one is broken.
 *
 * Usage: sgx-lite ELF SIZE HEAP [--isvsvn N] [--cpusvn B] [--mrsigner S] [--mrenclave S] [--no-exinfo]
 *                  [--scratch N] [--extra-tcs OFF --elrange SIZE [--meta-size META_OFF]]
 * Commands on stdin, one per line (TCS = index into the TCS list; HEX or - for no bytes):
 *   ecall TCS INDEX HEX OUTLEN     run an ecall; serve ocalls; on an exception: EXCEPTION entry, then ERESUME
 *   ecall! TCS INDEX HEX OUTLEN    the same, but stop at the first exception
 *   ecall? TCS INDEX HEX OUTLEN    the same, but stop at the first ocall (answer it with `oret`)
 *   oret TCS RET                   EENTER with ENCL_CMD_ORET, RSI = RET, then continue as `ecall`
 *   block TCS IN INLEN OUT OUTLEN SCRATCH SCRATCHLEN   set the call block: numbers, e+N (enclave base + N),
 *                                  or in/out/scratch (the harness's buffers for that TCS)
 *   go TCS INDEX                   EENTER with ENCL_CMD_ECALL on that block, then continue as `ecall`
 *   xentry TCS                     EENTER with ENCL_CMD_EXCEPTION
 *   resume TCS                     ERESUME, then continue as `ecall`
 *   raw TCS LEAF RDI RSI BLOCK     one ENCLU (2 or 3); BLOCK = block | other | misaligned | a number | e+N
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

#include "encl/abi.h"
#include "encl/sgx.h"
#include "cmac.h"
#include "sha256.h"

#define PAGE 4096ul
#define MAX_TCS 8

/* ---- The enclave as the "CPU" knows it ---- */

struct tcs {
	uint64_t off, ossa, nssa, oentry;
	uint64_t cssa, aep;
	int busy;
};

static struct {
	uint8_t *base;
	uint64_t size;
	struct tcs tcs[MAX_TCS];
	int ntcs;
	/* SECS fields that EREPORT/EGETKEY expose */
	uint8_t mrenclave[32], mrsigner[32], cpusvn[16];
	uint16_t isvprodid, isvsvn;
	uint64_t attributes, xfrm;
	uint32_t miscselect;
	uint8_t report_keyid[32];
	/* CPU mode */
	volatile int in_enclave;
	struct tcs *cur;
} E;

static const uint8_t FUSES[16] = "sgx-lite-fuses!";

static void die(const char *msg)
{
	fprintf(stdout, "harness-error %s\n", msg);
	fflush(stdout);
	_exit(3);
}

static int in_elrange(uint64_t a, uint64_t n)
{
	uint64_t b = (uint64_t)E.base;

	return a >= b && a - b < E.size && n <= E.size - (a - b);
}

/* ---- Key derivation (harness-private; covers the SDM's dependency list, sgx-isa.md §6.1) ---- */

struct kdf {
	char tag[8];
	uint8_t fuses[16];
	uint16_t keyname, keypolicy, isvsvn, isvprodid;
	uint8_t cpusvn[16];
	uint64_t attributes, xfrm;
	uint32_t misc, pad;
	uint8_t mrenclave[32], mrsigner[32], keyid[32];
};

static void derive(const struct kdf *k, uint8_t key[16])
{
	uint8_t d[32];

	sha256(k, sizeof(*k), d);
	memcpy(key, d, 16);
}

static void report_key(const uint8_t mrenclave[32], uint64_t attributes, uint64_t xfrm, uint32_t misc,
		       const uint8_t keyid[32], uint8_t key[16])
{
	struct kdf k;

	memset(&k, 0, sizeof(k));
	memcpy(k.tag, "REPORT", 6);
	memcpy(k.fuses, FUSES, 16);
	k.keyname = SGX_KEYNAME_REPORT;
	memcpy(k.cpusvn, E.cpusvn, 16);
	k.attributes = attributes;
	k.xfrm = xfrm;
	k.misc = misc;
	memcpy(k.mrenclave, mrenclave, 32);
	memcpy(k.keyid, keyid, 32);
	derive(&k, key);
}

/* ---- Register access on the signal context ---- */

#define R(uc, r) ((uc)->uc_mcontext.gregs[REG_##r])

#define EFL_CF 0x1
#define EFL_PF 0x4
#define EFL_AF 0x10
#define EFL_ZF 0x40
#define EFL_SF 0x80
#define EFL_OF 0x800

extern char harness_aep[], harness_after[], harness_fixup[];

static struct sgx_gprsgx *gpr_of(struct tcs *t, uint64_t frame)
{
	return (struct sgx_gprsgx *)(E.base + t->ossa + frame * PAGE + PAGE - sizeof(struct sgx_gprsgx));
}

static struct tcs *tcs_at(uint64_t addr)
{
	for (int i = 0; i < E.ntcs; i++)
		if ((uint64_t)E.base + E.tcs[i].off == addr)
			return &E.tcs[i];
	return NULL;
}

/* An AEX (SDM Vol. 3D §40 "Asynchronous Enclave Exit"), then the vDSO fixup's report (vector, error, address). */
static void aex(ucontext_t *uc, int vector, uint64_t err, uint64_t addr)
{
	struct tcs *t = E.cur;
	struct sgx_gprsgx *g = gpr_of(t, t->cssa);
	struct sgx_exinfo *x = (struct sgx_exinfo *)((uint8_t *)g - sizeof(*x));
	uint8_t *xsave = E.base + t->ossa + t->cssa * PAGE;

	g->rax = R(uc, RAX), g->rcx = R(uc, RCX), g->rdx = R(uc, RDX), g->rbx = R(uc, RBX);
	g->rsp = R(uc, RSP), g->rbp = R(uc, RBP), g->rsi = R(uc, RSI), g->rdi = R(uc, RDI);
	g->r8 = R(uc, R8), g->r9 = R(uc, R9), g->r10 = R(uc, R10), g->r11 = R(uc, R11);
	g->r12 = R(uc, R12), g->r13 = R(uc, R13), g->r14 = R(uc, R14), g->r15 = R(uc, R15);
	g->rflags = R(uc, EFL), g->rip = R(uc, RIP);
	g->exitinfo = (uint32_t)vector | (vector == SGX_VECTOR_BP ? 6u : 3u) << 8 | SGX_EXITINFO_VALID;
	memset(x, 0, sizeof(*x));
	if ((E.miscselect & SGX_MISC_EXINFO) && (vector == SGX_VECTOR_PF || vector == SGX_VECTOR_GP)) {
		x->maddr = vector == SGX_VECTOR_PF ? addr : 0;
		x->errcd = (uint32_t)err;
	}
	memcpy(xsave, uc->uc_mcontext.fpregs, 512);
	t->cssa++;

	/* Synthetic state (SDM Table 40-1), then the kernel's vDSO fixup redirects to the exception label. */
	R(uc, RAX) = SGX_ERESUME, R(uc, RBX) = (greg_t)(E.base + t->off), R(uc, RCX) = (greg_t)t->aep;
	R(uc, RSP) = (greg_t)g->ursp, R(uc, RBP) = (greg_t)g->urbp;
	R(uc, R8) = R(uc, R9) = R(uc, R10) = R(uc, R11) = R(uc, R12) = R(uc, R13) = R(uc, R14) = R(uc, R15) = 0;
	R(uc, EFL) &= ~(greg_t)(EFL_CF | EFL_PF | EFL_AF | EFL_ZF | EFL_SF | EFL_OF);
	R(uc, RIP) = (greg_t)harness_fixup;
	R(uc, RDI) = vector, R(uc, RSI) = (greg_t)err;
	/* On an AEX the CPU clears CR2[11:0] (sgx-isa.md §5.3 step 4). */
	R(uc, RDX) = (greg_t)(vector == SGX_VECTOR_PF ? addr & ~(PAGE - 1) : 0);
	t->busy = 0;
	E.cur = NULL;
	E.in_enclave = 0;
}

static void gp_in_enclave(ucontext_t *uc)
{
	aex(uc, SGX_VECTOR_GP, 0, 0);
}

static void do_eenter(ucontext_t *uc)
{
	struct tcs *t = tcs_at(R(uc, RBX));
	struct sgx_gprsgx *g;

	if (!t || t->busy || t->cssa >= t->nssa) {
		printf("eenter-gp tcs=%s busy=%d cssa=%lu\n", t ? "ok" : "bad", t ? t->busy : 0, t ? t->cssa : 0);
		R(uc, RIP) = (greg_t)harness_fixup, R(uc, RDI) = SGX_VECTOR_GP, R(uc, RSI) = 0, R(uc, RDX) = 0;
		return;
	}
	g = gpr_of(t, t->cssa);
	g->ursp = R(uc, RSP);
	g->urbp = R(uc, RBP);
	t->aep = R(uc, RCX);
	t->busy = 1;
	R(uc, RCX) = R(uc, RIP) + 3;
	R(uc, RAX) = (greg_t)t->cssa;
	R(uc, RIP) = (greg_t)(E.base + t->oentry);
	E.cur = t;
	E.in_enclave = 1;
}

static void do_eresume(ucontext_t *uc)
{
	struct tcs *t = tcs_at(R(uc, RBX));
	struct sgx_gprsgx *g;

	if (!t || t->busy || t->cssa == 0) {
		printf("eresume-gp\n");
		R(uc, RIP) = (greg_t)harness_fixup, R(uc, RDI) = SGX_VECTOR_GP, R(uc, RSI) = 0, R(uc, RDX) = 0;
		return;
	}
	g = gpr_of(t, t->cssa - 1);
	R(uc, RAX) = g->rax, R(uc, RCX) = g->rcx, R(uc, RDX) = g->rdx, R(uc, RBX) = g->rbx;
	R(uc, RSP) = g->rsp, R(uc, RBP) = g->rbp, R(uc, RSI) = g->rsi, R(uc, RDI) = g->rdi;
	R(uc, R8) = g->r8, R(uc, R9) = g->r9, R(uc, R10) = g->r10, R(uc, R11) = g->r11;
	R(uc, R12) = g->r12, R(uc, R13) = g->r13, R(uc, R14) = g->r14, R(uc, R15) = g->r15;
	R(uc, EFL) = g->rflags, R(uc, RIP) = g->rip;
	memcpy(uc->uc_mcontext.fpregs, E.base + t->ossa + (t->cssa - 1) * PAGE, 512);
	t->aep = R(uc, RCX);
	t->cssa--;
	t->busy = 1;
	E.cur = t;
	E.in_enclave = 1;
}

static void do_eexit(ucontext_t *uc)
{
	R(uc, RIP) = R(uc, RBX);
	R(uc, RCX) = (greg_t)E.cur->aep;
	E.cur->busy = 0;
	E.cur = NULL;
	E.in_enclave = 0;
}

static void do_ereport(ucontext_t *uc)
{
	uint64_t ti = R(uc, RBX), rd = R(uc, RCX), out = R(uc, RDX);
	const struct sgx_targetinfo *t = (const void *)ti;
	struct sgx_report r;
	uint8_t key[16];

	if (ti % 512 || rd % 128 || out % 512 || !in_elrange(ti, 512) || !in_elrange(rd, 64) || !in_elrange(out, 432))
		return gp_in_enclave(uc);
	memset(&r, 0, sizeof(r));
	memcpy(r.cpusvn, E.cpusvn, 16);
	r.miscselect = E.miscselect;
	r.attributes_flags = E.attributes;
	r.attributes_xfrm = E.xfrm;
	memcpy(r.mrenclave, E.mrenclave, 32);
	memcpy(r.mrsigner, E.mrsigner, 32);
	r.isvprodid = E.isvprodid;
	r.isvsvn = E.isvsvn;
	memcpy(r.reportdata, (const void *)rd, 64);
	memcpy(r.keyid, E.report_keyid, 32);
	report_key(t->measurement, t->attributes_flags, t->attributes_xfrm, t->miscselect, r.keyid, key);
	aes128_cmac(key, (const uint8_t *)&r, SGX_REPORT_MACED_SIZE, r.mac);
	memcpy((void *)out, &r, SGX_REPORT_SIZE);
	R(uc, RIP) += 3;
}

static void do_egetkey(ucontext_t *uc)
{
	uint64_t a = R(uc, RBX), out = R(uc, RCX), status = 0;
	const struct sgx_keyrequest *kr = (const void *)a;
	uint8_t key[16];
	struct kdf k;

	if (a % 512 || out % 16 || !in_elrange(a, 512) || !in_elrange(out, 16))
		return gp_in_enclave(uc);
	/* #GP: reserved fields, policy bits beyond MRENCLAVE/MRSIGNER or CONFIGSVN without KSS. */
	for (unsigned i = 0; i < sizeof(kr->reserved2); i++)
		if (kr->reserved2[i])
			return gp_in_enclave(uc);
	if (kr->reserved1 || (kr->keypolicy & ~3) || kr->configsvn)
		return gp_in_enclave(uc);

	memset(&k, 0, sizeof(k));
	memcpy(k.fuses, FUSES, 16);
	switch (kr->keyname) {
	case SGX_KEYNAME_SEAL:
		for (int i = 0; i < 16; i++)
			if (kr->cpusvn[i] > E.cpusvn[i])
				status = SGX_INVALID_CPUSVN;
		if (!status && kr->isvsvn > E.isvsvn)
			status = SGX_INVALID_ISVSVN;
		memcpy(k.tag, "SEAL", 4);
		k.keyname = kr->keyname;
		k.keypolicy = kr->keypolicy;
		k.isvsvn = kr->isvsvn;
		k.isvprodid = E.isvprodid;
		memcpy(k.cpusvn, kr->cpusvn, 16);
		k.attributes = (kr->attributemask_flags | 3) & E.attributes;
		k.xfrm = kr->attributemask_xfrm & E.xfrm;
		k.misc = kr->miscmask & E.miscselect;
		if (kr->keypolicy & SGX_KEYPOLICY_MRENCLAVE)
			memcpy(k.mrenclave, E.mrenclave, 32);
		if (kr->keypolicy & SGX_KEYPOLICY_MRSIGNER)
			memcpy(k.mrsigner, E.mrsigner, 32);
		memcpy(k.keyid, kr->keyid, 32);
		derive(&k, key);
		break;
	case SGX_KEYNAME_REPORT:
		report_key(E.mrenclave, E.attributes, E.xfrm, E.miscselect, kr->keyid, key);
		break;
	case 0: case 1: case 2: /* EINITTOKEN, PROVISION, PROVISION_SEAL: the attribute is not set */
		status = SGX_INVALID_ATTRIBUTE;
		break;
	default:
		status = SGX_INVALID_KEYNAME;
	}
	R(uc, EFL) &= ~(greg_t)(EFL_CF | EFL_PF | EFL_AF | EFL_ZF | EFL_SF | EFL_OF);
	if (status)
		R(uc, EFL) |= EFL_ZF; /* OUTPUTDATA is not written */
	else
		memcpy((void *)out, key, 16);
	R(uc, RAX) = (greg_t)status;
	R(uc, RIP) += 3;
}

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	const uint8_t *ip = (const uint8_t *)R(uc, RIP);

	/* ENCLU traps as #UD without SGX, or as #GP where SGX exists but is disabled (SDM Vol. 3D §41.3). */
	if ((sig == SIGILL || sig == SIGSEGV) && ip[0] == 0x0f && ip[1] == 0x01 && ip[2] == 0xd7) {
		uint64_t leaf = (uint32_t)R(uc, RAX);

		if (!E.in_enclave) {
			if (leaf == SGX_EENTER)
				return do_eenter(uc);
			if (leaf == SGX_ERESUME)
				return do_eresume(uc);
			die("ENCLU leaf outside the enclave");
		}
		switch (leaf) {
		case SGX_EEXIT:
			return do_eexit(uc);
		case SGX_EREPORT:
			return do_ereport(uc);
		case SGX_EGETKEY:
			return do_egetkey(uc);
		case SGX_EENTER:
		case SGX_ERESUME:
			return gp_in_enclave(uc);
		default:
			die("ENCLU leaf not modelled by the harness");
		}
	}
	if (!E.in_enclave) {
		printf("harness-error host fault sig=%d rip=%p addr=%p\n", sig, (void *)ip, si->si_addr);
		fflush(stdout);
		_exit(4);
	}
	aex(uc, (int)R(uc, TRAPNO), (uint64_t)R(uc, ERR), (uint64_t)si->si_addr);
}

/* ---- The untrusted side: the call trampoline (a tiny vDSO) ---- */

struct enter {
	uint64_t leaf, tcs, rdi, rsi, rdx, r8, r9, r12, r13, r14, r15, rbp;		/* 0 .. 88 */
	uint64_t o_rax, o_rbx, o_rcx, o_rdx, o_rsi, o_rdi, o_r8, o_r9, o_r10, o_r11;	/* 96 .. 168 */
	uint64_t o_r12, o_r13, o_r14, o_r15, o_rbp, o_rsp, o_rflags;			/* 176 .. 224 */
	uint64_t exc, vector, err, addr;						/* 232 .. 256 */
	uint8_t xmm[256];								/* 264 */
};
_Static_assert(__builtin_offsetof(struct enter, o_rax) == 96, "enter.o_rax");
_Static_assert(__builtin_offsetof(struct enter, exc) == 232, "enter.exc");
_Static_assert(__builtin_offsetof(struct enter, xmm) == 264, "enter.xmm");

struct enter *g_enter;
uint64_t g_rsp, g_tmp;
/* The untrusted stack the enclave is entered on: the same for every ENCLU, as the vDSO's frame would be. */
uint8_t g_host_stack[65536] __attribute__((aligned(64)));
void harness_enter(struct enter *e);

__asm__(".text\n"
	".globl harness_enter\n"
	"harness_enter:\n"
	"	push %rbp; push %rbx; push %r12; push %r13; push %r14; push %r15\n"
	"	mov %rdi, g_enter(%rip)\n"
	"	mov %rsp, g_rsp(%rip)\n"
	"	lea g_host_stack+65536(%rip), %rsp\n"
	"	mov 0(%rdi), %rax\n"
	"	mov 8(%rdi), %rbx\n"
	"	mov 40(%rdi), %r8\n"
	"	mov 48(%rdi), %r9\n"
	"	mov 56(%rdi), %r12\n"
	"	mov 64(%rdi), %r13\n"
	"	mov 72(%rdi), %r14\n"
	"	mov 80(%rdi), %r15\n"
	"	mov 88(%rdi), %rbp\n"
	"	movabs $0x1010101010101010, %r10\n"
	"	mov %r10, %r11\n"
	"	pcmpeqb %xmm0, %xmm0\n" /* host junk in XMM: the enclave must not leak its own */
	"	std\n"			 /* and a hostile DF: the enclave must clear it */
	"	mov 24(%rdi), %rsi\n"
	"	mov 32(%rdi), %rdx\n"
	"	mov 16(%rdi), %rdi\n"
	"	lea harness_aep(%rip), %rcx\n"
	".globl harness_aep\n"
	"harness_aep:\n"
	"	.byte 0x0f, 0x01, 0xd7\n"
	".globl harness_after\n"
	"harness_after:\n"
	"	mov %rax, g_tmp(%rip)\n"
	"	mov g_enter(%rip), %rax\n"
	"	mov %rbx, 104(%rax); mov %rcx, 112(%rax); mov %rdx, 120(%rax); mov %rsi, 128(%rax)\n"
	"	mov %rdi, 136(%rax); mov %r8, 144(%rax); mov %r9, 152(%rax); mov %r10, 160(%rax)\n"
	"	mov %r11, 168(%rax); mov %r12, 176(%rax); mov %r13, 184(%rax); mov %r14, 192(%rax)\n"
	"	mov %r15, 200(%rax); mov %rbp, 208(%rax); mov %rsp, 216(%rax)\n"
	"	mov g_tmp(%rip), %rbx; mov %rbx, 96(%rax)\n"
	"	lea g_host_stack+65536(%rip), %rsp\n"
	"	pushfq; pop %rbx; mov %rbx, 224(%rax)\n"
	"	movdqu %xmm0, 264(%rax); movdqu %xmm1, 280(%rax); movdqu %xmm2, 296(%rax); movdqu %xmm3, 312(%rax)\n"
	"	movdqu %xmm4, 328(%rax); movdqu %xmm5, 344(%rax); movdqu %xmm6, 360(%rax); movdqu %xmm7, 376(%rax)\n"
	"	movdqu %xmm8, 392(%rax); movdqu %xmm9, 408(%rax); movdqu %xmm10, 424(%rax); movdqu %xmm11, 440(%rax)\n"
	"	movdqu %xmm12, 456(%rax); movdqu %xmm13, 472(%rax); movdqu %xmm14, 488(%rax); movdqu %xmm15, 504(%rax)\n"
	"	movq $0, 232(%rax)\n"
	"	jmp 1f\n"
	".globl harness_fixup\n"
	"harness_fixup:\n"
	"	mov g_enter(%rip), %rax\n"
	"	movq $1, 232(%rax); mov %rdi, 240(%rax); mov %rsi, 248(%rax); mov %rdx, 256(%rax)\n"
	"1:	cld\n"
	"	mov g_rsp(%rip), %rsp\n"
	"	pop %r15; pop %r14; pop %r13; pop %r12; pop %rbx; pop %rbp\n"
	"	ret\n");

/* ---- Host state per TCS: call block and scratch area ---- */

static struct encl_call_block blocks[MAX_TCS] __attribute__((aligned(64)));
static uint8_t scratch[MAX_TCS][65536];
static uint8_t inbuf[MAX_TCS][65536], outbuf[MAX_TCS][65536];
static uint64_t scratch_len = 4096;
static uint64_t canary = 0x0c0ffee000000000ull;

static void check_abi(const struct enter *e, const char *what)
{
	uint64_t host_rsp = (uint64_t)(g_host_stack + sizeof(g_host_stack));

	if (e->o_rsp != host_rsp)
		printf("abi %s: RSP %#lx, want URSP %#lx\n", what, e->o_rsp, host_rsp);
	if (e->o_rbp != e->rbp)
		printf("abi %s: RBP %#lx, want URBP %#lx\n", what, e->o_rbp, e->rbp);
	if (e->o_r12 != e->r12 || e->o_r13 != e->r13 || e->o_r14 != e->r14 || e->o_r15 != e->r15)
		printf("abi %s: R12-R15 not the host's\n", what);
	if (e->o_r10 || e->o_r11)
		printf("abi %s: R10/R11 not cleared\n", what);
	if (e->o_rax != SGX_EEXIT)
		printf("abi %s: RAX %#lx, want the EEXIT leaf\n", what, e->o_rax);
	for (int i = 0; i < 256; i++)
		if (e->xmm[i]) {
			printf("abi %s: XMM%d not cleared\n", what, i / 16);
			break;
		}
	if (e->o_rflags & 0x400)
		printf("abi %s: DF set\n", what);
	if ((e->o_rflags & (EFL_CF | EFL_OF | EFL_SF | EFL_AF | EFL_ZF | EFL_PF)) != (EFL_ZF | EFL_PF))
		printf("abi %s: status flags %#lx, want ZF = PF = 1, the others 0\n", what, e->o_rflags & 0x8d5);
}

/*
 * One ENCLU from the trampoline, with R12-R15 and RBP set to canaries the exit must give back. EEXIT restores
 * the host context of the entry that began the ecall flow, so an ERESUME happens "from the same frame", as a
 * vDSO caller re-invoking the vDSO would: it reuses that entry's canaries. Other entries get fresh ones.
 */
static uint64_t flow_canary[MAX_TCS];

static void enter(int ti, uint64_t leaf, uint64_t rdi, uint64_t rsi, uint64_t rdx, struct enter *e)
{
	uint64_t c, previous = flow_canary[ti];

	if (leaf == SGX_ERESUME) {
		c = flow_canary[ti];
	} else {
		canary += 0x100;
		c = canary;
		if (rdi == ENCL_CMD_ECALL || rdi == ENCL_CMD_ORET)
			flow_canary[ti] = c;
	}
	memset(e, 0, sizeof(*e));
	e->leaf = leaf;
	e->tcs = (uint64_t)E.base + E.tcs[ti].off;
	e->rdi = rdi, e->rsi = rsi, e->rdx = rdx;
	e->r8 = 0x88, e->r9 = 0x99;
	e->r12 = c | 0x12, e->r13 = c | 0x13, e->r14 = c | 0x14, e->r15 = c | 0x15;
	e->rbp = c | 0xbb;
	harness_enter(e);
	/* A rejected command began no flow (the runtime saved nothing): a suspended flow keeps its context. */
	if (!e->exc && e->o_rdi >= ENCL_STATUS_BAD_COMMAND)
		flow_canary[ti] = previous;
}

static void print_hex(const uint8_t *p, uint64_t n)
{
	if (!n)
		putchar('-');
	for (uint64_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static void print_exception(const struct enter *e)
{
	uint64_t b = (uint64_t)E.base;

	printf("exception vector=%lu err=%#lx addr=", e->vector, e->err);
	if (e->addr >= b && e->addr - b < E.size)
		printf("+%#lx\n", e->addr - b);
	else
		printf("%#lx\n", e->addr);
}

static void check_block(int ti, const struct enter *e, const char *what)
{
	if (blocks[ti].status != e->o_rdi || blocks[ti].ret != e->o_rsi)
		printf("abi %s: call block status/ret %lu/%#lx, registers %lu/%#lx\n", what, blocks[ti].status,
		       blocks[ti].ret, e->o_rdi, e->o_rsi);
}

/* The EXCEPTION entry: prints the handler's verdict. */
static void xentry(int ti)
{
	struct enter e;

	blocks[ti].status = blocks[ti].ret = 0xdead;
	enter(ti, SGX_EENTER, ENCL_CMD_EXCEPTION, 0, (uint64_t)&blocks[ti], &e);
	if (e.exc) {
		print_exception(&e);
		return;
	}
	check_abi(&e, "exception exit");
	check_block(ti, &e, "exception exit");
	printf("handler status=%lu ret=%#lx\n", e.o_rdi, e.o_rsi);
}

#define STOP_EXCEPTION 1
#define STOP_OCALL 2

static void serve(int ti, struct enter *e, int stop)
{
	const struct encl_call_block *b = &blocks[ti];

	for (;;) {
		if (e->exc) {
			print_exception(e);
			if (stop & STOP_EXCEPTION) {
				printf("stopped\n");
				return;
			}
			xentry(ti);
			enter(ti, SGX_ERESUME, 0, 0, 0, e);
			continue;
		}
		check_abi(e, "exit");
		check_block(ti, e, "exit");
		if (e->o_rdi == ENCL_STATUS_OCALL) {
			uint64_t index = e->o_rsi, in_len = e->o_rdx, out_off = e->o_r8, out_len = e->o_r9;
			long ret = (long)in_len;

			if (stop & STOP_OCALL) {
				printf("ocall-pending index=%lu in_len=%lu out_off=%lu out_len=%lu\n", index, in_len, out_off,
				       out_len);
				return;
			}
			if (b->ocall_index != index || b->ocall_in_len != in_len || b->ocall_out_off != out_off ||
			    b->ocall_out_len != out_len)
				printf("abi ocall: the call block disagrees with the registers\n");
			if (index == 0) {
				printf("ocall print \"%.*s\"\n", (int)in_len, (const char *)scratch[ti]);
			} else {
				printf("ocall echo in=");
				print_hex(scratch[ti], in_len);
				printf(" out_off=%lu out_len=%lu\n", out_off, out_len);
				memset(scratch[ti] + out_off, 0, out_len);
				memcpy(scratch[ti] + out_off, scratch[ti], in_len < out_len ? in_len : out_len);
			}
			enter(ti, SGX_EENTER, ENCL_CMD_ORET, (uint64_t)ret, (uint64_t)b, e);
			continue;
		}
		printf("result status=%lu ret=%#lx out=", e->o_rdi, e->o_rsi);
		print_hex(outbuf[ti], b->out == (uint64_t)outbuf[ti] ? b->out_len : 0);
		putchar('\n');
		return;
	}
}

static uint64_t parse_hex(const char *hex, uint8_t *out)
{
	uint64_t n = 0;

	if (!strcmp(hex, "-"))
		return 0;
	for (; hex[0] && hex[1]; hex += 2) {
		unsigned v;

		sscanf(hex, "%2x", &v);
		out[n++] = (uint8_t)v;
	}
	return n;
}

/* A number, "e+N" for the enclave address base + N, or in/out/scratch: TCS ti's host buffers. */
static uint64_t parse_addr(int ti, const char *v)
{
	if (!strncmp(v, "e+", 2))
		return (uint64_t)E.base + strtoull(v + 2, NULL, 0);
	if (!strcmp(v, "in"))
		return (uint64_t)inbuf[ti];
	if (!strcmp(v, "out"))
		return (uint64_t)outbuf[ti];
	if (!strcmp(v, "scratch"))
		return (uint64_t)scratch[ti];
	return strtoull(v, NULL, 0);
}

static void ecall(int ti, uint64_t index, const char *hex, uint64_t out_len, int stop)
{
	struct encl_call_block *b = &blocks[ti];
	struct enter e;

	memset(b, 0, sizeof(*b));
	memset(outbuf[ti], 0xee, sizeof(outbuf[ti]));
	b->in = (uint64_t)inbuf[ti];
	b->in_len = parse_hex(hex, inbuf[ti]);
	b->out = (uint64_t)outbuf[ti];
	b->out_len = out_len;
	b->scratch = (uint64_t)scratch[ti];
	b->scratch_len = scratch_len;
	enter(ti, SGX_EENTER, ENCL_CMD_ECALL, index, (uint64_t)b, &e);
	serve(ti, &e, stop);
}

static void raw(int ti, uint64_t leaf, uint64_t rdi, uint64_t rsi, const char *block)
{
	uint64_t rdx;
	struct enter e;

	if (!strcmp(block, "block"))
		rdx = (uint64_t)&blocks[ti];
	else if (!strcmp(block, "misaligned"))
		rdx = (uint64_t)&blocks[ti] + 4;
	else if (!strcmp(block, "other"))
		rdx = (uint64_t)&blocks[(ti + 1) % MAX_TCS];
	else
		rdx = parse_addr(ti, block);
	enter(ti, leaf, rdi, rsi, rdx, &e);
	if (e.exc) {
		print_exception(&e);
		return;
	}
	check_abi(&e, "raw exit");
	printf("raw status=%lu rsi=%#lx rdx=%#lx r8=%#lx r9=%#lx\n", e.o_rdi, e.o_rsi, e.o_rdx, e.o_r8, e.o_r9);
}

/* ---- Loading ---- */

static void load(const char *path, uint64_t size, uint64_t heap, uint64_t elrange, uint64_t extra_tcs,
		 uint64_t meta_at)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t *file, *raw;
	const Elf64_Ehdr *eh;
	const Elf64_Phdr *ph, *first = NULL;
	uint64_t end = 0;
	struct {
		uint64_t off, len;
		int prot;
	} segs[16];
	int nseg = 0;

	if (fd < 0 || fstat(fd, &st))
		die("cannot open the ELF");
	file = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (file == MAP_FAILED)
		die("cannot map the ELF");
	sha256(file, st.st_size, E.mrenclave); /* a stand-in MRENCLAVE: the simulator computes the real one */
	eh = (const Elf64_Ehdr *)file;
	ph = (const Elf64_Phdr *)(file + eh->e_phoff);

	E.size = elrange ? elrange : size;
	raw = mmap(NULL, 2 * E.size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		die("cannot reserve ELRANGE");
	E.base = (uint8_t *)(((uint64_t)raw + E.size - 1) & ~(E.size - 1));

	for (int i = 0; i < eh->e_phnum; i++) {
		uint64_t off, len;

		if (ph[i].p_type != PT_LOAD)
			continue;
		if (!first)
			first = &ph[i];
		off = (ph[i].p_offset & ~(PAGE - 1)) - (first->p_offset & ~(PAGE - 1));
		len = (ph[i].p_filesz + PAGE - 1) & ~(PAGE - 1);
		if (mmap(E.base + off, len, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
		    MAP_FAILED)
			die("cannot map a segment");
		memcpy(E.base + off, file + ph[i].p_offset, ph[i].p_filesz);
		segs[nseg].off = off;
		segs[nseg].len = len;
		segs[nseg].prot = &ph[i] == first ? PROT_NONE
						   : (ph[i].p_flags & PF_R ? PROT_READ : 0) |
							     (ph[i].p_flags & PF_W ? PROT_WRITE : 0) |
							     (ph[i].p_flags & PF_X ? PROT_EXEC : 0);
		nseg++;
		if (off + len > end)
			end = off + len;
		if (&ph[i] == first) {
			for (uint64_t t = 0; t < len; t += PAGE) {
				const uint8_t *p = E.base + off + t;

				E.tcs[E.ntcs].off = off + t;
				memcpy(&E.tcs[E.ntcs].ossa, p + 16, 8);
				E.tcs[E.ntcs].nssa = *(const uint32_t *)(p + 28);
				memcpy(&E.tcs[E.ntcs].oentry, p + 32, 8);
				E.ntcs++;
			}
		}
	}
	/* A loader that enlarges ELRANGE writes the new size into encl_rt_meta before EADD (abi.h). */
	if (meta_at)
		memcpy(E.base + meta_at + ENCL_META_ENCLAVE_SIZE, &E.size, 8);
	if (heap && mmap(E.base + end, heap, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1,
			 0) == MAP_FAILED)
		die("cannot map the heap");
	for (int i = 0; i < nseg; i++)
		mprotect(E.base + segs[i].off, segs[i].len, segs[i].prot);

	if (extra_tcs) {
		/* A loader-added TCS after the runtime's convention: its thread block just below it (abi.h). */
		if (mmap(E.base + extra_tcs - ENCL_THREAD_SIZE, ENCL_THREAD_SIZE + PAGE, PROT_READ | PROT_WRITE,
			 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
			die("cannot map the extra thread");
		mprotect(E.base + extra_tcs, PAGE, PROT_NONE);
		E.tcs[E.ntcs].off = extra_tcs;
		E.tcs[E.ntcs].ossa = extra_tcs - ENCL_THREAD_SIZE;
		E.tcs[E.ntcs].nssa = ENCL_NSSA;
		E.tcs[E.ntcs].oentry = E.tcs[0].oentry;
		E.ntcs++;
	}
	close(fd);
}

int main(int argc, char **argv)
{
	char line[1 << 17], cmd[16], hex[1 << 17], block[64];
	uint64_t elrange = 0, extra = 0, meta_at = 0;
	stack_t ss;
	struct sigaction sa;

	if (argc < 4)
		die("usage: sgx-lite ELF SIZE HEAP [options]");
	setvbuf(stdout, NULL, _IOLBF, 0);
	E.isvsvn = 1;
	memset(E.cpusvn, 2, 16);
	sha256("signer", 6, E.mrsigner);
	E.attributes = 0x5; /* INIT | MODE64BIT */
	E.xfrm = 3;
	E.miscselect = SGX_MISC_EXINFO;
	memset(E.report_keyid, 0x4b, 32);
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--isvsvn") && i + 1 < argc)
			E.isvsvn = (uint16_t)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--cpusvn") && i + 1 < argc)
			memset(E.cpusvn, atoi(argv[++i]), 16);
		else if (!strcmp(argv[i], "--mrsigner") && i + 1 < argc)
			sha256(argv[i + 1], strlen(argv[i + 1]), E.mrsigner), i++;
		else if (!strcmp(argv[i], "--mrenclave") && i + 1 < argc)
			sha256(argv[i + 1], strlen(argv[i + 1]), E.mrenclave), i++;
		else if (!strcmp(argv[i], "--no-exinfo"))
			E.miscselect = 0;
		else if (!strcmp(argv[i], "--scratch") && i + 1 < argc)
			scratch_len = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--elrange") && i + 1 < argc)
			elrange = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--extra-tcs") && i + 1 < argc)
			extra = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--meta-size") && i + 1 < argc)
			meta_at = strtoull(argv[++i], NULL, 0);
		else
			die("unknown option");
	}
	{
		uint8_t keep[32];

		/* --mrenclave overrides the ELF hash; load() would otherwise set it. */
		memcpy(keep, E.mrenclave, 32);
		load(argv[1], strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0), elrange, extra, meta_at);
		for (int i = 4; i < argc; i++)
			if (!strcmp(argv[i], "--mrenclave"))
				memcpy(E.mrenclave, keep, 32);
	}

	ss.ss_sp = malloc(1 << 16);
	ss.ss_size = 1 << 16;
	ss.ss_flags = 0;
	sigaltstack(&ss, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGTRAP, &sa, NULL);

	printf("loaded tcs=%d\n", E.ntcs);
	while (fgets(line, sizeof(line), stdin)) {
		int ti = 0;
		uint64_t a = 0, b = 0, c = 0;

		if (sscanf(line, "%15s", cmd) != 1)
			continue;
		if (!strcmp(cmd, "ecall") || !strcmp(cmd, "ecall!") || !strcmp(cmd, "ecall?")) {
			if (sscanf(line, "%*s %d %lu %131071s %lu", &ti, &a, hex, &b) != 4)
				die("bad ecall line");
			ecall(ti, a, hex, b, cmd[5] == '!' ? STOP_EXCEPTION : cmd[5] == '?' ? STOP_OCALL : 0);
		} else if (!strcmp(cmd, "block")) {
			char f[6][64];
			uint64_t *v = &blocks[0].in;

			if (sscanf(line, "%*s %d %63s %63s %63s %63s %63s %63s", &ti, f[0], f[1], f[2], f[3], f[4], f[5]) != 7)
				die("bad block line");
			memset(&blocks[ti], 0, sizeof(blocks[ti]));
			v = &blocks[ti].in;
			for (int i = 0; i < 6; i++)
				v[i] = parse_addr(ti, f[i]);
		} else if (!strcmp(cmd, "go")) {
			struct enter e;

			sscanf(line, "%*s %d %lu", &ti, &a);
			enter(ti, SGX_EENTER, ENCL_CMD_ECALL, a, (uint64_t)&blocks[ti], &e);
			serve(ti, &e, 0);
		} else if (!strcmp(cmd, "oret")) {
			struct enter e;

			sscanf(line, "%*s %d %li", &ti, (long *)&a);
			enter(ti, SGX_EENTER, ENCL_CMD_ORET, a, (uint64_t)&blocks[ti], &e);
			serve(ti, &e, 0);
		} else if (!strcmp(cmd, "xentry")) {
			sscanf(line, "%*s %d", &ti);
			xentry(ti);
		} else if (!strcmp(cmd, "resume")) {
			struct enter e;

			sscanf(line, "%*s %d", &ti);
			enter(ti, SGX_ERESUME, 0, 0, 0, &e);
			serve(ti, &e, 0);
		} else if (!strcmp(cmd, "raw")) {
			if (sscanf(line, "%*s %d %lu %li %li %63s", &ti, &a, (long *)&b, (long *)&c, block) != 5)
				die("bad raw line");
			raw(ti, a, b, c, block);
		} else {
			die("unknown command");
		}
	}
	return 0;
}
