/* SPDX-License-Identifier: MIT */
/*
 * tlbbatch — batched TLB shootdown, the protocol Linux uses in reclaim and
 * migration, as a small portable library.
 *
 * THE CONTRACT
 *
 * Objects (all caller-owned, no allocation anywhere in the library):
 *
 *   struct tlbb_space  — an address space: a process ASID/PCID, a guest
 *                        VMID, a kernel's own mapping. Holds the batched
 *                        generation word and the backend's per-space state.
 *   struct tlbb_batch  — an unmap batch, owned by ONE unmapping context (a
 *                        task, a CPU, a vCPU thread). Never shared, never
 *                        locked. May hold pages of several spaces as long as
 *                        they use the same backend.
 *   struct tlbb_backend — the arch hooks (tlbbatch/backend.h): arm64, x86-64,
 *                        the software-MMU simulator, the vCPU backend.
 *
 * The unmapping side (reclaim, migration, balloon):
 *
 *     if (!tlbb_should_defer(space)) { clear PTE; flush synchronously; }
 *     lock(PTL);
 *     old = clear PTE;                            <- caller's page table
 *     tlbb_add_page(batch, space, va, old_was_writable ? TLBB_ADD_WRITABLE : 0);
 *     unlock(PTL);
 *     ... more pages, possibly other spaces ...
 *     tlbb_flush_dirty(batch);                    <- before writeback I/O
 *     tlbb_flush(batch);                          <- before freeing frames
 *
 * The changing side (mprotect, munmap, mremap, madvise/zap, migration):
 *
 *     lock(PTL);
 *     tlbb_flush_pending(space);                  <- BEFORE looking at PTEs
 *     change PTEs, do the usual TLB maintenance for what it changed;
 *     unlock(PTL);
 *
 * Retargeting (the PTE is replaced by one to another frame: a balloon
 * handing a guest page a fresh frame, migration, compaction, a COW break)
 * follows the same rule as clearing: the old translation may live in TLBs
 * until the flush, so the replace is an unmap of the old PTE. Replace it
 * under the PTL, add the page with the flags of the OLD PTE, and reuse the
 * OLD frame only after tlbb_flush(); the new frame is visible to walkers at
 * once and needs nothing. TLBB_ADD_WRITABLE says the old PTE was writable
 * or dirty: the core records it for tlbb_flush_dirty() (writeback must not
 * start while a CPU can still write through the old entry); no backend
 * invalidates differently for it (arm64, x86-64, vcpu, sim: the same TLBI,
 * INVLPG, mailbox entry or sim op either way), so passing it when unsure
 * costs only an earlier flush_dirty.
 *
 * Why the changer must call tlbb_flush_pending(): a batched unmap leaves a
 * PTE already clear while a CPU may still hold its old (maybe writable) TLB
 * entry. The changer sees nothing present, so it does no TLB maintenance,
 * and returns while that entry is alive (mprotect keeps a writable entry;
 * zap frees nothing and flushes nothing). tlbb_flush_pending() notices
 * outstanding batched work from the generation word and flushes the whole
 * space everywhere before the changer proceeds.
 *
 * LOCKING / ORDERING CONTRACT
 *
 *   - The PTE clear and the tlbb_add_*() call for it happen under the same
 *     page-table lock (PTL) that the changer holds around
 *     tlbb_flush_pending() and its own PTE changes. The PTL is what orders
 *     "PTE cleared, invalidation queued, pending bumped" against "pending
 *     read, PTEs inspected". The library's atomics make the word itself
 *     race-free (no lost update between concurrent adders and flushers) but
 *     cannot replace the PTL for the PTE/word ordering.
 *   - A batch is used by one context at a time. tlbb_flush() must run where
 *     the backend says (arm64: on the CPU that issued the TLBIs, or after a
 *     context switch that executed tlbb_arm64_context_switch()).
 *   - A frame whose PTE was cleared may be reused only after tlbb_flush()
 *     of the batch holding it has returned (or a tlbb_flush_pending() of its
 *     space has returned having flushed).
 *
 * THE LIFE OF A SPACE (what the port does at each step; what it gets)
 *
 *   init     tlbb_space_init(s, backend, id, owner) on memory no CPU and no
 *            batch uses; then tlbb_space_set_granule() / _set_threshold() /
 *            _set_global() / _set_cpumask() (mask backends: the port's
 *            mm_cpumask) before first use. The id must be clean: never
 *            used, or released by tlbb_space_fini() / tlbb_space_set_id() of
 *            the space that had it (or by the port's own whole-TLB flush).
 *   CPU enter
 *            mask backends (x86-64): the port's context switch goes through
 *            the backend's switch hook, which sets the CPU's bit in *s->cpus.
 *            Broadcast backends (arm64) need no mask.
 *   CPU leave
 *            the port does nothing. A CPU that no longer has @s loaded keeps
 *            its bit until the first flush of @s reaches it; it then clears
 *            the bit itself (x86-64; Linux's lazy mm_cpumask trim), so later
 *            flushes of @s do not interrupt it. Its next switch to @s sees
 *            the generations it missed and flushes.
 *   id change (ASID/PCID/VMID recycling, allocator rollover)
 *            tlbb_space_set_id(s, new_id), with fini's preconditions. The old
 *            id is released as by fini; the new one must be clean.
 *   fini     tlbb_space_fini(s) once no CPU runs @s (each switched away) and
 *            every batch that held work for @s has been flushed. It runs the
 *            race check, then releases the id (arm64: TLBI ASIDE1IS + DSB
 *            ISH; x86-64: nothing to do, the next load of the PCID flushes).
 *            Afterwards the id may be given to a new space at once, the
 *            memory reused, and any call on @s answers TLBB_EINVAL until it
 *            is initialised again.
 *
 * BAD INPUT
 *
 *   The library never under-flushes. Ranges are rounded outward to the
 *   space's granule. An add either queues the invalidation (and bumps the
 *   pending generation) or, when it cannot queue it (NULL batch, batch of
 *   another backend), completes a whole-space flush before returning: no
 *   cleared PTE is left uncovered. On bad input the safe superset is done
 *   and an error returned:
 *     start == end            nothing to invalidate, TLBB_OK
 *     end < start (inverted, or start + len wrapped past the top)
 *                             whole-space invalidation queued, TLBB_ERANGE
 *     range reaching the top page (its rounded end 2^N is not expressible)
 *                             whole-space invalidation queued, TLBB_OK
 *     range > threshold       whole-space invalidation queued, TLBB_OK
 *     NULL space              TLBB_EINVAL, nothing can be flushed
 *     NULL batch              the space is flushed synchronously, TLBB_EINVAL
 *     space of another backend than the batch's
 *                             that space is flushed synchronously, TLBB_EBACKEND
 *     uninitialised space     TLBB_EINVAL (no backend to call)
 *     unknown add flag bits   queued as if the entry was writable and not
 *                             leaf-only (the widest reading), TLBB_EFLAGS
 *
 * THREAD SAFETY
 *
 *   function                 may run concurrently with
 *   tlbb_add_*()             any call on other batches; tlbb_flush_pending()
 *   tlbb_flush*()            any call on other batches; tlbb_flush_pending()
 *   tlbb_flush_pending()     anything (callers serialise on the PTL anyway)
 *   tlbb_space_init(), tlbb_space_fini(), tlbb_space_set_id(), the setters
 *                            nothing on that space
 */
