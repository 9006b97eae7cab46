/* SPDX-License-Identifier: MIT */
/*
 * The portable core: generation word, batch bookkeeping, range rounding and
 * the bad-input answers. Freestanding: no libc, no allocation, compiler
 * atomics only. Arch work is done by the backend hooks (tlbbatch/backend.h).
 */
#include <tlbbatch/backend.h>

/*
 * THE BINDING OF THE HOOKS
 *
 * Hook table (default): every hook call reads a pointer from the space's or
 * the batch's struct tlbb_backend and calls through it, so one library
 * serves any number of backends at once (the hosted library: sim, vCPU and
 * the recorder tests' own backends).
 *
 * Static binding (TLBB_STATIC_X86_64, _ARM64 or _RISCV64 defined; meson
 * -Dstatic_backend=true): a kernel with one hardware backend compiles that
 * backend's source INTO this translation unit (the include below) and every
 * hook call is a direct call of the backend's own function, which the
 * compiler may inline. No indirect call or jump is left on the add, flush,
 * flush_dirty, race-check and should_defer paths (tools/check-no-indirect
 * checks the archive). The backend's source is not compiled on its own then:
 * it would define its symbols twice. The struct tlbb_backend still exists
 * and is still passed to every hook (ctx, configuration); tlbb_space_init()
 * refuses a backend of another kind, whose hooks this build cannot call.
 *
 * Each backend names its hooks for this at the end of its source:
 * TLBB_BOUND_<hook> for every hook it has. An absent optional hook gets the
 * same default as in the table (should_defer: true; space_init: nothing;
 * space_fini: flush_space).
 */
#if defined(TLBB_STATIC_X86_64) + defined(TLBB_STATIC_ARM64) + defined(TLBB_STATIC_RISCV64) > 1
#error "the static binding binds one backend: define one of TLBB_STATIC_X86_64, _ARM64, _RISCV64"
#elif defined(TLBB_STATIC_X86_64)
#include "../arch/x86_64/x86_64.c"
#define TLBB_STATIC_BINDING 1
#elif defined(TLBB_STATIC_ARM64)
#include "../arch/arm64/arm64.c"
#define TLBB_STATIC_BINDING 1
#elif defined(TLBB_STATIC_RISCV64)
#include "../arch/riscv64/riscv64.c"
#define TLBB_STATIC_BINDING 1
#endif

_Static_assert(TLBB_MAX_CPUS >= 1, "TLBB_MAX_CPUS must be at least 1");
_Static_assert(TLBB_DEFAULT_PAGE_SHIFT >= 12 && TLBB_DEFAULT_PAGE_SHIFT <= 30,
	       "TLBB_DEFAULT_PAGE_SHIFT out of range");
_Static_assert(TLBB_DEFAULT_FULL_FLUSH_PAGES >= 1, "TLBB_DEFAULT_FULL_FLUSH_PAGES must be >= 1");
_Static_assert(TLBB_ARCH_SPACE_WORDS >= 1 && TLBB_ARCH_BATCH_WORDS >= 1,
	       "backends need some private storage");
/* The int-sized ABI of the status returns (tlbbatch.h). */
_Static_assert(sizeof(enum tlbb_status) == sizeof(int), "enum tlbb_status must stay int-sized");
/* pending + guard bit must stay below the flushed field */
_Static_assert(TLBB_GEN_MASK < (1u << TLBB_GEN_FLUSHED_SHIFT), "generation fields overlap");

/* The layout this build has; objects built with another fail to link. */
TLBB_API const char TLBB_ABI_SYMBOL = 0;

#define TLBB_MIN_PAGE_SHIFT 12
#define TLBB_MAX_PAGE_SHIFT 30

const char *tlbb_strerror(int status)
{
	switch (status) {
	case TLBB_OK:
		return "ok";
	case TLBB_EINVAL:
		return "invalid argument";
	case TLBB_ERANGE:
		return "bad range (widened to the whole space)";
	case TLBB_EBACKEND:
		return "space and batch use different backends (flushed synchronously)";
	case TLBB_EFLAGS:
		return "unknown flag bits (queued as writable, all levels)";
	default:
		return "unknown status";
	}
}

