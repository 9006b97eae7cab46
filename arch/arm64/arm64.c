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
struct a64_batch {
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

/* Whole-space invalidation: ASIDE1IS, or VMALLE1IS for global mappings
 * (global entries match every ASID, so an ASID invalidate would miss them). */
static void a64_tlbi_space(const struct tlbb_arm64_config *cfg, const struct tlbb_space *s)
{
	if (s->flags & TLBB_SPACE_GLOBAL)
		a64_tlbi(cfg, A64_ALL, true, 0);
	else
		a64_tlbi(cfg, A64_ASID, false, tlbb_arm64_asid_operand((uint16_t)s->id));
}

/*
 * Range plan (FEAT_TLBIRANGE). One op covers (NUM+1) * 2^(5*SCALE+1) granules
 * starting at its base, so an even count is its base-32 digits (of count/2),
 * one op per nonzero digit, low scales first so the base only moves up. An
 * odd count first takes one plain single-page TLBI. Counts beyond 2^21 take
 * whole max-size ops. With @issue false it only counts, so the op limit can
 * be checked before anything is issued.
 */
static uint64_t a64_range_plan(const struct tlbb_arm64_config *cfg, const struct tlbb_space *s,
			       uint64_t va, uint64_t pages, bool leaf, bool issue)
{
	const bool global = s->flags & TLBB_SPACE_GLOBAL;
	const uint16_t asid = global ? 0 : (uint16_t)s->id;
	const unsigned shift = s->page_shift;
	uint64_t ops = 0;
	unsigned scale = 0;

	while (pages) {
		unsigned sc, num;
		uint64_t covered;

		if (pages & 1) {
			if (issue)
				a64_tlbi(cfg, leaf ? A64_VA_LEAF : A64_VA, global,
					 tlbb_arm64_va_operand(asid, va));
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
			a64_tlbi(cfg, leaf ? A64_RANGE_LEAF : A64_RANGE, global,
				 tlbb_arm64_range_operand(asid, shift, sc, num, va));
		va += covered << shift;
		pages -= covered;
		ops++;
	}
	return ops;
}

/* Range ops only where the operand can name the addresses: a real granule
 * (TG != 0) and a range below the top of BaseADDR's 37 bits (TTBR0 half;
 * TTBR1 addresses, whose upper bits the field cannot carry, go per page). */
static bool a64_range_usable(const struct tlbb_arm64_config *cfg, const struct tlbb_space *s,
			     uint64_t last)
{
	return cfg->range_ops && tlbb_arm64_range_tg(s->page_shift) &&
	       (last >> (s->page_shift + 37)) == 0;
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

static void a64_add(const struct tlbb_backend *be, struct tlbb_batch *b, struct tlbb_space *s,
		    uintptr_t start, uintptr_t end, unsigned flags)
{
	const struct tlbb_arm64_config *cfg = a64_cfg(be);
	struct a64_batch *ab = TLBB_ARCH(b, struct a64_batch);
	const bool global = s->flags & TLBB_SPACE_GLOBAL;
	const bool leaf = flags & TLBB_ADD_LEAF_ONLY;
	const uint16_t asid = global ? 0 : (uint16_t)s->id;
	uint64_t pages = 0, ops = 0;
	bool range = false;

#ifdef TLBB_DEBUG
	a64_debug_issuer(ab, "arm64: batch got TLBIs on a second CPU without "
			     "tlbb_arm64_context_switch(): the first CPU's TLBIs would "
			     "never be completed by the flush");
#endif
	if (!(flags & TLBB_RANGE_ALL)) {
		pages = (uint64_t)(end - start) >> s->page_shift;
		range = a64_range_usable(cfg, s, (uint64_t)end - 1);
		ops = range ? a64_range_plan(cfg, s, start, pages, leaf, false) : pages;
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
		a64_range_plan(cfg, s, start, pages, leaf, true);
	} else {
		uint64_t va = start;

		for (uint64_t i = 0; i < pages; i++, va += (uint64_t)1 << s->page_shift)
			a64_tlbi(cfg, leaf ? A64_VA_LEAF : A64_VA, global,
				 tlbb_arm64_va_operand(asid, va));
	}
	/* No DSB ISH here: completing is the flush's job, once per batch. */
	ab->queued = 1;
	if (global)
		ab->need_isb = 1;
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

static void a64_flush_space(const struct tlbb_backend *be, struct tlbb_space *s)
{
	const struct tlbb_arm64_config *cfg = a64_cfg(be);

	/*
	 * The race check runs on whatever CPU holds the PTL, usually not the one
	 * whose batch is outstanding. A bare DSB here would complete nothing of
	 * that batch (only the issuer's DSB does), so issue our own whole-space
	 * invalidation and complete it. The DSB ISHST first covers the
	 * synchronous fallback, where the caller has just cleared PTEs itself.
	 */
	a64_dsb_ishst(cfg);
	a64_tlbi_space(cfg, s);
	a64_dsb_ish(cfg);
	if (s->flags & TLBB_SPACE_GLOBAL)
		a64_isb(cfg);
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
};

int tlbb_arm64_backend_init(struct tlbb_backend *be, const struct tlbb_arm64_config *cfg)
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
	return TLBB_OK;
}
