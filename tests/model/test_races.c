/* SPDX-License-Identifier: MIT */
/*
 * The races and rules of the protocol, replayed deterministically on the sim
 * backend. Every scenario runs twice: with the protocol (stale == 0) and with
 * one step removed (stale > 0, the negative control), so each checker here
 * has been seen to fail.
 *
 * Cast: CPU0 runs the reclaimer, CPU1 and CPU2 run the address space (CPU1
 * holds the interesting TLB entries), CPU3 runs a changer (mprotect, zap).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <tlbbatch/sim.h>

#define NPAGES 16
#define PAGE 4096u
#define VA(vpn) ((uintptr_t)(vpn) * PAGE)

enum { RECLAIMER = 0, USER = 1, USER2 = 2, CHANGER = 3 };

struct world {
	struct tlbb_sim *sim;
	struct tlbb_sim_space ss;
	struct tlbb_batch batch;
	unsigned frame[NPAGES];
};

static void world_init(struct world *w, enum tlbb_sim_model model, unsigned faults)
{
	struct tlbb_sim_config cfg = { .ncpus = 4, .model = model, .faults = faults };

	memset(w, 0, sizeof(*w));
	w->sim = tlbb_sim_create(&cfg);
	assert_non_null(w->sim);
	assert_int_equal(tlbb_sim_space_init(w->sim, &w->ss, 1, NPAGES), TLBB_OK);
	for (unsigned v = 0; v < NPAGES; v++) {
		int f = tlbb_sim_frame_alloc(w->sim);

		assert_true(f > 0);
		w->frame[v] = (unsigned)f;
		tlbb_sim_pte_set(&w->ss, v, (unsigned)f, true);
	}
	tlbb_sim_switch_to(w->sim, USER, &w->ss);
	tlbb_sim_switch_to(w->sim, USER2, &w->ss);
	tlbb_batch_init(&w->batch);
	tlbb_sim_cpu_enter(w->sim, RECLAIMER);
}

static uint64_t world_fini(struct world *w)
{
	struct tlbb_sim_stats st;

	tlbb_sim_get_stats(w->sim, &st);
	tlbb_sim_space_fini(&w->ss);
	tlbb_sim_destroy(w->sim);
	return st.stale;
}

/* The reclaimer's half: clear the PTE under the PTL, queue its invalidation. */
static void reclaim_unmap(struct world *w, unsigned vpn)
{
	uint64_t old = tlbb_sim_pte_clear(&w->ss, vpn);

	assert_true(old & TLBB_SIM_PTE_VALID);
	assert_int_equal(tlbb_add_page(&w->batch, &w->ss.space, VA(vpn),
				       (old & TLBB_SIM_PTE_WRITE) ? TLBB_ADD_WRITABLE : 0),
			 TLBB_OK);
}

/* After tlbb_flush() returned the reclaimer frees the frame. */
static void reclaim_finish(struct world *w, unsigned vpn)
{
	tlbb_flush(&w->batch);
	tlbb_sim_frame_set_state(w->sim, w->frame[vpn], TLBB_SIM_FRAME_RETIRED);
}

/* ---- reclaim vs mprotect (Linux 3ea277194daa) ------------------------------ */

/*
 * CPU1 caches a writable entry; reclaim clears the PTE and batches; CPU3's
 * mprotect(PROT_READ) finds nothing present and would do no TLB maintenance.
 * After mprotect returns, a write by CPU1 must be impossible.
 */
static uint64_t reclaim_vs_mprotect(enum tlbb_sim_model model, unsigned faults, bool race_check)
{
	struct world w;

	world_init(&w, model, faults);
	assert_int_equal(tlbb_sim_access(w.sim, USER, VA(5), true), TLBB_SIM_WALK);
	reclaim_unmap(&w, 5);

	tlbb_sim_cpu_enter(w.sim, CHANGER); /* mprotect, under the PTL */
	if (race_check)
		tlbb_flush_pending(&w.ss.space);
	tlbb_sim_pte_protect(&w.ss, 5, false); /* nothing present: no change */
	tlbb_sim_frame_set_state(w.sim, w.frame[5], TLBB_SIM_FRAME_RO); /* mprotect returned */

	tlbb_sim_access(w.sim, USER, VA(5), true); /* the write that must not happen */
	tlbb_sim_cpu_enter(w.sim, RECLAIMER);
	reclaim_finish(&w, 5);
	return world_fini(&w);
}

static void mprotect_race_check_kills_writable_entry_arm64(void **state)
{
	assert_int_equal(reclaim_vs_mprotect(TLBB_SIM_ARM64, 0, true), 0);
}

static void mprotect_without_race_check_writes_through_stale_entry_arm64(void **state)
{
	assert_true(reclaim_vs_mprotect(TLBB_SIM_ARM64, 0, false) > 0);
}