#ifndef TLBBATCH_TLBBATCH_H
#define TLBBATCH_TLBBATCH_H

#include <tlbbatch/config.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ------------------------------------------------------ */

/*
 * Every call that can fail returns this enum (ABI: the size of int, checked
 * in lib/tlbbatch.c). C and C++ callers may keep the answer in an int, and
 * tlbb_strerror() takes an int, so code written against the int returns of
 * earlier versions compiles unchanged.
 */
enum tlbb_status {
	TLBB_OK = 0,
	TLBB_EINVAL = -1,   /* NULL or uninitialised object */
	TLBB_ERANGE = -2,   /* inverted (end < start) range: widened to the space */
	TLBB_EBACKEND = -3, /* space and batch use different backends */
	TLBB_EFLAGS = -4,   /* unknown flag bits: widest invalidation queued */
};

TLBB_API const char *tlbb_strerror(int status);

/* ---- CPU masks ----------------------------------------------------------- */

#define TLBB_CPUMASK_WORDS ((TLBB_MAX_CPUS + 63) / 64)

/* Bits are read and written with atomics: ports set them at context switch
 * while flushers read them. */
typedef struct tlbb_cpumask {
	uint64_t bits[TLBB_CPUMASK_WORDS];
} tlbb_cpumask_t;

static inline void tlbb_cpumask_clear(tlbb_cpumask_t *m)
{
	for (unsigned i = 0; i < TLBB_CPUMASK_WORDS; i++)
		__atomic_store_n(&m->bits[i], 0, __ATOMIC_RELAXED);
}

