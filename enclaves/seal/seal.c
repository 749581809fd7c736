/*
 * The seal enclave: sealing with a key from ENCLU[EGETKEY] (KEYNAME = SEAL), AES-128-GCM in plain C, and
 * EREPORT-based local attestation.
 *
 *   seal(data) -> blob             seal key bound to MRSIGNER (the Intel SGX SDK's default policy)
 *   seal_mrenclave(data) -> blob   seal key bound to MRENCLAVE
 *   unseal(blob) -> data
 *   report(TARGETINFO || REPORTDATA) -> REPORT    REPORTDATA may be shorter than 64 bytes (zero padded)
 *   verify_report(REPORT) -> ()    0 if the REPORT's MAC verifies with this enclave's report key
 *   getkey(KEYREQUEST) -> key      ENCLU[EGETKEY] with the caller's request as is (any KEYNAME, e.g. PROVISION)
 *
 * Ecalls return the output length, or a negative SEAL_E_* (blob.h).
 */
#include "encl/runtime.h"

#include "blob.h"
#include "cmac.h"

#define SEAL_ECALLS(X) X(seal) X(seal_mrenclave) X(unseal) X(report) X(verify_report) X(getkey)
#define SEAL_OCALLS(X)

ENCL_DEFINE_RUNTIME(SEAL_ECALLS, SEAL_OCALLS);

/*
 * The Intel SGX SDK's default masks (sgx_tseal.h): TSEAL_DEFAULT_FLAGSMASK binds INIT, DEBUG and the reserved
 * high bits but not MODE64BIT, PROVISIONKEY or EINITTOKENKEY; TSEAL_DEFAULT_MISCMASK binds MISCSELECT[31:28].
 */
#define SEAL_ATTRIBUTE_MASK	0xff0000000000000bull
#define SEAL_MISC_MASK		0xf0000000u

static long seal_with(uint16_t policy, const uint8_t *in, size_t n, uint8_t *out, size_t out_len)
{
	const struct sgx_report *self = encl_self_report();
	struct sgx_keyrequest kr;
	uint8_t key[16], iv[12];
	uint64_t status;

	if (n > SEAL_MAX_PAYLOAD)
		return SEAL_E_INPUT;
	if (out_len < SEAL_HDR_SIZE + n)
		return SEAL_E_SPACE;

	/* The current ISVSVN and CPUSVN, from this enclave's own REPORT; a fresh KEYID for every blob. */
	memset(&kr, 0, sizeof(kr));
	kr.keyname = SGX_KEYNAME_SEAL;
	kr.keypolicy = policy;
	kr.isvsvn = self->isvsvn;
	memcpy(kr.cpusvn, self->cpusvn, sizeof(kr.cpusvn));
	kr.attributemask_flags = SEAL_ATTRIBUTE_MASK;
	kr.attributemask_xfrm = 0;
	kr.miscmask = SEAL_MISC_MASK;
	encl_random(kr.keyid, sizeof(kr.keyid));
	encl_random(iv, sizeof(iv));

	status = encl_egetkey(&kr, key);
	if (status)
		return SEAL_E_KEY - (long)status;
	seal_blob_header(out, &kr, iv, (uint32_t)n);
	seal_blob_encrypt(key, out, in, (uint32_t)n);
	encl_memzero(key, sizeof(key));
	return (long)(SEAL_HDR_SIZE + n);
}

long ecall_seal(const uint8_t *in, size_t n, uint8_t *out, size_t out_len)
{
	return seal_with(SGX_KEYPOLICY_MRSIGNER, in, n, out, out_len);
}

long ecall_seal_mrenclave(const uint8_t *in, size_t n, uint8_t *out, size_t out_len)
{
	return seal_with(SGX_KEYPOLICY_MRENCLAVE, in, n, out, out_len);
}

long ecall_unseal(const uint8_t *in, size_t n, uint8_t *out, size_t out_len)
{
	struct sgx_keyrequest kr;
	uint8_t key[16];
	uint64_t status;
	long len = seal_blob_parse(in, n, &kr), r;

	if (len < 0)
		return len;
	if (out_len < (size_t)len)
		return SEAL_E_SPACE;
	/* EGETKEY refuses a CPUSVN or ISVSVN above the current ones: blobs from a newer enclave do not open. */
	status = encl_egetkey(&kr, key);
	if (status)
		return SEAL_E_KEY - (long)status;
	r = seal_blob_decrypt(key, in, n, out);
	encl_memzero(key, sizeof(key));
	return r ? r : len;
}

long ecall_report(const uint8_t *in, size_t n, uint8_t *out, size_t out_len)
{
	struct sgx_targetinfo ti;
	uint8_t data[SGX_REPORTDATA_SIZE] = { 0 };
	struct sgx_report report;

	if (n < SGX_TARGETINFO_SIZE || n > SGX_TARGETINFO_SIZE + SGX_REPORTDATA_SIZE)
		return SEAL_E_INPUT;
	if (out_len < SGX_REPORT_SIZE)
		return SEAL_E_SPACE;
	memcpy(&ti, in, SGX_TARGETINFO_SIZE);
	memcpy(data, in + SGX_TARGETINFO_SIZE, n - SGX_TARGETINFO_SIZE);
	encl_ereport(&ti, data, &report);
	memcpy(out, &report, SGX_REPORT_SIZE);
	return SGX_REPORT_SIZE;
}

long ecall_verify_report(const uint8_t *in, size_t n, uint8_t *out, size_t out_len)
{
	struct sgx_keyrequest kr;
	uint8_t key[16], mac[16], diff = 0;
	uint64_t status;

	(void)out;
	(void)out_len;
	if (n != SGX_REPORT_SIZE)
		return SEAL_E_INPUT;
	/* The report key for KEYID = the REPORT's KEYID: what EREPORT used to MAC a REPORT targeted at us. */
	memset(&kr, 0, sizeof(kr));
	kr.keyname = SGX_KEYNAME_REPORT;
	memcpy(kr.keyid, in + offsetof(struct sgx_report, keyid), sizeof(kr.keyid));
	status = encl_egetkey(&kr, key);
	if (status)
		return SEAL_E_KEY - (long)status;
	aes128_cmac(key, in, SGX_REPORT_MACED_SIZE, mac);
	encl_memzero(key, sizeof(key));
	for (int i = 0; i < 16; i++)
		diff |= mac[i] ^ in[offsetof(struct sgx_report, mac) + i];
	return diff ? SEAL_E_MAC : 0;
}

/*
 * The raw EGETKEY, for tests of the key names the enclave has no other use for (PROVISION, PROVISION_SEAL need
 * ATTRIBUTES.PROVISIONKEY, which the driver grants only after ENCLAVE_PROVISION). The key leaves the enclave:
 * this is a test ecall, not something a real enclave would export.
 */
long ecall_getkey(const uint8_t *in, size_t n, uint8_t *out, size_t out_len)
{
	struct sgx_keyrequest kr;
	uint8_t key[16];
	uint64_t status;

	if (n != SGX_KEYREQUEST_SIZE)
		return SEAL_E_INPUT;
	if (out_len < sizeof(key))
		return SEAL_E_SPACE;
	memcpy(&kr, in, SGX_KEYREQUEST_SIZE);
	status = encl_egetkey(&kr, key);
	if (status)
		return SEAL_E_KEY - (long)status;
	memcpy(out, key, sizeof(key));
	encl_memzero(key, sizeof(key));
	return sizeof(key);
}