static void mprotect_race_check_kills_writable_entry_x86(void **state)
{
	assert_int_equal(reclaim_vs_mprotect(TLBB_SIM_X86, 0, true), 0);
}

static void mprotect_without_race_check_writes_through_stale_entry_x86(void **state)
{
	assert_true(reclaim_vs_mprotect(TLBB_SIM_X86, 0, false) > 0);
}

/* ---- reclaim vs MADV_DONTNEED / zap ---------------------------------------- */

/*
 * The zap sees no PTE, frees nothing, flushes nothing and returns; the
 * application then touches the page again and gets a fresh frame. CPU1 must
 * not keep reading the old frame through its old entry.
 */
static uint64_t reclaim_vs_zap(enum tlbb_sim_model model, unsigned faults, bool race_check)
{
	struct world w;
	int fresh;

	world_init(&w, model, faults);
	assert_int_equal(tlbb_sim_access(w.sim, USER, VA(7), false), TLBB_SIM_WALK);
	reclaim_unmap(&w, 7);

	tlbb_sim_cpu_enter(w.sim, CHANGER); /* madvise(MADV_DONTNEED), under the PTL */
	if (race_check)
		tlbb_flush_pending(&w.ss.space);
	assert_int_equal(tlbb_sim_pte_clear(&w.ss, 7), 0); /* nothing present */
	tlbb_sim_claim_clean(&w.ss, 7);                     /* zap returned */

	fresh = tlbb_sim_frame_alloc(w.sim); /* refault: a new zero page */
	tlbb_sim_pte_set(&w.ss, 7, (unsigned)fresh, true);
	tlbb_sim_access(w.sim, USER, VA(7), false);

	tlbb_sim_cpu_enter(w.sim, RECLAIMER);
	reclaim_finish(&w, 7);
	return world_fini(&w);
}

static void zap_race_check_drops_old_translation_arm64(void **state)
{
	assert_int_equal(reclaim_vs_zap(TLBB_SIM_ARM64, 0, true), 0);
}

static void zap_without_race_check_reads_old_frame_arm64(void **state)
{
	assert_true(reclaim_vs_zap(TLBB_SIM_ARM64, 0, false) > 0);
}

static void zap_race_check_drops_old_translation_x86(void **state)
{
	assert_int_equal(reclaim_vs_zap(TLBB_SIM_X86, 0, true), 0);
}

static void zap_without_race_check_reads_old_frame_x86(void **state)
{
	assert_true(reclaim_vs_zap(TLBB_SIM_X86, 0, false) > 0);
}

/* ---- the race check must not be a bare barrier ------------------------------ */

/*
 * The seed thread's idea: on arm64 the race check can be a DSB, since the
 * TLBIs were already issued. Wrong: the TLBIs were issued by CPU0; a DSB on
 * CPU3 completes none of them (Arm ARM; fixed in Linux in 2025).
 */
static void race_check_as_bare_dsb_leaves_remote_tlbi_incomplete_arm64(void **state)
{
	assert_true(reclaim_vs_mprotect(TLBB_SIM_ARM64, TLBB_SIM_FAULT_BARE_BARRIER, true) > 0);
	assert_true(reclaim_vs_zap(TLBB_SIM_ARM64, TLBB_SIM_FAULT_BARE_BARRIER, true) > 0);
}

/* The x86 analogue: flushing only the changer's own CPU misses CPU1. */
static void race_check_as_local_flush_misses_remote_cpu_x86(void **state)
{
	assert_true(reclaim_vs_mprotect(TLBB_SIM_X86, TLBB_SIM_FAULT_BARE_BARRIER, true) > 0);
}

static void race_check_that_flushes_nothing_is_caught(void **state)
{
	assert_true(reclaim_vs_mprotect(TLBB_SIM_ARM64, TLBB_SIM_FAULT_NO_FLUSH_SPACE, true) > 0);
	assert_true(reclaim_vs_zap(TLBB_SIM_X86, TLBB_SIM_FAULT_NO_FLUSH_SPACE, true) > 0);
}

/* ---- arm64: only the issuing CPU's DSB completes its TLBIs ------------------ */

static void dsb_on_another_cpu_completes_nothing_arm64(void **state)
{
	struct world w;

	world_init(&w, TLBB_SIM_ARM64, 0);
	tlbb_sim_access(w.sim, USER, VA(2), false);
	reclaim_unmap(&w, 2);
	assert_int_equal(tlbb_sim_outstanding(w.sim, RECLAIMER), 1);

	tlbb_sim_dsb(w.sim, CHANGER);
	assert_true(tlbb_sim_tlb_has(w.sim, USER, 1, VA(2)));
	tlbb_sim_dsb(w.sim, USER);
	assert_true(tlbb_sim_tlb_has(w.sim, USER, 1, VA(2)));
	assert_int_equal(tlbb_sim_outstanding(w.sim, RECLAIMER), 1);

	tlbb_sim_dsb(w.sim, RECLAIMER);
	assert_false(tlbb_sim_tlb_has(w.sim, USER, 1, VA(2)));
	assert_int_equal(tlbb_sim_outstanding(w.sim, RECLAIMER), 0);
	assert_int_equal(world_fini(&w), 0);
}

