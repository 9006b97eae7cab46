/* SPDX-License-Identifier: MIT */
/*
 * The baseline: Linux's batched-unmap protocol (mm/rmap.c with the x86
 * arch part), restated in C11 for the benchmarks, so the library's cost is
 * read against what the kernel itself pays for the same work.
 *
 *   add         arch part (x86: bump the mm's 64-bit TLB generation, OR the
 *               mm's CPU mask into the batch), then the per-mm word:
 *               pending above 16383 -> reset to pending 1 / flushed 0 by
 *               cmpxchg, else one atomic increment; then the batch flags.
 *   race check  read the word; if pending != flushed, flush the whole mm
 *               (a stub here) and publish flushed = pending by cmpxchg.
 *   flush       one IPI round to the batch's CPUs (a stub here), then the
 *               batch is emptied.
 *
 * The CPU mask has the library's size (TLBB_MAX_CPUS) so both OR the same
 * number of words. Nothing here talks to hardware: the stubs stand where
 * the kernel would send IPIs or flush.
 */
#ifndef BENCH_LINUX_BATCH_H
#define BENCH_LINUX_BATCH_H

#include <tlbbatch/config.h>

#define LINUX_CPUMASK_WORDS ((TLBB_MAX_CPUS + 63) / 64)

/* The word's layout, as in the kernel: pending 0-14, flushed from bit 16. */
#define LINUX_FLUSHED_SHIFT 16
#define LINUX_PENDING_MASK ((1u << (LINUX_FLUSHED_SHIFT - 1)) - 1)
#define LINUX_PENDING_LARGE (LINUX_PENDING_MASK / 2)

struct linux_cpumask {
	uint64_t bits[LINUX_CPUMASK_WORDS];
};

/* The parts of mm_struct the protocol touches. */
struct linux_mm {
	uint64_t tlb_gen;          /* atomic: context.tlb_gen */
	struct linux_cpumask cpus; /* mm_cpumask(): set at context switch */
	int tlb_flush_batched;     /* atomic: pending | flushed << 16 */
};

/* struct tlbflush_unmap_batch: private to the unmapping task. */
struct linux_batch {
	struct linux_cpumask cpus; /* arch_tlbflush_unmap_batch */
	bool flush_required;
	bool writable;
};

void linux_mm_init(struct linux_mm *mm);
void linux_mm_cpu_enter(struct linux_mm *mm, unsigned cpu);
void linux_batch_init(struct linux_batch *b);

/* set_tlb_ubc_flush_pending(): @va is unused on x86, as in the kernel. */
void linux_add_pending(struct linux_batch *b, struct linux_mm *mm, uint64_t va, bool writable);
/* flush_tlb_batched_pending(): true if it flushed. */
bool linux_flush_batched_pending(struct linux_mm *mm);
/* try_to_unmap_flush(): the IPI round is a stub. */
void linux_batch_flush(struct linux_batch *b);

#endif /* BENCH_LINUX_BATCH_H */
