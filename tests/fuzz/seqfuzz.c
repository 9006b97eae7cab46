/* SPDX-License-Identifier: MIT */
/*
 * Sequence fuzzer: the input bytes are a program of API calls, PTE changes,
 * CPU migrations and CPU accesses on the sim backend (both invalidation
 * models). After every step the sim is checked against a small reference
 * model written from the contract in tlbbatch.h and the arm64/x86 rules,
 * not from the sim's code:
 *
 *   - every translation a CPU may still legally cache is a "record": made
 *     when the program clears or write-protects a PTE that could have been
 *     cached, covered by the adds that queue its invalidation, and removed
 *     only when the contract says that invalidation is complete:
 *       arm64: a DSB executed by a CPU that issued a TLBI covering it (the
 *              batch flush, a race check or a synchronous flush on that CPU,
 *              or the context switch leaving it);
 *       x86:   the flush of a batch holding it, or a flush of its space.
 *   - every access must give a result the reference allows (a translation
 *     nothing may cache must FAULT; a read-only page with no writable record
 *     must refuse writes; a present PTE must not FAULT), and no CPU may hold
 *     an entry of a cleared page with no record (checked after every step);
 *   - every return value (status codes for bad ranges, NULL batch/space,
 *     tlbb_flush_pending's "flushed", tlbb_should_defer, tlbb_batch_pending,
 *     tlbb_space_has_pending) and the sim's cost counters (TLBIs, DSBs,
 *     IPIs, flushes) must be the ones the reference predicts;
 *   - and the sim's own frame/claim oracle must count no stale access.
 *
 * The program follows the protocol (PTE cleared before its add; race check
 * before changing PTEs; frames freed only when no record of them is left)
 * except where the input asks to migrate without the switch barrier: the
 * reference knows that this leaves the old CPU's TLBIs incomplete.
 *
 * Fault switches: with TLBB_FUZZ_FAULTS=<TLBB_SIM_FAULT_* mask> in the
 * environment (or --faults=N in the replay driver) the sim drops a step of
 * the protocol; the reference does not, so the fuzzer must report a
 * violation. That is the fuzzer's negative control.
 */
#include "seqfuzz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tlbbatch/sim.h>

#define NSPACE 2
#define NPAGES 8
#define NBATCH 2
#define MAXCPU 4
#define MAXREC 512
#define MAXOPS 400
#define NFRAMES 24 /* few frames, so they run out and must be recycled */
#define PAGE 4096u
#define VA(v) ((uintptr_t)(v) * PAGE)

unsigned seqfuzz_faults;
void (*seqfuzz_violation_hook)(const char *msg);

/* ---- input reader ------------------------------------------------------- */

struct input {
	const uint8_t *p;
	size_t n;
};

static bool more(const struct input *in)
{
	return in->n > 0;
}

