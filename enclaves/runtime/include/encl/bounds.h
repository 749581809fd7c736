/*
 * The edge routines' checks on untrusted pointers, as pure functions (no enclave state) so they can be
 * compiled and tested on the host. The runtime calls them with its own ELRANGE.
 */
#ifndef ENCL_BOUNDS_H
#define ENCL_BOUNDS_H

#include <stdint.h>

/**
 * Whether [p, p + len) lies wholly outside ELRANGE = [base, base + size) and does not wrap around the address
 * space. A zero-length buffer is treated as the single byte at p, so its pointer must be outside too — the
 * rule of the Intel SGX SDK's sgx_is_outside_enclave() (intel/linux-sgx sdk/trts/trts.cpp), which keeps a
 * zero-length "untrusted" pointer from naming enclave memory.
 */
static inline int encl_range_outside(uint64_t base, uint64_t size, uint64_t p, uint64_t len)
{
	uint64_t last = len ? p + (len - 1) : p;
	uint64_t elrange_last = base + (size - 1);

	if (last < p)
		return 0; /* wraps */
	return last < base || p > elrange_last;
}

/** Rounds n up to a multiple of align (a power of two); returns 0 if that overflows. */
static inline uint64_t encl_align_up(uint64_t n, uint64_t align)
{
	uint64_t r = (n + (align - 1)) & ~(align - 1);

	return r < n ? 0 : r;
}

/**
 * Places an input of in_len bytes at offset 0 and an output of out_len bytes at *out_off (in_len rounded up to
 * `align`) in an area of area_len bytes. Returns 1 and sets *out_off if both fit, else 0. Never overflows.
 */
static inline int encl_edge_layout(uint64_t in_len, uint64_t out_len, uint64_t area_len, uint64_t align,
				   uint64_t *out_off)
{
	uint64_t off;

	if (in_len > area_len || out_len > area_len)
		return 0;
	off = encl_align_up(in_len, align);
	if (off < in_len || off > area_len || out_len > area_len - off)
		return 0;
	*out_off = off;
	return 1;
}

#endif /* ENCL_BOUNDS_H */