/*
 * The batch's single DSB is right only on the CPU that issued the TLBIs. A
 * reclaimer that migrates between add and flush needs the context switch to
 * execute DSB ISH on the CPU it leaves (the port's duty).
 */
static uint64_t reclaimer_migrates_before_flush(bool switch_barrier)
{
	struct world w;

	world_init(&w, TLBB_SIM_ARM64, 0);
	tlbb_sim_access(w.sim, USER, VA(9), false);
	reclaim_unmap(&w, 9);
	tlbb_sim_migrate(w.sim, CHANGER, switch_barrier); /* preempted, resumes on CPU3 */
	reclaim_finish(&w, 9);
	tlbb_sim_access(w.sim, USER, VA(9), false);
	return world_fini(&w);
}

static void migration_with_switch_dsb_completes_batch_arm64(void **state)
{
	assert_int_equal(reclaimer_migrates_before_flush(true), 0);
}

static void migration_without_switch_dsb_leaves_batch_incomplete_arm64(void **state)
{
	assert_true(reclaimer_migrates_before_flush(false) > 0);
}

/* ---- the batch flush itself ------------------------------------------------- */

/* Reclaim 12 pages in one batch, flush once, free all frames. */
static uint64_t reclaim_batch_then_touch(enum tlbb_sim_model model, unsigned faults,
					 struct tlbb_sim_stats *out)
{
	struct world w;
	uint64_t stale;

	world_init(&w, model, faults);
	for (unsigned v = 0; v < 12; v++) {
		tlbb_sim_access(w.sim, USER, VA(v), v & 1);
		tlbb_sim_access(w.sim, USER2, VA(v), false);
	}
	for (unsigned v = 0; v < 12; v++)
		reclaim_unmap(&w, v);
	tlbb_flush(&w.batch);
	for (unsigned v = 0; v < 12; v++)
		tlbb_sim_frame_set_state(w.sim, w.frame[v], TLBB_SIM_FRAME_RETIRED);
	for (unsigned v = 0; v < 12; v++) {
		tlbb_sim_access(w.sim, USER, VA(v), false);
		tlbb_sim_access(w.sim, USER2, VA(v), true);
	}
	tlbb_sim_get_stats(w.sim, out);
	stale = world_fini(&w);
	return stale;
}

static void batch_flush_completes_every_page_with_one_dsb_arm64(void **state)
{
	struct tlbb_sim_stats st;

	assert_int_equal(reclaim_batch_then_touch(TLBB_SIM_ARM64, 0, &st), 0);
	assert_int_equal(st.tlbi_ops, 12);
	assert_int_equal(st.dsb, 1);
	assert_int_equal(st.batch_flushes, 1);
}

static void batch_flush_completes_every_page_with_one_ipi_round_x86(void **state)
{
	struct tlbb_sim_stats st;

	assert_int_equal(reclaim_batch_then_touch(TLBB_SIM_X86, 0, &st), 0);
	assert_int_equal(st.ipi_rounds, 1);
	assert_int_equal(st.ipis, 2); /* CPU1 and CPU2, never the reclaimer itself */
}

static void batch_never_flushed_is_caught_arm64(void **state)
{
	struct tlbb_sim_stats st;

	assert_true(reclaim_batch_then_touch(TLBB_SIM_ARM64, TLBB_SIM_FAULT_NO_BATCH_FLUSH, &st) > 0);
}

static void batch_flush_without_ipis_is_caught_x86(void **state)
{
	struct tlbb_sim_stats st;

	assert_true(reclaim_batch_then_touch(TLBB_SIM_X86, TLBB_SIM_FAULT_NO_IPI, &st) > 0);
}

/* ---- flush_dirty before writeback ------------------------------------------- */

/*
 * Writeback of a dirty page may start only when no CPU can still write it
 * through a stale writable entry: tlbb_flush_dirty() comes first.
 */
static uint64_t writeback_after_batched_unmap(bool flush_dirty)
{
	struct world w;

	world_init(&w, TLBB_SIM_ARM64, 0);
	tlbb_sim_access(w.sim, USER, VA(4), true);
	reclaim_unmap(&w, 4);
	if (flush_dirty)
		tlbb_flush_dirty(&w.batch);
	tlbb_sim_frame_set_state(w.sim, w.frame[4], TLBB_SIM_FRAME_RO); /* writeback I/O */
	tlbb_sim_access(w.sim, USER, VA(4), true);
	reclaim_finish(&w, 4);
	return world_fini(&w);
}