static unsigned byte(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint64_t word64(struct input *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | byte(in);
	return v;
}

/* ---- the hook contract (tlbbatch/backend.h), checked on every call ------- */

/*
 * The spaces are bound to these wrappers, not to the sim's backend directly:
 * each hook call is checked against what backend.h promises a backend, then
 * passed on. Two instances, so one batch can meet two backends.
 */
struct checked_backend {
	struct tlbb_backend be; /* first: the hooks get &be */
	const struct tlbb_backend *inner;
};

static struct checked_backend checked[2];
static unsigned space_inits; /* calls of the space_init hook */
static void contract(bool ok, const char *what);

static const struct tlbb_backend *inner_of(const struct tlbb_backend *be)
{
	return ((const struct checked_backend *)(const void *)be)->inner;
}

static bool chk_should_defer(const struct tlbb_backend *be, const struct tlbb_space *s)
{
	contract(s->backend == be, "should_defer: space of another backend");
	return inner_of(be)->should_defer(inner_of(be), s);
}

static void chk_add(const struct tlbb_backend *be, struct tlbb_batch *b, struct tlbb_space *s,
		    uintptr_t start, uintptr_t end, unsigned flags)
{
	uintptr_t mask = ((uintptr_t)1 << s->page_shift) - 1;

	contract(b->backend == be && s->backend == be, "add: batch or space not bound to us");
	contract(!(flags & ~(TLBB_ADD_WRITABLE | TLBB_ADD_LEAF_ONLY | TLBB_RANGE_ALL |
			     TLBB_RANGE_SAME)),
		 "add: unknown flags");
	contract(((flags & TLBB_RANGE_SAME) != 0) == (b->last == s),
		 "add: TLBB_RANGE_SAME is not exactly 'the space of the batch's previous add'");
	if (flags & TLBB_RANGE_ALL)
		contract(start == 0 && end == 0, "add: whole space with a range");
	else
		contract(start < end && !(start & mask) && !(end & mask) &&
				 ((end - start) >> s->page_shift) <= s->full_flush_pages,
			 "add: range empty, unaligned or over the threshold");
	inner_of(be)->add(inner_of(be), b, s, start, end, flags);
}

static void chk_flush(const struct tlbb_backend *be, struct tlbb_batch *b)
{
	contract(b->flush_required, "flush: called with nothing required");
	contract(b->backend == be, "flush: batch not bound to us");
	inner_of(be)->flush(inner_of(be), b);
}

static void chk_flush_space(const struct tlbb_backend *be, struct tlbb_space *s)
{
	contract(s->backend == be, "flush_space: space of another backend");
	inner_of(be)->flush_space(inner_of(be), s);
}

/* Called by tlbb_space_init() before the space is published. */
static void chk_space_init(const struct tlbb_backend *be, struct tlbb_space *s)
{
	bool zero = true;

	for (unsigned i = 0; i < TLBB_ARCH_SPACE_WORDS; i++)
		zero &= s->arch[i] == 0;
	contract(__atomic_load_n(&s->backend, __ATOMIC_RELAXED) == NULL,
		 "space_init: space published before its backend state was set up");
	contract(zero && s->cpus == NULL && !tlbb_space_has_pending(s),
		 "space_init: space not reset first");
	space_inits++;
	(void)be;
}

static void bind_checked(const struct tlbb_backend *inner)
{
	for (unsigned i = 0; i < 2; i++)
		checked[i] = (struct checked_backend){
			.be = { .name = "checked", .ctx = inner->ctx,
				.should_defer = chk_should_defer, .add = chk_add,
				.flush = chk_flush, .flush_space = chk_flush_space,
				.space_init = chk_space_init },
			.inner = inner,
		};
}

/* ---- the reference model -------------------------------------------------- */

/* A translation that may still be cached although its PTE changed. */
struct record {
	bool used;
	unsigned space, vpn;
	bool writable;
	unsigned issuers; /* arm64: CPUs that issued a TLBI covering it */
	unsigned batches; /* x86: batches that queued its invalidation */
	unsigned frame;
};

struct ref_batch {
	bool required;  /* something queued since the last flush */
	bool writable;  /* some add had TLBB_ADD_WRITABLE */
	unsigned cpus;  /* x86: OR of the spaces' CPU masks at add time */
	uint32_t nr_adds; /* the public statistics field */
	unsigned backend; /* which checked backend the batch is bound to */
};

struct ref_pte {
	bool valid, writable;
	unsigned frame;
};

struct counters {
	uint64_t tlbi_ops, dsb, dsb_ishst, ipi_rounds, ipis, local_flushes;
	uint64_t batch_flushes, space_flushes;
	uint64_t accesses, hits, walks, faults;
};

struct world {
	struct tlbb_sim *sim;
	enum tlbb_sim_model model;
	unsigned ncpus;
	unsigned cur;                   /* CPU the program runs on */
	struct tlbb_sim_space ss[NSPACE];
	struct tlbb_batch b[NBATCH];
	tlbb_cpumask_t bmask[NBATCH]; /* the port's batch masks: exact rounds */
	/* reference */
	struct ref_pte pte[NSPACE][NPAGES];
	struct record rec[MAXREC];
	struct ref_batch rb[NBATCH];
	unsigned space_cpus[NSPACE];    /* CPUs that ran the space */
	int active[MAXCPU];             /* space active on each CPU, -1 none */
	bool dirty[NSPACE];             /* an add since the last race check that flushed */
	uint32_t threshold[NSPACE];
	unsigned space_backend[NSPACE]; /* index into checked[] */
	enum { F_FREE, F_LIVE, F_UNMAPPED, F_RETIRED } frame[NFRAMES];
	struct counters want;
	unsigned outstanding[MAXCPU];   /* arm64: TLBIs queued per CPU */
	unsigned max_outstanding;
	unsigned step;
	bool full;                      /* record table overflowed: stop */
	char trace[256];
};

static struct world world;

static void violation(struct world *w, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "seqfuzz violation at step %u (%s, %s, faults=%#x): ",
		     w->step, w->model == TLBB_SIM_ARM64 ? "arm64" : "x86", w->trace,
		     seqfuzz_faults);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (seqfuzz_violation_hook)
		seqfuzz_violation_hook(msg); /* the replay driver longjmps out */
	fprintf(stderr, "%s\n", msg);
	abort();
}

static void contract(bool ok, const char *what)
{
	if (!ok)
		violation(&world, "backend hook contract broken: %s", what);
}

#define CHECK(w, cond, ...)                          \
	do {                                         \
		if (!(cond))                         \
			violation((w), __VA_ARGS__); \
	} while (0)

static unsigned popcount(unsigned m)
{
	return (unsigned)__builtin_popcount(m);
}

static void add_record(struct world *w, unsigned s, unsigned v, bool writable, unsigned frame)
{
	for (unsigned i = 0; i < MAXREC; i++) {
		if (!w->rec[i].used) {
			w->rec[i] = (struct record){ true, s, v, writable, 0, 0, frame };
			return;
		}
	}
	/* Too many unflushed translations: end the program after this step
	 * (the record is lost, so stop checking absence from now on). */
	w->full = true;
}

