/* SPDX-License-Identifier: MIT */
/*
 * tlbbatch vcpu backend — batched remote invalidation of software TLBs for
 * emulators and userspace VMMs, on liburcu's QSBR flavour.
 *
 * WHO IT IS FOR
 *
 *   A program that runs guest code on vCPU threads, each translating guest
 *   addresses through its own software TLB (QEMU's cputlb is the best-known
 *   case). When guest memory is reclaimed, remapped or migrated, every vCPU
 *   TLB that may hold the old translation must be invalidated before the
 *   host frame is reused. Done page by page with a synchronous cross-thread
 *   request (QEMU: tlb_flush_page_all_cpus_synced) that is one round trip to
 *   every vCPU per page. With this backend it is one grace period per batch.
 *
 * THE MODEL
 *
 *   - A host (struct tlbb_vcpu_host) owns a backend (tlbb_vcpu_backend())
 *     and up to max_vcpus vCPU slots. Spaces (guest ASIDs, or one per VM)
 *     are ordinary struct tlbb_space objects initialised with that backend.
 *   - A vCPU thread registers itself (tlbb_vcpu_register()): it becomes a
 *     liburcu QSBR reader and gets a vCPU id below TLBB_MAX_CPUS and a
 *     software TLB: set-associative, tagged by (ASID, virtual page number),
 *     each entry holding a 64-bit payload of the consumer's choosing (a
 *     host pointer, a frame number). Only that thread touches its TLB.
 *   - Between translated blocks the vCPU reaches a safe point and calls
 *     tlbb_vcpu_quiescent(): it reports an RCU quiescent state and then
 *     applies the invalidations posted to it, if a flush has started since
 *     its last drain (a host-wide flush sequence number moved) or its
 *     mailbox is half full. Posts of a batch still being built are so
 *     applied once, when its flush asks, not one lock round trip per post.
 *   - A vCPU that idles (halt, WFI, blocking I/O) calls tlbb_vcpu_offline();
 *     it is never waited for, and tlbb_vcpu_online() applies everything
 *     posted meanwhile before the thread may translate again (the lazy-TLB
 *     case).
 *   - tlbb_add_*() (the core) calls this backend's add(): it records the
 *     space's vCPU mask in the batch (as x86 does) and posts the precise
 *     page invalidations to each of those vCPUs' mailboxes. tlbb_flush()
 *     then waits for ONE grace period (urcu_qsbr_synchronize_rcu()) for the
 *     whole batch, and skips even that when no target vCPU is online.
 *   - Frames whose PTEs a batch cleared are handed back with
 *     tlbb_vcpu_defer(): the callback runs inside tlbb_flush(), after the
 *     grace period, so no vCPU can touch a recycled frame.
 *   - The consumer may keep its own TLB instead of (or besides) the
 *     built-in one: config.invalidate is called on the vCPU thread, at its
 *     safe point, for every posted invalidation.
 *
 * WHY ONE GRACE PERIOD IS ENOUGH (the ordering argument)
 *
 *   Flusher: clear PTE; post op to each vCPU mailbox;   [add]
 *            bump flush_seq; synchronize_rcu();          [flush]
 *            free the frame.
 *   vCPU:    ... translate through an entry, access the frame ...
 *            report quiescent state; THEN load flush_seq and, if it
 *            moved, apply the mailbox; next block.
 *
 *   synchronize_rcu() returns only after every online vCPU reported a
 *   quiescent state that observed the new grace-period counter, which the
 *   flusher wrote after posting. Every access the vCPU made before that
 *   report happens before the flusher's return (so before the free). Every
 *   access after it comes after the flush_seq load that follows the report;
 *   that load sees the bump (barriers on both sides), so the vCPU drains,
 *   the drain sees the post, and the stale entry is gone before the vCPU
 *   translates again. Checking BEFORE reporting would be wrong: a flush
 *   starting between the check and the report would count the vCPU as
 *   done although it never saw the flush (TLBB_VCPU_FAULT_DRAIN_BEFORE_QS
 *   is that bug, and the stress test's negative control catches it).
 *
 *   Offline vCPUs: a vCPU publishes "offline" after its last access
 *   (release), and on coming back publishes "online" (seq_cst store) and
 *   only then loads its mailbox flag (seq_cst). The flusher sets the flag
 *   (seq_cst store) and then reads the state (seq_cst load). In the single
 *   total order one sees the other: either the flusher sees the vCPU
 *   online (and waits for it) or the vCPU's unconditional drain at online
 *   sees the post. A vCPU read as offline is not waited for at all.
 *
 *   vCPUs entering a space: tlbb_vcpu_enter_space() sets the vCPU's bit in
 *   the space's mask and issues a full barrier before the vCPU's first walk;
 *   add() issues a full barrier between the caller's PTE clear and its read
 *   of the mask. Either the flusher posts to the vCPU, or the vCPU's walk
 *   sees the cleared PTE.
 *
 * RULES FOR THE CONSUMER
 *
 *   1. Walk guest page tables without blocking locks, loading PTEs with at
 *      least acquire semantics (as a hardware walker would). Never call
 *      tlbb_flush()/tlbb_flush_pending() while holding a lock a vCPU may
 *      wait for while online: the flush waits for every online vCPU to
 *      reach a safe point. A vCPU that must block goes offline first. When
 *      vCPUs take the page-table lock themselves, the race check is
 *      tlbb_vcpu_flush_pending_relock(), which never waits holding it.
 *   2. Translate (tlbb_vcpu_tlb_lookup()/_fill()) and access frames only
 *      while online, between safe points. Call tlbb_vcpu_enter_space()
 *      before the first walk of a space.
 *   3. Call tlbb_vcpu_quiescent() often (every translated block). A grace
 *      period lasts until the slowest online vCPU gets there.
 *   4. Release frames only from a tlbb_vcpu_defer() callback, or after a
 *      tlbb_flush() of the batch holding them has returned.
 *   5. A thread registers with at most one host. It must not already be a
 *      urcu-qsbr reader (this backend registers it), unless it shares the
 *      emulator's registration: TLBB_VCPU_REG_URCU_SHARED and its rules.
 *   6. Reusing an ASID for a new space: tlbb_add_space() + tlbb_flush()
 *      (or tlbb_flush_pending()) of the old one first.
 *
 * THREAD SAFETY / SYNCHRONIZATION
 *
 *   function                    called from            may block  waits for
 *   tlbb_vcpu_host_create()     any thread             no         -
 *   tlbb_vcpu_host_destroy()    any, all vCPUs gone    no         -
 *   tlbb_vcpu_register()        the vCPU thread        briefly    -
 *   tlbb_vcpu_unregister()      the vCPU thread        briefly    -
 *   tlbb_vcpu_enter_space()     the vCPU thread        no         -
 *   tlbb_vcpu_tlb_lookup()      the vCPU, online       no         -
 *   tlbb_vcpu_tlb_fill()        the vCPU, online       no         -
 *   tlbb_vcpu_quiescent()       the vCPU, online       no         -
 *   tlbb_vcpu_offline()         the vCPU, online       no         -
 *   tlbb_vcpu_online()          the vCPU, offline      no         -
 *   tlbb_add_*() (core)         any thread             no (*)     -
 *   tlbb_flush() (core)         any thread (**)        yes        one grace period
 *   tlbb_flush_pending() (core) any thread (**)        yes        one grace period
 *   tlbb_vcpu_defer()           batch owner            yes (***)  -
 *   tlbb_vcpu_flush_pending_relock()
 *                               any thread, lock held  yes        one grace period per
 *                                                                 round, lock dropped
 *   tlbb_vcpu_get_stats()       any thread             no         -
 *
 *   (*)   takes each target vCPU's mailbox mutex briefly.
 *   (**)  including a vCPU thread (it is taken offline for the wait by
 *         liburcu, and applies its own invalidations inline); never while
 *         holding a lock vCPUs take while online.
 *   (***) only when the batch is empty: then it waits a grace period and
 *         runs the callback at once.
 *
 *   Lookups and fills are lock-free and touch only the calling vCPU's TLB.
 *   Posting takes a per-vCPU mutex; draining takes it once per safe point
 *   at which a flush asked and something was posted (atomics are checked
 *   first, so an idle mailbox costs two loads per safe point).
 *
 * LICENSING NOTE
 *
 *   The backend calls liburcu (LGPL-2.1) through its shared library only
 *   (_LGPL_SOURCE is not defined), so programs linking tlbbatch stay free
 *   of LGPL inline code.
 */