/* No memset: freestanding builds must not need libc. */
static void zero_words(uint64_t *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		w[i] = 0;
}

/* ---- the hook calls: the only place the binding shows -------------------- */

#ifdef TLBB_STATIC_BINDING
/* A backend of the bound kind: its table holds the bound add hook. */
static bool hooks_callable(const struct tlbb_backend *be)
{
	return be->add == TLBB_BOUND_add;
}

static bool hook_should_defer(const struct tlbb_backend *be, const struct tlbb_space *s)
{
#ifdef TLBB_BOUND_should_defer
	return TLBB_BOUND_should_defer(be, s);
#else
	(void)be;
	(void)s;
	return true;
#endif
}

#define hook_add TLBB_BOUND_add
#define hook_flush TLBB_BOUND_flush
#define hook_flush_space TLBB_BOUND_flush_space

static void hook_space_init(const struct tlbb_backend *be, struct tlbb_space *s)
{
#ifdef TLBB_BOUND_space_init
	TLBB_BOUND_space_init(be, s);
#else
	(void)be;
	(void)s;
#endif
}

static void hook_space_fini(const struct tlbb_backend *be, struct tlbb_space *s)
{
#ifdef TLBB_BOUND_space_fini
	TLBB_BOUND_space_fini(be, s);
#else
	TLBB_BOUND_flush_space(be, s);
#endif
}
#else /* the hook table */
static bool hooks_callable(const struct tlbb_backend *be)
{
	return be->add && be->flush && be->flush_space;
}

static bool hook_should_defer(const struct tlbb_backend *be, const struct tlbb_space *s)
{
	return be->should_defer ? be->should_defer(be, s) : true;
}

static void hook_add(const struct tlbb_backend *be, struct tlbb_batch *b, struct tlbb_space *s,
		     uint64_t start, uint64_t end, unsigned flags)
{
	be->add(be, b, s, start, end, flags);
}

static void hook_flush(const struct tlbb_backend *be, struct tlbb_batch *b)
{
	be->flush(be, b);
}

static void hook_flush_space(const struct tlbb_backend *be, struct tlbb_space *s)
{
	be->flush_space(be, s);
}

static void hook_space_init(const struct tlbb_backend *be, struct tlbb_space *s)
{
	if (be->space_init)
		be->space_init(be, s);
}

static void hook_space_fini(const struct tlbb_backend *be, struct tlbb_space *s)
{
	if (be->space_fini)
		be->space_fini(be, s);
	else
		be->flush_space(be, s);
}
#endif

enum tlbb_status tlbb_space_init(struct tlbb_space *s, const struct tlbb_backend *backend, uint32_t id,
		    void *owner)
{
	if (!s)
		return TLBB_EINVAL;
	s->backend = NULL;
	if (!backend || !hooks_callable(backend))
		return TLBB_EINVAL;
	/* pending == flushed: nothing outstanding yet. */
	__atomic_store_n(&s->batch_gen, 0, __ATOMIC_RELAXED);
	s->id = id;
	s->full_flush_pages = TLBB_DEFAULT_FULL_FLUSH_PAGES;
	s->page_shift = TLBB_DEFAULT_PAGE_SHIFT;
	s->page_size = (uint64_t)1 << TLBB_DEFAULT_PAGE_SHIFT;
	s->page_base = ~(s->page_size - 1);
	s->flags = 0;
	s->reserved = 0;
	s->owner = owner;
	s->cpus = NULL;
	zero_words(s->arch, TLBB_ARCH_SPACE_WORDS);
	hook_space_init(backend, s);
	/* Publish the backend last: a space with a backend is ready. */
	__atomic_store_n(&s->backend, backend, __ATOMIC_RELEASE);
	return TLBB_OK;
}

