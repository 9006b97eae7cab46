/* SPDX-License-Identifier: MIT */
/*
 * tlbbatch arm64 backend: broadcast TLBI by VA+ASID, completed by one DSB ISH
 * per batch on the CPU that issued the TLBIs.
 *
 * What each protocol step issues (EL1, Inner Shareable):
 *
 *   add (per tlbb_add_*() call)
 *       DSB ISHST                      the PTE store reaches the walkers
 *       TLBI VAE1IS  per page          VALE1IS with TLBB_ADD_LEAF_ONLY;
 *                                      VAAE1IS/VAALE1IS for TLBB_SPACE_GLOBAL
 *       (no completing DSB)
 *     or, when the add needs more than max_tlbi_ops TLBIs (or is a whole-space
 *     add): one TLBI ASIDE1IS (VMALLE1IS for a global space).
 *     With range_ops (FEAT_TLBIRANGE): RVAE1IS/RVALE1IS (RVAAE1IS/RVAALE1IS)
 *     covering up to 2^21 pages each, at most 5 ops per add (see FEAT_LPA2
 *     for their order there).
 *     With kpti_paired_asids each by-ASID TLBI above is issued twice (see
 *     KPTI-STYLE PAIRED ASIDS).
 *   flush    DSB ISH once (+ ISB if the batch touched a global space)
 *   race check (tlbb_flush_pending)
 *            DSB ISHST; TLBI ASIDE1IS (VMALLE1IS if global); DSB ISH (+ ISB)
 *            NEVER a bare DSB: this runs on whatever CPU holds the PTL, and
 *            only the issuing CPU's DSB completes a TLBI.
 *   space_fini (tlbb_space_fini, and the old id in tlbb_space_set_id)
 *            after the core's race check: DSB ISHST; TLBI ASIDE1IS for the
 *            space's (old) ASID; DSB ISH. A global space: DSB ISHST;
 *            TLBI VMALLE1IS; DSB ISH; ISB. Runs on any CPU (see ASID REUSE).
 *   should_defer  true, except in repeat-TLBI erratum mode, where every TLBI
 *            is issued as TLBI; DSB ISH; TLBI (already synchronous, so there
 *            is nothing to gain by batching).
 *
 * THE ISSUING-CPU RULE (the port's duty)
 *
 *   A batch's TLBIs are complete only after a DSB on the CPU that issued
 *   them. If the task that owns a batch with queued TLBIs can be moved to
 *   another CPU between tlbb_add_*() and tlbb_flush(), the port's context
 *   switch must call tlbb_arm64_context_switch() on the outgoing CPU (it
 *   executes DSB ISH). Linux does this unconditionally in __switch_to().
 *   Built with TLBB_DEBUG, the backend records tlbb_port_cpu_id() at add and
 *   calls tlbb_port_debug_fail() when a batch is added to or flushed from
 *   another CPU without that barrier in between.
 *
 * Port hooks used: tlbb_port_cpu_id() and tlbb_port_debug_fail(), only in
 * TLBB_DEBUG builds. Nothing else: the backend is freestanding.
 *
 * The space: s->id is the ASID (low 16 bits used; 8-bit-ASID systems keep
 * the upper byte zero), s->page_shift the translation granule (12, 14 or
 * 16; larger shifts are treated as block sizes of a 4 KiB-granule table and
 * disable range ops), s->flags & TLBB_SPACE_GLOBAL marks kernel/global
 * mappings.
 *
 * ASID REUSE
 *
 *   Entries tagged with an ASID stay in every CPU's TLB after the space that
 *   used it is gone; a new space given that ASID would use them instead of
 *   walking its own tables. An ASID may therefore be given to a new space
 *   only after its old entries were invalidated and that completed. The
 *   library does it: tlbb_space_fini(s) and tlbb_space_set_id(s, new) run
 *   the race check and then the backend's space_fini, which issues
 *   DSB ISHST; TLBI ASIDE1IS(old ASID); DSB ISH from the calling CPU (its own
 *   TLBI and its own DSB, so any CPU may call them; no batch is involved).
 *   A global space is released with VMALLE1IS; DSB ISH; ISB instead: its
 *   nG=0 entries match every ASID, so ASIDE1IS would leave them for the
 *   space that inherits the id, and its operations never carried s->id, so
 *   no narrower invalidation is known to cover what it cached.
 *   The port must not hand an ASID to a new space without one of those two
 *   calls on the space that had it, unless it does its own
 *   TLBI ASIDE1IS (or VMALLE1IS) of that ASID followed by DSB ISH, on the
 *   CPU that issued the TLBI, before the new space's first use (an
 *   allocator rollover that flushes everything counts). Merely switching
 *   TTBR0 to new tables with the same ASID invalidates nothing.
 *
 * FEAT_LPA2 (config lpa2: TCR_EL1.DS = 1)
 *
 *   The range operand's BaseADDR then holds VA[52:16], in units of 64 KiB
 *   whatever the granule, and a range op's start must be 64 KiB aligned.
 *   With lpa2 set the backend aligns each range add's start down to 64 KiB,
 *   counts the pages from there (so the ops still cover the whole request;
 *   up to 15 4K pages or 3 16K pages below it are invalidated too), and
 *   plans from the largest scale down so that every range op's base stays
 *   64 KiB aligned; a last odd page goes as a single-page TLBI. The
 *   single-page operand (VAE1IS family) does not change with LPA2: VA[55:12]
 *   in bits 43:0 already names a 52-bit VA, and its TTL field stays 0.
 *   Without lpa2 on a DS = 1 system, BaseADDR would be computed as
 *   VA >> page_shift and invalidate the wrong (lower) addresses.
 *
 * KPTI-STYLE PAIRED ASIDS (config kpti_paired_asids)
 *
 *   For a kernel that runs user space under ASID | 1 and itself under the
 *   even ASID (Linux with KPTI, USER_ASID_FLAG). Every by-ASID operation of
 *   a non-global space, by VA, by range, ASIDE1IS (adds, the race check,
 *   space_fini), is issued twice: for id & ~1, then for id | 1. Either
 *   value may be s->id. The limit max_tlbi_ops counts TLBI instructions, so
 *   a pair counts two (Linux counts pages and issues up to twice its limit).
 *   Global spaces are not paired: VAAE1IS/VAALE1IS/RVAAE1IS/RVAALE1IS and
 *   VMALLE1IS match every ASID, so one instruction covers both halves.
 *
 * FEAT_TTL level hints: not offered. The TTL field of every operand is 0
 *   (no hint: the CPU searches every level), which is always correct, with
 *   or without FEAT_TTL and LPA2.
 */
