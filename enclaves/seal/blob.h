/*
 * The sealed-blob format of the seal enclave: a 128-byte header carrying everything EGETKEY needs to derive the
 * same seal key again (the KEYREQUEST fields), the AES-GCM IV and tag, then the ciphertext. The GCM additional
 * data is the header's first 112 bytes, so the key request, lengths and IV are authenticated too.
 *
 *   off size field                      off size field
 *     0    8 magic "SGXSEAL1"            48    4 miscmask
 *     8    2 keyname (4 = SEAL)          52    4 payload length
 *    10    2 keypolicy                   56   32 keyid
 *    12    2 isvsvn                      88   12 iv
 *    14    2 configsvn                  100   12 reserved (zero)
 *    16   16 cpusvn                     112   16 tag
 *    32    8 attributemask.flags        128    n ciphertext
 *    40    8 attributemask.xfrm
 */
#ifndef BLOB_H
#define BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "encl/sgx.h"

#define SEAL_MAGIC		"SGXSEAL1"
#define SEAL_HDR_SIZE		128
#define SEAL_AAD_SIZE		112
#define SEAL_OFF_KEYNAME	8
#define SEAL_OFF_KEYPOLICY	10
#define SEAL_OFF_ISVSVN		12
#define SEAL_OFF_CONFIGSVN	14
#define SEAL_OFF_CPUSVN		16
#define SEAL_OFF_ATTR_FLAGS	32
#define SEAL_OFF_ATTR_XFRM	40
#define SEAL_OFF_MISCMASK	48
#define SEAL_OFF_LEN		52
#define SEAL_OFF_KEYID		56
#define SEAL_OFF_IV		88
#define SEAL_OFF_RESERVED	100
#define SEAL_OFF_TAG		112
#define SEAL_MAX_PAYLOAD	0x7fffffffu

/* Errors (negative ecall return values). */
#define SEAL_E_INPUT		(-1)	/* malformed blob or request */
#define SEAL_E_SPACE		(-2)	/* output buffer too small */
#define SEAL_E_MAC		(-3)	/* the tag does not verify: wrong key or altered blob */
#define SEAL_E_KEY		(-0x1000)	/* | EGETKEY status, e.g. -0x1000 - 64 for SGX_INVALID_ISVSVN */

/* Writes a blob's header from the key request, IV and payload length (tag zero). */
void seal_blob_header(uint8_t *blob, const struct sgx_keyrequest *kr, const uint8_t iv[12], uint32_t len);
/* Encrypts len bytes of pt into blob + SEAL_HDR_SIZE and writes the tag; the header must be written. */
void seal_blob_encrypt(const uint8_t key[16], uint8_t *blob, const uint8_t *pt, uint32_t len);
/*
 * Checks a blob's framing and rebuilds its key request: returns the payload length, or SEAL_E_INPUT (bad magic,
 * key name, key policy or CONFIGSVN, reserved bytes, or a length that disagrees with blob_len).
 */
long seal_blob_parse(const uint8_t *blob, size_t blob_len, struct sgx_keyrequest *kr);
/* Verifies the tag and decrypts the payload into pt. Returns 0 or SEAL_E_MAC. */
long seal_blob_decrypt(const uint8_t key[16], const uint8_t *blob, size_t blob_len, uint8_t *pt);

#endif