static inline void tlbb_cpumask_set(tlbb_cpumask_t *m, unsigned cpu)
{
	if (cpu < TLBB_MAX_CPUS)
		__atomic_fetch_or(&m->bits[cpu / 64], (uint64_t)1 << (cpu % 64),
				  __ATOMIC_SEQ_CST);
}

static inline void tlbb_cpumask_unset(tlbb_cpumask_t *m, unsigned cpu)
{
	if (cpu < TLBB_MAX_CPUS)
		__atomic_fetch_and(&m->bits[cpu / 64],
				   ~((uint64_t)1 << (cpu % 64)), __ATOMIC_SEQ_CST);
}

static inline bool tlbb_cpumask_test(const tlbb_cpumask_t *m, unsigned cpu)
{
	if (cpu >= TLBB_MAX_CPUS)
		return false;
	return (__atomic_load_n(&m->bits[cpu / 64], __ATOMIC_ACQUIRE) >>
		(cpu % 64)) & 1;
}

/* dst |= src, word by word (each word atomically). */
static inline void tlbb_cpumask_or(tlbb_cpumask_t *dst, const tlbb_cpumask_t *src)
{
	for (unsigned i = 0; i < TLBB_CPUMASK_WORDS; i++) {
		uint64_t w = __atomic_load_n(&src->bits[i], __ATOMIC_ACQUIRE);
		if (w)
			__atomic_fetch_or(&dst->bits[i], w, __ATOMIC_SEQ_CST);
	}
}

static inline bool tlbb_cpumask_empty(const tlbb_cpumask_t *m)
{
	for (unsigned i = 0; i < TLBB_CPUMASK_WORDS; i++)
		if (__atomic_load_n(&m->bits[i], __ATOMIC_ACQUIRE))
			return false;
	return true;
}

/* True if some CPU other than @self is in the mask. */
static inline bool tlbb_cpumask_any_but(const tlbb_cpumask_t *m, unsigned self)
{
	for (unsigned i = 0; i < TLBB_CPUMASK_WORDS; i++) {
		uint64_t w = __atomic_load_n(&m->bits[i], __ATOMIC_ACQUIRE);
		if (self / 64 == i && self < TLBB_MAX_CPUS)
			w &= ~((uint64_t)1 << (self % 64));
		if (w)
			return true;
	}
	return false;
}

/*
 * Index of the lowest set bit of @w (not 0). A RISC-V core without Zbb has
 * no count-trailing-zeros instruction, and GCC turns __builtin_ctzll into a
 * call to libgcc's __ctzdi2, which a freestanding kernel need not link:
 * there, isolate the bit and find it in six steps.
 */
static inline unsigned tlbb_ctz64(uint64_t w)
{
#if defined(__riscv) && !defined(__riscv_zbb)
	unsigned n = 0;

	w &= (uint64_t)0 - w;
	for (unsigned s = 32; s; s >>= 1)
		if (w >> s) {
			n += s;
			w >>= s;
		}
	return n;
#else
	return (unsigned)__builtin_ctzll(w);
#endif
}

/* Iterate: for (c = tlbb_cpumask_next(m, 0); c < TLBB_MAX_CPUS; c = tlbb_cpumask_next(m, c + 1)) */
static inline unsigned tlbb_cpumask_next(const tlbb_cpumask_t *m, unsigned from)
{
	for (unsigned c = from; c < TLBB_MAX_CPUS; c++) {
		uint64_t w = __atomic_load_n(&m->bits[c / 64], __ATOMIC_ACQUIRE) >> (c % 64);
		if (!w) {
			c |= 63; /* skip the rest of this word */
			continue;
		}
		return c + tlbb_ctz64(w);
	}
	return TLBB_MAX_CPUS;
}