#ifndef TLBBATCH_VCPU_H
#define TLBBATCH_VCPU_H

#include <tlbbatch/backend.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tlbb_vcpu_host;
struct tlbb_vcpu;

/*
 * Consumer TLB invalidation, called on the vCPU thread at its safe point
 * (inside tlbb_vcpu_quiescent(), tlbb_vcpu_online(), or the vCPU's own
 * tlbb_flush()): drop translations of pages [vpn, vpn + npages) of @asid.
 * npages == 0: all of @asid. asid == TLBB_VCPU_ALL_ASIDS: everything.
 * @arg is the vCPU's own (tlbb_vcpu_register_as()) or else the host's
 * config.invalidate_arg.
 *
 * UNITS. The core's calls (tlbb_add_*(), tlbb_flush_range_sync()) and the
 * built-in TLB (tlbb_vcpu_tlb_lookup()/_fill()) take guest BYTE addresses;
 * this callback gets PAGE NUMBERS, vpn = byte address >> page_shift, and a
 * page count: the callback is handed the backend's posted ops as they are,
 * page-granular, so that a range costs one call. page_shift is the host's
 * (config.page_shift, default 12), and tlbb_vcpu_space_init() gives every
 * space that same granule: the core rounds a byte range outward to it, so
 * [vpn, vpn + npages) covers every byte the caller cleared. A consumer
 * whose own TLB uses a smaller page than the host's must invalidate each
 * of its pages inside that range; a larger one rounds outward too. Do not
 * change a vcpu space's granule with tlbb_space_set_granule() afterwards:
 * the posted ops would no longer be in host pages.
 */
