/* SPDX-License-Identifier: MIT */
/*
 * tlbbatch sim backend: a software MMU in which a missing or misplaced flush
 * is OBSERVED, not argued about. Hosted only (pthreads, malloc).
 *
 * The model:
 *   - CPUs (any thread can act as one: tlbb_sim_cpu_enter()) each have an
 *     ASID-tagged TLB that fills from the page tables on access or
 *     speculatively (tlbb_sim_prefetch()) whenever a space is active there.
 *   - Page tables are owned by the test (tlbb_sim_pte_*()); a cleared PTE is
 *     immediately visible to walkers, but TLB entries filled from it stay.
 *   - Physical frames carry an oracle state. The test moves a frame to
 *     TLBB_SIM_FRAME_RO or TLBB_SIM_FRAME_RETIRED exactly when a real kernel
 *     would rely on the protocol (mprotect returned; the frame was freed);
 *     any later access through the TLB that the state forbids is a STALE
 *     access and is counted. That is the checker.
 *   - Two invalidation models:
 *       TLBB_SIM_ARM64: a TLBI is broadcast but stays INCOMPLETE in the
 *         issuing CPU's queue until that same CPU executes a DSB. A DSB on
 *         another CPU completes nothing of it (Arm ARM; Linux's 2025 fix).
 *       TLBB_SIM_X86: no broadcast. A CPU's TLB changes only by its own
 *         INVLPG/flush, or when an IPI reaches it.
 *   - Fault switches (TLBB_SIM_FAULT_*) remove one step of the protocol so
 *     every safety test has a negative control that must see STALE > 0.
 *
 * HOW A TEST DRIVES IT (the rules a false alarm or a missed bug comes from)
 *
 *   Spaces: set a sim space up with tlbb_sim_space_init(), not the
 *   tlbb_space_init() of the README: it allocates the page table and binds
 *   the space to this sim's backend (ss->space is the core space to pass to
 *   tlbb_add_*(), tlbb_flush_pending(), ...). End it with
 *   tlbb_sim_space_fini().
 *
 *   CPUs: every thread that calls into the core (add, flush, race check,
 *   should_defer, tlbb_sim_space_fini()) must first have called
 *   tlbb_sim_cpu_enter(): the hooks run "on the calling CPU" (arm64: whose
 *   DSB completes its TLBIs; x86: which CPU is "self"). A hook on a thread
 *   that never entered a CPU of this sim is an ERROR: counted in
 *   no_cpu_calls, then the sim prints the call to stderr and aborts, or
 *   calls config.on_no_cpu if set (and runs the hook the widest way).
 *   tlbb_sim_access() / _prefetch() name their CPU explicitly and need no
 *   enter.
 *
 *   Frame states, in the order a kernel relies on them:
 *     - LIVE before a PTE pointing at the frame becomes valid or writable
 *       again (alloc returns it LIVE): a fill from the new PTE must not hit
 *       an RO or RETIRED frame, or the access is counted stale.
 *     - RO only after the change that made it read-only has returned, i.e.
 *       after the PTE change AND the race check / TLB maintenance
 *       (mprotect returned, writeback begins).
 *     - RETIRED only after tlbb_flush() of the batch that holds the page
 *       (or after a race check that flushed) has returned: the frame is
 *       freed. Setting it earlier is exactly the bug the checker reports.
 *
 *   Claims (tlbb_sim_claim_clean()) are judged against the page's CURRENT
 *   PTE version: every translation filled from an older version becomes
 *   stale. Make the claim under the page-table lock, right after your own
 *   change and its TLB maintenance: outside the lock, a later change by
 *   another thread (a reclaimer's clear whose batch is still unflushed) may
 *   already have bumped the version, and the claim would wrongly cover it.
 *
 *   The x86-like model is coarser than the hardware: an IPI of a batch
 *   flush empties the target CPU's whole TLB (every space), the race
 *   check's IPI all of the space's entries. So it checks WHO is reached
 *   and when, not WHICH pages; the real x86-64 backend's per-page choices
 *   are checked by its recorder and fuzzer (docs/x86fuzz.md).
 *
 *   Thread safety: tlbb_sim_access(), _prefetch(), _tlb_has(), _pte_*(),
 *   _claim_clean(), _frame_*(), _dsb(), _outstanding(), _switch_to(),
 *   _set_faults(), _get_stats() and the core calls (each on its own
 *   entered CPU) may run concurrently. tlbb_sim_create(), _destroy(),
 *   _space_init(), _space_fini() and _reset_stats() may not run with
 *   anything else on that sim (space_fini: nothing else on that space,
 *   and no CPU may be accessing it). Two threads acting as the same CPU
 *   at once are not a model of anything.
 */