/* ---- the generation word ------------------------------------------------- */

/*
 * bits 0..14 pending generation, bits 16..30 flushed generation. Bit 15 is
 * a guard: concurrent adders can push pending a little past the reset point
 * without the carry reaching the flushed field.
 */
#define TLBB_GEN_FLUSHED_SHIFT 16
#define TLBB_GEN_MASK 0x7fffu
#define TLBB_GEN_PENDING_LARGE (TLBB_GEN_MASK / 2) /* 16383 */

static inline unsigned tlbb_gen_pending(uint32_t word)
{
	return word & TLBB_GEN_MASK;
}

static inline unsigned tlbb_gen_flushed(uint32_t word)
{
	return (word >> TLBB_GEN_FLUSHED_SHIFT) & TLBB_GEN_MASK;
}

/* ---- objects ------------------------------------------------------------- */

struct tlbb_backend;
struct tlbb_release;

/* Space flags. */
#define TLBB_SPACE_GLOBAL 0x1u /* kernel/global mappings (arm64: VAAE1IS + ISB) */

struct tlbb_space {
	uint32_t batch_gen;        /* atomic: pending | flushed << 16 */
	uint32_t id;               /* ASID / PCID / VMID */
	uint32_t full_flush_pages; /* ranges above this become whole-space */
	uint8_t page_shift;        /* translation granule, log2 */
	uint8_t flags;             /* TLBB_SPACE_* */
	uint16_t reserved;
	uint64_t page_size;        /* 1 << page_shift */
	uint64_t page_base;        /* ~(page_size - 1): a page's first byte */
	const struct tlbb_backend *backend;
	void *owner;               /* the port's own object (its mm, VM, ...) */
	/*
	 * CPUs that may cache this space: the port's mask (Linux's
	 * mm_cpumask()), set with tlbb_space_set_cpumask(). Only mask backends
	 * (x86-64, the sim's x86 model, vcpu) read it; NULL there means "any
	 * CPU may", which is always safe and reaches every CPU.
	 */
	tlbb_cpumask_t *cpus;
	uint64_t arch[TLBB_ARCH_SPACE_WORDS]; /* backend-private */
};

struct tlbb_batch {
	const struct tlbb_backend *backend; /* bound by the first add, unbound by flush */
	bool flush_required;       /* something was queued and not completed */
	uint8_t inv_flags;         /* TLBB_INV_* of every queued entry, ORed: one
				    * OR per add; WRITABLE in it means some entry
				    * may have been writable/dirty */
	uint16_t reserved;
	uint32_t nr_adds;          /* add hook calls since the last flush (statistics) */
	/*
	 * Optional, the port's (tlbb_batch_set_cpumask()): where a mask backend
	 * gathers the CPUs of a batch that spans several spaces, so that one
	 * IPI round reaches exactly them. Without it such a batch's round goes
	 * to every CPU. A batch of one space never needs it: its flush targets
	 * that space's own mask. Broadcast backends (arm64) never read it.
	 */
	tlbb_cpumask_t *cpus;
	/*
	 * The space of the newest add since the last flush, or TLBB_NO_SPACE.
	 * An add to that same space takes the core's shortest path: the space
	 * was checked when it joined the batch and, by the life-of-a-space
	 * rules, stays initialised until the batch is flushed.
	 */
	const struct tlbb_space *last;
	uint64_t arch[TLBB_ARCH_BATCH_WORDS]; /* backend-private; all-zero = empty */
	struct tlbb_release *release; /* after-flush releases, newest first */
};

/* b->last of an empty batch: no space lives at this address. */
#define TLBB_NO_SPACE ((const struct tlbb_space *)(uintptr_t)1)

/*
 * Flags of an invalidation, for tlbb_add_*() and tlbb_flush_range_sync()
 * alike: they describe the PTEs the caller cleared or replaced. Plain
 * unsigned constants, so they OR together in C and C++ and work in #if.
 */
