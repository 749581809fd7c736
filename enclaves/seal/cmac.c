/*
 * AES-128-CMAC after RFC 4493 §2.3-2.4 (NIST SP 800-38B): subkeys K1, K2 by doubling L = AES-K(0^128) with
 * Rb = 0x87, then CBC-MAC with the last block XORed with K1 (complete) or padded and XORed with K2. EREPORT's
 * MAC is this function over REPORT bytes [0, 384) under the target's report key (SDM Vol. 3D §41.3 EREPORT).
 */
#include "cmac.h"
#include "aes.h"

static void dbl(const uint8_t in[16], uint8_t out[16])
{
	uint8_t carry = in[0] >> 7;

	for (int i = 0; i < 15; i++)
		out[i] = (uint8_t)(in[i] << 1 | in[i + 1] >> 7);
	out[15] = (uint8_t)(in[15] << 1) ^ (uint8_t)(0x87 & -carry);
}

void aes128_cmac(const uint8_t key[16], const uint8_t *msg, size_t n, uint8_t mac[16])
{
	struct aes128 aes;
	uint8_t l[16] = { 0 }, k1[16], k2[16], x[16] = { 0 }, last[16];
	size_t blocks = n ? (n + 15) / 16 : 1;
	int complete = n && n % 16 == 0;

	aes128_init(&aes, key);
	aes128_encrypt(&aes, l, l);
	dbl(l, k1);
	dbl(k1, k2);
	for (size_t b = 0; b + 1 < blocks; b++) {
		for (int i = 0; i < 16; i++)
			x[i] ^= msg[16 * b + i];
		aes128_encrypt(&aes, x, x);
	}
	for (int i = 0; i < 16; i++) {
		size_t at = 16 * (blocks - 1) + i;

		if (complete)
			last[i] = msg[at] ^ k1[i];
		else
			last[i] = (at < n ? msg[at] : at == n ? 0x80 : 0) ^ k2[i];
	}
	for (int i = 0; i < 16; i++)
		x[i] ^= last[i];
	aes128_encrypt(&aes, x, mac);
	aes128_wipe(&aes);
}
