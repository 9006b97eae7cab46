/* SPDX-License-Identifier: MIT */
/*
 * The arm64 backend (see include/tlbbatch/arm64.h for the sequence each hook
 * issues and the port's duties). Freestanding: no libc, no allocation. All
 * instructions come from tlbi.h, so this file is compiled unchanged for the
 * hardware and, with TLBB_ARM64_RECORD, for the host recorder tests.
 */
#include <tlbbatch/arm64.h>
#include <tlbbatch/port.h>

#include "tlbi.h"

/* Per-batch state in b->arch. All-zero means empty (the core's contract). */
TLBB_ARCH_STRUCT(a64_batch) {
	uint32_t queued;    /* 1: TLBIs issued on cpu and not yet completed by a DSB ISH */
	uint32_t need_isb;  /* a global (kernel) space was added: ISB after the DSB */
	uint32_t cpu_plus1; /* TLBB_DEBUG: CPU that issued `queued` + 1; 0 = none */
	uint32_t unused;
};
TLBB_ARCH_FITS(struct a64_batch, struct tlbb_batch);

static const struct tlbb_arm64_config a64_default_config = {
	.max_tlbi_ops = TLBB_ARM64_DEFAULT_MAX_TLBI_OPS,
};

static const struct tlbb_arm64_config *a64_cfg(const struct tlbb_backend *be)
{
	return be && be->ctx ? (const struct tlbb_arm64_config *)be->ctx : &a64_default_config;
}

static uint32_t a64_max_ops(const struct tlbb_arm64_config *cfg)
{
	return cfg->max_tlbi_ops ? cfg->max_tlbi_ops : TLBB_ARM64_DEFAULT_MAX_TLBI_OPS;
}