#define TLBB_INV_WRITABLE 0x1u  /* the cleared PTE was writable or dirty */
#define TLBB_INV_LEAF_ONLY 0x2u /* only leaf entries changed (arm64: TLBI VALE1IS) */
/* The same bits under their first names (from when only the adds took them). */
#define TLBB_ADD_WRITABLE TLBB_INV_WRITABLE
#define TLBB_ADD_LEAF_ONLY TLBB_INV_LEAF_ONLY

/* ---- operations ---------------------------------------------------------- */

/*
 * Set up @s for @backend with hardware tag @id (ASID, PCID or VMID).
 * Granule and threshold start at the build defaults; change them with
 * tlbb_space_set_granule() / tlbb_space_set_threshold() before first use.
 */
TLBB_API enum tlbb_status tlbb_space_init(struct tlbb_space *s, const struct tlbb_backend *backend,
			     uint32_t id, void *owner);
/* @page_shift in 12..30; anything else is refused with TLBB_EINVAL. */
TLBB_API enum tlbb_status tlbb_space_set_granule(struct tlbb_space *s, unsigned page_shift);
/* @pages >= 1; 0 is refused with TLBB_EINVAL. */
TLBB_API enum tlbb_status tlbb_space_set_threshold(struct tlbb_space *s, uint32_t pages);

/*
 * Mark @s as holding global (kernel, G-bit / nG=0) mappings, or not. Before
 * first use: arm64 then uses the all-ASID TLBI forms and an ISB, x86-64
 * drops global entries in its whole flushes. TLBB_EINVAL for NULL.
 */
TLBB_API enum tlbb_status tlbb_space_set_global(struct tlbb_space *s, bool global);

/*
 * The end of @s's life (see THE LIFE OF A SPACE): no CPU runs @s and every
 * batch that held work for it has been flushed. Completes anything still
 * outstanding, releases s->id for reuse, leaves @s uninitialised.
 * TLBB_EINVAL for a NULL or uninitialised space.
 */
TLBB_API enum tlbb_status tlbb_space_fini(struct tlbb_space *s);

/*
 * Give @s the hardware tag @id instead of its current one (ASID/PCID/VMID
 * recycling, allocator rollover), under fini's preconditions. The old id is
 * released as by tlbb_space_fini(); granule, threshold, flags and owner are
 * kept. TLBB_EINVAL for a NULL or uninitialised space.
 */
TLBB_API enum tlbb_status tlbb_space_set_id(struct tlbb_space *s, uint32_t id);

/*
 * Give @s the port's CPU mask (mask backends: x86-64, vcpu; arm64 never
 * reads it). The mask is the port's and must outlive the space; the port or
 * the backend's switch hook sets bits in it, the x86-64 backend clears
 * them lazily. NULL (the default) means any CPU may cache @s. Before first
 * use, like the other setters. TLBB_EINVAL for a NULL space.
 */
TLBB_API enum tlbb_status tlbb_space_set_cpumask(struct tlbb_space *s, tlbb_cpumask_t *cpus);

/* The port records which CPUs may cache @s (context switch in). */
static inline void tlbb_space_cpu_enter(struct tlbb_space *s, unsigned cpu)
{
	if (s->cpus)
		tlbb_cpumask_set(s->cpus, cpu);
}

TLBB_API void tlbb_batch_init(struct tlbb_batch *b);

/*
 * Give @b the port's scratch mask for batches over several spaces (see
 * struct tlbb_batch). The mask is cleared here and after every flush; it
 * must outlive the batch's use. Only while @b is empty; TLBB_EINVAL for a
 * NULL or non-empty batch.
 */
TLBB_API enum tlbb_status tlbb_batch_set_cpumask(struct tlbb_batch *b, tlbb_cpumask_t *cpus);

/*
 * Should an unmap of @s be batched at all? False means: clear the PTE and
 * flush synchronously. (x86: no other CPU may cache @s; arm64: the
 * repeat-TLBI erratum makes every TLBI synchronous anyway.) A NULL or
 * uninitialised space answers false: the synchronous path is always safe.
 *
 * The x86-64 answer is about the CALLING CPU ("a CPU other than me may
 * cache @s"), so call it with preemption disabled and keep it disabled
 * through the tlbb_flush_range_sync() that follows a false answer: moved to
 * another CPU in between, the task could skip the batch while the CPU it
 * left still caches @s. (A true answer stays safe after a move; batching
 * is then merely unnecessary.) arm64, vcpu and sim answers do not depend
 * on the calling CPU.
 */
