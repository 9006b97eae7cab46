/* SPDX-License-Identifier: MIT */
/*
 * Linux's batched-unmap protocol restated from its description (see
 * linux_batch.h). Atomics follow the kernel's orderings: atomic_read() is a
 * relaxed load, atomic_inc() an unordered RMW, atomic_try_cmpxchg(),
 * atomic_cmpxchg() and atomic64_inc_return() fully ordered. On x86-64 every
 * RMW is a LOCK-prefixed instruction either way.
 */
#include "linux_batch.h"

/*
 * Where the kernel would send the flush IPIs and wait. Out of line and
 * empty: the benchmarks count what the protocol costs around it.
 */
__attribute__((noinline)) static void ipi_round_stub(const struct linux_cpumask *targets)
{
	__asm__ volatile("" : : "r"(targets) : "memory");
}

/* Where the kernel would flush the whole mm (flush_tlb_mm()). */
__attribute__((noinline)) static void flush_mm_stub(struct linux_mm *mm)
{
	__asm__ volatile("" : : "r"(mm) : "memory");
}

void linux_mm_init(struct linux_mm *mm)
{
	__atomic_store_n(&mm->tlb_gen, 0, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < LINUX_CPUMASK_WORDS; i++)
		__atomic_store_n(&mm->cpus.bits[i], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&mm->tlb_flush_batched, 0, __ATOMIC_RELAXED);
}

void linux_mm_cpu_enter(struct linux_mm *mm, unsigned cpu)
{
	if (cpu < TLBB_MAX_CPUS)
		__atomic_fetch_or(&mm->cpus.bits[cpu / 64], (uint64_t)1 << (cpu % 64),
				  __ATOMIC_SEQ_CST);
}

void linux_batch_init(struct linux_batch *b)
{
	for (unsigned i = 0; i < LINUX_CPUMASK_WORDS; i++)
		b->cpus.bits[i] = 0;
	b->flush_required = false;
	b->writable = false;
}

/* inc_mm_tlb_gen(): the new generation; fully ordered, as the kernel's. */
static inline uint64_t inc_mm_tlb_gen(struct linux_mm *mm)
{
	return __atomic_add_fetch(&mm->tlb_gen, 1, __ATOMIC_SEQ_CST);
}

/*
 * arch_tlbbatch_add_pending() on x86. The batch's mask is the task's own,
 * so plain word ORs; the mm's mask is read once per word while context
 * switches may set bits in it.
 */
static inline void arch_add_pending(struct linux_batch *b, struct linux_mm *mm)
{
	inc_mm_tlb_gen(mm);
	for (unsigned i = 0; i < LINUX_CPUMASK_WORDS; i++)
		b->cpus.bits[i] |= __atomic_load_n(&mm->cpus.bits[i], __ATOMIC_RELAXED);
}

void linux_add_pending(struct linux_batch *b, struct linux_mm *mm, uint64_t va, bool writable)
{
	int batch;

	(void)va;
	arch_add_pending(b, mm);
	b->flush_required = true;
	/* The kernel's barrier(): the flag store stays before the word update. */
	__asm__ volatile("" : : : "memory");
	batch = __atomic_load_n(&mm->tlb_flush_batched, __ATOMIC_RELAXED);
	for (;;) {
		if ((unsigned)(batch & (int)LINUX_PENDING_MASK) > LINUX_PENDING_LARGE) {
			/* Keep pending != flushed while the fields start over. */
			if (!__atomic_compare_exchange_n(&mm->tlb_flush_batched, &batch, 1, false,
							 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
				continue;
		} else {
			__atomic_fetch_add(&mm->tlb_flush_batched, 1, __ATOMIC_RELAXED);
		}
		break;
	}
	if (writable)
		b->writable = true;
}

bool linux_flush_batched_pending(struct linux_mm *mm)
{
	int batch = __atomic_load_n(&mm->tlb_flush_batched, __ATOMIC_RELAXED);
	int pending = batch & (int)LINUX_PENDING_MASK;
	int flushed = batch >> LINUX_FLUSHED_SHIFT;

	if (pending == flushed)
		return false;
	flush_mm_stub(mm);
	/* A bump during the flush fails the compare: the next check flushes. */
	__atomic_compare_exchange_n(&mm->tlb_flush_batched, &batch,
				    pending | (pending << LINUX_FLUSHED_SHIFT), false,
				    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
	return true;
}

void linux_batch_flush(struct linux_batch *b)
{
	bool any = false;

	for (unsigned i = 0; i < LINUX_CPUMASK_WORDS; i++)
		any |= b->cpus.bits[i] != 0;
	if (any)
		ipi_round_stub(&b->cpus);
	for (unsigned i = 0; i < LINUX_CPUMASK_WORDS; i++)
		b->cpus.bits[i] = 0;
	b->flush_required = false;
	b->writable = false;
}