static void a64_count(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* ---- barriers, counted ---------------------------------------------------- */

static void a64_dsb_ishst(const struct tlbb_arm64_config *cfg)
{
	tlbb_a64_dsb_ishst();
	if (cfg->stats)
		a64_count(&cfg->stats->dsb_ishst);
}

static void a64_dsb_ish(const struct tlbb_arm64_config *cfg)
{
	tlbb_a64_dsb_ish();
	if (cfg->stats)
		a64_count(&cfg->stats->dsb_ish);
}

static void a64_isb(const struct tlbb_arm64_config *cfg)
{
	tlbb_a64_isb();
	if (cfg->stats)
		a64_count(&cfg->stats->isb);
}

/* ---- TLBIs ----------------------------------------------------------------- */

enum a64_tlbi_kind {
	A64_VA,      /* by VA + ASID, all levels */
	A64_VA_LEAF, /* by VA + ASID, last level only */
	A64_RANGE,
	A64_RANGE_LEAF,
	A64_ASID,    /* everything of one ASID */
	A64_ALL,     /* everything (VMALLE1IS): the global space's "whole space" */
};

static void a64_tlbi_raw(enum a64_tlbi_kind kind, bool global, uint64_t op)
{
	switch (kind) {
	case A64_VA:
		global ? tlbb_a64_tlbi_vaae1is(op) : tlbb_a64_tlbi_vae1is(op);
		break;
	case A64_VA_LEAF:
		global ? tlbb_a64_tlbi_vaale1is(op) : tlbb_a64_tlbi_vale1is(op);
		break;
	case A64_RANGE:
		global ? tlbb_a64_tlbi_rvaae1is(op) : tlbb_a64_tlbi_rvae1is(op);
		break;
	case A64_RANGE_LEAF:
		global ? tlbb_a64_tlbi_rvaale1is(op) : tlbb_a64_tlbi_rvale1is(op);
		break;
	case A64_ASID:
		tlbb_a64_tlbi_aside1is(op);
		break;
	case A64_ALL:
		tlbb_a64_tlbi_vmalle1is();
		break;
	}
}

/* One TLBI instruction, counted (tlbi_asid is the whole-space subset of tlbi). */
static void a64_tlbi_counted(const struct tlbb_arm64_config *cfg, enum a64_tlbi_kind kind,
			     bool global, uint64_t op)
{
	a64_tlbi_raw(kind, global, op);
	if (cfg->stats) {
		a64_count(&cfg->stats->tlbi);
		if (kind == A64_ASID || kind == A64_ALL)
			a64_count(&cfg->stats->tlbi_asid);
	}
}

/*
 * One TLBI. On parts with the repeat-TLBI erratum the invalidation may miss
 * entries unless it is repeated after a completing DSB: TLBI; DSB ISH; TLBI.
 * The second TLBI is still incomplete, so the batch's final DSB is still
 * needed either way.
 */
static void a64_tlbi(const struct tlbb_arm64_config *cfg, enum a64_tlbi_kind kind, bool global,
		     uint64_t op)
{
	a64_tlbi_counted(cfg, kind, global, op);
	if (cfg->repeat_tlbi_erratum) {
		a64_dsb_ish(cfg);
		a64_tlbi_counted(cfg, kind, global, op);
	}
}

/*
 * One logical invalidation of @s: @op is the operand without its ASID field.
 * A global space uses the all-ASID forms, whose ASID field is ignored (kept
 * zero), once. A non-global space names its ASID; with kpti_paired_asids the
 * same operation is issued for the kernel ASID (id & ~1) and then the user
 * ASID (id | 1): the space's user addresses are walked under the user ASID
 * while user space runs and under the kernel ASID while the kernel touches
 * user memory, so either may hold an entry for them.
 */
static void a64_tlbi_for(const struct tlbb_arm64_config *cfg, const struct tlbb_space *s,
			 enum a64_tlbi_kind kind, uint64_t op)
{
	const uint16_t asid = (uint16_t)s->id;

	if (s->flags & TLBB_SPACE_GLOBAL) {
		a64_tlbi(cfg, kind, true, op);
	} else if (cfg->kpti_paired_asids) {
		a64_tlbi(cfg, kind, false, op | tlbb_arm64_asid_operand((uint16_t)(asid & ~1u)));
		a64_tlbi(cfg, kind, false, op | tlbb_arm64_asid_operand((uint16_t)(asid | 1u)));
	} else {
		a64_tlbi(cfg, kind, false, op | tlbb_arm64_asid_operand(asid));
	}
}

/* TLBI instructions one logical invalidation of @s costs (before the
 * erratum's repeat): two for a paired non-global space, else one. */
static uint64_t a64_tlbis_per_op(const struct tlbb_arm64_config *cfg,
				 const struct tlbb_space *s)
{
	return (cfg->kpti_paired_asids && !(s->flags & TLBB_SPACE_GLOBAL)) ? 2 : 1;
}

/* Whole-space invalidation: ASIDE1IS (both ASIDs of a pair), or VMALLE1IS
 * for global mappings (global entries match every ASID, so an ASID
 * invalidate would miss them; and VMALLE1IS needs no pairing for the same
 * reason). */
static void a64_tlbi_space(const struct tlbb_arm64_config *cfg, const struct tlbb_space *s)
{
	if (s->flags & TLBB_SPACE_GLOBAL)
		a64_tlbi(cfg, A64_ALL, true, 0);
	else
		a64_tlbi_for(cfg, s, A64_ASID, 0);
}

/* BaseADDR's unit: the granule, or 64 KiB whatever the granule under LPA2
 * (TCR_EL1.DS = 1), where the field holds VA[52:16]. */
static unsigned a64_base_shift(const struct tlbb_arm64_config *cfg, const struct tlbb_space *s)
{
	return cfg->lpa2 ? 16 : s->page_shift;
}

static uint64_t a64_range_op(const struct tlbb_arm64_config *cfg, const struct tlbb_space *s,
			     unsigned scale, unsigned num, uint64_t va)
{
	return cfg->lpa2 ? tlbb_arm64_range_operand_lpa2(0, s->page_shift, scale, num, va)
			 : tlbb_arm64_range_operand(0, s->page_shift, scale, num, va);
}

/*
 * Range plan (FEAT_TLBIRANGE) for [start, end). One op covers
 * (NUM+1) * 2^(5*SCALE+1) granules from its base, so an even count is its
 * base-32 digits (of count/2), one op per nonzero digit; counts beyond 2^21
 * take whole max-size ops first.
 *
 * Without LPA2: low scales first, an odd count first takes one plain
 * single-page TLBI, so the base only moves up from @start.
 *
 * With LPA2 every range op's base must be 64 KiB aligned (BaseADDR has no
 * bits below VA[16]). The start is aligned down to 64 KiB and the pages
 * below @start are counted in (over-invalidation is harmless; dropping them
 * would leave [start, start rounded up) uncovered). Then high scales first:
 * every op of SCALE >= 1 covers a multiple of 64 granules (>= 256 KiB), so
 * the base stays 64 KiB aligned up to the last range op (SCALE 0); a last
 * odd page goes as a single-page TLBI, whose VA operand needs no alignment.
 *
 * Returns the TLBI instructions the plan issues (pairs count twice); with
 * @issue false it only counts, so the op limit can be checked before
 * anything is issued.
 */
static uint64_t a64_range_plan(const struct tlbb_arm64_config *cfg, const struct tlbb_space *s,
			       uint64_t start, uint64_t end, bool leaf, bool issue)
{
	const enum a64_tlbi_kind single = leaf ? A64_VA_LEAF : A64_VA;
	const enum a64_tlbi_kind ranged = leaf ? A64_RANGE_LEAF : A64_RANGE;
	const unsigned shift = s->page_shift;
	uint64_t va = cfg->lpa2 ? start & ~(uint64_t)0xffff : start;
	uint64_t pages = (end - va) >> shift;
	uint64_t ops = 0;

	if (cfg->lpa2) {
		while (pages >= TLBB_ARM64_RANGE_MAX_PAGES) {
			if (issue)
				a64_tlbi_for(cfg, s, ranged, a64_range_op(cfg, s, 3, 31, va));
			va += TLBB_ARM64_RANGE_MAX_PAGES << shift;
			pages -= TLBB_ARM64_RANGE_MAX_PAGES;
			ops++;
		}
		for (int sc = 3; sc >= 0; sc--) {
			unsigned digit = (unsigned)(pages >> (5 * sc + 1)) & 31;
			uint64_t covered;

			if (!digit)
				continue;
			covered = tlbb_arm64_range_pages((unsigned)sc, digit - 1);
			if (issue)
				a64_tlbi_for(cfg, s, ranged,
					     a64_range_op(cfg, s, (unsigned)sc, digit - 1, va));
			va += covered << shift;
			pages -= covered;
			ops++;
		}
		if (pages) { /* exactly one: the digits took every even part */
			if (issue)
				a64_tlbi_for(cfg, s, single, tlbb_arm64_va_operand(0, va));
			ops++;
		}
		return ops * a64_tlbis_per_op(cfg, s);
	}

	unsigned scale = 0;

	while (pages) {
		unsigned sc, num;
		uint64_t covered;

		if (pages & 1) {
			if (issue)
				a64_tlbi_for(cfg, s, single, tlbb_arm64_va_operand(0, va));
			va += (uint64_t)1 << shift;
			pages--;
			ops++;
			continue;
		}
		if (scale <= 3) {
			unsigned digit = (unsigned)(pages >> (5 * scale + 1)) & 31;

			sc = scale++;
			if (!digit)
				continue;
			num = digit - 1;
		} else {
			sc = 3; /* only whole multiples of the largest range remain */
			num = 31;
		}
		covered = tlbb_arm64_range_pages(sc, num);
		if (issue)
			a64_tlbi_for(cfg, s, ranged, a64_range_op(cfg, s, sc, num, va));
		va += covered << shift;
		pages -= covered;
		ops++;
	}
	return ops * a64_tlbis_per_op(cfg, s);
}

/* Range ops only where the operand can name the addresses: a real granule
 * (TG != 0) and a range below the top of BaseADDR's 37 bits (TTBR0 half;
 * TTBR1 addresses, whose upper bits the field cannot carry, go per page). */
static bool a64_range_usable(const struct tlbb_arm64_config *cfg, const struct tlbb_space *s,
			     uint64_t last)
{
	return cfg->range_ops && tlbb_arm64_range_tg(s->page_shift) &&
	       (last >> (a64_base_shift(cfg, s) + 37)) == 0;
}

/* ---- debug: the issuing-CPU rule ------------------------------------------- */

#ifdef TLBB_DEBUG
static void a64_debug_issuer(struct a64_batch *ab, const char *when)
{
	uint32_t me = tlbb_port_cpu_id() + 1;

	if (ab->queued && ab->cpu_plus1 && ab->cpu_plus1 != me)
		tlbb_port_debug_fail(when);
	ab->cpu_plus1 = me;
}
#endif

/* ---- hooks ------------------------------------------------------------------ */

static bool a64_should_defer(const struct tlbb_backend *be, const struct tlbb_space *s)
{
	(void)s;
	/* Batching saves the per-page DSB ISH; with the erratum every TLBI already
	 * carries one, so there is nothing to save. */
	return !a64_cfg(be)->repeat_tlbi_erratum;
}

/* Every add but the common one (a64_add()). */
__attribute__((__noinline__)) static void a64_add_general(const struct tlbb_arm64_config *cfg,
							  struct a64_batch *ab,
							  struct tlbb_space *s, uint64_t start,
							  uint64_t end, unsigned flags)
{
	const bool global = s->flags & TLBB_SPACE_GLOBAL;
	const bool leaf = flags & TLBB_ADD_LEAF_ONLY;
	uint64_t pages = 0, ops = 0;
	bool range = false;

	if (!(flags & TLBB_RANGE_ALL)) {
		pages = (uint64_t)(end - start) >> s->page_shift;
		range = a64_range_usable(cfg, s, (uint64_t)end - 1);
		/* The limit is on TLBI instructions (DVM messages), so a pair
		 * counts as two. */
		ops = range ? a64_range_plan(cfg, s, start, end, leaf, false)
			    : pages * a64_tlbis_per_op(cfg, s);
	}

	/*
	 * The caller's PTE stores must be observable by every walker before any
	 * CPU acts on the TLBI, or a remote walk could refill the old entry after
	 * the invalidation. One DSB ISHST orders all stores before it (the whole
	 * add's worth of cleared PTEs) ahead of all TLBIs after it.
	 */
	a64_dsb_ishst(cfg);

	if ((flags & TLBB_RANGE_ALL) || ops > a64_max_ops(cfg)) {
		/* Too many DVM messages would stall every CPU: one ASID invalidate. */
		a64_tlbi_space(cfg, s);
	} else if (range) {
		a64_range_plan(cfg, s, start, end, leaf, true);
	} else {
		uint64_t va = start;

		for (uint64_t i = 0; i < pages; i++, va += (uint64_t)1 << s->page_shift)
			a64_tlbi_for(cfg, s, leaf ? A64_VA_LEAF : A64_VA,
				     tlbb_arm64_va_operand(0, va));
	}
	/* No DSB ISH here: completing is the flush's job, once per batch. */
	ab->queued = 1;
	if (global)
		ab->need_isb = 1;
}

static void a64_add(const struct tlbb_backend *be, struct tlbb_batch *b, struct tlbb_space *s,
		    uint64_t start, uint64_t end, unsigned flags)
{
	const struct tlbb_arm64_config *cfg = a64_cfg(be);
	struct a64_batch *ab = TLBB_ARCH(b, struct a64_batch);
	const bool global = s->flags & TLBB_SPACE_GLOBAL;
	const bool leaf = flags & TLBB_ADD_LEAF_ONLY;

#ifdef TLBB_DEBUG
	a64_debug_issuer(ab, "arm64: batch got TLBIs on a second CPU without "
			     "tlbb_arm64_context_switch(): the first CPU's TLBIs would "
			     "never be completed by the flush");
#endif
	/*
	 * The common add: one page, plain configuration (no range ops, no
	 * paired ASIDs, no erratum, no counters). The general path below would
	 * issue exactly this (one page is one single-page TLBI in every plan),
	 * so this is the same sequence without the planning: DSB ISHST, TLBI.
	 */
	if (__builtin_expect(!(flags & TLBB_RANGE_ALL) && end - start == (uint64_t)1 << s->page_shift &&
				     !cfg->range_ops && !cfg->kpti_paired_asids &&
				     !cfg->repeat_tlbi_erratum && !cfg->stats,
			     1)) {
		/* The PTE stores before the TLBI: see a64_add_general(). */
		tlbb_a64_dsb_ishst();
		if (global) {
			uint64_t op = tlbb_arm64_va_operand(0, start);

			leaf ? tlbb_a64_tlbi_vaale1is(op) : tlbb_a64_tlbi_vaae1is(op);
			ab->need_isb = 1;
		} else {
			uint64_t op = tlbb_arm64_va_operand((uint16_t)s->id, start);

			leaf ? tlbb_a64_tlbi_vale1is(op) : tlbb_a64_tlbi_vae1is(op);
		}
		ab->queued = 1;
		return;
	}
	a64_add_general(cfg, ab, s, start, end, flags);
}

static void a64_flush(const struct tlbb_backend *be, struct tlbb_batch *b)
{
	const struct tlbb_arm64_config *cfg = a64_cfg(be);
	struct a64_batch *ab = TLBB_ARCH(b, struct a64_batch);

#ifdef TLBB_DEBUG
	a64_debug_issuer(ab, "arm64: batch flushed on a CPU other than the one that issued "
			     "its TLBIs, without tlbb_arm64_context_switch() in between");
#endif
	/*
	 * Completes every TLBI this CPU issued, in every CPU's TLB: after it no
	 * CPU can use a translation the batch invalidated. Done even if a context
	 * switch already completed everything (queued == 0): one barrier is cheap
	 * and keeps flush independent of the bookkeeping.
	 */
	a64_dsb_ish(cfg);
	/* Kernel mappings: this CPU may have fetched/prepared instructions
	 * through the old translations; the ISB discards that context. */
	if (ab->need_isb)
		a64_isb(cfg);
	ab->queued = 0;
	ab->need_isb = 0;
	ab->cpu_plus1 = 0;
	ab->unused = 0;
}

/*
 * Invalidate everything @s may have cached and complete it, from the calling
 * CPU alone: its own TLBI, its own DSB. The DSB ISHST first makes PTE stores
 * the caller has just made (synchronous fallback, page-table teardown before
 * fini) visible to walkers before the invalidation.
 */
static void a64_invalidate_space_now(const struct tlbb_arm64_config *cfg,
				     const struct tlbb_space *s)
{
	a64_dsb_ishst(cfg);
	a64_tlbi_space(cfg, s);
	a64_dsb_ish(cfg);
	/* Kernel mappings: this CPU may hold instructions fetched or context
	 * prepared through the old translations; the ISB discards it. */
	if (s->flags & TLBB_SPACE_GLOBAL)
		a64_isb(cfg);
}

static void a64_flush_space(const struct tlbb_backend *be, struct tlbb_space *s)
{
	/*
	 * The race check runs on whatever CPU holds the PTL, usually not the one
	 * whose batch is outstanding. A bare DSB here would complete nothing of
	 * that batch (only the issuer's DSB does), so issue our own whole-space
	 * invalidation and complete it.
	 */
	a64_invalidate_space_now(a64_cfg(be), s);
}

/*
 * The id is being released (tlbb_space_fini(), tlbb_space_set_id()). Entries
 * tagged with the ASID outlive the space in every TLB, and a new space given
 * the same ASID would hit them: its walks are never made, the old
 * translations are used. So before the ASID can be handed out, every entry
 * tagged with it is invalidated and that invalidation completed, by this CPU
 * (which may be any CPU: no batch state is involved).
 *
 * Non-global: DSB ISHST; TLBI ASIDE1IS (for id & ~1 and id | 1 when paired);
 * DSB ISH. No ISB: no CPU runs @s, so none holds instruction context fetched
 * through its translations.
 *
 * Global (TLBB_SPACE_GLOBAL): VMALLE1IS, DSB ISH, ISB. ASIDE1IS would be
 * wrong twice over: it leaves nG=0 entries, which match every ASID and so
 * would be used by the space that inherits the id (and by all others); and
 * the backend never tagged a global space's operations with s->id (their
 * ASID field is zero), so it cannot know which ASID any nG=1 entries of such
 * a space carry. VMALLE1IS removes both kinds. The ISB is the global
 * flush's, for the same reason as there.
 *
 * This is the same sequence as flush_space today; it is a hook of its own
 * because it is a different promise (the id is clean afterwards) that must
 * hold whatever flush_space becomes.
 */
static void a64_space_fini(const struct tlbb_backend *be, struct tlbb_space *s)
{
	a64_invalidate_space_now(a64_cfg(be), s);
}

void tlbb_arm64_context_switch(struct tlbb_batch *b)
{
	struct a64_batch *ab;

	if (!b) {
		tlbb_a64_dsb_ish();
		return;
	}
	ab = TLBB_ARCH(b, struct a64_batch);
	if (!ab->queued)
		return;
	/* Nobody else may complete these TLBIs: do it before the task leaves. */
	tlbb_a64_dsb_ish();
	ab->queued = 0;
	ab->cpu_plus1 = 0;
}

const struct tlbb_backend tlbb_arm64_backend = {
	.name = "arm64",
	.ctx = NULL,
	.should_defer = a64_should_defer,
	.add = a64_add,
	.flush = a64_flush,
	.flush_space = a64_flush_space,
	.space_init = NULL,
	.space_fini = a64_space_fini,
};

enum tlbb_status tlbb_arm64_backend_init(struct tlbb_backend *be, const struct tlbb_arm64_config *cfg)
{
	if (!be)
		return TLBB_EINVAL;
	/* Field by field: a struct copy may become a memcpy call, which a
	 * freestanding kernel need not provide. */
	be->name = tlbb_arm64_backend.name;
	be->ctx = (void *)(uintptr_t)cfg;
	be->should_defer = tlbb_arm64_backend.should_defer;
	be->add = tlbb_arm64_backend.add;
	be->flush = tlbb_arm64_backend.flush;
	be->flush_space = tlbb_arm64_backend.flush_space;
	be->space_init = tlbb_arm64_backend.space_init;
	be->space_fini = tlbb_arm64_backend.space_fini;
	return TLBB_OK;
}

/*
 * The static binding (lib/tlbbatch.c, TLBB_STATIC_ARM64): the core includes
 * this file and calls these directly. No space_init: the core's default
 * (nothing) is this backend's.
 */
#define TLBB_BOUND_should_defer a64_should_defer
#define TLBB_BOUND_add a64_add
#define TLBB_BOUND_flush a64_flush
#define TLBB_BOUND_flush_space a64_flush_space
#define TLBB_BOUND_space_fini a64_space_fini