static void flush_dirty_before_writeback_stops_writers(void **state)
{
	assert_int_equal(writeback_after_batched_unmap(true), 0);
}

static void writeback_without_flush_dirty_is_caught(void **state)
{
	assert_true(writeback_after_batched_unmap(false) > 0);
}

/* ---- ranges ----------------------------------------------------------------- */

/* [0x3800, 0x5001) touches pages 3, 4 and 5: all three must go. */
static uint64_t unaligned_range_reclaim(uintptr_t start, uintptr_t end)
{
	struct world w;

	world_init(&w, TLBB_SIM_ARM64, 0);
	for (unsigned v = 3; v <= 5; v++) {
		tlbb_sim_access(w.sim, USER, VA(v), false);
		tlbb_sim_pte_clear(&w.ss, v);
	}
	tlbb_add_range(&w.batch, &w.ss.space, start, end, 0);
	tlbb_flush(&w.batch);
	for (unsigned v = 3; v <= 5; v++) {
		tlbb_sim_frame_set_state(w.sim, w.frame[v], TLBB_SIM_FRAME_RETIRED);
		tlbb_sim_access(w.sim, USER, VA(v), false);
	}
	return world_fini(&w);
}

static void unaligned_range_covers_partial_pages(void **state)
{
	assert_int_equal(unaligned_range_reclaim(0x3800, 0x5001), 0);
}

static void range_rounded_inward_is_caught(void **state)
{
	/* What a library that rounded inward would have queued. */
	assert_true(unaligned_range_reclaim(0x4000, 0x5000) > 0);
}

static void range_over_threshold_flushes_whole_space(void **state)
{
	struct world w;
	struct tlbb_sim_stats st;

	world_init(&w, TLBB_SIM_ARM64, 0);
	tlbb_space_set_threshold(&w.ss.space, 4);
	for (unsigned v = 0; v < NPAGES; v++) {
		tlbb_sim_access(w.sim, USER, VA(v), false);
		tlbb_sim_pte_clear(&w.ss, v);
	}
	tlbb_add_range(&w.batch, &w.ss.space, 0, VA(NPAGES), 0);
	tlbb_flush(&w.batch);
	tlbb_sim_get_stats(w.sim, &st);
	assert_int_equal(st.tlbi_ops, 1); /* one ASID invalidation, not 16 */
	for (unsigned v = 0; v < NPAGES; v++) {
		tlbb_sim_frame_set_state(w.sim, w.frame[v], TLBB_SIM_FRAME_RETIRED);
		tlbb_sim_access(w.sim, USER, VA(v), false);
	}
	assert_int_equal(world_fini(&w), 0);
}

static void inverted_range_still_invalidates_everything(void **state)
{
	struct world w;

	world_init(&w, TLBB_SIM_X86, 0);
	tlbb_sim_access(w.sim, USER, VA(6), false);
	tlbb_sim_pte_clear(&w.ss, 6);
	assert_int_equal(tlbb_add_range(&w.batch, &w.ss.space, VA(7), VA(6), 0), TLBB_ERANGE);
	tlbb_flush(&w.batch);
	tlbb_sim_frame_set_state(w.sim, w.frame[6], TLBB_SIM_FRAME_RETIRED);
	tlbb_sim_access(w.sim, USER, VA(6), false);
	assert_int_equal(world_fini(&w), 0);
}

/* ---- the unbatched path (!tlbb_should_defer) --------------------------------- */

static uint64_t unbatched_unmap(enum tlbb_sim_model model, bool sync_flush)
{
	struct world w;

	world_init(&w, model, 0);
	tlbb_sim_access(w.sim, USER, VA(8), true);
	tlbb_sim_pte_clear(&w.ss, 8);
	if (sync_flush)
		assert_int_equal(tlbb_flush_range_sync(&w.ss.space, VA(8), VA(9), 0), TLBB_OK);
	tlbb_sim_frame_set_state(w.sim, w.frame[8], TLBB_SIM_FRAME_RETIRED);
	tlbb_sim_access(w.sim, USER, VA(8), true);
	return world_fini(&w);
}

static void sync_flush_is_complete_on_return(void **state)
{
	assert_int_equal(unbatched_unmap(TLBB_SIM_ARM64, true), 0);
	assert_int_equal(unbatched_unmap(TLBB_SIM_X86, true), 0);
}

static void unmap_without_sync_flush_is_caught(void **state)
{
	assert_true(unbatched_unmap(TLBB_SIM_ARM64, false) > 0);
	assert_true(unbatched_unmap(TLBB_SIM_X86, false) > 0);
}

