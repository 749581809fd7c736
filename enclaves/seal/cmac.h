/* AES-128-CMAC (NIST SP 800-38B, RFC 4493), freestanding. */
#ifndef CMAC_H
#define CMAC_H

#include <stddef.h>
#include <stdint.h>

void aes128_cmac(const uint8_t key[16], const uint8_t *msg, size_t n, uint8_t mac[16]);

#endif