#define TLBB_VCPU_ALL_ASIDS UINT32_MAX
typedef void (*tlbb_vcpu_invalidate_fn)(struct tlbb_vcpu *v, uint32_t asid, uint64_t vpn,
					uint64_t npages, void *arg);

/* Config flags. */
#define TLBB_VCPU_NO_BUILTIN_TLB 0x1u /* only config.invalidate: lookup/fill unused */

/*
 * Negative-control switches for tests: each removes one step of the
 * protocol so that a checker must see stale accesses. They exist only in a
 * library compiled with -DTLBB_VCPU_FAULT_INJECTION (the test suites' own
 * build of the core and this backend); the installed library has no such
 * code on its paths, and its tlbb_vcpu_host_new() refuses (NULL) a config
 * whose faults is not 0.
 */
#define TLBB_VCPU_FAULT_NO_POST 0x1u         /* add()/flush_space() post nothing */
#define TLBB_VCPU_FAULT_NO_GRACE_PERIOD 0x2u /* flushes never wait for vCPUs */
#define TLBB_VCPU_FAULT_NO_ONLINE_DRAIN 0x4u /* online() keeps what was posted */
#define TLBB_VCPU_FAULT_DRAIN_BEFORE_QS 0x8u /* safe point drains, THEN reports */
/*
 * The flusher-side store-buffering fences (tests/vcpu/litmus_sb.c): add() /
 * flush_space() read the space's cpumask without first ordering the
 * caller's PTE clear before that read. The check is a plain load of the
 * switch, no barrier, so a run with the switch set behaves like the fence
 * deleted from the source (which is what tools/mutate does).
 */
#define TLBB_VCPU_FAULT_NO_ADD_FENCE 0x10u   /* add(): no fence before the mask read */
#define TLBB_VCPU_FAULT_NO_SPACE_FENCE 0x20u /* flush_space(): likewise */

struct tlbb_vcpu_config {
	unsigned max_vcpus;       /* 1..TLBB_MAX_CPUS; 0 = TLBB_MAX_CPUS */
	unsigned tlb_sets;        /* power of two, 1..65536; 0 = 64 */
	unsigned tlb_ways;        /* 1..64; 0 = 4 */
	unsigned mailbox_entries; /* posted ops per vCPU before it degrades to a
				     full flush; 1..65536; 0 = 256 */
	unsigned page_shift;      /* TLB granule, 12..30; 0 = 12 */
	unsigned flags;           /* TLBB_VCPU_NO_BUILTIN_TLB */
	tlbb_vcpu_invalidate_fn invalidate; /* optional (required with NO_BUILTIN_TLB) */
	void *invalidate_arg;     /* for vCPUs registered without their own */
	unsigned faults;          /* TLBB_VCPU_FAULT_*: 0 unless fault-injection build */
};

