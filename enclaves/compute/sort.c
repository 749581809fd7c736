/*
 * Quicksort with a median-of-three pivot and insertion sort for short runs. It recurses into the smaller
 * partition and loops on the larger, so the stack depth stays below log2(n) frames whatever the input.
 */
#include "sort.h"

static void swap(uint32_t *a, uint32_t *b)
{
	uint32_t t = *a;

	*a = *b;
	*b = t;
}

static void insertion(uint32_t *a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint32_t v = a[i];
		size_t j = i;

		for (; j > 0 && a[j - 1] > v; j--)
			a[j] = a[j - 1];
		a[j] = v;
	}
}

void sort_u32(uint32_t *a, size_t n)
{
	while (n > 16) {
		size_t mid = n / 2, i = 0, j = n - 1;
		uint32_t pivot;

		/* Median of three in a[0], a[mid], a[n - 1]: also sentinels for the scans below. */
		if (a[mid] < a[0])
			swap(&a[mid], &a[0]);
		if (a[n - 1] < a[0])
			swap(&a[n - 1], &a[0]);
		if (a[n - 1] < a[mid])
			swap(&a[n - 1], &a[mid]);
		pivot = a[mid];

		/* Hoare partition: afterwards a[0..j] <= pivot <= a[j+1..n). */
		for (;;) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i >= j)
				break;
			swap(&a[i], &a[j]);
			i++;
			j--;
		}
		if (j + 1 < n - (j + 1)) {
			sort_u32(a, j + 1);
			a += j + 1;
			n -= j + 1;
		} else {
			sort_u32(a + j + 1, n - (j + 1));
			n = j + 1;
		}
	}
	insertion(a, n);
}