enum tlbb_status tlbb_space_set_granule(struct tlbb_space *s, unsigned page_shift)
{
	if (!s || page_shift < TLBB_MIN_PAGE_SHIFT || page_shift > TLBB_MAX_PAGE_SHIFT)
		return TLBB_EINVAL;
	s->page_shift = (uint8_t)page_shift;
	s->page_size = (uint64_t)1 << page_shift;
	s->page_base = ~(s->page_size - 1);
	return TLBB_OK;
}

enum tlbb_status tlbb_space_set_threshold(struct tlbb_space *s, uint32_t pages)
{
	if (!s || pages == 0)
		return TLBB_EINVAL;
	s->full_flush_pages = pages;
	return TLBB_OK;
}

enum tlbb_status tlbb_space_set_global(struct tlbb_space *s, bool global)
{
	if (!s)
		return TLBB_EINVAL;
	s->flags = (uint8_t)(global ? (s->flags | TLBB_SPACE_GLOBAL) : (s->flags & ~TLBB_SPACE_GLOBAL));
	return TLBB_OK;
}

enum tlbb_status tlbb_space_set_cpumask(struct tlbb_space *s, tlbb_cpumask_t *cpus)
{
	if (!s)
		return TLBB_EINVAL;
	s->cpus = cpus;
	return TLBB_OK;
}

void tlbb_batch_init(struct tlbb_batch *b)
{
	if (!b)
		return;
	b->backend = NULL;
	b->flush_required = false;
	b->inv_flags = 0;
	b->reserved = 0;
	b->nr_adds = 0;
	b->cpus = NULL;
	b->last = TLBB_NO_SPACE;
	zero_words(b->arch, TLBB_ARCH_BATCH_WORDS);
	b->release = NULL;
}

enum tlbb_status tlbb_batch_set_cpumask(struct tlbb_batch *b, tlbb_cpumask_t *cpus)
{
	if (!b || b->flush_required)
		return TLBB_EINVAL;
	if (cpus)
		tlbb_cpumask_clear(cpus);
	b->cpus = cpus;
	return TLBB_OK;
}

static const struct tlbb_backend *space_backend(const struct tlbb_space *s)
{
	return s ? __atomic_load_n(&s->backend, __ATOMIC_ACQUIRE) : NULL;
}

bool tlbb_should_defer(const struct tlbb_space *s)
{
	const struct tlbb_backend *be = space_backend(s);

	if (!be)
		return false;
	return hook_should_defer(be, s);
}

/*
 * Announce that a batch now holds uncompleted work for @s. Runs after the
 * backend started the invalidation, so any tlbb_flush_pending() that sees
 * the new pending value will find that invalidation to complete.
 *
 * One bump per add, never skipped: if an add were folded into an earlier
 * pending value, a flusher that read the word before this add could publish
 * flushed == pending after it, hiding the new, still incomplete TLBI.
 *
 * Once pending passes TLBB_GEN_PENDING_LARGE the word is reset to pending=1,
 * flushed=0 so the two 15-bit fields can never meet by wrap-around. The
 * reset keeps pending != flushed, so it can only cause an extra flush, and
 * a flusher holding the old value fails its cmpxchg and publishes nothing.
 */