struct tlbb_vcpu_stats {
	uint64_t batch_flushes;   /* backend flush() calls */
	uint64_t space_flushes;   /* flush_space() calls (race checks that flushed) */
	uint64_t grace_periods;   /* synchronize_rcu() calls: the flush rounds */
	uint64_t gp_skipped;      /* flushes that needed no grace period (no target online) */
	uint64_t posts;           /* invalidation ops posted to vCPU mailboxes */
	uint64_t mailbox_overflows; /* posts that degraded a mailbox to a full flush */
	uint64_t deferred_run;    /* tlbb_vcpu_defer() callbacks run */
	/* summed over vCPU slots (current and past registrations) */
	uint64_t lookups, hits, fills;
	uint64_t ops_applied;     /* mailbox ops applied by vCPUs */
	uint64_t full_flushes;    /* whole-TLB flushes applied (overflow) */
	uint64_t online_drains;   /* online() calls that found posts waiting */
};

/* ---- host ------------------------------------------------------------------ */

/* NULL if @cfg is out of range or memory is short. @cfg NULL = defaults. */
TLBB_API struct tlbb_vcpu_host *tlbb_vcpu_host_create(const struct tlbb_vcpu_config *cfg);
/* Every vCPU must have unregistered. */
TLBB_API void tlbb_vcpu_host_destroy(struct tlbb_vcpu_host *h);
TLBB_API const struct tlbb_backend *tlbb_vcpu_backend(struct tlbb_vcpu_host *h);
/* tlbb_space_init() with this host's backend and granule. */
TLBB_API enum tlbb_status tlbb_vcpu_space_init(struct tlbb_vcpu_host *h, struct tlbb_space *s, uint32_t asid,
				  void *owner);
#ifdef TLBB_VCPU_FAULT_INJECTION
TLBB_API void tlbb_vcpu_set_faults(struct tlbb_vcpu_host *h, unsigned faults);
#endif
TLBB_API void tlbb_vcpu_get_stats(struct tlbb_vcpu_host *h, struct tlbb_vcpu_stats *out);
TLBB_API void tlbb_vcpu_reset_stats(struct tlbb_vcpu_host *h);

/* ---- vCPU thread side ------------------------------------------------------ */

/*
 * Register the calling thread as a vCPU of @h: a urcu-qsbr reader, online,
 * with an empty TLB and the lowest free id. NULL if every slot is taken, the
 * thread is already a vCPU, or it is already an (online) urcu-qsbr reader
 * (then use tlbb_vcpu_register_as() with TLBB_VCPU_REG_URCU_SHARED).
 */
TLBB_API struct tlbb_vcpu *tlbb_vcpu_register(struct tlbb_vcpu_host *h);

/* Register options for an emulator that brings its own numbering and RCU. */
#define TLBB_VCPU_ID_ANY (~0u)
/*
 * The thread is already a registered, online urcu-qsbr reader: the
 * emulator's own registration (it uses liburcu-qsbr for its own RCU, and a
 * thread cannot register twice). The backend then neither registers nor
 * unregisters it, and the one registration serves both users. Rules, as
 * the one reader has two users:
 *   - every quiescent state the thread reports goes through
 *     tlbb_vcpu_quiescent() (it reports it for both and then drains); a bare
 *     urcu_qsbr_quiescent_state() lets a grace period end while this vCPU
 *     still holds the translations the flusher posted it to drop;
 *   - going idle and back is tlbb_vcpu_offline()/_online(), never the bare
 *     urcu_qsbr_thread_offline()/_online();
 *   - after the emulator's own urcu_qsbr_synchronize_rcu() (or rcu_barrier)
 *     on a vCPU thread, which takes it offline and online inside liburcu,
 *     call tlbb_vcpu_quiescent() before the next translation;
 *   - the emulator's RCU read-side sections end at each of these calls, as
 *     they would at its own quiescent states.
 * tlbb_vcpu_unregister() leaves the thread registered and online; the
 * emulator unregisters it itself, after.
 */