static bool record_of_frame(const struct world *w, unsigned frame)
{
	for (unsigned i = 0; i < MAXREC; i++)
		if (w->rec[i].used && w->rec[i].frame == frame)
			return true;
	return false;
}

/*
 * arm64: the current CPU issued @n TLBIs. They queue until its DSB; past
 * max_outstanding the hardware (sim) completes the oldest early, so the
 * queue length is capped, never exceeded and never lost.
 */
static void ref_issued(struct world *w, unsigned n)
{
	w->want.tlbi_ops += n;
	w->outstanding[w->cur] += n;
	if (w->outstanding[w->cur] > w->max_outstanding)
		w->outstanding[w->cur] = w->max_outstanding;
}

/* CPU @c executed DSB ISH. arm64: its own TLBIs are complete (x86: no-op). */
static void ref_dsb(struct world *w, unsigned c)
{
	w->want.dsb++;
	if (w->model != TLBB_SIM_ARM64)
		return;
	w->outstanding[c] = 0;
	for (unsigned i = 0; i < MAXREC; i++)
		if (w->rec[i].used && (w->rec[i].issuers & (1u << c)))
			w->rec[i].used = false;
}

/*
 * An invalidation of pages [first, last] of @s (or all of @s) was started
 * from the current CPU, for batch @bi (-1: none): the records it covers.
 */
static void ref_cover(struct world *w, int bi, unsigned s, bool all, uintptr_t first,
		      uintptr_t last_incl)
{
	for (unsigned i = 0; i < MAXREC; i++) {
		struct record *r = &w->rec[i];

		if (!r->used || r->space != s)
			continue;
		if (!all && (r->vpn < first || r->vpn > last_incl))
			continue;
		r->issuers |= 1u << w->cur;
		if (bi >= 0)
			r->batches |= 1u << bi;
	}
}

/* The backend add: arm64 DSB ISHST, then one TLBI per page or one by ASID. */
static void ref_backend_add(struct world *w, int bi, unsigned s, bool all, uintptr_t first,
			    uintptr_t last_incl)
{
	ref_cover(w, bi, s, all, first, last_incl);
	if (w->model == TLBB_SIM_ARM64) {
		w->want.dsb_ishst++;
		ref_issued(w, all ? 1 : (unsigned)(last_incl - first + 1));
	}
}

/* A backend flush of a batch whose x86 CPU mask is @cpus, run on w->cur. */
static void ref_backend_flush(struct world *w, int bi, unsigned cpus)
{
	w->want.batch_flushes++;
	if (w->model == TLBB_SIM_ARM64) {
		ref_dsb(w, w->cur);
		return;
	}
	if (cpus & (1u << w->cur))
		w->want.local_flushes++;
	if (cpus & ~(1u << w->cur)) {
		w->want.ipi_rounds++;
		w->want.ipis += popcount(cpus & ~(1u << w->cur));
	}
	for (unsigned i = 0; i < MAXREC; i++)
		if (w->rec[i].used && bi >= 0 && (w->rec[i].batches & (1u << bi)))
			w->rec[i].used = false;
}

/* The backend flush_space (race check, NULL batch): whole @s, from w->cur. */
static void ref_flush_space(struct world *w, unsigned s)
{
	w->want.space_flushes++;
	if (w->model == TLBB_SIM_ARM64) {
		/* our own TLBI ASIDE1IS, then our DSB: complete from any CPU */
		ref_issued(w, 1);
		ref_cover(w, -1, s, true, 0, 0);
		ref_dsb(w, w->cur);
		return;
	}
	if (w->space_cpus[s] & (1u << w->cur))
		w->want.local_flushes++;
	if (w->space_cpus[s] & ~(1u << w->cur)) {
		w->want.ipi_rounds++;
		w->want.ipis += popcount(w->space_cpus[s] & ~(1u << w->cur));
	}
	for (unsigned i = 0; i < MAXREC; i++)
		if (w->rec[i].used && w->rec[i].space == s)
			w->rec[i].used = false;
}

/*
 * What an add of [start, end) (or a page: start == end - 1 inclusive) must
 * do by the contract: returns the status and the pages (or all) queued.
 */
struct shape {
	int status;
	bool nothing, all;
	uintptr_t first, last; /* vpns, inclusive */
};

static struct shape shape_inclusive(uint32_t threshold, uintptr_t first_b, uintptr_t last_b)
{
	struct shape r = { TLBB_OK, false, false, first_b / PAGE, last_b / PAGE };

	/* the top page's exclusive end is not expressible; too long a range */
	if (r.last == UINTPTR_MAX / PAGE || r.last - r.first + 1 > threshold)
		r.all = true;
	return r;
}

static struct shape shape_range(uint32_t threshold, uintptr_t start, uintptr_t end)
{
	struct shape r;