/* ---- several spaces, one batch ---------------------------------------------- */

static void one_batch_two_spaces_one_flush(void **state)
{
	struct world w;
	struct tlbb_sim_space other;
	struct tlbb_sim_stats st;
	unsigned f;

	world_init(&w, TLBB_SIM_ARM64, 0);
	assert_int_equal(tlbb_sim_space_init(w.sim, &other, 2, NPAGES), TLBB_OK);
	f = (unsigned)tlbb_sim_frame_alloc(w.sim);
	tlbb_sim_pte_set(&other, 1, f, true);
	tlbb_sim_switch_to(w.sim, USER2, &other);
	tlbb_sim_access(w.sim, USER, VA(1), false);
	tlbb_sim_access(w.sim, USER2, VA(1), false);

	reclaim_unmap(&w, 1);
	tlbb_sim_pte_clear(&other, 1);
	tlbb_add_page(&w.batch, &other.space, VA(1), 0);
	tlbb_flush(&w.batch);
	tlbb_sim_frame_set_state(w.sim, w.frame[1], TLBB_SIM_FRAME_RETIRED);
	tlbb_sim_frame_set_state(w.sim, f, TLBB_SIM_FRAME_RETIRED);
	tlbb_sim_access(w.sim, USER, VA(1), false);
	tlbb_sim_access(w.sim, USER2, VA(1), false);
	tlbb_sim_get_stats(w.sim, &st);
	assert_int_equal(st.dsb, 1);
	tlbb_sim_space_fini(&other);
	assert_int_equal(world_fini(&w), 0);
}

/* ---- should_defer ----------------------------------------------------------- */

static void x86_defers_only_when_another_cpu_may_cache(void **state)
{
	struct tlbb_sim_config cfg = { .ncpus = 4, .model = TLBB_SIM_X86 };
	struct tlbb_sim *sim = tlbb_sim_create(&cfg);
	struct tlbb_sim_space ss;

	assert_int_equal(tlbb_sim_space_init(sim, &ss, 1, 4), TLBB_OK);
	tlbb_sim_cpu_enter(sim, 0);
	tlbb_sim_switch_to(sim, 0, &ss);
	assert_false(tlbb_should_defer(&ss.space));
	tlbb_sim_switch_to(sim, 2, &ss);
	assert_true(tlbb_should_defer(&ss.space));
	tlbb_sim_space_fini(&ss);
	tlbb_sim_destroy(sim);
}

static void arm64_repeat_tlbi_erratum_disables_deferral(void **state)
{
	struct tlbb_sim_config cfg = { .ncpus = 2, .model = TLBB_SIM_ARM64 };
	struct tlbb_sim *sim = tlbb_sim_create(&cfg);
	struct tlbb_sim_space ss;

	assert_int_equal(tlbb_sim_space_init(sim, &ss, 1, 4), TLBB_OK);
	tlbb_sim_cpu_enter(sim, 0);
	assert_true(tlbb_should_defer(&ss.space));
	tlbb_sim_space_fini(&ss);
	tlbb_sim_destroy(sim);
	cfg.options = TLBB_SIM_OPT_REPEAT_TLBI_ERRATUM;
	sim = tlbb_sim_create(&cfg);
	assert_int_equal(tlbb_sim_space_init(sim, &ss, 1, 4), TLBB_OK);
	tlbb_sim_cpu_enter(sim, 0);
	assert_false(tlbb_should_defer(&ss.space));
	tlbb_sim_space_fini(&ss);
	tlbb_sim_destroy(sim);
}

/* ---- the life of a space: an ASID recycled ----------------------------------- */

/*
 * A process exits and its ASID goes to a new one: USER ran the old space
 * (its TLB holds the old translations), switched away, the old space was
 * torn down without per-page invalidation and finished, its frames freed;
 * then USER runs the new space under the same ASID at the same addresses.
 * tlbb_space_fini() must have released the ASID: no old translation may
 * serve the new space.
 */
