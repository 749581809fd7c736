/*
 * The sample enclave's trusted code: the Linux SGX selftests' op set (see ops.h), dispatched by number.
 * Freestanding: no libc, no relocations at run time. A switch (not a table of function pointers) keeps every
 * code address RIP-relative, so the image runs at whatever base the loader picks without being relocated.
 */
#include "ops.h"

#define PAGE_SIZE 4096
#define ENCLU ".byte 0x0f, 0x01, 0xd7"
#define EACCEPT 5	/* ENCLU leaf numbers, SDM Vol. 3D §41.3 */
#define EMODPE 6

/* Two pages, first byte non-zero so the buffer lives in .data (measured) rather than .bss. */
unsigned char encl_buffer[2 * PAGE_SIZE] __attribute__((section(".data.encl_buffer"), aligned(PAGE_SIZE))) = { 1 };

/* SECINFO: 64 bytes, 64-byte aligned, reserved bytes zero (SDM Vol. 3D §38.11). */
struct secinfo {
	u64 flags;
	u64 reserved[7];
} __attribute__((aligned(64)));

static u64 load64(const void *p)
{
	return *(const volatile u64 *)p;
}

static void store64(void *p, u64 v)
{
	*(volatile u64 *)p = v;
}

static u64 enclu(u64 leaf, const struct secinfo *si, u64 page)
{
	u64 rax = leaf;

	asm volatile(ENCLU : "+a"(rax) : "b"(si), "c"(page) : "memory");
	return rax;
}

static void init_tcs_page(struct encl_op_init_tcs_page *op)
{
	unsigned char *tcs = (unsigned char *)op->tcs_page;

	/* TCS fields, SDM Vol. 3D §38.8 Table 38-8; everything not set here is zero (reserved, STATE, CSSA, AEP). */
	for (int i = 0; i < PAGE_SIZE; i += 8)
		store64(tcs + i, 0);
	store64(tcs + 16, op->ssa);		/* OSSA */
	store64(tcs + 24, 1ul << 32);		/* CSSA = 0, NSSA = 1 */
	store64(tcs + 32, op->entry);		/* OENTRY */
	store64(tcs + 64, 0xfffffffffffffffful);	/* FSLIMIT, GSLIMIT */
}

/*
 * Sets RFLAGS.TF with POPF, runs one NOP and clears TF again. On an opt-in entry (TCS.FLAGS.DBGOPTIN) the NOP
 * single-steps: #DB after it (SDM Vol. 3A §17.3.1.4). On an opt-out entry "any attempt to set TF via a POPF
 * instruction while inside the enclave clears TF" (SDM Vol. 3D §42.2.5), so nothing happens. Not inlined: the
 * pushes stay out of encl_body's frame.
 */
static __attribute__((noinline)) void encl_trap_flag(void)
{
	asm volatile("pushfq\n\t"
		     "orq $0x100, (%%rsp)\n\t"
		     "popfq\n\t"
		     "nop\n\t"
		     "pushfq\n\t"
		     "andq $~0x100, (%%rsp)\n\t"
		     "popfq"
		     :
		     :
		     : "cc", "memory");
}

void encl_body(void *rdi, void *rsi)
{
	struct encl_op_header *op = rdi;
	struct secinfo si = { 0 };

	(void)rsi;
	switch (load64(&op->type)) {
	case ENCL_OP_PUT_TO_BUFFER:
		store64(encl_buffer, load64(&((struct encl_op_put_to_buf *)op)->value));
		break;
	case ENCL_OP_GET_FROM_BUFFER:
		store64(&((struct encl_op_get_from_buf *)op)->value, load64(encl_buffer));
		break;
	case ENCL_OP_PUT_TO_ADDRESS: {
		struct encl_op_put_to_addr *p = (void *)op;

		store64((void *)load64(&p->addr), load64(&p->value));
		break;
	}
	case ENCL_OP_GET_FROM_ADDRESS: {
		struct encl_op_get_from_addr *p = (void *)op;

		store64(&p->value, load64((void *)load64(&p->addr)));
		break;
	}
	case ENCL_OP_NOP:
		break;
	case ENCL_OP_EACCEPT: {
		struct encl_op_eaccept *p = (void *)op;

		si.flags = load64(&p->flags);
		store64(&p->ret, enclu(EACCEPT, &si, load64(&p->epc_addr)));
		break;
	}
	case ENCL_OP_EMODPE: {
		struct encl_op_emodpe *p = (void *)op;

		si.flags = load64(&p->flags);
		enclu(EMODPE, &si, load64(&p->epc_addr));
		break;
	}
	case ENCL_OP_INIT_TCS_PAGE:
		init_tcs_page((void *)op);
		break;
	case ENCL_OP_UD:
		__asm__ volatile("ud2");
		break;
	case ENCL_OP_PF:
		/* encl_body's own first byte: its page is R X in the PTE and the EPCM, so the store faults. */
		*(volatile unsigned char *)(void *)encl_body = 0xcc;
		break;
	case ENCL_OP_BP:
		__asm__ volatile("int3");
		break;
	case ENCL_OP_TF:
		encl_trap_flag();
		break;
	default:
		/* Unknown ops are ignored, as in the selftests' encl_body(). */
		break;
	}
}