#ifndef TLBBATCH_ARM64_H
#define TLBBATCH_ARM64_H

#include <tlbbatch/backend.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Linux's MAX_DVM_OPS: more TLBIs than this per add -> one ASIDE1IS. */
#define TLBB_ARM64_DEFAULT_MAX_TLBI_OPS 512u

/* Optional counters, bumped with relaxed atomics when the config has them. */
struct tlbb_arm64_stats {
	uint64_t tlbi;       /* TLBI instructions issued (each op, range or not) */
	uint64_t tlbi_asid;  /* of which whole-ASID / whole-VMID invalidations */
	uint64_t dsb_ishst;  /* DSB ISHST (PTE stores before TLBIs) */
	uint64_t dsb_ish;    /* DSB ISH (completion) */
	uint64_t isb;
};

struct tlbb_arm64_config {
	/* TLBIs one add may issue before it becomes a whole-ASID TLBI; 0 = 512. */
	uint32_t max_tlbi_ops;
	/* The CPU has the repeat-TLBI erratum (Linux ARM64_WORKAROUND_REPEAT_TLBI):
	 * every TLBI is TLBI; DSB ISH; TLBI, and should_defer() answers false. */
	bool repeat_tlbi_erratum;
	/* FEAT_TLBIRANGE is implemented: use TLBI RVA* range operations. The port
	 * decides (ID_AA64ISAR0_EL1.TLB == 0b0010); range TLBIs are UNDEFINED
	 * on CPUs without it. */
	bool range_ops;
	/* TCR_EL1.DS == 1 (FEAT_LPA2 in use, 4K or 16K granule): range ops take
	 * a 64 KiB-unit, 64 KiB-aligned BaseADDR. Meaningful with range_ops
	 * only; the single-page operands are the same either way. */
	bool lpa2;
	/* User space runs under ASID | 1, the kernel under ASID & ~1 (KPTI):
	 * every by-ASID TLBI of a non-global space is issued for both. */
	bool kpti_paired_asids;
	/* May be NULL. Shared by every CPU using this backend instance. */
	struct tlbb_arm64_stats *stats;
};

/* The backend with the default configuration (512 ops, no erratum, no
 * range ops, no LPA2, no paired ASIDs, no statistics). */
TLBB_API extern const struct tlbb_backend tlbb_arm64_backend;