	if (start == end)
		return (struct shape){ TLBB_OK, true, false, 0, 0 };
	if (end < start) {
		r = (struct shape){ TLBB_ERANGE, false, true, 0, 0 };
		return r;
	}
	return shape_inclusive(threshold, start, end - 1);
}

/* The library call and the reference's prediction, compared. */
static void do_add(struct world *w, int bi, unsigned s, struct shape sh, int rc, unsigned flags)
{
	struct ref_batch *rb = bi >= 0 ? &w->rb[bi] : NULL;

	if (sh.nothing) {
		CHECK(w, rc == sh.status, "empty range: rc %d, want %d", rc, sh.status);
		return;
	}
	if (!rb) {
		/* NULL batch: the space is flushed synchronously */
		CHECK(w, rc == TLBB_EINVAL, "NULL batch: rc %d, want EINVAL", rc);
		ref_flush_space(w, s);
		return;
	}
	if (rb->required && rb->backend != w->space_backend[s]) {
		/* a batch holds one backend's spaces: this one is flushed now */
		CHECK(w, rc == TLBB_EBACKEND, "other backend: rc %d, want EBACKEND", rc);
		ref_flush_space(w, s);
		return;
	}
	CHECK(w, rc == sh.status, "add: rc %d, want %d", rc, sh.status);
	ref_backend_add(w, bi, s, sh.all, sh.first, sh.last);
	rb->required = true;
	rb->backend = w->space_backend[s];
	if (flags & TLBB_ADD_WRITABLE)
		rb->writable = true;
	rb->cpus |= w->space_cpus[s];
	rb->nr_adds++;
	w->dirty[s] = true;
}

static void ref_flushed(struct world *w, int bi)
{
	struct ref_batch *rb = &w->rb[bi];

	if (rb->required)
		ref_backend_flush(w, bi, rb->cpus);
	for (unsigned i = 0; i < MAXREC; i++)
		w->rec[i].batches &= ~(1u << bi);
	*rb = (struct ref_batch){ false, false, 0, 0, 0 };
}

static void do_flush(struct world *w, int bi)
{
	tlbb_flush(&w->b[bi]);
	ref_flushed(w, bi);
}

static void race_check(struct world *w, unsigned s)
{
	bool flushed = tlbb_flush_pending(&w->ss[s].space);

	CHECK(w, flushed == w->dirty[s], "tlbb_flush_pending(space %u) returned %d, want %d", s,
	      flushed, w->dirty[s]);
	if (flushed)
		ref_flush_space(w, s);
	w->dirty[s] = false;
	CHECK(w, !tlbb_space_has_pending(&w->ss[s].space), "space %u still pending after race check",
	      s);
}

/* tlbb_flush_range_sync of one page (the changer's own TLB maintenance). */
static void sync_flush_page(struct world *w, unsigned s, unsigned v)
{
	int rc = tlbb_flush_range_sync(&w->ss[s].space, VA(v), VA(v + 1), TLBB_ADD_WRITABLE);

	CHECK(w, rc == TLBB_OK, "tlbb_flush_range_sync rc %d", rc);
	ref_backend_add(w, -1, s, false, v, v);
	if (w->model == TLBB_SIM_X86) {
		for (unsigned i = 0; i < MAXREC; i++)
			if (w->rec[i].used && w->rec[i].space == s && w->rec[i].vpn == v)
				w->rec[i].used = false;
	}
	ref_backend_flush(w, -1, w->space_cpus[s]);
}

/* The program clears PTE (s, v); the old translation becomes a record. */
static struct ref_pte clear_pte(struct world *w, unsigned s, unsigned v)
{
	struct ref_pte old = w->pte[s][v];
	uint64_t simold = tlbb_sim_pte_clear(&w->ss[s], v);

	CHECK(w, ((simold & TLBB_SIM_PTE_VALID) != 0) == old.valid, "sim PTE disagrees");
	if (old.valid) {
		add_record(w, s, v, old.writable || (simold & TLBB_SIM_PTE_DIRTY), old.frame);
		w->frame[old.frame] = F_UNMAPPED;
	}
	w->pte[s][v] = (struct ref_pte){ false, false, 0 };
	return old;
}

/* Frames unmapped and with no record left may be freed; freed ones reused. */
static void free_frames(struct world *w, bool recycle)
{
	for (unsigned f = 1; f < NFRAMES; f++) {
		if (w->frame[f] == F_UNMAPPED && !record_of_frame(w, f)) {
			tlbb_sim_frame_set_state(w->sim, f, TLBB_SIM_FRAME_RETIRED);
			w->frame[f] = F_RETIRED;
		} else if (recycle && w->frame[f] == F_RETIRED) {
			tlbb_sim_frame_recycle(w->sim, f);
			w->frame[f] = F_FREE;
		}
	}
}

/* ---- checks after every step -------------------------------------------- */

static bool has_record(const struct world *w, unsigned s, unsigned v, bool need_write)
{
	for (unsigned i = 0; i < MAXREC; i++)
		if (w->rec[i].used && w->rec[i].space == s && w->rec[i].vpn == v &&
		    (!need_write || w->rec[i].writable))
			return true;
	return false;
}

