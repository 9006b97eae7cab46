/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 backend. See include/tlbbatch/x86_64.h for the model and the
 * port's duties. Freestanding: no libc, compiler atomics only; the only
 * instructions are in x86_insn.h.
 *
 * Everything but the instructions is the shared mask + IPI round +
 * generation engine (tlbbatch/maskgen.h, lib/maskgen_run.h): this file says
 * what the tag of a space is (its PCID), how the loaded PCID and everything
 * are flushed, and when a range is INVLPG'd page by page; the engine's
 * generations decide who flushes what and when.
 */
#include <tlbbatch/port.h>
#include <tlbbatch/x86_64.h>

#include "x86_insn.h"

static struct tlbb_x86 *x86_of(const struct tlbb_backend *be)
{
	return be->ctx;
}

uint64_t tlbb_x86_space_gen(const struct tlbb_space *s)
{
	return tlbb_mg_space_gen(s);
}

uint64_t tlbb_x86_space_ctx(const struct tlbb_space *s)
{
	return tlbb_mg_space_ctx(s);
}

static unsigned pcid_of(const struct tlbb_x86 *x, const struct tlbb_space *s)
{
	return (x->cfg.features & TLBB_X86_PCID) ? (unsigned)(s->id & X86_CR3_PCID_MASK) : 0;
}

/*
 * INVLPG of a non-canonical address is a no-op, so such a range must become
 * a whole-space flush. [start, end) is all canonical iff both ends are and
 * they lie in the same half (the hole sits between the halves).
 */
static bool canonical(const struct tlbb_x86 *x, uint64_t va)
{
	unsigned bits = (x->cfg.features & TLBB_X86_LA57) ? 57 : 48;
	unsigned shift = 64 - bits;

	return (uint64_t)((int64_t)(va << shift) >> shift) == va;
}

static bool range_canonical(const struct tlbb_x86 *x, uint64_t start, uint64_t end)
{
	uint64_t last = (uint64_t)end - 1;

	return canonical(x, start) && canonical(x, last) && ((start ^ last) >> 63) == 0;
}

/* ---- the instructions, by intent ----------------------------------------- */

/* All non-global entries of the PCID in CR3 now. */
static void flush_loaded_pcid(const struct tlbb_x86 *x, unsigned pcid)
{
	if (x->cfg.features & TLBB_X86_INVPCID)
		x86_invpcid(X86_INVPCID_SINGLE, pcid, 0);
	else
		/* A CR3 write without the no-flush bit flushes the current PCID. */
		x86_write_cr3(x86_read_cr3() & ~X86_CR3_NOFLUSH);
}

/* Everything, global entries included, every PCID. */
static void flush_everything(const struct tlbb_x86 *x)
{
	if (x->cfg.features & TLBB_X86_INVPCID) {
		x86_invpcid(X86_INVPCID_ALL_GLOBAL, 0, 0);
	} else {
		/*
		 * Any change of CR4.PGE flushes all entries of all PCIDs. The two
		 * writes run with interrupts off: a handler that changed CR4
		 * between them (another bit, or its own toggle) would see its
		 * write undone by our second one, which restores the value read
		 * before it ran.
		 */
		uint64_t fl = x86_irq_save();
		uint64_t cr4 = x86_read_cr4();

		x86_write_cr4(cr4 ^ X86_CR4_PGE);
		x86_write_cr4(cr4);
		x86_irq_restore(fl);
	}
}


/* ---- the engine's callbacks (lib/maskgen_run.h) --------------------------- */

static struct tlbb_mg *mg_engine(const struct tlbb_backend *be)
{
	return &x86_of(be)->mg;
}

/* Entries are tagged by the PCID (0 for every space without PCIDs). */
static uint64_t mg_arch_tag(const struct tlbb_backend *be, const struct tlbb_space *s)
{
	return pcid_of(x86_of(be), s);
}

static void mg_arch_flush_tag(const struct tlbb_backend *be, uint64_t tag)
{
	flush_loaded_pcid(x86_of(be), (unsigned)tag);
}

static void mg_arch_flush_all(const struct tlbb_backend *be)
{
	flush_everything(x86_of(be));
}

/*
 * Up to `ceiling` pages one by one (INVLPG also drops a page's global
 * entries, under any PCID), more as one whole flush.
 */