TLBB_API bool tlbb_should_defer(const struct tlbb_space *s);

/*
 * Addresses are uint64_t whatever the host's pointer width, so that a 32-bit
 * host (a VMM, an emulator) can name a 64-bit guest's addresses. The top of
 * every space is 2^64: a range whose rounded end would be 2^64 becomes a
 * whole-space invalidation.
 *
 * Queue invalidation of [@start, @end) in @s. The caller has already
 * cleared the PTEs, under the PTL. Rounded outward to the granule.
 * Nothing is complete until tlbb_flush() returns.
 */
TLBB_API enum tlbb_status tlbb_add_range(struct tlbb_batch *b, struct tlbb_space *s, uint64_t start,
			    uint64_t end, unsigned flags);
/* Queue invalidation of the page containing @va. */
TLBB_API enum tlbb_status tlbb_add_page(struct tlbb_batch *b, struct tlbb_space *s, uint64_t va,
			   unsigned flags);
/* Queue invalidation of all of @s. */
TLBB_API enum tlbb_status tlbb_add_space(struct tlbb_batch *b, struct tlbb_space *s, unsigned flags);

/*
 * The !tlbb_should_defer() path: invalidate [@start, @end) of @s on every CPU
 * and complete it before returning (Linux's flush_tlb_range). Same rounding
 * and bad-input answers as tlbb_add_range(); nothing stays pending. Call
 * under the PTL, after clearing the PTEs, without migrating CPU meanwhile.
 */
TLBB_API enum tlbb_status tlbb_flush_range_sync(struct tlbb_space *s, uint64_t start, uint64_t end,
				   unsigned flags);

/*
 * Complete everything queued in @b, then run its releases
 * (tlbb_batch_release()); afterwards @b is empty.
 */
TLBB_API void tlbb_flush(struct tlbb_batch *b);
/* tlbb_flush() if some queued entry may have been writable (before writeback). */
TLBB_API void tlbb_flush_dirty(struct tlbb_batch *b);
/* True if @b holds work not yet completed. */
static inline bool tlbb_batch_pending(const struct tlbb_batch *b)
{
	return b && b->flush_required;
}

/*
 * Frame hand-off (Linux's mmu_gather carries the pages to free): "release
 * this only after the flush". The node is the caller's, embedded in its
 * frame descriptor (container_of back to it); the library allocates
 * nothing and touches the node only to link it and to call @fn.
 */
typedef void (*tlbb_release_fn)(struct tlbb_release *r);

struct tlbb_release {
	struct tlbb_release *next;
	tlbb_release_fn fn;
};

/*
 * Run @fn(@r) once everything queued in @b is complete: in the next
 * tlbb_flush(@b), after the backend's flush has returned, in the flusher's
 * context, in the order queued. Queue it after the tlbb_add_*() of the
 * page(s) that mapped the frame, or at any time before the flush: it waits
 * for the whole batch. tlbb_flush() runs the releases of a batch that
 * queued no invalidation too (its pages took the synchronous path:
 * tlbb_flush_range_sync(), or an add that answered TLBB_EBACKEND), so one
 * reclaim loop can queue every frame here, whatever path its page took.
 * tlbb_flush_dirty() without writable entries runs none.
 *
 * A NULL @b (its adds had no batch, so they completed synchronously): @fn
 * runs at once, TLBB_EINVAL. A NULL @r or @fn: TLBB_EINVAL, nothing runs.
 * @fn may re-use @b (it is empty by then) but must not flush it.
 *
 * The vcpu backend's tlbb_vcpu_defer() is the same hand-off with one more
 * guarantee (a grace period even for an empty batch, for page-table pages
 * vCPU walkers may be reading); on a vcpu batch that holds work the two are
 * equivalent, its deferrals running inside the flush just before these.
 */
TLBB_API enum tlbb_status tlbb_batch_release(struct tlbb_batch *b, struct tlbb_release *r, tlbb_release_fn fn);