static void check_world(struct world *w)
{
	struct tlbb_sim_stats st;

	for (unsigned s = 0; s < NSPACE; s++) {
		for (unsigned v = 0; v < NPAGES; v++) {
			if (w->pte[s][v].valid || has_record(w, s, v, false))
				continue;
			for (unsigned c = 0; c < w->ncpus; c++)
				CHECK(w, !tlbb_sim_tlb_has(w->sim, c, w->ss[s].space.id, VA(v)),
				      "CPU %u caches space %u page %u: cleared and no invalidation "
				      "outstanding",
				      c, s, v);
		}
		CHECK(w, tlbb_should_defer(&w->ss[s].space) ==
				 (w->model == TLBB_SIM_ARM64 ||
				  (w->space_cpus[s] & ~(1u << w->cur)) != 0),
		      "tlbb_should_defer(space %u) wrong", s);
	}
	for (unsigned bi = 0; bi < NBATCH; bi++)
		CHECK(w, tlbb_batch_pending(&w->b[bi]) == w->rb[bi].required &&
				 w->b[bi].nr_adds == w->rb[bi].nr_adds,
		      "b%u: pending %d nr_adds %u, want %d %u", bi, tlbb_batch_pending(&w->b[bi]),
		      w->b[bi].nr_adds, w->rb[bi].required, w->rb[bi].nr_adds);
	for (unsigned f = 1; f < NFRAMES; f++) {
		static const enum tlbb_sim_frame_state want[] = {
			[F_FREE] = TLBB_SIM_FRAME_FREE, [F_LIVE] = TLBB_SIM_FRAME_LIVE,
			[F_UNMAPPED] = TLBB_SIM_FRAME_LIVE, [F_RETIRED] = TLBB_SIM_FRAME_RETIRED };

		CHECK(w, tlbb_sim_frame_state(w->sim, f) == want[w->frame[f]], "frame %u state %d, want %d",
		      f, tlbb_sim_frame_state(w->sim, f), want[w->frame[f]]);
	}
	tlbb_sim_get_stats(w->sim, &st);
	CHECK(w, st.stale == 0, "sim oracle counted %llu stale accesses (first: cpu %u va %#lx)",
	      (unsigned long long)st.stale, st.first_stale_cpu, (unsigned long)st.first_stale_va);
	if (seqfuzz_faults)
		return; /* a fault switch changes the cost model on purpose */
#define CMP(f) CHECK(w, st.f == w->want.f, #f " = %llu, want %llu", (unsigned long long)st.f, \
		     (unsigned long long)w->want.f)
	CMP(tlbi_ops);
	CMP(dsb);
	CMP(dsb_ishst);
	CMP(ipi_rounds);
	CMP(ipis);
	CMP(local_flushes);
	CMP(batch_flushes);
	CMP(space_flushes);
	CMP(accesses);
	CMP(hits);
	CMP(walks);
	CMP(faults);
#undef CMP
	for (unsigned c = 0; c < w->ncpus; c++)
		CHECK(w, tlbb_sim_outstanding(w->sim, c) == w->outstanding[c],
		      "CPU %u has %u TLBIs outstanding, want %u", c, tlbb_sim_outstanding(w->sim, c),
		      w->outstanding[c]);
}

static void check_access(struct world *w, unsigned c, unsigned v, bool write,
			 enum tlbb_sim_access_result r)
{
	int s = w->active[c];
	bool pte_ok, rec_ok;

	if (s < 0 || v >= NPAGES) {
		CHECK(w, r == TLBB_SIM_FAULT, "access with nothing mapped gave %d", r);
		return;
	}
	pte_ok = w->pte[s][v].valid && (!write || w->pte[s][v].writable);
	rec_ok = has_record(w, (unsigned)s, v, write);
	CHECK(w, r != TLBB_SIM_STALE, "CPU %u %s space %d page %u: STALE", c,
	      write ? "wrote" : "read", s, v);
	if (pte_ok)
		CHECK(w, r == TLBB_SIM_HIT || r == TLBB_SIM_WALK,
		      "CPU %u: present PTE of space %d page %u gave %d", c, s, v, r);
	else if (!rec_ok)
		CHECK(w, r == TLBB_SIM_FAULT,
		      "CPU %u %s space %d page %u through a translation nothing may cache "
		      "(result %d)",
		      c, write ? "wrote" : "read", s, v, r);
	else
		CHECK(w, r == TLBB_SIM_HIT || r == TLBB_SIM_FAULT, "CPU %u: result %d", c, r);
}

/* ---- the program ---------------------------------------------------------- */

enum op {
	OP_UNMAP_PAGE,
	OP_UNMAP_RANGE,
	OP_UNMAP_SPACE,
	OP_FLUSH,
	OP_FLUSH_DIRTY,
	OP_MPROTECT,
	OP_ZAP,
	OP_RACE_CHECK,
	OP_MAP,
	OP_ACCESS,
	OP_PREFETCH,
	OP_SWITCH,
	OP_MIGRATE,
	OP_DSB,
	OP_FREE,
	OP_NULL_ARGS,
	OP_COUNT
};