static bool mg_arch_flush_range(const struct tlbb_mg_req *r, struct tlbb_mg_cpu_stats *st)
{
	uint64_t step = (uint64_t)1 << r->space->page_shift;
	uint64_t n = 0;

	if (((r->end - r->start) >> r->space->page_shift) > x86_of(r->be)->cfg.ceiling)
		return false;
	for (uint64_t va = r->start; va < r->end; va += step, n++)
		x86_invlpg(va);
	__atomic_fetch_add(&st->invlpg, n, __ATOMIC_RELAXED);
	return true;
}

/*
 * The merged range covers every add; if any part of it is not canonical,
 * INVLPG of it would be a no-op: the whole space.
 */
static bool mg_arch_range_ok(const struct tlbb_backend *be, uint64_t start, uint64_t end)
{
	return range_canonical(x86_of(be), start, end);
}

#include "../../lib/maskgen_run.h"

void tlbb_x86_ipi_handler(void *request)
{
	mg_ipi_entry(request);
}

enum tlbb_status tlbb_x86_init(struct tlbb_x86 *x, const struct tlbb_x86_config *cfg,
		  struct tlbb_x86_cpu *percpu, unsigned ncpus)
{
	/* A CPU numbered beyond TLBB_MAX_CPUS has no bit in any mask, so no
	 * flush round could reach it: refuse rather than lose it. */
	if (!x || tlbb_mg_init(&x->mg, percpu, ncpus) != TLBB_OK)
		return TLBB_EINVAL;
	x->cfg.features = cfg ? cfg->features : 0;
	/*
	 * Under 5-level paging kernel addresses lie beyond the 48-bit
	 * canonical range; a port that did not say LA57 would have every one
	 * of them turned into a whole flush. The paging mode is in CR4, so
	 * take it from there. (A port's LA57 on a 4-level CPU is harmless:
	 * the extra addresses it lets through cannot be mapped.)
	 */
	if (!(x->cfg.features & TLBB_X86_PAGING_FROM_PORT) && (x86_read_cr4() & X86_CR4_LA57))
		x->cfg.features |= TLBB_X86_LA57;
	x->cfg.ceiling = (cfg && cfg->ceiling) ? cfg->ceiling : TLBB_X86_DEFAULT_CEILING;
	x->be = MG_BACKEND("x86_64", x);
	return TLBB_OK;
}

/* ---- context switch -------------------------------------------------------- */

bool tlbb_x86_switch_space(struct tlbb_x86 *x, struct tlbb_space *next, uint64_t pml4)
{
	unsigned cpu = tlbb_port_cpu_id();
	unsigned pcid = pcid_of(x, next);
	bool pcids = (x->cfg.features & TLBB_X86_PCID) != 0;
	/* Without PCIDs every CR3 write flushes: no other slot holds anything. */
	int how = mg_switch_in(&x->be, next, cpu, pcids ? 0 : TLBB_MG_UNTAGGED);

	if (how == TLBB_MG_UNTRACKED) {
		/*
		 * Below TLBB_MAX_CPUS the bit is set: every flush of @next
		 * reaches this CPU and flushes everything there. Beyond it
		 * nothing can reach it while it runs @next.
		 */
		if (cpu >= TLBB_MAX_CPUS)
			mg_debug_fail("x86: CPU number >= TLBB_MAX_CPUS: no flush can reach it "
				      "(rebuild with a larger TLBB_MAX_CPUS)");
		else
			mg_debug_fail("x86: CPU number beyond the per-CPU array");
		x86_write_cr3(pml4 | pcid);
		return true;
	}
	x86_write_cr3((pml4 & ~(uint64_t)X86_CR3_PCID_MASK) | pcid |
		      (how == TLBB_MG_FLUSH || !pcids ? 0 : X86_CR3_NOFLUSH));
	return how == TLBB_MG_FLUSH;
}

/*
 * The static binding (lib/tlbbatch.c, TLBB_STATIC_X86_64): the core includes
 * this file and calls these directly instead of through tlbb_x86::be.
 */
#define TLBB_BOUND_should_defer mg_should_defer
#define TLBB_BOUND_add mg_add
#define TLBB_BOUND_flush mg_flush
#define TLBB_BOUND_flush_space mg_flush_space
#define TLBB_BOUND_space_init mg_space_init
#define TLBB_BOUND_space_fini mg_space_fini
