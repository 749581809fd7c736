/*
 * ENCLU wrappers and RDRAND. Every operand ENCLU reads or writes is copied to a buffer on the enclave stack
 * with the alignment the SDM demands, so callers may pass any enclave memory: EGETKEY wants KEYREQUEST
 * 512-aligned and the key 16-aligned; EREPORT wants TARGETINFO and REPORT 512-aligned and REPORTDATA
 * 128-aligned, all inside ELRANGE (SDM Vol. 3D §41.3; a violation is #GP).
 */
#include "encl/runtime.h"
#include "internal.h"

#define ENCLU ".byte 0x0f, 0x01, 0xd7"

void encl_memzero(void *p, size_t n)
{
	volatile uint8_t *q = p;

	while (n--)
		*q++ = 0;
}

uint64_t encl_egetkey(const struct sgx_keyrequest *req, uint8_t key[16])
{
	struct sgx_keyrequest kr;
	uint8_t out[16] __attribute__((aligned(16)));
	uint64_t rax = SGX_EGETKEY;

	memcpy(&kr, req, SGX_KEYREQUEST_SIZE);
	memset(out, 0, sizeof(out));
	/* On error RAX holds the status, ZF = 1 and OUTPUTDATA is not written (SDM Vol. 3D §41.3 EGETKEY). */
	asm volatile(ENCLU : "+a"(rax) : "b"(&kr), "c"(out) : "memory", "cc");
	if (rax == 0)
		memcpy(key, out, sizeof(out));
	encl_memzero(out, sizeof(out));
	return rax;
}

void encl_ereport(const struct sgx_targetinfo *ti, const uint8_t reportdata[64], struct sgx_report *report)
{
	struct sgx_targetinfo t;
	struct sgx_reportdata d;
	struct sgx_report r;

	memcpy(&t, ti, SGX_TARGETINFO_SIZE);
	memcpy(d.d, reportdata, SGX_REPORTDATA_SIZE);
	asm volatile(ENCLU : : "a"((uint64_t)SGX_EREPORT), "b"(&t), "c"(&d), "d"(&r) : "memory", "cc");
	memcpy(report, &r, SGX_REPORT_SIZE);
}

/*
 * The enclave's own REPORT, for its identity fields (CPUSVN, ISVSVN, MISCSELECT). It is computed into static
 * storage, so the exception handler can ask for it without stack room; two threads racing here write the same
 * bytes.
 */
static struct sgx_report self_report;
static const struct sgx_targetinfo self_target;
static const struct sgx_reportdata self_data;
static volatile int self_report_ready;

const struct sgx_report *encl_self_report(void)
{
	if (!self_report_ready) {
		asm volatile(ENCLU
			     :
			     : "a"((uint64_t)SGX_EREPORT), "b"(&self_target), "c"(&self_data), "d"(&self_report)
			     : "memory", "cc");
		self_report_ready = 1;
	}
	return &self_report;
}

uint64_t encl_eaccept(uint64_t flags, void *page)
{
	struct sgx_secinfo si;
	uint64_t rax = SGX_EACCEPT;

	memset(&si, 0, sizeof(si));
	si.flags = flags;
	asm volatile(ENCLU : "+a"(rax) : "b"(&si), "c"(page) : "memory", "cc");
	return rax;
}

void encl_emodpe(uint64_t flags, void *page)
{
	struct sgx_secinfo si;
	uint64_t rax = SGX_EMODPE;

	memset(&si, 0, sizeof(si));
	si.flags = flags;
	asm volatile(ENCLU : "+a"(rax) : "b"(&si), "c"(page) : "memory", "cc");
}

/* RDRAND may transiently fail (CF = 0); Intel's DRNG guide recommends ten retries before giving up. */
static int rdrand64(uint64_t *v)
{
	for (int i = 0; i < 10; i++) {
		uint64_t x;
		uint8_t ok;

		asm volatile("rdrand %0; setc %1" : "=r"(x), "=qm"(ok) : : "cc");
		if (ok) {
			*v = x;
			return 1;
		}
	}
	return 0;
}

void encl_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		uint64_t v;
		size_t n = len < 8 ? len : 8;

		if (!rdrand64(&v))
			encl_rt_die(ENCL_ABORT_RUNTIME | ENCL_PANIC_RDRAND);
		memcpy(p, &v, n);
		p += n;
		len -= n;
	}
}