static void map_page(struct world *w, unsigned s, unsigned v, bool writable)
{
	bool any_free = false;
	int f;

	if (w->pte[s][v].valid)
		return;
	for (unsigned i = 1; i < NFRAMES; i++)
		any_free |= w->frame[i] == F_FREE;
	f = tlbb_sim_frame_alloc(w->sim);
	CHECK(w, (f >= 0) == any_free, "frame alloc gave %d, a free frame %s", f,
	      any_free ? "exists" : "does not exist");
	if (f < 0)
		return;
	CHECK(w, f > 0 && f < NFRAMES && w->frame[f] == F_FREE, "frame %d handed out twice", f);
	w->frame[f] = F_LIVE;
	tlbb_sim_pte_set(&w->ss[s], v, (unsigned)f, writable);
	w->pte[s][v] = (struct ref_pte){ true, writable, (unsigned)f };
}

/* A range from 4 input bytes: mostly inside the space, sometimes wild. */
static void pick_range(struct input *in, uintptr_t *start, uintptr_t *end)
{
	unsigned kind = byte(in), a = byte(in), b = byte(in);

	switch (kind % 8) {
	case 0: /* inverted */
		*start = VA(a % NPAGES + 1) + (b & 0xfff);
		*end = *start - 1 - (uintptr_t)(b % 3) * PAGE;
		break;
	case 1: /* empty */
		*start = *end = VA(a % NPAGES) + b;
		break;
	case 2: /* reaching the top of the address space */
		*start = UINTPTR_MAX - (uintptr_t)a * 97;
		*end = UINTPTR_MAX - (uintptr_t)(b % 3);
		if (*end < *start)
			*end = *start + 1 > *start ? *start + 1 : *start;
		break;
	case 3: /* fully wild */
		*start = (uintptr_t)word64(in);
		*end = (uintptr_t)word64(in);
		break;
	default: /* sane, unaligned ends allowed */
		*start = VA(a % NPAGES) + (uintptr_t)(b & 0x7) * 0x123;
		*end = *start + 1 + (uintptr_t)(b % (NPAGES * 2)) * PAGE / 2;
		break;
	}
}

