/* In-place sort of unsigned 32-bit integers, freestanding. */
#ifndef SORT_H
#define SORT_H

#include <stddef.h>
#include <stdint.h>

void sort_u32(uint32_t *a, size_t n);

#endif