#ifndef TLBBATCH_SIM_H
#define TLBBATCH_SIM_H

#include <tlbbatch/backend.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TLBB_SIM_MAX_CPUS 32

enum tlbb_sim_model {
	TLBB_SIM_ARM64 = 0,
	TLBB_SIM_X86 = 1,
};

/* Negative-control switches: each removes one step. */
#define TLBB_SIM_FAULT_NO_BATCH_FLUSH 0x1u  /* tlbb_flush() completes nothing */
#define TLBB_SIM_FAULT_BARE_BARRIER 0x2u    /* race check = DSB (arm64) / local flush (x86) only */
#define TLBB_SIM_FAULT_NO_FLUSH_SPACE 0x4u  /* race check flushes nothing */
#define TLBB_SIM_FAULT_NO_IPI 0x8u          /* x86: remote CPUs never interrupted */
#define TLBB_SIM_FAULT_NO_RELEASE 0x10u     /* tlbb_space_fini() leaves the ASID's entries */

/* Config switches. */
#define TLBB_SIM_OPT_REPEAT_TLBI_ERRATUM 0x1u /* arm64: should_defer() false */

struct tlbb_sim;

struct tlbb_sim_config {
	unsigned ncpus;          /* 1..TLBB_SIM_MAX_CPUS */
	enum tlbb_sim_model model;
	unsigned tlb_entries;    /* per CPU, 0 = 64 */
	unsigned nframes;        /* physical frames, 0 = 4096, max TLBB_SIM_MAX_FRAMES */
	unsigned faults;         /* TLBB_SIM_FAULT_* */
	unsigned options;        /* TLBB_SIM_OPT_* */
	unsigned max_outstanding; /* arm64 TLBIs queued per CPU before the oldest
				     completes on its own, 0 = 4096 */
	/*
	 * A core call on a thread that entered no CPU of this sim (see "CPUs"
	 * below). NULL: print the call and abort(). A handler that returns lets
	 * the hook run for no CPU, the widest way: TLBIs complete at once
	 * everywhere, IPIs reach every CPU in the mask. Counted in no_cpu_calls.
	 */
	void (*on_no_cpu)(struct tlbb_sim *sim, const char *call);
};

enum tlbb_sim_frame_state {
	TLBB_SIM_FRAME_FREE = 0,    /* not handed out; any access is stale */
	TLBB_SIM_FRAME_LIVE = 1,    /* reads and writes allowed */
	TLBB_SIM_FRAME_RO = 2,      /* writes are stale (mprotect returned) */
	TLBB_SIM_FRAME_RETIRED = 3, /* any access is stale (frame freed) */
};

enum tlbb_sim_access_result {
	TLBB_SIM_HIT = 0,    /* translated by a TLB entry, allowed */
	TLBB_SIM_WALK = 1,   /* TLB miss, walked and filled, allowed */
	TLBB_SIM_FAULT = 2,  /* no valid translation (or no write permission) */
	TLBB_SIM_STALE = 3,  /* translated to a frame whose state forbids it */
};

