/* SPDX-License-Identifier: MIT */
/*
 * What the arm64 backends share: the stage-1 backend (arm64.c) and the
 * stage-2 backend (stage2.c) count their barriers the same way and plan
 * FEAT_TLBIRANGE invalidations the same way (a range op's operand layout is
 * the same for RVAE1IS and RIPAS2E1IS, Arm ARM C5.5.22: TG, SCALE, NUM, TTL,
 * BaseADDR; only bits 63:48 differ, ASID against NS). Private to arch/arm64.
 */
#ifndef TLBBATCH_ARCH_ARM64_SHARED_H
#define TLBBATCH_ARCH_ARM64_SHARED_H

#include <tlbbatch/arm64.h>

#include "tlbi.h"

static inline void tlbb_a64_count(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* ---- barriers, counted in @st when it is not NULL --------------------------- */

static inline void tlbb_a64_dsb_ishst_counted(struct tlbb_arm64_stats *st)
{
	tlbb_a64_dsb_ishst();
	if (st)
		tlbb_a64_count(&st->dsb_ishst);
}

static inline void tlbb_a64_dsb_ish_counted(struct tlbb_arm64_stats *st)
{
	tlbb_a64_dsb_ish();
	if (st)
		tlbb_a64_count(&st->dsb_ish);
}

static inline void tlbb_a64_isb_counted(struct tlbb_arm64_stats *st)
{
	tlbb_a64_isb();
	if (st)
		tlbb_a64_count(&st->isb);
}

/* One TLBI instruction issued: @whole for whole-ASID / whole-VMID / all. */
static inline void tlbb_a64_count_tlbi(struct tlbb_arm64_stats *st, bool whole)
{
	if (st) {
		tlbb_a64_count(&st->tlbi);
		if (whole)
			tlbb_a64_count(&st->tlbi_asid);
	}
}

/* ---- the range plan (FEAT_TLBIRANGE) ----------------------------------------- */

/*
 * The ops covering [start, end) of granule 2^shift. One range op covers
 * (NUM+1) * 2^(5*SCALE+1) granules from its base, so an even count is its
 * base-32 digits (of count/2), one op per nonzero digit; counts beyond 2^21
 * take whole max-size ops first.
 *
 * Without LPA2: low scales first, an odd count first takes one plain
 * single-page TLBI, so the base only moves up from @start.
 *
 * With LPA2 (BaseADDR holds address[52:16]) every range op's base must be
 * 64 KiB aligned. The start is aligned down to 64 KiB and the pages below
 * @start are counted in (over-invalidation is harmless; dropping them would
 * leave [start, start rounded up) uncovered). Then high scales first: every
 * op of SCALE >= 1 covers a multiple of 64 granules (>= 256 KiB), so the
 * base stays 64 KiB aligned up to the last range op (SCALE 0); a last odd
 * page goes as a single-page TLBI, whose operand needs no alignment.
 *
 * Iterate with tlbb_a64_rplan_next() until it answers false; each op is
 * either a single page at op.va or a range (op.scale, op.num) from op.va.
 */
struct tlbb_a64_rplan {
	uint64_t va;    /* base of the next op */
	uint64_t pages; /* granules still to cover */
	unsigned shift;
	int scale;      /* next scale to look at */
	bool lpa2;
};

struct tlbb_a64_rop {
	uint64_t va;
	unsigned scale, num;
	bool range;     /* false: one single-page TLBI at va */
};

static inline void tlbb_a64_rplan_init(struct tlbb_a64_rplan *p, uint64_t start, uint64_t end,
				       unsigned shift, bool lpa2)
{
	p->va = lpa2 ? start & ~(uint64_t)0xffff : start;
	p->pages = (end - p->va) >> shift;
	p->shift = shift;
	p->scale = lpa2 ? 3 : 0;
	p->lpa2 = lpa2;
}

static inline void tlbb_a64_rplan_take(struct tlbb_a64_rplan *p, struct tlbb_a64_rop *op,
				       bool range, unsigned scale, unsigned num)
{
	uint64_t covered = range ? tlbb_arm64_range_pages(scale, num) : 1;

	op->va = p->va;
	op->scale = scale;
	op->num = num;
	op->range = range;
	p->va += covered << p->shift;
	p->pages -= covered;
}

static inline bool tlbb_a64_rplan_next(struct tlbb_a64_rplan *p, struct tlbb_a64_rop *op)
{
	if (p->lpa2) {
		if (p->pages >= TLBB_ARM64_RANGE_MAX_PAGES) {
			tlbb_a64_rplan_take(p, op, true, 3, 31);
			return true;
		}
		while (p->scale >= 0) {
			unsigned sc = (unsigned)p->scale--;
			unsigned digit = (unsigned)(p->pages >> (5 * sc + 1)) & 31;

			if (digit) {
				tlbb_a64_rplan_take(p, op, true, sc, digit - 1);
				return true;
			}
		}
		if (!p->pages)
			return false;
		tlbb_a64_rplan_take(p, op, false, 0, 0); /* exactly one left */
		return true;
	}
	while (p->pages) {
		if (p->pages & 1) {
			tlbb_a64_rplan_take(p, op, false, 0, 0);
			return true;
		}
		if (p->scale <= 3) {
			unsigned sc = (unsigned)p->scale++;
			unsigned digit = (unsigned)(p->pages >> (5 * sc + 1)) & 31;

			if (!digit)
				continue;
			tlbb_a64_rplan_take(p, op, true, sc, digit - 1);
		} else {
			/* only whole multiples of the largest range remain */
			tlbb_a64_rplan_take(p, op, true, 3, 31);
		}
		return true;
	}
	return false;
}

#endif /* TLBBATCH_ARCH_ARM64_SHARED_H */
