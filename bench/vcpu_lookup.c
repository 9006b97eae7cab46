/* SPDX-License-Identifier: MIT */
/*
 * vcpu-lookup CALLS — the vcpu backend's built-in TLB lookup on a JIT's fast
 * path: the call into the library (tlbb_vcpu_tlb_lookup(), with its
 * counters) against the header-inline lookup through a view
 * (tlbb_vcpu_tlb_lookup_inline()). bench/run.py counts the instructions of
 * each noinline wrapper with callgrind; the same hit/miss mix goes through
 * both. Prints one JSON line.
 */
#include <stdio.h>
#include <stdlib.h>

#include <tlbbatch/vcpu.h>

#define NPAGES 64u

__attribute__((noinline)) bool bench_lookup_lib(struct tlbb_vcpu *v, uint64_t va, uint64_t *p);
__attribute__((noinline)) bool bench_lookup_inline(const struct tlbb_vcpu_tlb_view *t, uint64_t va,
						    uint64_t *p);

__attribute__((noinline)) bool bench_lookup_lib(struct tlbb_vcpu *v, uint64_t va, uint64_t *p)
{
	return tlbb_vcpu_tlb_lookup(v, 1, va, false, p);
}

__attribute__((noinline)) bool bench_lookup_inline(const struct tlbb_vcpu_tlb_view *t, uint64_t va,
						    uint64_t *p)
{
	return tlbb_vcpu_tlb_lookup_inline(t, 1, va, false, p);
}

int main(int argc, char **argv)
{
	unsigned long calls = argc > 1 ? strtoul(argv[1], NULL, 0) : 100000;
	struct tlbb_vcpu_host *h = tlbb_vcpu_host_create(NULL); /* 64 sets x 4 ways */
	struct tlbb_vcpu *v = h ? tlbb_vcpu_register(h) : NULL;
	struct tlbb_vcpu_tlb_view view;
	uint64_t sum = 0, p = 0;
	unsigned long hits_lib = 0, hits_inline = 0;

	if (!v)
		return 1;
	tlbb_vcpu_tlb_view(v, &view);
	/* Three pages in four are cached: a hit-mostly mix, as a warm guest's. */
	for (unsigned i = 0; i < NPAGES; i++)
		if (i % 4)
			tlbb_vcpu_tlb_fill(v, 1, (uint64_t)i << 12, i, true);
	for (unsigned long i = 0; i < calls; i++) {
		uint64_t va = ((i * 7) % NPAGES) << 12 | (i & 0xfff);

		hits_lib += bench_lookup_lib(v, va, &p);
		sum += p;
		hits_inline += bench_lookup_inline(&view, va, &p);
		sum += p;
	}
	printf("{\"lookups\": %lu, \"hits_library\": %lu, \"hits_inline\": %lu, \"checksum\": %llu}\n",
	       calls, hits_lib, hits_inline, (unsigned long long)sum);
	tlbb_vcpu_unregister(v);
	tlbb_vcpu_host_destroy(h);
	return hits_lib == hits_inline ? 0 : 2;
}