static uint64_t asid_reuse_scenario(enum tlbb_sim_model model, unsigned faults)
{
	struct world w;
	struct tlbb_sim_space other, reborn;
	struct tlbb_sim_stats st;

	world_init(&w, model, faults);
	for (unsigned v = 0; v < NPAGES; v++)
		assert_int_not_equal(tlbb_sim_access(w.sim, USER, VA(v), true), TLBB_SIM_FAULT);
	assert_int_equal(tlbb_sim_space_init(w.sim, &other, 2, NPAGES), TLBB_OK);
	tlbb_sim_switch_to(w.sim, USER, &other);
	tlbb_sim_switch_to(w.sim, USER2, &other);
	for (unsigned v = 0; v < NPAGES; v++)
		tlbb_sim_pte_clear(&w.ss, v);
	tlbb_sim_space_fini(&w.ss);
	for (unsigned v = 0; v < NPAGES; v++)
		tlbb_sim_frame_set_state(w.sim, w.frame[v], TLBB_SIM_FRAME_RETIRED);

	assert_int_equal(tlbb_sim_space_init(w.sim, &reborn, 1, NPAGES), TLBB_OK);
	for (unsigned v = 0; v < NPAGES; v++) {
		int f = tlbb_sim_frame_alloc(w.sim);

		assert_true(f > 0);
		tlbb_sim_pte_set(&reborn, v, (unsigned)f, true);
	}
	tlbb_sim_switch_to(w.sim, USER, &reborn);
	for (unsigned v = 0; v < NPAGES; v++)
		tlbb_sim_access(w.sim, USER, VA(v), false);
	tlbb_sim_get_stats(w.sim, &st);
	tlbb_sim_space_fini(&reborn);
	tlbb_sim_space_fini(&other);
	world_fini(&w);
	return st.stale;
}

static void recycled_asid_finds_nothing_of_the_dead_space_arm64(void **state)
{
	assert_int_equal(asid_reuse_scenario(TLBB_SIM_ARM64, 0), 0);
}

static void recycled_asid_without_release_reads_freed_frames_arm64(void **state)
{
	assert_true(asid_reuse_scenario(TLBB_SIM_ARM64, TLBB_SIM_FAULT_NO_RELEASE) > 0);
}

static void recycled_asid_finds_nothing_of_the_dead_space_x86(void **state)
{
	assert_int_equal(asid_reuse_scenario(TLBB_SIM_X86, 0), 0);
}

static void recycled_asid_without_release_reads_freed_frames_x86(void **state)
{
	assert_true(asid_reuse_scenario(TLBB_SIM_X86, TLBB_SIM_FAULT_NO_RELEASE) > 0);
}

/* ---- frame hand-off: the batch carries "free this after the flush" ------------ */

/*
 * The frame's descriptor embeds the release node. Its release frees the
 * frame (RETIRED), and at that very moment CPU1, which cached the page
 * before the unmap, reads it again: through a translation the flush should
 * have removed, that read is a use-after-free of the frame.
 */
struct sim_frame_desc {
	struct tlbb_release rel;
	struct world *w;
	unsigned vpn;
	bool ran;
};

static void free_frame_and_touch(struct tlbb_release *r)
{
	struct sim_frame_desc *fd =
		(struct sim_frame_desc *)(void *)((char *)r - offsetof(struct sim_frame_desc, rel));

	tlbb_sim_frame_set_state(fd->w->sim, fd->w->frame[fd->vpn], TLBB_SIM_FRAME_RETIRED);
	tlbb_sim_access(fd->w->sim, USER, VA(fd->vpn), false);
	fd->ran = true;
}

/* @on_batch false: the release is handed over as if the unmap had been synchronous. */
static uint64_t reclaim_with_release(enum tlbb_sim_model model, bool on_batch)
{
	struct world w;
	struct sim_frame_desc fd = { .w = &w, .vpn = 5 };

	world_init(&w, model, 0);
	assert_int_equal(tlbb_sim_access(w.sim, USER, VA(5), false), TLBB_SIM_WALK);
	reclaim_unmap(&w, 5);
	tlbb_batch_release(on_batch ? &w.batch : NULL, &fd.rel, free_frame_and_touch);
	tlbb_flush(&w.batch);
	assert_true(fd.ran);
	tlbb_sim_access(w.sim, USER, VA(5), false); /* and after the flush */
	return world_fini(&w);
}

static void release_after_the_batch_flush_frees_an_untranslated_frame_arm64(void **state)
{
	assert_int_equal(reclaim_with_release(TLBB_SIM_ARM64, true), 0);
}

static void release_after_the_batch_flush_frees_an_untranslated_frame_x86(void **state)
{
	assert_int_equal(reclaim_with_release(TLBB_SIM_X86, true), 0);
}

static void release_before_the_flush_is_a_use_after_free_arm64(void **state)
{
	assert_true(reclaim_with_release(TLBB_SIM_ARM64, false) > 0);
}

static void release_before_the_flush_is_a_use_after_free_x86(void **state)
{
	assert_true(reclaim_with_release(TLBB_SIM_X86, false) > 0);
}

/* ---- the oracle itself ------------------------------------------------------- */

/* A fill that races a change reads the new PTE: never a false stale. */
static void claim_does_not_flag_translations_filled_after_the_change(void **state)
{
	struct world w;

	world_init(&w, TLBB_SIM_ARM64, 0);
	tlbb_sim_pte_set(&w.ss, 3, w.frame[3], false);
	tlbb_sim_claim_clean(&w.ss, 3);
	assert_int_equal(tlbb_sim_access(w.sim, USER, VA(3), false), TLBB_SIM_WALK);
	assert_int_equal(tlbb_sim_access(w.sim, USER, VA(3), false), TLBB_SIM_HIT);
	assert_int_equal(tlbb_sim_access(w.sim, USER, VA(3), true), TLBB_SIM_FAULT);
	assert_int_equal(world_fini(&w), 0);
}