static void run(struct world *w, struct input *in)
{
	while (more(in) && w->step < MAXOPS && !w->full) {
		unsigned op = byte(in) % OP_COUNT;
		unsigned a = byte(in), s = a % NSPACE, v = (a / NSPACE) % NPAGES;
		int bi = (int)((a >> 5) % NBATCH);

		w->step++;
		switch (op) {
		case OP_UNMAP_PAGE: {
			/* reclaim one page: clear under the PTL, queue, maybe with a
			 * mid-page address or the LEAF hint */
			unsigned fl = byte(in);
			struct ref_pte old = clear_pte(w, s, v);
			unsigned flags = ((old.writable || (fl & 1)) ? TLBB_ADD_WRITABLE : 0) |
					 ((fl & 2) ? TLBB_ADD_LEAF_ONLY : 0);
			uintptr_t va = VA(v) + (fl >> 2) * 13;
			int rc = tlbb_add_page(&w->b[bi], &w->ss[s].space, va, flags);

			snprintf(w->trace, sizeof(w->trace), "unmap_page s%u v%u b%d", s, v, bi);
			do_add(w, bi, s, shape_inclusive(w->threshold[s], va, va), rc, flags);
			break;
		}
		case OP_UNMAP_RANGE: {
			uintptr_t start, end;
			struct shape sh;
			unsigned flags = TLBB_ADD_WRITABLE, fl;
			int rc;

			pick_range(in, &start, &end);
			fl = byte(in);
			sh = shape_range(w->threshold[s], start, end);
			/* clear only what the add will cover */
			for (unsigned p = 0; p < NPAGES; p++)
				if (!sh.nothing && (sh.all || (p >= sh.first && p <= sh.last)) &&
				    (fl & (1u << p)))
					clear_pte(w, s, p);
			rc = tlbb_add_range(&w->b[bi], &w->ss[s].space, start, end, flags);
			snprintf(w->trace, sizeof(w->trace), "unmap_range s%u [%#lx,%#lx) b%d", s,
				 (unsigned long)start, (unsigned long)end, bi);
			do_add(w, bi, s, sh, rc, flags);
			break;
		}
		case OP_UNMAP_SPACE: {
			unsigned mask = byte(in);
			int rc;

			for (unsigned p = 0; p < NPAGES; p++)
				if (mask & (1u << p))
					clear_pte(w, s, p);
			rc = tlbb_add_space(&w->b[bi], &w->ss[s].space, TLBB_ADD_WRITABLE);
			snprintf(w->trace, sizeof(w->trace), "unmap_space s%u b%d", s, bi);
			do_add(w, bi, s, (struct shape){ TLBB_OK, false, true, 0, 0 }, rc,
			       TLBB_ADD_WRITABLE);
			break;
		}
		case OP_FLUSH:
			snprintf(w->trace, sizeof(w->trace), "flush b%d on cpu%u", bi, w->cur);
			do_flush(w, bi);
			break;
		case OP_FLUSH_DIRTY:
			snprintf(w->trace, sizeof(w->trace), "flush_dirty b%d", bi);
			/* flushes exactly when an add was flagged writable; the
			 * counters and the access checks see a skipped flush */
			tlbb_flush_dirty(&w->b[bi]);
			if (w->rb[bi].writable)
				ref_flushed(w, bi);
			break;
		case OP_MPROTECT:
			/* mprotect(READ) of one page: race check, change, own flush */
			snprintf(w->trace, sizeof(w->trace), "mprotect s%u v%u on cpu%u", s, v,
				 w->cur);
			race_check(w, s);
			if (w->pte[s][v].valid && w->pte[s][v].writable) {
				tlbb_sim_pte_protect(&w->ss[s], v, false);
				add_record(w, s, v, true, w->pte[s][v].frame);
				w->pte[s][v].writable = false;
				sync_flush_page(w, s, v);
			}
			CHECK(w, !has_record(w, s, v, true), "writable record after mprotect");
			tlbb_sim_claim_clean(&w->ss[s], v);
			break;
		case OP_ZAP:
			snprintf(w->trace, sizeof(w->trace), "zap s%u v%u on cpu%u", s, v, w->cur);
			race_check(w, s);
			if (w->pte[s][v].valid) {
				clear_pte(w, s, v);
				sync_flush_page(w, s, v);
			}
			CHECK(w, !has_record(w, s, v, false), "record after zap");
			tlbb_sim_claim_clean(&w->ss[s], v);
			break;
		case OP_RACE_CHECK:
			snprintf(w->trace, sizeof(w->trace), "race check s%u", s);
			race_check(w, s);
			break;
		case OP_MAP:
			snprintf(w->trace, sizeof(w->trace), "map s%u v%u", s, v);
			map_page(w, s, v, (a >> 7) & 1);
			break;
		case OP_ACCESS: {
			unsigned c = byte(in) % w->ncpus;
			bool write = (a >> 7) & 1;
			enum tlbb_sim_access_result r;

			snprintf(w->trace, sizeof(w->trace), "access cpu%u v%u %s", c, v,
				 write ? "write" : "read");
			r = tlbb_sim_access(w->sim, c, VA(v) + (a & 0xff), write);
			check_access(w, c, v, write, r);
			/* a write walk sets the hardware dirty bit of the PTE it used */
			if (r == TLBB_SIM_WALK && write)
				CHECK(w, tlbb_sim_pte_get(&w->ss[w->active[c]], v) & TLBB_SIM_PTE_DIRTY,
				      "write walk left the PTE clean");
			/* the sim's counters must agree with what it returned */
			w->want.accesses++;
			w->want.hits += r == TLBB_SIM_HIT;
			w->want.walks += r == TLBB_SIM_WALK;
			w->want.faults += r == TLBB_SIM_FAULT;
			break;
		}
		case OP_PREFETCH: {
			unsigned c = byte(in) % w->ncpus;

			snprintf(w->trace, sizeof(w->trace), "prefetch cpu%u v%u", c, v);
			tlbb_sim_prefetch(w->sim, c, VA(v));
			break;
		}
		case OP_SWITCH: {
			unsigned c = byte(in) % w->ncpus;

			snprintf(w->trace, sizeof(w->trace), "switch cpu%u to s%u", c, s);
			tlbb_sim_switch_to(w->sim, c, &w->ss[s]);
			w->active[c] = (int)s;
			w->space_cpus[s] |= 1u << c;
			break;
		}
		case OP_MIGRATE: {
			unsigned c = byte(in) % w->ncpus;
			bool barrier = !(a & 0x80);

			snprintf(w->trace, sizeof(w->trace), "migrate cpu%u -> cpu%u%s", w->cur, c,
				 barrier ? "" : " without switch barrier");
			tlbb_sim_migrate(w->sim, c, barrier);
			if (barrier)
				ref_dsb(w, w->cur); /* the port's context-switch DSB ISH */
			w->cur = c;
			break;
		}
		case OP_DSB: {
			unsigned c = byte(in) % w->ncpus;

			snprintf(w->trace, sizeof(w->trace), "dsb cpu%u", c);
			if (w->model == TLBB_SIM_ARM64) {
				tlbb_sim_dsb(w->sim, c);
				ref_dsb(w, c);
			}
			break;
		}
		case OP_FREE:
			snprintf(w->trace, sizeof(w->trace), "free frames");
			free_frames(w, a & 1);
			break;
		case OP_NULL_ARGS: {
			/* NULL batch: synchronous flush of the space; NULL space: nothing */
			int rc;

			snprintf(w->trace, sizeof(w->trace), "null args s%u v%u", s, v);
			if (a & 0x80) {
				clear_pte(w, s, v);
				rc = tlbb_add_page(NULL, &w->ss[s].space, VA(v), 0);
				do_add(w, -1, s, shape_inclusive(w->threshold[s], VA(v), VA(v)), rc, 0);
			} else {
				rc = tlbb_add_range(&w->b[bi], NULL, 0, PAGE, 0);
				CHECK(w, rc == TLBB_EINVAL, "NULL space: rc %d", rc);
				CHECK(w, !tlbb_flush_pending(NULL), "flush_pending(NULL) flushed");
			}
			break;
		}
		}
		if (!w->full)
			check_world(w);
	}
}

