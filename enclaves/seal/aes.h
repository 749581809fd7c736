/* AES-128 encryption (FIPS 197), freestanding and table-light: no AES-NI, which the interpreter does not model. */
#ifndef AES_H
#define AES_H

#include <stdint.h>

#define AES_BLOCK_SIZE 16

struct aes128 {
	uint8_t rk[11][16]; /* round keys */
};

void aes128_init(struct aes128 *ctx, const uint8_t key[16]);
void aes128_encrypt(const struct aes128 *ctx, const uint8_t in[16], uint8_t out[16]);
/* Overwrites the round keys. */
void aes128_wipe(struct aes128 *ctx);

#endif
