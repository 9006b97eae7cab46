/* SPDX-License-Identifier: MIT */
/*
 * The compiled part of the mask + IPI round + generation engine
 * (tlbbatch/maskgen.h): context numbers and the switch-in bookkeeping. No
 * instruction and no port hook: the backend executes what these answer.
 * Freestanding: no libc, compiler atomics only.
 *
 * Generations. "L >= g" in a slot means: every change numbered <= g is
 * already out of this CPU's TLB for that context. L only moves up, and only
 * by
 *   - a whole-context flush: read G, then flush; every change numbered <= G
 *     was made before G was read, so the flush removed it;
 *   - a partial flush covering exactly the numbers L+1 .. g (one batch whose
 *     adds took consecutive numbers right after L);
 *   - a switch-in: set this CPU's mask bit, read G, flush unless L == G.
 *
 * Contexts. A slot names the space it tracks by a 64-bit context number,
 * never by the space's address: a space's memory can die and be initialised
 * again in place (slab reuse) with the same recycled tag and a generation
 * that restarts at 0, and a slot keyed by (address, tag) would take the new
 * space's L adds for the old one's and let the new space translate through
 * the dead one's entries to freed frames. Numbers come from one counter per
 * engine and are never handed out twice, so a slot of a dead space matches
 * nothing ever again.
 */
#include <tlbbatch/maskgen.h>

int tlbb_mg_init(struct tlbb_mg *mg, struct tlbb_mg_cpu *percpu, unsigned ncpus)
{
	if (!mg || !percpu || ncpus == 0 || ncpus > TLBB_MAX_CPUS)
		return TLBB_EINVAL;
	mg->cpu = percpu;
	mg->ncpus = ncpus;
	mg->next_ctx = 1; /* 0 means "no number yet" */
	for (unsigned c = 0; c < ncpus; c++) {
		struct tlbb_mg_cpu *pc = &percpu[c];

		for (int i = 0; i < TLBB_MG_SLOTS; i++)
			pc->slot[i] = (struct tlbb_mg_slot){ 0 };
		pc->loaded = -1;
		pc->tick = 0;
		pc->st = (struct tlbb_mg_cpu_stats){ 0 };
	}
	return TLBB_OK;
}

void tlbb_mg_space_number(struct tlbb_mg *mg, struct tlbb_space *s)
{
	__atomic_store_n(&tlbb_mg_space_of(s)->ctx,
			 __atomic_fetch_add(&mg->next_ctx, 1, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
}