/*
 * Fill @be as an arm64 backend configured by @cfg (which must outlive @be;
 * it is referenced, not copied). A NULL @cfg gives the defaults.
 * Returns TLBB_EINVAL for a NULL @be.
 */
TLBB_API enum tlbb_status tlbb_arm64_backend_init(struct tlbb_backend *be,
				     const struct tlbb_arm64_config *cfg);

/*
 * The context-switch hook: call on the outgoing CPU, before the task that
 * owns @b can run anywhere else. If @b holds TLBIs not yet completed it
 * executes DSB ISH (they are complete afterwards, so the final flush may run
 * on any CPU). @b == NULL means "the port does not track batches": the
 * barrier is executed unconditionally, as Linux does.
 */
TLBB_API void tlbb_arm64_context_switch(struct tlbb_batch *b);

/* ---- operand encodings (pure functions; the host tests check them) ----- */

#define TLBB_ARM64_ASID_SHIFT 48
#define TLBB_ARM64_VA_MASK ((UINT64_C(1) << 44) - 1) /* VA[55:12] in bits 43:0 */

/* TLBI VAE1IS / VALE1IS / VAAE1IS / VAALE1IS operand: ASID in 63:48,
 * VA[55:12] in 43:0, TTL (47:44) zero = no level hint. Unchanged by LPA2. */
static inline uint64_t tlbb_arm64_va_operand(uint16_t asid, uint64_t va)
{
	return ((uint64_t)asid << TLBB_ARM64_ASID_SHIFT) | ((va >> 12) & TLBB_ARM64_VA_MASK);
}

/* TLBI ASIDE1IS operand: ASID in 63:48, the rest RES0. */
static inline uint64_t tlbb_arm64_asid_operand(uint16_t asid)
{
	return (uint64_t)asid << TLBB_ARM64_ASID_SHIFT;
}

/* TG field of the range operand for a granule, 0 (reserved) if none. */
static inline unsigned tlbb_arm64_range_tg(unsigned page_shift)
{
	switch (page_shift) {
	case 12:
		return 1;
	case 14:
		return 2;
	case 16:
		return 3;
	default:
		return 0;
	}
}

/* Pages one range op covers: (NUM + 1) * 2^(5 * SCALE + 1). */
static inline uint64_t tlbb_arm64_range_pages(unsigned scale, unsigned num)
{
	return (uint64_t)(num + 1) << (5 * scale + 1);
}

/*
 * TLBI RVAE1IS (and RVALE1IS / RVAAE1IS / RVAALE1IS) operand:
 *   63:48 ASID   47:46 TG   45:44 SCALE   43:39 NUM   38:37 TTL (0: any)
 *   36:0  BaseADDR = VA >> page_shift (VA[48:12] for 4K, [50:14] for 16K,
 *         [52:16] for 64K)
 * Covers [va, va + tlbb_arm64_range_pages(scale, num) granules).
 */
static inline uint64_t tlbb_arm64_range_operand(uint16_t asid, unsigned page_shift,
						unsigned scale, unsigned num, uint64_t va)
{
	return ((uint64_t)asid << 48) | ((uint64_t)(tlbb_arm64_range_tg(page_shift) & 3) << 46) |
	       ((uint64_t)(scale & 3) << 44) | ((uint64_t)(num & 31) << 39) |
	       ((va >> page_shift) & ((UINT64_C(1) << 37) - 1));
}

/*
 * The same operand when TCR_EL1.DS == 1 (FEAT_LPA2): every field as above
 * except BaseADDR (36:0) = VA[52:16], for every granule. @va must be 64 KiB
 * aligned (bits 15:0 are dropped); the op covers
 * [va, va + tlbb_arm64_range_pages(scale, num) granules), TG still naming
 * the granule.
 */
static inline uint64_t tlbb_arm64_range_operand_lpa2(uint16_t asid, unsigned page_shift,
						     unsigned scale, unsigned num, uint64_t va)
{
	return ((uint64_t)asid << 48) | ((uint64_t)(tlbb_arm64_range_tg(page_shift) & 3) << 46) |
	       ((uint64_t)(scale & 3) << 44) | ((uint64_t)(num & 31) << 39) |
	       ((va >> 16) & ((UINT64_C(1) << 37) - 1));
}

/* Largest range one op can cover: NUM = 31, SCALE = 3 -> 2^21 granules. */
#define TLBB_ARM64_RANGE_MAX_PAGES (UINT64_C(32) << 16)

#ifdef __cplusplus
}
#endif

#endif /* TLBBATCH_ARM64_H */
