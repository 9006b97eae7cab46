/* SPDX-License-Identifier: MIT */
/*
 * tlbbatch arm64 stage-2 backend: a hypervisor at EL2 reclaiming guest
 * memory (balloon, swap, migration, page sharing) by clearing stage-2
 * entries. A space is one VMID: a guest's IPA space, with its stage-2
 * table. Addresses given to tlbb_add_*() are IPAs.
 *
 * What each protocol step issues (EL2, Inner Shareable):
 *
 *   add (per tlbb_add_*() call)
 *       DSB ISHST                     the stage-2 entry stores reach the walkers
 *       [VTTBR_EL2 = the space's; ISB]  only if another VMID is loaded
 *       TLBI IPAS2E1IS per IPA page   IPAS2LE1IS with TLBB_ADD_LEAF_ONLY;
 *                                     with range_ops RIPAS2E1IS/RIPAS2LE1IS
 *                                     (the arm64 backend's range plan)
 *       [VTTBR_EL2 = what it was; ISB]
 *       (no completing DSB)
 *     or, when the add needs more than max_tlbi_ops TLBIs (or is a
 *     whole-space add): one TLBI VMALLS12E1IS of the VMID instead.
 *   flush    DSB ISH                   completes this CPU's IPA invalidations
 *            for each VMID the batch touched (up to TLBB_ARM64_S2_BATCH_VMIDS):
 *              [VTTBR_EL2 = that VMID's; ISB]  TLBI VMALLE1IS
 *            DSB ISH
 *            [VTTBR_EL2 = what it was]; ISB
 *     A batch that touched more VMIDs than it can hold, or a space whose
 *     stage-2 table the backend was not told: DSB ISH; TLBI ALLE1IS; DSB ISH;
 *     ISB (every VMID's EL1&0 entries: safe, and costly for every guest).
 *   race check (tlbb_flush_pending) and space_fini (the VMID's release)
 *            DSB ISHST; [switch; ISB]; TLBI VMALLS12E1IS; DSB ISH;
 *            [restore]; ISB. From any CPU: its own TLBI, its own DSB.
 *   should_defer  true.
 *
 * WHY TWO INVALIDATIONS (Arm ARM C5.5.14 TLBI IPAS2E1IS, and "Invalidating
 * TLB entries from stage 2 translations")
 *
 *   IPAS2E1IS removes stage-2-only entries for the IPA; "the invalidation is
 *   not required to apply to caching structures that combine stage 1 and
 *   stage 2 translation table entries". A guest that touched the page holds
 *   such a combined VA -> PA entry, built from the old stage-2 entry, and
 *   only a by-VA or whole stage-1 invalidation of that VMID removes it: the
 *   backend does not know the guest's VAs, so TLBI VMALLE1IS per VMID.
 *   That one must come after the IPA invalidations COMPLETED (the flush's
 *   first DSB ISH): otherwise a walk in between could build a new combined
 *   entry from a not yet invalidated stage-2-only entry. Linux KVM does the
 *   same pair per IPA (__kvm_tlb_flush_vmid_ipa); the batch does the pair
 *   once for all of a VMID's pages: one DSB ISH pair per batch, not per page.
 *
 * WHY SWITCHING VTTBR_EL2 (and not VMALLS12E1IS at the flush)
 *
 *   Every one of these TLBIs acts on "the current VMID", VTTBR_EL2.VMID at
 *   execution; none takes a VMID operand. So whichever instruction is used,
 *   the VMID must be loaded: the backend writes the space's VTTBR (its real
 *   stage-2 table base, so that a speculative walk under that VMID uses the
 *   right tables), ISB (a system register write is seen by later
 *   instructions only after a context synchronization event: "Synchronization
 *   requirements for AArch64 System registers"), issues, and writes back the
 *   value it read, then ISB. A write never affects instructions before it in
 *   program order, so switching to the next VMID before the DSB is safe.
 *   The flush uses VMALLE1IS, not VMALLS12E1IS: the stage-2-only entries of
 *   the batched IPAs are already gone, and VMALLS12E1IS would also drop every
 *   other stage-2 entry of the guest. The race check uses VMALLS12E1IS: it
 *   runs on any CPU and cannot complete another CPU's IPAS2E1IS, so it
 *   invalidates (and completes) all of the VMID itself.
 *
 * DSB ISHST PER ADD, NOT PER BATCH
 *
 *   The DSB ISHST orders the stage-2 stores made BEFORE it ahead of the
 *   TLBIs after it. A later add's stores come after the batch's first DSB
 *   ISHST; without its own, its TLBI could act before its store is seen, a
 *   walker could refill the old stage-2-only entry afterwards, and VMALLE1IS
 *   at the flush does not remove stage-2-only entries. One per add call
 *   (covering every page of that call) is the least that is correct.
 *
 * THE PORT'S DUTIES
 *
 *   - EL2 with HCR_EL2.TGE == 0 while the backend runs (a non-VHE
 *     hypervisor; a VHE host clears TGE around its calls, as KVM does), or
 *     the EL1 TLBIs would act on the host's EL2&0 regime.
 *   - The stage-2 table: tell the backend the VTTBR_EL2.BADDR (and CnP) of
 *     each VMID with tlbb_arm64_s2_space_init() or tlbb_arm64_s2_set_table(),
 *     and load tlbb_arm64_s2_vttbr(s) when entering the guest. The port owns
 *     the tables; the backend only loads the root to name the VMID. A space
 *     whose table is unknown (0) is served with TLBI ALLE1IS, never guessed.
 *     Giving a live VMID a new root leaves the old tables' entries cached:
 *     run tlbb_flush_pending() + an add_space flush, or set_vmid, first.
 *   - Which VMID is current: the backend reads VTTBR_EL2, switches only when
 *     the space's VMID differs, and restores the value it read before
 *     returning. Interrupts (or anything else that might enter a guest or
 *     write VTTBR_EL2) must be masked on this CPU across each backend call.
 *   - VMID rollover / reuse: a VMID goes to a new guest only after
 *     tlbb_space_fini() or tlbb_arm64_s2_set_vmid() of the space that had
 *     it (both run the race check, then VMALLS12E1IS + DSB ISH of the old
 *     VMID), or after the port's own TLBI ALLE1IS + DSB ISH (a rollover that
 *     flushes everything). Reloading VTTBR_EL2 invalidates nothing.
 *     tlbb_space_set_id() forgets the table (backend state belongs to the
 *     old id): use tlbb_arm64_s2_set_vmid(), which keeps it.
 *   - The issuing-CPU rule, as for the arm64 backend: tlbb_flush() runs on
 *     the CPU that issued the batch's TLBIs, or the port's context switch
 *     calls tlbb_arm64_s2_context_switch() on the outgoing CPU. TLBB_DEBUG
 *     builds check it through tlbb_port_cpu_id().
 *   - Break-before-make (stage 2 as stage 1): retarget = clear, add, flush,
 *     and only then write the new entry and reuse the old frame.
 *
 * Port hooks used: tlbb_port_cpu_id() and tlbb_port_debug_fail(), only in
 * TLBB_DEBUG builds. Freestanding. The stage-2 backend needs the hook-table
 * build of the core (the static binding binds the stage-1 arm64 backend).
 */
