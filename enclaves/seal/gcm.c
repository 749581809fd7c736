/*
 * AES-128-GCM after NIST SP 800-38D: GHASH (§6.4) with the bitwise multiplication of Algorithm 1 (§6.3),
 * GCTR (§6.5), and the authenticated encryption/decryption of §7.1/§7.2 for a 96-bit IV, J0 = IV || 0^31 || 1.
 * The multiplication runs in constant time (masks, no data-dependent branches); it is slow but small.
 */
#include "gcm.h"
#include "aes.h"

struct gcm {
	struct aes128 aes;
	uint64_t h_hi, h_lo;	/* H = CIPH_K(0^128), as a 128-bit big-endian number */
	uint64_t x_hi, x_lo;	/* the running GHASH value */
	uint8_t j0[16];
};

static uint64_t load_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void store_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* X = X * H in GF(2^128): SP 800-38D Algorithm 1, bit 0 being the most significant bit of the first byte. */
static void gmul(struct gcm *g)
{
	uint64_t z_hi = 0, z_lo = 0, v_hi = g->h_hi, v_lo = g->h_lo;

	for (int i = 0; i < 128; i++) {
		uint64_t bit = i < 64 ? g->x_hi >> (63 - i) : g->x_lo >> (127 - i);
		uint64_t m = -(bit & 1), r = -(v_lo & 1);

		z_hi ^= v_hi & m;
		z_lo ^= v_lo & m;
		v_lo = v_lo >> 1 | v_hi << 63;
		v_hi = v_hi >> 1 ^ (0xe100000000000000ull & r); /* R = 11100001 || 0^120 */
	}
	g->x_hi = z_hi;
	g->x_lo = z_lo;
}

/* GHASH over data zero-padded to whole blocks. */
static void ghash(struct gcm *g, const uint8_t *p, size_t n)
{
	while (n) {
		uint8_t block[16] = { 0 };
		size_t take = n < 16 ? n : 16;

		for (size_t i = 0; i < take; i++)
			block[i] = p[i];
		g->x_hi ^= load_be64(block);
		g->x_lo ^= load_be64(block + 8);
		gmul(g);
		p += take;
		n -= take;
	}
}

/* GCTR with the counter starting at inc32(J0); the low 32 bits wrap modulo 2^32 (§6.2 inc_s). */
static void gctr(struct gcm *g, const uint8_t *in, size_t n, uint8_t *out)
{
	uint8_t cb[16], ks[16];
	uint32_t ctr;

	for (int i = 0; i < 16; i++)
		cb[i] = g->j0[i];
	ctr = (uint32_t)cb[12] << 24 | (uint32_t)cb[13] << 16 | (uint32_t)cb[14] << 8 | cb[15];
	while (n) {
		size_t take = n < 16 ? n : 16;

		ctr++;
		cb[12] = (uint8_t)(ctr >> 24), cb[13] = (uint8_t)(ctr >> 16), cb[14] = (uint8_t)(ctr >> 8);
		cb[15] = (uint8_t)ctr;
		aes128_encrypt(&g->aes, cb, ks);
		for (size_t i = 0; i < take; i++)
			out[i] = in[i] ^ ks[i];
		in += take;
		out += take;
		n -= take;
	}
}

static void setup(struct gcm *g, const uint8_t key[16], const uint8_t iv[GCM_IV_SIZE])
{
	uint8_t zero[16] = { 0 }, h[16];

	aes128_init(&g->aes, key);
	aes128_encrypt(&g->aes, zero, h);
	g->h_hi = load_be64(h);
	g->h_lo = load_be64(h + 8);
	g->x_hi = g->x_lo = 0;
	for (int i = 0; i < 12; i++)
		g->j0[i] = iv[i];
	g->j0[12] = g->j0[13] = g->j0[14] = 0;
	g->j0[15] = 1;
}

/* T = MSB_128(GCTR(J0, S)) with S = GHASH(A || pad || C || pad || [len(A)]_64 || [len(C)]_64). */
static void tag_of(struct gcm *g, const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t n, uint8_t tag[16])
{
	uint8_t lens[16], s[16], ek[16];

	ghash(g, aad, aad_len);
	ghash(g, ct, n);
	store_be64(lens, (uint64_t)aad_len * 8);
	store_be64(lens + 8, (uint64_t)n * 8);
	ghash(g, lens, 16);
	store_be64(s, g->x_hi);
	store_be64(s + 8, g->x_lo);
	aes128_encrypt(&g->aes, g->j0, ek);
	for (int i = 0; i < 16; i++)
		tag[i] = s[i] ^ ek[i];
}

static void wipe(struct gcm *g)
{
	volatile uint8_t *p = (volatile uint8_t *)g;

	for (unsigned i = 0; i < sizeof(*g); i++)
		p[i] = 0;
}

void aes128_gcm_encrypt(const uint8_t key[16], const uint8_t iv[GCM_IV_SIZE], const uint8_t *aad, size_t aad_len,
			const uint8_t *pt, size_t n, uint8_t *ct, uint8_t tag[GCM_TAG_SIZE])
{
	struct gcm g;

	setup(&g, key, iv);
	gctr(&g, pt, n, ct);
	tag_of(&g, aad, aad_len, ct, n, tag);
	wipe(&g);
}

int aes128_gcm_decrypt(const uint8_t key[16], const uint8_t iv[GCM_IV_SIZE], const uint8_t *aad, size_t aad_len,
		       const uint8_t *ct, size_t n, const uint8_t tag[GCM_TAG_SIZE], uint8_t *pt)
{
	struct gcm g;
	uint8_t want[16], diff = 0;

	setup(&g, key, iv);
	tag_of(&g, aad, aad_len, ct, n, want);
	for (int i = 0; i < 16; i++)
		diff |= want[i] ^ tag[i]; /* constant-time compare */
	if (diff) {
		wipe(&g);
		return -1;
	}
	gctr(&g, ct, n, pt);
	wipe(&g);
	return 0;
}
