/*
 * CRC-32 (ISO-HDLC: zlib's crc32(), RFC 1952 §8): reflected polynomial 0xEDB88320, initial value and final XOR
 * 0xFFFFFFFF. Table-driven, one byte at a time; the table is built at first use so the image holds no 1 KiB of
 * constants.
 */
#include "crc32.h"

static uint32_t table[256];
static volatile int table_ready;

static void build_table(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		table[n] = c;
	}
	table_ready = 1;
}

uint32_t crc32_update(uint32_t crc, const void *data, size_t n)
{
	const uint8_t *p = data;

	if (!table_ready)
		build_table(); /* two threads racing here write the same table */
	crc = ~crc;
	while (n--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