struct tlbb_sim_stats {
	uint64_t tlbi_ops;     /* arm64: TLBI instructions issued */
	uint64_t dsb;          /* arm64: completing barriers (DSB ISH) */
	uint64_t dsb_ishst;    /* arm64: store barriers before TLBIs */
	uint64_t ipi_rounds;   /* x86: send-and-wait rounds */
	uint64_t ipis;         /* x86: interrupts delivered */
	uint64_t local_flushes;/* local invalidations (x86 INVLPG/CR3, arm64: none) */
	uint64_t batch_flushes;/* backend flush() calls */
	uint64_t space_flushes;/* backend flush_space() calls (race checks that flushed) */
	uint64_t accesses, hits, walks, faults, stale;
	uint64_t no_cpu_calls; /* core calls on a thread that entered no CPU (an error) */
	/* first stale access, for diagnostics */
	unsigned first_stale_cpu;
	uintptr_t first_stale_va;
	unsigned first_stale_frame;
};

struct tlbb_sim;

/* A space of the sim: a core space plus a flat single-level page table. */
struct tlbb_sim_space {
	struct tlbb_space space;
	struct tlbb_sim *sim;
	uint64_t *pte;  /* npages PTEs, atomic */
	uint64_t *claim; /* per page: PTE version below which entries are stale */
	size_t npages;
	tlbb_cpumask_t cpus; /* the space's CPU mask (space.cpus points here) */
};

/* Creation; returns NULL if the config is out of range or memory is short. */
TLBB_API struct tlbb_sim *tlbb_sim_create(const struct tlbb_sim_config *cfg);
TLBB_API void tlbb_sim_destroy(struct tlbb_sim *sim);
TLBB_API const struct tlbb_backend *tlbb_sim_backend(struct tlbb_sim *sim);
TLBB_API unsigned tlbb_sim_ncpus(const struct tlbb_sim *sim);
TLBB_API enum tlbb_sim_model tlbb_sim_model(const struct tlbb_sim *sim);
/* Change the fault switches (between scenarios). */
TLBB_API void tlbb_sim_set_faults(struct tlbb_sim *sim, unsigned faults);

/* Spaces: @npages virtual pages starting at VA 0, granule 4 KiB. */
TLBB_API enum tlbb_status tlbb_sim_space_init(struct tlbb_sim *sim, struct tlbb_sim_space *ss, uint32_t asid,
			size_t npages);
/*
 * The space's end of life: CPUs running it are switched to no space, then
 * tlbb_space_fini() releases its ASID (a whole-space flush on every CPU that
 * ran it, so a new space given the same ASID finds nothing of this one), and
 * the page tables are freed. Its frames may be retired afterwards.
 */
TLBB_API void tlbb_sim_space_fini(struct tlbb_sim_space *ss);

/*
 * Page tables. PTE = version << 40 | frame << 12 | flags. Every change of a
 * PTE bumps its version, and a TLB entry remembers the version it was filled
 * from, so tlbb_sim_claim_clean() can tell an old translation from one
 * filled after the change (no false positives for fills racing a change).
 */
#define TLBB_SIM_PTE_VALID 0x1u
#define TLBB_SIM_PTE_WRITE 0x2u
#define TLBB_SIM_PTE_DIRTY 0x4u
#define TLBB_SIM_PTE_VERSION_SHIFT 40
#define TLBB_SIM_MAX_FRAMES (1u << 28)
TLBB_API void tlbb_sim_pte_set(struct tlbb_sim_space *ss, size_t vpn, unsigned frame, bool writable);
/* Clear and return the old PTE (0 if none). */
TLBB_API uint64_t tlbb_sim_pte_clear(struct tlbb_sim_space *ss, size_t vpn);
TLBB_API uint64_t tlbb_sim_pte_get(const struct tlbb_sim_space *ss, size_t vpn);
TLBB_API void tlbb_sim_pte_protect(struct tlbb_sim_space *ss, size_t vpn, bool writable);
static inline unsigned tlbb_sim_pte_frame(uint64_t pte)
{
	return (unsigned)((pte >> 12) & (TLBB_SIM_MAX_FRAMES - 1));
}