static bool setup(struct world *w, struct input *in)
{
	unsigned cfg = byte(in), t = byte(in);
	struct tlbb_sim_config sc = {
		.ncpus = 2 + cfg % 3,
		.model = (cfg >> 2) & 1 ? TLBB_SIM_X86 : TLBB_SIM_ARM64,
		.tlb_entries = (cfg >> 3) & 1 ? 4 : 64, /* tiny TLBs evict */
		.nframes = NFRAMES,
		.faults = seqfuzz_faults,
		/* a short queue: the oldest TLBI completes early when it is full */
		.max_outstanding = (cfg >> 4) & 1 ? 3 : 4096,
	};

	memset(w, 0, sizeof(*w));
	w->sim = tlbb_sim_create(&sc);
	if (!w->sim)
		return false;
	bind_checked(tlbb_sim_backend(w->sim));
	space_inits = 0;
	w->model = sc.model;
	w->max_outstanding = sc.max_outstanding;
	w->ncpus = sc.ncpus;
	for (unsigned c = 0; c < MAXCPU; c++)
		w->active[c] = -1;
	for (unsigned s = 0; s < NSPACE; s++) {
		if (tlbb_sim_space_init(w->sim, &w->ss[s], 1 + s, NPAGES) != TLBB_OK)
			return false;
		/* rebind to a checked wrapper; space 1 maybe to a second backend */
		w->space_backend[s] = s == 1 && ((cfg >> 5) & 1);
		/* garbage first: init must reset every field it relies on */
		memset(w->ss[s].space.arch, 0xa5, sizeof(w->ss[s].space.arch));
		w->ss[s].space.batch_gen = 0x12345;
		if (tlbb_space_init(&w->ss[s].space, &checked[w->space_backend[s]].be, 1 + s,
				    &w->ss[s]) != TLBB_OK)
			return false;
		tlbb_space_set_cpumask(&w->ss[s].space, &w->ss[s].cpus); /* init reset it */
		CHECK(w, space_inits == s + 1, "space_init hook not called");
		/* small thresholds so whole-space fallbacks are common */
		w->threshold[s] = 1 + ((t >> (4 * s)) & 0xf);
		if (tlbb_space_set_threshold(&w->ss[s].space, w->threshold[s]) != TLBB_OK)
			return false;
		for (unsigned v = 0; v < NPAGES; v++)
			map_page(w, s, v, true);
	}
	/* batches live in uninitialised memory: init must set every field */
	memset(w->b, 0xff, sizeof(w->b));
	for (unsigned bi = 0; bi < NBATCH; bi++) {
		tlbb_batch_init(&w->b[bi]);
		tlbb_batch_set_cpumask(&w->b[bi], &w->bmask[bi]);
	}
	/* every CPU starts in space (c % 2) */
	for (unsigned c = 0; c < w->ncpus; c++) {
		tlbb_sim_switch_to(w->sim, c, &w->ss[c % NSPACE]);
		w->active[c] = (int)(c % NSPACE);
		w->space_cpus[c % NSPACE] |= 1u << c;
	}
	tlbb_sim_cpu_enter(w->sim, 0);
	w->cur = 0;
	snprintf(w->trace, sizeof(w->trace), "setup");
	return true;
}

static void teardown(struct world *w)
{
	if (!w->sim)
		return;
	for (unsigned s = 0; s < NSPACE; s++)
		tlbb_sim_space_fini(&w->ss[s]);
	tlbb_sim_destroy(w->sim);
	w->sim = NULL;
}

/* The world (defined above) outlives a violation that longjmps out of run(). */

void seqfuzz_cleanup(void)
{
	teardown(&world);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };

	if (setup(&world, &in)) {
		check_world(&world);
		run(&world, &in);
		/* the end of the program: everything flushed, all races checked */
		snprintf(world.trace, sizeof(world.trace), "final flush");
		for (int bi = 0; bi < NBATCH; bi++)
			do_flush(&world, bi);
		for (unsigned s = 0; s < NSPACE; s++)
			race_check(&world, s);
		check_world(&world);
	}
	teardown(&world);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *f = getenv("TLBB_FUZZ_FAULTS");

	(void)argc;
	(void)argv;
	if (f)
		seqfuzz_faults = (unsigned)strtoul(f, NULL, 0);
	return 0;
}