/*
 * The race check. Call under the PTL before changing PTEs of @s. If any
 * batch may hold uncompleted invalidations of @s, flush all of @s on every
 * CPU and complete it, from this CPU. Returns true if it flushed; a NULL,
 * uninitialised or finished space answers false.
 *
 * Its cost when it flushes: all of @s leaves every TLB (arm64: TLBI ASIDE1IS
 * + DSB ISH; x86-64: one IPI round to s->cpus and a whole-PCID flush there;
 * vcpu: one grace period), and every CPU running @s refills its TLB. The
 * whole space, because the check cannot know which pages the outstanding
 * batches hold (Linux's flush_tlb_batched_pending() does the same). It
 * flushes only when a batch added work for @s since the last check that
 * flushed, i.e. when a changer actually overlaps reclaim of the same space;
 * then at most once per such overlap, since it publishes flushed = pending.
 *
 * Inline, because nearly every call finds nothing pending: then it costs
 * the caller a NULL test, one load, a compare and a not-taken branch (x86-64:
 * 7 instructions; docs/hotpath.md). The flush is tlbb_flush_pending_slow().
 *
 * The fast path compares the word's low and high halves as 16-bit numbers.
 * Bit 31 is always 0 (the flushed field is only ever written as a copy of a
 * 15-bit pending); bit 15, the guard, is 0 unless thousands of adders pile
 * past the reset point. Equal halves therefore imply equal 15-bit fields:
 * the fast path's "nothing pending" is never wrong, and a set guard bit
 * only sends the call to the slow path, which decides on the fields.
 * A space that is not initialised has no meaningful word: its answer comes
 * from the slow path, which checks the backend before anything else.
 */
TLBB_API bool tlbb_flush_pending_slow(struct tlbb_space *s);

static inline bool tlbb_flush_pending(struct tlbb_space *s)
{
	uint32_t w;

	if (__builtin_expect(s == NULL, 0))
		return false;
	/* Acquire: pairs with the adders' seq_cst bump, as in the slow path. */
	w = __atomic_load_n(&s->batch_gen, __ATOMIC_ACQUIRE);
	if (__builtin_expect((uint16_t)w == (uint16_t)(w >> TLBB_GEN_FLUSHED_SHIFT), 1))
		return false;
	return tlbb_flush_pending_slow(s);
}

/* True if some batch may hold uncompleted invalidations of @s. */
static inline bool tlbb_space_has_pending(const struct tlbb_space *s)
{
	uint32_t w = __atomic_load_n(&s->batch_gen, __ATOMIC_ACQUIRE);
	return tlbb_gen_pending(w) != tlbb_gen_flushed(w);
}

/*
 * THE ABI GUARD. Every object that includes this header refers to a symbol
 * whose name spells the layout it was compiled with: TLBB_MAX_CPUS and the
 * backend-private words of a space and a batch. The library defines only
 * the one of its own build. An object compiled with another TLBB_MAX_CPUS
 * or TLBB_ARCH_*_WORDS than the library therefore fails to link
 * ("undefined reference to tlbb_abi_5_cpus128_s4_b8") instead of reading
 * the library's structs at the wrong offsets. The three knobs must be plain
 * decimal numbers for this (config.h).
 */
#define TLBB_ABI_VERSION 5 /* the layout or meaning of a public struct changed */
#define TLBB_ABI_NAME3_(v, c, s, b) tlbb_abi_##v##_cpus##c##_s##s##_b##b
#define TLBB_ABI_NAME2_(v, c, s, b) TLBB_ABI_NAME3_(v, c, s, b)
#define TLBB_ABI_SYMBOL                                                                    \
	TLBB_ABI_NAME2_(TLBB_ABI_VERSION, TLBB_MAX_CPUS, TLBB_ARCH_SPACE_WORDS, TLBB_ARCH_BATCH_WORDS)
extern TLBB_API const char TLBB_ABI_SYMBOL;
static const char *const tlbb_abi_ref_ __attribute__((__used__)) = &TLBB_ABI_SYMBOL;

#ifdef __cplusplus
}
#endif

#endif /* TLBBATCH_TLBBATCH_H */
