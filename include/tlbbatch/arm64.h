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
 *     covering up to 2^21 pages each, at most 5 ops per add.
 *   flush    DSB ISH once (+ ISB if the batch touched a global space)
 *   race check (tlbb_flush_pending)
 *            DSB ISHST; TLBI ASIDE1IS (VMALLE1IS if global); DSB ISH (+ ISB)
 *            NEVER a bare DSB: this runs on whatever CPU holds the PTL, and
 *            only the issuing CPU's DSB completes a TLBI.
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
	/* May be NULL. Shared by every CPU using this backend instance. */
	struct tlbb_arm64_stats *stats;
};

/* The backend with the default configuration (512 ops, no erratum, no
 * range ops, no statistics). */
TLBB_API extern const struct tlbb_backend tlbb_arm64_backend;

/*
 * Fill @be as an arm64 backend configured by @cfg (which must outlive @be;
 * it is referenced, not copied). A NULL @cfg gives the defaults.
 * Returns TLBB_EINVAL for a NULL @be.
 */
TLBB_API int tlbb_arm64_backend_init(struct tlbb_backend *be,
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
 * VA[55:12] in 43:0, TTL (47:44) zero = no level hint. */
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

/* Largest range one op can cover: NUM = 31, SCALE = 3 -> 2^21 granules. */
#define TLBB_ARM64_RANGE_MAX_PAGES (UINT64_C(32) << 16)

#ifdef __cplusplus
}
#endif

#endif /* TLBBATCH_ARM64_H */