#define TLBB_VCPU_REG_URCU_SHARED 0x1u

struct tlbb_vcpu_register_args {
	unsigned id;          /* the emulator's CPU number, < max_vcpus; TLBB_VCPU_ID_ANY: lowest free */
	unsigned flags;       /* TLBB_VCPU_REG_* */
	void *invalidate_arg; /* this vCPU's argument to config.invalidate; NULL: the host's */
};

/*
 * tlbb_vcpu_register() with @args (NULL = its defaults). NULL if @args->id
 * is out of range or taken, a flag is unknown, the thread is already a vCPU,
 * or its urcu-qsbr state does not match the flag (without it: must not be a
 * reader yet; with it: must be a registered, online reader).
 */
TLBB_API struct tlbb_vcpu *tlbb_vcpu_register_as(struct tlbb_vcpu_host *h,
						 const struct tlbb_vcpu_register_args *args);
/* The calling thread stops being a vCPU; it must not use its TLB again. */
TLBB_API void tlbb_vcpu_unregister(struct tlbb_vcpu *v);
/* The calling thread's vCPU, or NULL. */
TLBB_API struct tlbb_vcpu *tlbb_vcpu_self(void);
TLBB_API unsigned tlbb_vcpu_id(const struct tlbb_vcpu *v);
TLBB_API struct tlbb_vcpu_host *tlbb_vcpu_host_of(const struct tlbb_vcpu *v);

/* The vCPU may now cache @s: mark it in s->cpus. Before its first walk of @s. */
TLBB_API void tlbb_vcpu_enter_space(struct tlbb_vcpu *v, struct tlbb_space *s);

/*
 * Safe point (between translated blocks): report a quiescent state, then
 * apply the invalidations posted to this vCPU. No translation obtained
 * before this call may be used after it.
 */
TLBB_API void tlbb_vcpu_quiescent(struct tlbb_vcpu *v);
/* Going idle: flushers stop waiting for this vCPU. No TLB use until online. */
TLBB_API void tlbb_vcpu_offline(struct tlbb_vcpu *v);
/* Back from idle: apply what was posted while offline, then translate again. */
TLBB_API void tlbb_vcpu_online(struct tlbb_vcpu *v);
TLBB_API bool tlbb_vcpu_is_online(const struct tlbb_vcpu *v);

/*
 * Built-in TLB. Look up @va (a byte address) in @asid; on a hit store the
 * payload in *@payload and return true. A write lookup misses on a
 * read-only entry.
 */
TLBB_API bool tlbb_vcpu_tlb_lookup(struct tlbb_vcpu *v, uint32_t asid, uint64_t va, bool write,
				   uint64_t *payload);
/* Insert a translation the caller just walked (replacing any for @va). */
TLBB_API void tlbb_vcpu_tlb_fill(struct tlbb_vcpu *v, uint32_t asid, uint64_t va,
				 uint64_t payload, bool writable);
/*
 * The built-in TLB, looked up inline: for a JIT's fast path, where the call
 * into the shared library (and its statistics) of tlbb_vcpu_tlb_lookup()
 * cost more than the lookup. The vCPU thread takes a view of its own TLB
 * once, after registering (valid until it unregisters), and looks up
 * through it with the same answers as tlbb_vcpu_tlb_lookup(), minus the
 * lookups/hits counters. Owner thread only, online, like the lookup: the
 * backend changes these entries only on this same thread (fills, and the
 * drains at its safe points), so the reads need no atomics. The entry
 * layout is part of the ABI from here on.
 */
struct tlbb_vcpu_tlbe {
	uint64_t vpn;     /* va >> page_shift */
	uint64_t payload;
	uint32_t asid;
	uint8_t valid;
	uint8_t writable;
};

struct tlbb_vcpu_tlb_view {
	const struct tlbb_vcpu_tlbe *entries; /* sets * ways, set-major */
	uint64_t set_mask;                     /* sets - 1 */
	unsigned ways;
	unsigned page_shift;
};

