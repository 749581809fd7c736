/*
 * Runs the enclaves' freestanding algorithms (AES-128-GCM, AES-CMAC, the sealed-blob format, SHA-256, CRC-32,
 * sort) on the host, one command per input line, so the tests can compare them in bulk with node:crypto, zlib
 * and JavaScript. Arguments and results are hex ("-" for empty).
 *
 *   gcm-enc KEY IV AAD PT            -> CT TAG
 *   gcm-dec KEY IV AAD CT TAG        -> ok PT | fail
 *   cmac KEY MSG                     -> MAC
 *   sha256 MSG SPLIT                 -> DIGEST (hashed in two updates, split at byte SPLIT)
 *   crc32 MSG SPLIT                  -> CRC (big-endian hex of the u32, chained at SPLIT)
 *   sort U32LE...                    -> sorted U32LE...
 *   seal KEY POLICY ISVSVN CPUSVN KEYID IV ATTRMASK XFRMMASK MISCMASK PT   -> BLOB
 *   open KEY BLOB                    -> ok PT | err CODE
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "cmac.h"
#include "crc32.h"
#include "gcm.h"
#include "sha256.h"
#include "sort.h"

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;

	if (!strcmp(s, "-"))
		return 0;
	for (; s[0] && s[1]; s += 2) {
		unsigned v;

		sscanf(s, "%2x", &v);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static void put(const uint8_t *p, size_t n)
{
	if (!n)
		putchar('-');
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

int main(void)
{
	char *line = NULL, *tok[16];
	size_t cap = 0;
	static uint8_t a[1 << 20], b[1 << 20], c[1 << 20], d[1 << 20], e[1 << 20], f[1 << 20];

	while (getline(&line, &cap, stdin) > 0) {
		int nt = 0;

		for (char *t = strtok(line, " \n"); t && nt < 16; t = strtok(NULL, " \n"))
			tok[nt++] = t;
		if (!nt)
			continue;
		if (!strcmp(tok[0], "gcm-enc") && nt == 5) {
			size_t k = unhex(tok[1], a), iv = unhex(tok[2], b), aad = unhex(tok[3], c), n = unhex(tok[4], d);
			uint8_t tag[16];

			if (k != 16 || iv != 12)
				return 2;
			aes128_gcm_encrypt(a, b, c, aad, d, n, e, tag);
			put(e, n), putchar(' '), put(tag, 16);
		} else if (!strcmp(tok[0], "gcm-dec") && nt == 6) {
			size_t k = unhex(tok[1], a), iv = unhex(tok[2], b), aad = unhex(tok[3], c), n = unhex(tok[4], d);

			if (k != 16 || iv != 12 || unhex(tok[5], f) != 16)
				return 2;
			memset(e, 0xaa, n);
			if (aes128_gcm_decrypt(a, b, c, aad, d, n, f, e))
				printf("fail%s", n && e[0] != 0xaa ? " touched" : "");
			else
				printf("ok "), put(e, n);
		} else if (!strcmp(tok[0], "cmac") && nt == 3) {
			size_t k = unhex(tok[1], a), n = unhex(tok[2], b);
			uint8_t mac[16];

			if (k != 16)
				return 2;
			aes128_cmac(a, b, n, mac);
			put(mac, 16);
		} else if (!strcmp(tok[0], "sha256") && nt == 3) {
			size_t n = unhex(tok[1], a), split = strtoul(tok[2], NULL, 10);
			struct sha256 s;
			uint8_t dg[32];

			sha256_init(&s);
			sha256_update(&s, a, split);
			sha256_update(&s, a + split, n - split);
			sha256_final(&s, dg);
			put(dg, 32);
		} else if (!strcmp(tok[0], "crc32") && nt == 3) {
			size_t n = unhex(tok[1], a), split = strtoul(tok[2], NULL, 10);

			printf("%08x", crc32_update(crc32_update(0, a, split), a + split, n - split));
		} else if (!strcmp(tok[0], "sort") && nt == 2) {
			size_t n = unhex(tok[1], a);
			uint32_t *v = (uint32_t *)(void *)b;

			memcpy(b, a, n);
			sort_u32(v, n / 4);
			put(b, n);
		} else if (!strcmp(tok[0], "seal") && nt == 11) {
			struct sgx_keyrequest kr;
			uint8_t key[16], iv[12];
			size_t n;

			memset(&kr, 0, sizeof(kr));
			unhex(tok[1], key);
			kr.keyname = SGX_KEYNAME_SEAL;
			kr.keypolicy = (uint16_t)strtoul(tok[2], NULL, 0);
			kr.isvsvn = (uint16_t)strtoul(tok[3], NULL, 0);
			unhex(tok[4], kr.cpusvn);
			unhex(tok[5], kr.keyid);
			unhex(tok[6], iv);
			kr.attributemask_flags = strtoull(tok[7], NULL, 0);
			kr.attributemask_xfrm = strtoull(tok[8], NULL, 0);
			kr.miscmask = (uint32_t)strtoul(tok[9], NULL, 0);
			n = unhex(tok[10], a);
			seal_blob_header(b, &kr, iv, (uint32_t)n);
			seal_blob_encrypt(key, b, a, (uint32_t)n);
			put(b, SEAL_HDR_SIZE + n);
		} else if (!strcmp(tok[0], "open") && nt == 3) {
			struct sgx_keyrequest kr;
			uint8_t key[16];
			size_t n;
			long len, r;

			unhex(tok[1], key);
			n = unhex(tok[2], a);
			len = seal_blob_parse(a, n, &kr);
			if (len < 0) {
				printf("err %ld", len);
			} else if ((r = seal_blob_decrypt(key, a, n, b)) != 0) {
				printf("err %ld", r);
			} else {
				printf("ok policy=%u isvsvn=%u cpusvn=", kr.keypolicy, kr.isvsvn);
				put(kr.cpusvn, 16);
				printf(" keyid=");
				put(kr.keyid, 32);
				printf(" attr=%#lx xfrm=%#lx misc=%#x pt=", kr.attributemask_flags, kr.attributemask_xfrm,
				       kr.miscmask);
				put(b, (size_t)len);
			}
		} else {
			return 2;
		}
		putchar('\n');
	}
	return 0;
}