/*
 * A thread that never entered a CPU has no CPU to run a hook on (no issuing
 * CPU for a TLBI, no "self" for an IPI round). It used to act as CPU 0 in
 * silence; now it is an error: counted, and reported to the config's
 * handler (by default: print and abort). Here the handler records the call;
 * the reclaim then runs the widest way, so nothing is left stale.
 */
static const char *no_cpu_call;

static void record_no_cpu(struct tlbb_sim *sim, const char *call)
{
	(void)sim;
	if (!no_cpu_call)
		no_cpu_call = call;
}

/* CPU 1 caches page 1; the calling thread reclaims it, with or without entering CPU 0. */
static struct tlbb_sim_stats reclaim_on_thread(enum tlbb_sim_model model, bool enter)
{
	struct tlbb_sim_config cfg = { .ncpus = 2, .model = model, .on_no_cpu = record_no_cpu };
	struct tlbb_sim *sim;
	struct tlbb_sim_space ss;
	struct tlbb_batch b;
	struct tlbb_sim_stats st;
	int f;

	tlbb_sim_cpu_enter(NULL, 0); /* whatever this thread acted as before: nothing now */
	sim = tlbb_sim_create(&cfg);
	assert_non_null(sim);
	assert_int_equal(tlbb_sim_space_init(sim, &ss, 1, 4), TLBB_OK);
	f = tlbb_sim_frame_alloc(sim);
	tlbb_sim_pte_set(&ss, 1, (unsigned)f, true);
	tlbb_sim_switch_to(sim, 1, &ss);
	assert_int_equal(tlbb_sim_access(sim, 1, 0x1000, false), TLBB_SIM_WALK);
	if (enter)
		tlbb_sim_cpu_enter(sim, 0);
	no_cpu_call = NULL;
	tlbb_batch_init(&b);
	tlbb_sim_pte_clear(&ss, 1);
	assert_int_equal(tlbb_add_page(&b, &ss.space, 0x1000, TLBB_ADD_WRITABLE), TLBB_OK);
	tlbb_flush(&b);
	tlbb_sim_frame_set_state(sim, (unsigned)f, TLBB_SIM_FRAME_RETIRED);
	tlbb_sim_access(sim, 1, 0x1000, false);
	tlbb_sim_get_stats(sim, &st);
	tlbb_sim_cpu_enter(sim, 0);
	tlbb_sim_space_fini(&ss);
	tlbb_sim_destroy(sim);
	return st;
}

static void add_on_a_thread_that_never_entered_a_cpu_is_an_error(void **state)
{
	for (int m = TLBB_SIM_ARM64; m <= TLBB_SIM_X86; m++) {
		struct tlbb_sim_stats st = reclaim_on_thread((enum tlbb_sim_model)m, false);

		assert_true(st.no_cpu_calls >= 1);
		assert_non_null(no_cpu_call);
		assert_int_equal(st.stale, 0); /* run the widest way: never under-flushed */
	}
}

/* The control: the same reclaim on a thread that entered CPU 0 is no error. */
static void add_on_an_entered_thread_is_no_error(void **state)
{
	for (int m = TLBB_SIM_ARM64; m <= TLBB_SIM_X86; m++) {
		struct tlbb_sim_stats st = reclaim_on_thread((enum tlbb_sim_model)m, true);

		assert_int_equal(st.no_cpu_calls, 0);
		assert_null(no_cpu_call);
		assert_int_equal(st.stale, 0);
	}
}

