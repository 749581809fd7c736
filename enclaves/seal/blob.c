/* The sealed-blob format (blob.h): framing and AES-128-GCM, independent of ENCLU so the host can test it. */
#include "blob.h"
#include "gcm.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static uint64_t get(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void copy(uint8_t *d, const uint8_t *s, size_t n)
{
	while (n--)
		*d++ = *s++;
}

void seal_blob_header(uint8_t *blob, const struct sgx_keyrequest *kr, const uint8_t iv[12], uint32_t len)
{
	for (int i = 0; i < SEAL_HDR_SIZE; i++)
		blob[i] = 0;
	copy(blob, (const uint8_t *)SEAL_MAGIC, 8);
	put16(blob + SEAL_OFF_KEYNAME, kr->keyname);
	put16(blob + SEAL_OFF_KEYPOLICY, kr->keypolicy);
	put16(blob + SEAL_OFF_ISVSVN, kr->isvsvn);
	put16(blob + SEAL_OFF_CONFIGSVN, kr->configsvn);
	copy(blob + SEAL_OFF_CPUSVN, kr->cpusvn, 16);
	put64(blob + SEAL_OFF_ATTR_FLAGS, kr->attributemask_flags);
	put64(blob + SEAL_OFF_ATTR_XFRM, kr->attributemask_xfrm);
	put32(blob + SEAL_OFF_MISCMASK, kr->miscmask);
	put32(blob + SEAL_OFF_LEN, len);
	copy(blob + SEAL_OFF_KEYID, kr->keyid, 32);
	copy(blob + SEAL_OFF_IV, iv, 12);
}

void seal_blob_encrypt(const uint8_t key[16], uint8_t *blob, const uint8_t *pt, uint32_t len)
{
	aes128_gcm_encrypt(key, blob + SEAL_OFF_IV, blob, SEAL_AAD_SIZE, pt, len, blob + SEAL_HDR_SIZE,
			   blob + SEAL_OFF_TAG);
}

long seal_blob_parse(const uint8_t *blob, size_t blob_len, struct sgx_keyrequest *kr)
{
	uint64_t len;
	uint8_t *k = (uint8_t *)kr;

	if (blob_len < SEAL_HDR_SIZE)
		return SEAL_E_INPUT;
	for (int i = 0; i < 8; i++)
		if (blob[i] != (uint8_t)SEAL_MAGIC[i])
			return SEAL_E_INPUT;
	if (get(blob + SEAL_OFF_KEYNAME, 2) != SGX_KEYNAME_SEAL)
		return SEAL_E_INPUT;
	for (int i = SEAL_OFF_RESERVED; i < SEAL_OFF_TAG; i++)
		if (blob[i])
			return SEAL_E_INPUT;
	/*
	 * Only MRENCLAVE/MRSIGNER policies and CONFIGSVN 0: the other policy bits and CONFIGSVN need KSS, and
	 * EGETKEY answers them with #GP otherwise (SDM Vol. 3D §41.3 EGETKEY), which a crafted blob must not cause.
	 */
	if ((get(blob + SEAL_OFF_KEYPOLICY, 2) & ~(uint64_t)(SGX_KEYPOLICY_MRENCLAVE | SGX_KEYPOLICY_MRSIGNER)) ||
	    !get(blob + SEAL_OFF_KEYPOLICY, 2) || get(blob + SEAL_OFF_CONFIGSVN, 2))
		return SEAL_E_INPUT;
	len = get(blob + SEAL_OFF_LEN, 4);
	if (len > SEAL_MAX_PAYLOAD || len != blob_len - SEAL_HDR_SIZE)
		return SEAL_E_INPUT;

	for (unsigned i = 0; i < sizeof(*kr); i++)
		k[i] = 0;
	kr->keyname = SGX_KEYNAME_SEAL;
	kr->keypolicy = (uint16_t)get(blob + SEAL_OFF_KEYPOLICY, 2);
	kr->isvsvn = (uint16_t)get(blob + SEAL_OFF_ISVSVN, 2);
	kr->configsvn = (uint16_t)get(blob + SEAL_OFF_CONFIGSVN, 2);
	copy(kr->cpusvn, blob + SEAL_OFF_CPUSVN, 16);
	kr->attributemask_flags = get(blob + SEAL_OFF_ATTR_FLAGS, 8);
	kr->attributemask_xfrm = get(blob + SEAL_OFF_ATTR_XFRM, 8);
	kr->miscmask = (uint32_t)get(blob + SEAL_OFF_MISCMASK, 4);
	copy(kr->keyid, blob + SEAL_OFF_KEYID, 32);
	return (long)len;
}

long seal_blob_decrypt(const uint8_t key[16], const uint8_t *blob, size_t blob_len, uint8_t *pt)
{
	if (aes128_gcm_decrypt(key, blob + SEAL_OFF_IV, blob, SEAL_AAD_SIZE, blob + SEAL_HDR_SIZE,
			       blob_len - SEAL_HDR_SIZE, blob + SEAL_OFF_TAG, pt))
		return SEAL_E_MAC;
	return 0;
}
