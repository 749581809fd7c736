/* CRC-32 as in zlib, PNG and Ethernet (reflected polynomial 0xEDB88320), freestanding. */
#ifndef CRC32_H
#define CRC32_H

#include <stddef.h>
#include <stdint.h>

/** Continues a CRC-32: crc32_update(0, buf, n) is the CRC of buf; chaining over pieces gives the same value. */
uint32_t crc32_update(uint32_t crc, const void *data, size_t n);

#endif