/* Without a handler the error stops the program (in a child, so the test survives). */
static void no_cpu_error_without_handler_aborts(void **state)
{
	int status;
	pid_t pid;

	if (getenv("TLBB_UNDER_QEMU_USER"))
		skip(); /* qemu-user hangs on abort() in a forked child; the native build runs it */
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct tlbb_sim_config cfg = { .ncpus = 2, .model = TLBB_SIM_ARM64 };
		struct tlbb_sim *sim;
		struct tlbb_sim_space ss;
		struct tlbb_batch b;

		tlbb_sim_cpu_enter(NULL, 0);
		sim = tlbb_sim_create(&cfg);
		if (!sim || tlbb_sim_space_init(sim, &ss, 1, 4) != TLBB_OK)
			_exit(2);
		tlbb_batch_init(&b);
		tlbb_add_page(&b, &ss.space, 0x1000, 0);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void cpu_enter_out_of_range_is_refused(void **state)
{
	struct tlbb_sim_config cfg = { .ncpus = 2, .model = TLBB_SIM_ARM64 };
	struct tlbb_sim *sim = tlbb_sim_create(&cfg);

	assert_non_null(sim);
	assert_int_equal(tlbb_sim_cpu_enter(sim, 1), TLBB_OK);
	assert_int_equal(tlbb_sim_current_cpu(sim), 1);
	assert_int_equal(tlbb_sim_cpu_enter(sim, 2), TLBB_EINVAL);
	assert_int_equal(tlbb_sim_current_cpu(sim), TLBB_SIM_NO_CPU);
	tlbb_sim_destroy(sim);
}

static void sim_rejects_bad_configs(void **state)
{
	struct tlbb_sim_config cfg = { .ncpus = 0 };

	assert_null(tlbb_sim_create(&cfg));
	cfg.ncpus = TLBB_SIM_MAX_CPUS + 1;
	assert_null(tlbb_sim_create(&cfg));
	cfg.ncpus = 2;
	cfg.model = (enum tlbb_sim_model)7;
	assert_null(tlbb_sim_create(&cfg));
	assert_null(tlbb_sim_create(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mprotect_race_check_kills_writable_entry_arm64),
		cmocka_unit_test(mprotect_without_race_check_writes_through_stale_entry_arm64),
		cmocka_unit_test(mprotect_race_check_kills_writable_entry_x86),
		cmocka_unit_test(mprotect_without_race_check_writes_through_stale_entry_x86),
		cmocka_unit_test(zap_race_check_drops_old_translation_arm64),
		cmocka_unit_test(zap_without_race_check_reads_old_frame_arm64),
		cmocka_unit_test(zap_race_check_drops_old_translation_x86),
		cmocka_unit_test(zap_without_race_check_reads_old_frame_x86),
		cmocka_unit_test(race_check_as_bare_dsb_leaves_remote_tlbi_incomplete_arm64),
		cmocka_unit_test(race_check_as_local_flush_misses_remote_cpu_x86),
		cmocka_unit_test(race_check_that_flushes_nothing_is_caught),
		cmocka_unit_test(dsb_on_another_cpu_completes_nothing_arm64),
		cmocka_unit_test(migration_with_switch_dsb_completes_batch_arm64),
		cmocka_unit_test(migration_without_switch_dsb_leaves_batch_incomplete_arm64),
		cmocka_unit_test(batch_flush_completes_every_page_with_one_dsb_arm64),
		cmocka_unit_test(batch_flush_completes_every_page_with_one_ipi_round_x86),
		cmocka_unit_test(batch_never_flushed_is_caught_arm64),
		cmocka_unit_test(batch_flush_without_ipis_is_caught_x86),
		cmocka_unit_test(flush_dirty_before_writeback_stops_writers),
		cmocka_unit_test(writeback_without_flush_dirty_is_caught),
		cmocka_unit_test(unaligned_range_covers_partial_pages),
		cmocka_unit_test(range_rounded_inward_is_caught),
		cmocka_unit_test(range_over_threshold_flushes_whole_space),
		cmocka_unit_test(inverted_range_still_invalidates_everything),
		cmocka_unit_test(sync_flush_is_complete_on_return),
		cmocka_unit_test(unmap_without_sync_flush_is_caught),
		cmocka_unit_test(one_batch_two_spaces_one_flush),
		cmocka_unit_test(x86_defers_only_when_another_cpu_may_cache),
		cmocka_unit_test(arm64_repeat_tlbi_erratum_disables_deferral),
		cmocka_unit_test(recycled_asid_finds_nothing_of_the_dead_space_arm64),
		cmocka_unit_test(recycled_asid_without_release_reads_freed_frames_arm64),
		cmocka_unit_test(recycled_asid_finds_nothing_of_the_dead_space_x86),
		cmocka_unit_test(recycled_asid_without_release_reads_freed_frames_x86),
		cmocka_unit_test(claim_does_not_flag_translations_filled_after_the_change),
		cmocka_unit_test(release_after_the_batch_flush_frees_an_untranslated_frame_arm64),
		cmocka_unit_test(release_before_the_flush_is_a_use_after_free_arm64),
		cmocka_unit_test(release_after_the_batch_flush_frees_an_untranslated_frame_x86),
		cmocka_unit_test(release_before_the_flush_is_a_use_after_free_x86),
		cmocka_unit_test(sim_rejects_bad_configs),
		cmocka_unit_test(add_on_a_thread_that_never_entered_a_cpu_is_an_error),
		cmocka_unit_test(add_on_an_entered_thread_is_no_error),
		cmocka_unit_test(no_cpu_error_without_handler_aborts),
		cmocka_unit_test(cpu_enter_out_of_range_is_refused),
	};
	return cmocka_run_group_tests_name("races", tests, NULL, NULL);
}