static void space_bump_pending(struct tlbb_space *s)
{
	uint32_t old = __atomic_load_n(&s->batch_gen, __ATOMIC_RELAXED);

	for (;;) {
		if (__builtin_expect(tlbb_gen_pending(old) > TLBB_GEN_PENDING_LARGE, 0)) {
			/* Release: our PTE clear and TLBI issue come before the reset. */
			if (__atomic_compare_exchange_n(&s->batch_gen, &old, 1u, false,
							__ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
				return;
			continue; /* @old reloaded: re-decide between reset and increment */
		}
		/* Release: our PTE clear and TLBI issue come before the bump. */
		__atomic_fetch_add(&s->batch_gen, 1u, __ATOMIC_SEQ_CST);
		return;
	}
}

/* Synchronous fallback when the work cannot be batched: never under-flush. */
static void flush_space_now(struct tlbb_space *s)
{
	const struct tlbb_backend *be = space_backend(s);

	if (be)
		hook_flush_space(be, s);
}

/*
 * Release s->id: complete what may be outstanding (a batch flushed without a
 * race check since leaves pending != flushed), then let the backend make the
 * id safe for another space, or flush the space when it has no such hook.
 */
static void space_release_id(const struct tlbb_backend *be, struct tlbb_space *s)
{
	tlbb_flush_pending(s);
	hook_space_fini(be, s);
}

enum tlbb_status tlbb_space_fini(struct tlbb_space *s)
{
	const struct tlbb_backend *be = space_backend(s);

	if (!be)
		return TLBB_EINVAL;
	space_release_id(be, s);
	/* Unpublish: every later call on @s answers TLBB_EINVAL. */
	__atomic_store_n(&s->backend, NULL, __ATOMIC_RELEASE);
	return TLBB_OK;
}

enum tlbb_status tlbb_space_set_id(struct tlbb_space *s, uint32_t id)
{
	const struct tlbb_backend *be = space_backend(s);

	if (!be)
		return TLBB_EINVAL;
	space_release_id(be, s);
	s->id = id;
	/* The backend's per-space state belongs to the old id. */
	zero_words(s->arch, TLBB_ARCH_SPACE_WORDS);
	hook_space_init(be, s);
	return TLBB_OK;
}

/*
 * Queue one invalidation in @b, already bound to @s's backend @be, and
 * announce it. The one sequence every add goes through. @same is
 * TLBB_RANGE_SAME when @s is b->last (kept apart from @flags so that the
 * flags the batch records need no masking).
 */
static inline void batch_queue_bound(const struct tlbb_backend *be, struct tlbb_batch *b,
				     struct tlbb_space *s, uint64_t start, uint64_t end,
				     unsigned flags, unsigned same)
{
	hook_add(be, b, s, start, end,
		 (flags & (TLBB_ADD_WRITABLE | TLBB_ADD_LEAF_ONLY | TLBB_RANGE_ALL)) | same);
	/*
	 * The flags are the batch owner's private state; only the generation
	 * word is shared. A compiler barrier is not enough in general, so the
	 * bump below is a seq_cst RMW: nothing above may sink past it.
	 * flush_required: an add to b->last (@same) finds it set by the add
	 * that made that space b->last; nothing clears one without the other.
	 */
	if (!same)
		b->flush_required = true;
	b->inv_flags |= (uint8_t)(flags & (TLBB_INV_WRITABLE | TLBB_INV_LEAF_ONLY));
	b->nr_adds++;
	space_bump_pending(s);
}

/*
 * The same for a batch bound to @be or to nothing yet (it binds here), from
 * any path: it tells the backend whether @s is the batch's current space
 * and makes it so.
 */
static void batch_queue_on(const struct tlbb_backend *be, struct tlbb_batch *b,
			   struct tlbb_space *s, uint64_t start, uint64_t end, unsigned flags)
{
	b->backend = be;
	batch_queue_bound(be, b, s, start, end, flags, b->last == s ? TLBB_RANGE_SAME : 0);
	b->last = s;
}

static int batch_queue(struct tlbb_batch *b, struct tlbb_space *s, uint64_t start,
		       uint64_t end, unsigned flags)
{
	const struct tlbb_backend *be = space_backend(s);

	if (!be)
		return TLBB_EINVAL;
	if (!b) {
		flush_space_now(s);
		return TLBB_EINVAL;
	}
	if (b->backend && b->backend != be) {
		flush_space_now(s);
		return TLBB_EBACKEND;
	}
	batch_queue_on(be, b, s, start, end, flags);
	return TLBB_OK;
}

#define ADD_KNOWN_FLAGS (TLBB_ADD_WRITABLE | TLBB_ADD_LEAF_ONLY)
_Static_assert((ADD_KNOWN_FLAGS & (ADD_KNOWN_FLAGS + 1)) == 0,
	       "the add fast paths test flags > ADD_KNOWN_FLAGS: the known flags are the low bits");

/*
 * Flag bits this library does not know may mean anything: read them the
 * widest way (writable, every level), so that no meaning can under-flush.
 * True if @flags had such bits (and was widened).
 */
static bool widen_unknown_flags(unsigned *flags)
{
	if (__builtin_expect((*flags & ~ADD_KNOWN_FLAGS) == 0, 1))
		return false;
	*flags = TLBB_ADD_WRITABLE;
	return true;
}

/* The first error wins; the flags complaint only if nothing worse. */
static int with_flags_status(int rc, bool unknown_flags)
{
	return (rc == TLBB_OK && unknown_flags) ? TLBB_EFLAGS : rc;
}

enum tlbb_status tlbb_add_space(struct tlbb_batch *b, struct tlbb_space *s, unsigned flags)
{
	bool unknown = widen_unknown_flags(&flags);

	return with_flags_status(
		batch_queue(b, s, 0, 0, (flags & ~TLBB_ADD_LEAF_ONLY) | TLBB_RANGE_ALL), unknown);
}

/* What the backend is asked to invalidate, and what the caller is told. */
struct shaped {
	uint64_t start, end; /* granule-aligned, start < end; 0, 0 with TLBB_RANGE_ALL */
	unsigned flags;
	int status;
	bool nothing;         /* empty range: no invalidation at all */
};

/* Round the inclusive byte range [first, last] outward to the granule. */
static struct shaped shape_bytes(const struct tlbb_space *s, uint64_t first, uint64_t last,
				 unsigned flags)
{
	uint64_t mask = ((uint64_t)1 << s->page_shift) - 1;
	struct shaped r = { 0, 0, flags & (TLBB_ADD_WRITABLE | TLBB_ADD_LEAF_ONLY), TLBB_OK, false };

	first &= ~mask;
	last &= ~mask;
	/*
	 * The range reaches the top page: its exclusive end, 2^N, cannot be
	 * written half-open. A legal range, just inexpressible: cover it all.
	 */
	if (last >= UINT64_MAX - mask || ((last - first) >> s->page_shift) >= s->full_flush_pages) {
		r.flags = (r.flags & ~TLBB_ADD_LEAF_ONLY) | TLBB_RANGE_ALL;
		return r;
	}
	r.start = first;
	r.end = last + mask + 1;
	return r;
}

/* The half-open [start, end) of the API, with its bad-input answers. */
static struct shaped shape_range(const struct tlbb_space *s, uint64_t start, uint64_t end,
				 unsigned flags)
{
	struct shaped r;

	if (start == end) {
		/* Nothing was mapped there: nothing to invalidate. */
		r = (struct shaped){ 0, 0, 0, TLBB_OK, true };
		return r;
	}
	if (end < start) {
		/* We cannot know what the caller cleared: cover everything. */
		r = shape_bytes(s, 0, UINT64_MAX, flags);
		r.status = TLBB_ERANGE;
		return r;
	}
	return shape_bytes(s, start, end - 1, flags);
}

static int queue_shaped(struct tlbb_batch *b, struct tlbb_space *s, struct shaped r)
{
	int rc;

	if (r.nothing)
		return r.status;
	rc = batch_queue(b, s, r.start, r.end, r.flags);
	return rc == TLBB_OK ? r.status : rc;
}

enum tlbb_status tlbb_add_range(struct tlbb_batch *b, struct tlbb_space *s, uint64_t start, uint64_t end,
		   unsigned flags)
{
	bool unknown = widen_unknown_flags(&flags);

	if (!space_backend(s))
		return TLBB_EINVAL;
	return with_flags_status(queue_shaped(b, s, shape_range(s, start, end, flags)), unknown);
}

/*
 * tlbb_add_page() for every input its fast path leaves out: NULL batch, a
 * batch not yet bound (its first add) or bound to another backend, unknown
 * flag bits, the top page. Out of line so that the fast path needs no stack
 * frame.
 */
__attribute__((__noinline__, __cold__)) static int add_page_general(struct tlbb_batch *b,
							     struct tlbb_space *s, uint64_t va,
							     unsigned flags)
{
	uint64_t mask = ((uint64_t)1 << s->page_shift) - 1;
	bool unknown = widen_unknown_flags(&flags);

	va &= ~mask;
	if (va >= UINT64_MAX - mask)
		return with_flags_status(tlbb_add_space(b, s, flags & TLBB_ADD_WRITABLE), unknown);
	return with_flags_status(batch_queue(b, s, va, va + mask + 1, flags), unknown);
}

/*
 * tlbb_add_page() for every call its shortest path leaves out: the first
 * add of a space to the batch, and every bad input. It does shape_bytes()'s
 * work for a single page directly: round down, and the top page, whose end
 * 2^N is not expressible, goes to add_page_general() (the whole space); a
 * threshold is >= 1, so one page never exceeds it. Every input a single-page
 * queue cannot take goes there too, which answers it as batch_queue() does.
 */
__attribute__((__noinline__)) static int add_page_checked(struct tlbb_batch *b,
							  struct tlbb_space *s, uint64_t va,
							  unsigned flags)
{
	const struct tlbb_backend *be = space_backend(s);
	uint64_t start, end;

	if (!be)
		return TLBB_EINVAL;
	start = va & s->page_base;
	/* The page's exclusive end; 0 (wrapped) exactly for the top page. */
	end = start + s->page_size;
	if (end == 0 || !b || flags > ADD_KNOWN_FLAGS || (b->backend && b->backend != be))
		return add_page_general(b, s, va, flags);
	batch_queue_on(be, b, s, start, end, flags);
	return TLBB_OK;
}

/*
 * The hot path (one call per reclaimed page): another page of the space the
 * batch's newest add was for. That space passed every check when it joined
 * the batch (initialised, of the batch's backend), and stays initialised
 * until the batch is flushed (THE LIFE OF A SPACE: fini only after every
 * batch holding its work was flushed), so what is left to answer here is
 * the flags and the top page. b->last == s also rules out a NULL space:
 * an empty batch holds TLBB_NO_SPACE. flags > ADD_KNOWN_FLAGS: the known
 * ones are the low bits.
 */
enum tlbb_status tlbb_add_page(struct tlbb_batch *b, struct tlbb_space *s, uint64_t va, unsigned flags)
{
	uint64_t start, end;

	if (__builtin_expect(!b || b->last != s || flags > ADD_KNOWN_FLAGS, 0))
		return add_page_checked(b, s, va, flags);
	start = va & s->page_base;
	/* The page's exclusive end; 0 (wrapped) exactly for the top page. */
	end = start + s->page_size;
	if (__builtin_expect(end == 0, 0))
		return add_page_checked(b, s, va, flags);
	batch_queue_bound(b->backend, b, s, start, end, flags, TLBB_RANGE_SAME);
	return TLBB_OK;
}

enum tlbb_status tlbb_flush_range_sync(struct tlbb_space *s, uint64_t start, uint64_t end, unsigned flags)
{
	const struct tlbb_backend *be = space_backend(s);
	bool unknown = widen_unknown_flags(&flags);
	struct tlbb_batch local;
	struct shaped r;

	if (!be)
		return TLBB_EINVAL;
	r = shape_range(s, start, end, flags);
	r.status = with_flags_status(r.status, unknown);
	if (r.nothing)
		return r.status;
	/*
	 * No pending bump: the invalidation is complete before we return, and
	 * the caller holds the PTL, so no race check can observe it half done.
	 */
	tlbb_batch_init(&local);
	local.backend = be;
	hook_add(be, &local, s, r.start, r.end, r.flags);
	local.flush_required = true;
	local.nr_adds = 1;
	hook_flush(be, &local);
	return r.status;
}

/* ---- frame hand-off: releases run after the flush ------------------------ */

enum tlbb_status tlbb_batch_release(struct tlbb_batch *b, struct tlbb_release *r, tlbb_release_fn fn)
{
	if (!r || !fn)
		return TLBB_EINVAL;
	r->fn = fn;
	r->next = NULL;
	if (!b) {
		/* No batch: the adds it answers for were synchronous, and done. */
		fn(r);
		return TLBB_EINVAL;
	}
	/* Newest first: one pointer in the batch, no tail; reversed at run. */
	r->next = b->release;
	b->release = r;
	return TLBB_OK;
}

/*
 * Run @b's releases, oldest first. Only after the backend's flush returned:
 * a release frees a frame some TLB could still translate to until then. The
 * list is detached first, so a release may queue into the emptied batch.
 *
 * Out of line, and named in tools/check-no-indirect: calling each release
 * is the caller's own indirect call, made only when it queued releases, so
 * the statically bound flush path stays free of the library's.
 */
__attribute__((__noinline__, __cold__)) static void batch_run_releases_slow(struct tlbb_batch *b)
{
	struct tlbb_release *r = b->release, *fifo = NULL;

	b->release = NULL;
	while (r) {
		struct tlbb_release *next = r->next;

		r->next = fifo;
		fifo = r;
		r = next;
	}
	while (fifo) {
		struct tlbb_release *next = fifo->next;

		fifo->next = NULL;
		fifo->fn(fifo);
		fifo = next;
	}
}

static inline void batch_run_releases(struct tlbb_batch *b)
{
	if (__builtin_expect(b->release != NULL, 0))
		batch_run_releases_slow(b);
}

void tlbb_flush(struct tlbb_batch *b)
{
	const struct tlbb_backend *be;

	if (!b)
		return;
	if (!b->flush_required) {
		batch_run_releases(b); /* nothing queued: nothing to wait for */
		return;
	}
	be = b->backend;
	hook_flush(be, b);
	zero_words(b->arch, TLBB_ARCH_BATCH_WORDS);
	/*
	 * Cleared only after the backend returned: everything the batch held is
	 * complete now. The generation word is deliberately left alone: another
	 * batch may have bumped it too and not flushed yet, so only
	 * tlbb_flush_pending(), which flushes the whole space, may publish.
	 */
	b->flush_required = false;
	b->inv_flags = 0;
	b->nr_adds = 0;
	b->backend = NULL;
	b->last = TLBB_NO_SPACE;
	if (b->cpus)
		tlbb_cpumask_clear(b->cpus);
	batch_run_releases(b);
}

void tlbb_flush_dirty(struct tlbb_batch *b)
{
	if (b && (b->inv_flags & TLBB_INV_WRITABLE))
		tlbb_flush(b);
}

/*
 * The out-of-line part of tlbb_flush_pending() (tlbbatch.h). Callable on its
 * own with the same answers: it re-reads the word and decides on the 15-bit
 * fields.
 */
bool tlbb_flush_pending_slow(struct tlbb_space *s)
{
	const struct tlbb_backend *be = space_backend(s);
	uint32_t seen, pending;

	if (!be)
		return false;
	/*
	 * Acquire pairs with the seq_cst bump in space_bump_pending(): if we see
	 * an adder's bump we also see that its invalidation was started.
	 */
	seen = __atomic_load_n(&s->batch_gen, __ATOMIC_ACQUIRE);
	pending = tlbb_gen_pending(seen);
	if (pending == tlbb_gen_flushed(seen))
		return false;
	/* From this CPU, complete a whole-space invalidation everywhere. */
	hook_flush_space(be, s);
	/*
	 * Publish flushed = pending only if nothing changed since we read the
	 * word. If a new pending arrived during our flush, its TLBI may have
	 * been issued after our invalidation: leave the word unequal so the
	 * next check flushes again (the lost-update race). A reset in between
	 * also fails the compare and is likewise left for the next check.
	 */
	__atomic_compare_exchange_n(&s->batch_gen, &seen,
				    pending | (pending << TLBB_GEN_FLUSHED_SHIFT), false,
				    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
	return true;
}