/*
 * The changer's claim: "my PTE change of @vpn has returned (zap, munmap,
 * mprotect, migration); no CPU may still use a translation of @vpn filled
 * from an older PTE". Any later access through such an entry is STALE.
 */
TLBB_API void tlbb_sim_claim_clean(struct tlbb_sim_space *ss, size_t vpn);

/* Frames. alloc returns a FREE frame made LIVE, or -1. */
TLBB_API int tlbb_sim_frame_alloc(struct tlbb_sim *sim);
TLBB_API void tlbb_sim_frame_set_state(struct tlbb_sim *sim, unsigned frame, enum tlbb_sim_frame_state st);
TLBB_API enum tlbb_sim_frame_state tlbb_sim_frame_state(struct tlbb_sim *sim, unsigned frame);
/* RETIRED -> FREE: the frame may be handed out again by alloc. */
TLBB_API void tlbb_sim_frame_recycle(struct tlbb_sim *sim, unsigned frame);

/* tlbb_sim_current_cpu() of a thread that acts as no CPU of the sim. */
#define TLBB_SIM_NO_CPU (~0u)
/*
 * CPUs. The calling thread acts as @cpu from now on. A @cpu out of range
 * (or a NULL sim) answers TLBB_EINVAL and leaves the thread acting as no
 * CPU, so its next core call is the no-CPU error instead of running on a
 * wrong CPU.
 */
TLBB_API enum tlbb_status tlbb_sim_cpu_enter(struct tlbb_sim *sim, unsigned cpu);
/* The CPU the calling thread acts as, TLBB_SIM_NO_CPU if it never entered one. */
TLBB_API unsigned tlbb_sim_current_cpu(const struct tlbb_sim *sim);
/*
 * Move the calling thread to @cpu. If @switch_barrier, the CPU being left
 * first executes DSB ISH (the arm64 port's context-switch duty; see the
 * issuing-CPU rule). Without it, TLBIs that CPU issued stay incomplete.
 * Answers as tlbb_sim_cpu_enter().
 */
TLBB_API enum tlbb_status tlbb_sim_migrate(struct tlbb_sim *sim, unsigned cpu, bool switch_barrier);
/* Make @ss the space running on @cpu (and mark @cpu in its mask). */
TLBB_API void tlbb_sim_switch_to(struct tlbb_sim *sim, unsigned cpu, struct tlbb_sim_space *ss);
/* @cpu accesses @va of its active space. */
TLBB_API enum tlbb_sim_access_result tlbb_sim_access(struct tlbb_sim *sim, unsigned cpu, uintptr_t va,
					    bool write);
/* @cpu speculatively fills a TLB entry for @va if its PTE is valid. */
TLBB_API void tlbb_sim_prefetch(struct tlbb_sim *sim, unsigned cpu, uintptr_t va);
/* Does @cpu's TLB hold a translation of @va for @asid? */
TLBB_API bool tlbb_sim_tlb_has(struct tlbb_sim *sim, unsigned cpu, uint32_t asid, uintptr_t va);
/* arm64 model: TLBIs issued by @cpu not yet completed. */
TLBB_API unsigned tlbb_sim_outstanding(struct tlbb_sim *sim, unsigned cpu);
/* arm64 model: @cpu executes DSB ISH (completes only @cpu's own TLBIs). */
TLBB_API void tlbb_sim_dsb(struct tlbb_sim *sim, unsigned cpu);

TLBB_API void tlbb_sim_get_stats(struct tlbb_sim *sim, struct tlbb_sim_stats *out);
TLBB_API void tlbb_sim_reset_stats(struct tlbb_sim *sim);

#ifdef __cplusplus
}
#endif

#endif /* TLBBATCH_SIM_H */