#ifndef TLBBATCH_ARM64_S2_H
#define TLBBATCH_ARM64_S2_H

#include <tlbbatch/arm64.h>

#ifdef __cplusplus
extern "C" {
#endif

/* VMIDs one batch remembers for its flush; a batch touching more flushes
 * with TLBI ALLE1IS. */
#define TLBB_ARM64_S2_BATCH_VMIDS 3u

struct tlbb_arm64_s2_stats {
	struct tlbb_arm64_stats insn; /* tlbi, tlbi_asid (whole VMID / ALLE1IS), DSBs, ISBs */
	uint64_t vttbr_writes;        /* VTTBR_EL2 switches and restores */
	uint64_t alle1is;             /* fallbacks to TLBI ALLE1IS */
};

struct tlbb_arm64_s2_config {
	/* TLBIs one add may issue before it becomes VMALLS12E1IS; 0 = 512. */
	uint32_t max_tlbi_ops;
	/* FEAT_TLBIRANGE: RIPAS2E1IS / RIPAS2LE1IS range operations. */
	bool range_ops;
	/* VTCR_EL2.DS == 1 (FEAT_LPA2): range BaseADDR in 64 KiB units. */
	bool lpa2;
	/* May be NULL. Shared by every CPU using this backend instance. */
	struct tlbb_arm64_s2_stats *stats;
};

TLBB_API extern const struct tlbb_backend tlbb_arm64_s2_backend;

/* Fill @be as a stage-2 backend configured by @cfg (referenced, not copied;
 * NULL = defaults). TLBB_EINVAL for a NULL @be. */
TLBB_API int tlbb_arm64_s2_backend_init(struct tlbb_backend *be,
					const struct tlbb_arm64_s2_config *cfg);

/* tlbb_space_init() for VMID @vmid with stage-2 root @table (VTTBR_EL2
 * BADDR, and CnP in bit 0 if used; bits 63:48 are ignored). */
TLBB_API int tlbb_arm64_s2_space_init(struct tlbb_space *s, const struct tlbb_backend *be,
				      uint16_t vmid, uint64_t table, void *owner);

/* The stage-2 root of @s (0: unknown, served with ALLE1IS). */
TLBB_API int tlbb_arm64_s2_set_table(struct tlbb_space *s, uint64_t table);

/* VMID rollover: tlbb_space_set_id() (which releases the old VMID) keeping
 * the stage-2 root. */
TLBB_API int tlbb_arm64_s2_set_vmid(struct tlbb_space *s, uint16_t vmid);

/* The VTTBR_EL2 value for entering @s's guest (0 if the root is unknown). */
TLBB_API uint64_t tlbb_arm64_s2_vttbr(const struct tlbb_space *s);

/* The context-switch hook (see the issuing-CPU rule); NULL @b: DSB ISH. */
TLBB_API void tlbb_arm64_s2_context_switch(struct tlbb_batch *b);

/* ---- operand encodings (pure; the host tests check them) ------------------ */

#define TLBB_ARM64_VMID_SHIFT 48
#define TLBB_ARM64_S2_BADDR_MASK ((UINT64_C(1) << 48) - 1)
#define TLBB_ARM64_IPA_MASK ((UINT64_C(1) << 40) - 1) /* IPA[51:12] in bits 39:0 */

/*
 * TLBI IPAS2E1IS / IPAS2LE1IS operand (Arm ARM C5.5.14): IPA[47:12] in
 * bits 35:0 and, with FEAT_LPA, IPA[51:48] in 39:36, so IPA[51:12] from
 * bit 0; TTL (47:44) zero = no level hint; NS (63) zero: RES0 when
 * executed in Non-secure state, the Non-secure IPA space. In 4 KiB units
 * whatever the granule, and unchanged by LPA2.
 */
static inline uint64_t tlbb_arm64_ipa_operand(uint64_t ipa)
{
	return (ipa >> 12) & TLBB_ARM64_IPA_MASK;
}

/* TLBI RIPAS2E1IS / RIPAS2LE1IS operand (C5.5.22): TG 47:46, SCALE 45:44,
 * NUM 43:39, TTL 38:37 (0), BaseADDR 36:0 = IPA >> granule (IPA[52:16]
 * under LPA2), NS 63 zero: the arm64 range operand with bits 63:48 zero. */
static inline uint64_t tlbb_arm64_ipa_range_operand(unsigned page_shift, unsigned scale,
						    unsigned num, uint64_t ipa, bool lpa2)
{
	return lpa2 ? tlbb_arm64_range_operand_lpa2(0, page_shift, scale, num, ipa)
		    : tlbb_arm64_range_operand(0, page_shift, scale, num, ipa);
}

/* VTTBR_EL2: VMID in 63:48 (8-bit VMIDs: 55:48 with 63:56 zero), BADDR 47:1,
 * CnP bit 0. */
static inline uint64_t tlbb_arm64_vttbr(uint16_t vmid, uint64_t table)
{
	return ((uint64_t)vmid << TLBB_ARM64_VMID_SHIFT) | (table & TLBB_ARM64_S2_BADDR_MASK);
}

#ifdef __cplusplus
}
#endif

#endif /* TLBBATCH_ARM64_S2_H */
