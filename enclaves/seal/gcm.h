/* AES-128-GCM (NIST SP 800-38D) with 96-bit IVs and 128-bit tags, freestanding; no PCLMULQDQ. */
#ifndef GCM_H
#define GCM_H

#include <stddef.h>
#include <stdint.h>

#define GCM_IV_SIZE 12
#define GCM_TAG_SIZE 16

/* Encrypts n bytes of pt into ct (which may be pt) and writes the tag. */
void aes128_gcm_encrypt(const uint8_t key[16], const uint8_t iv[GCM_IV_SIZE], const uint8_t *aad, size_t aad_len,
			const uint8_t *pt, size_t n, uint8_t *ct, uint8_t tag[GCM_TAG_SIZE]);
/* Checks the tag, then decrypts n bytes of ct into pt. Returns 0, or -1 (pt untouched) if the tag is wrong. */
int aes128_gcm_decrypt(const uint8_t key[16], const uint8_t iv[GCM_IV_SIZE], const uint8_t *aad, size_t aad_len,
		       const uint8_t *ct, size_t n, const uint8_t tag[GCM_TAG_SIZE], uint8_t *pt);

#endif