TLBB_API void tlbb_vcpu_tlb_view(const struct tlbb_vcpu *v, struct tlbb_vcpu_tlb_view *out);

static inline bool tlbb_vcpu_tlb_lookup_inline(const struct tlbb_vcpu_tlb_view *t, uint32_t asid,
					       uint64_t va, bool write, uint64_t *payload)
{
	uint64_t vpn = va >> t->page_shift;
	const struct tlbb_vcpu_tlbe *set = &t->entries[(vpn & t->set_mask) * t->ways];

	for (unsigned w = 0; w < t->ways; w++) {
		const struct tlbb_vcpu_tlbe *e = &set[w];

		if (e->valid && e->vpn == vpn && e->asid == asid) {
			if (write && !e->writable)
				return false; /* permission miss: the caller re-walks */
			*payload = e->payload;
			return true;
		}
	}
	return false;
}

/* Valid entries for @asid (TLBB_VCPU_ALL_ASIDS: all), for tests and stats. */
TLBB_API unsigned tlbb_vcpu_tlb_count(const struct tlbb_vcpu *v, uint32_t asid);

/* ---- changer side: the race check under a lock vCPUs take ---------------- */

/*
 * The race check for an emulator whose vCPU threads take the page-table
 * lock themselves (guest page-table walks, faults). tlbb_flush_pending()
 * under that lock would wait for a grace period while holding it: a vCPU
 * blocked on the lock while online never reaches its safe point, and the
 * two wait for each other (rule 1). This one never waits with the lock held.
 *
 * Call it with the lock held (@lock(@arg) / @unlock(@arg) take and drop it),
 * where tlbb_flush_pending() would be called. If nothing is pending it
 * returns false at once, the lock never dropped. Otherwise it drops the
 * lock, runs the race check (posts, one grace period), takes the lock
 * again, and repeats while pending work for @s arrived meanwhile; it
 * returns true (it dropped the lock: anything read under it before is to
 * be read again) with the lock held and nothing pending. No lock functions
 * (NULL): the plain tlbb_flush_pending().
 *
 * Why that is the race check's guarantee: every add bumps the pending
 * generation under the lock, and a race check publishes flushed = pending
 * only for adds whose invalidations its flush completed. Pending == flushed
 * seen with the lock held therefore means every batched clear made under
 * the lock so far is complete, exactly what the inline fast path of
 * tlbb_flush_pending() concludes. The caller must not have changed PTEs of
 * @s in this critical section before the call (the lock is dropped): call
 * it first, as the race check is anyway. It retries only when reclaim of @s
 * added work during its grace period: each round is one grace period of
 * progress for that reclaim; it cannot livelock unless reclaim of @s never
 * stops.
 */
TLBB_API bool tlbb_vcpu_flush_pending_relock(struct tlbb_space *s, void (*unlock)(void *),
					     void (*lock)(void *), void *arg);

/* ---- reclaim side: ordered frame hand-off -------------------------------- */

struct tlbb_vcpu_deferred;
typedef void (*tlbb_vcpu_deferred_fn)(struct tlbb_vcpu_deferred *d);

/* Embed in the consumer's frame descriptor; the library allocates nothing. */
struct tlbb_vcpu_deferred {
	struct tlbb_vcpu_deferred *next;
	tlbb_vcpu_deferred_fn fn;
};

/*
 * Run @fn(@d) once the invalidations queued in @b so far are complete: at
 * the end of the next tlbb_flush(@b), after its grace period, in the
 * flusher's thread, in the order deferred. Call it after the tlbb_add_*()
 * of the page(s) that mapped the frame.
 *
 * Never under-protects: on an empty batch it waits a grace period and runs
 * @fn at once (TLBB_OK); on a batch of another backend it flushes @b first
 * and runs @fn (TLBB_EBACKEND); NULL @b: grace period, @fn (TLBB_EINVAL).
 */
TLBB_API enum tlbb_status tlbb_vcpu_defer(struct tlbb_batch *b, struct tlbb_vcpu_deferred *d,
			     tlbb_vcpu_deferred_fn fn);

#ifdef __cplusplus
}
#endif

#endif /* TLBBATCH_VCPU_H */
