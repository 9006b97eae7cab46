/* SPDX-License-Identifier: MIT */
/*
 * The vcpu backend: software TLBs on vCPU threads, invalidated through
 * per-vCPU mailboxes and completed by liburcu-qsbr grace periods. See
 * include/tlbbatch/vcpu.h for the model and the ordering argument; the
 * comments here point at the step of that argument each line implements.
 *
 * Ownership:
 *   - a slot's TLB, scratch buffer and counters: written only by the thread
 *     registered in that slot;
 *   - a slot's mailbox (ops, nops, full): under its mutex; `pending` is an
 *     atomic flag so that an empty mailbox costs one load per safe point;
 *   - a slot's state (FREE / ONLINE / OFFLINE): atomic, written by the owner
 *     (and by register/unregister under reg_lock), read by flushers.
 *
 * liburcu is called through its shared library (no _LGPL_SOURCE), so its
 * internal ordering is invisible to ThreadSanitizer; the two hand-offs it
 * provides are annotated with __tsan_release/__tsan_acquire below.
 */
#include <tlbbatch/vcpu.h>

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-qsbr.h>

/* ---- ThreadSanitizer annotations ------------------------------------------ */

#if defined(__SANITIZE_THREAD__)
#define VCPU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VCPU_TSAN 1
#endif
#endif

/*
 * TLBB_VCPU_TSAN_NO_ANNOTATIONS: test-only, builds the backend without them
 * to show that TSan then reports the (correct) protocol, i.e. that liburcu's
 * ordering is invisible to it and the annotations are what it checks.
 */
#if defined(VCPU_TSAN) && !defined(TLBB_VCPU_TSAN_NO_ANNOTATIONS)
#include <sanitizer/tsan_interface.h>
/*
 * One sync object stands for "the grace period": grace periods are global
 * to liburcu, not per host. A vCPU releases it at every point where urcu
 * stops counting its earlier accesses (quiescent state, offline,
 * unregister, entering synchronize_rcu itself); a flusher acquires it when
 * synchronize_rcu() returns. This is exactly the edge liburcu provides
 * (accesses before a reader's quiescent state happen before the return of
 * a grace period that waited for it) and it is coarser only in one way:
 * releases after the quiescent state the grace period actually waited for
 * are joined too, which can hide a race but never invent one.
 */
static char tsan_grace_period;
#define GP_RELEASE() __tsan_release(&tsan_grace_period)
#define GP_ACQUIRE() __tsan_acquire(&tsan_grace_period)
#else
#define GP_RELEASE() ((void)0)
#define GP_ACQUIRE() ((void)0)
#endif

/*
 * gcc warns that TSan does not model fences. The fences below order the
 * consumer's PTE accesses against the cpumask (a store-buffering pair TSan
 * cannot check either way); they are still emitted and executed.
 */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

/* ---- types ---------------------------------------------------------------- */

/* Mailbox fill, read without the lock at safe points. */
enum {
	PENDING_NONE = 0,
	PENDING_SOME = 1,   /* drained when a flush asks (flush_seq moved) */
	PENDING_URGENT = 2, /* half full or overflowed: drained at the next safe point */
};

enum slot_state {
	SLOT_FREE = 0,    /* no thread; never waited for */
	SLOT_ONLINE = 1,  /* may be translating: flushers wait a grace period */
	SLOT_OFFLINE = 2, /* idle: not waited for; drains at online() */
};

struct vcpu_op {
	uint64_t vpn;
	uint32_t asid;
	uint32_t npages; /* 0 = whole ASID */
};

/* The entry is public (vcpu.h): tlbb_vcpu_tlb_lookup_inline() reads it. */
#define vcpu_tlbe tlbb_vcpu_tlbe

struct tlbb_vcpu {
	/* --- owner thread only --- */
	struct tlbb_vcpu_host *host;
	unsigned id;
	struct vcpu_tlbe *tlb;     /* sets * ways */
	uint8_t *victim;           /* per set round-robin way */
	struct vcpu_op *scratch;   /* mailbox copy, applied outside the lock */
	/* counters: single writer, read with relaxed loads by get_stats */
	uint64_t lookups, hits, fills, ops_applied, full_flushes, online_drains;
	uint64_t seen_flush_seq;   /* host->flush_seq at our last drain decision */
	void *invalidate_arg;      /* this vCPU's argument to cfg.invalidate */
	bool urcu_shared;          /* the thread's urcu-qsbr registration is the consumer's */

	/* --- shared --- */
	int state;                 /* enum slot_state, atomic */
	uint32_t pending;          /* atomic: PENDING_* */
	pthread_mutex_t mlock;     /* mailbox */
	unsigned nops;
	bool full;                 /* overflowed: next drain flushes everything */
	struct vcpu_op *ops;
} __attribute__((aligned(64)));

struct tlbb_vcpu_host {
	struct tlbb_backend be;
	struct tlbb_vcpu_config cfg;
	unsigned set_mask;
	unsigned faults; /* atomic */
	/*
	 * Bumped by every flusher after its posts and before its grace period.
	 * A vCPU drains at a safe point only when it moved (or its mailbox is
	 * filling up): posts of a batch still being built are applied once, when
	 * its flush asks, instead of contending for the mailbox lock per post.
	 */
	uint64_t flush_seq; /* atomic */
	pthread_mutex_t reg_lock;
	struct tlbb_vcpu *slot;
	/* statistics, relaxed atomics */
	uint64_t batch_flushes, space_flushes, grace_periods, gp_skipped, posts,
		mailbox_overflows, deferred_run;
};

/* The deferred-callback list lives in the batch's backend words. */
TLBB_ARCH_STRUCT(vcpu_batch) {
	struct tlbb_vcpu_deferred *head, *tail;
};
TLBB_ARCH_FITS(struct vcpu_batch, struct tlbb_batch);

static _Thread_local struct tlbb_vcpu *tl_self;

#define STAT_ADD(h, field) __atomic_fetch_add(&(h)->field, 1, __ATOMIC_RELAXED)
/* Single-writer counter: no locked instruction on the translation path. */
#define OWN_INC(field) __atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + 1, \
					__ATOMIC_RELAXED)

static struct tlbb_vcpu_host *host_of(const struct tlbb_backend *be)
{
	return be->ctx;
}

#ifdef TLBB_VCPU_FAULT_INJECTION
static unsigned faults_of(const struct tlbb_vcpu_host *h)
{
	return __atomic_load_n(&h->faults, __ATOMIC_ACQUIRE);
}

/*
 * For the switches that stand for a deleted fence: a relaxed load (a plain
 * load on every target), so the test of the switch adds no ordering of its
 * own and "switch set" behaves like "fence deleted".
 */
static unsigned faults_relaxed(const struct tlbb_vcpu_host *h)
{
	return __atomic_load_n(&h->faults, __ATOMIC_RELAXED);
}
#else
/* The production build: no switch exists, every test of one folds away. */
static unsigned faults_of(const struct tlbb_vcpu_host *h)
{
	(void)h;
	return 0;
}
#define faults_relaxed faults_of
#endif

/* The calling thread's vCPU if it belongs to @h. */
static struct tlbb_vcpu *self_in(const struct tlbb_vcpu_host *h)
{
	return tl_self && tl_self->host == h ? tl_self : NULL;
}

static bool builtin_tlb(const struct tlbb_vcpu_host *h)
{
	return !(h->cfg.flags & TLBB_VCPU_NO_BUILTIN_TLB);
}

/* ---- the software TLB (owner thread only) -------------------------------- */

static struct vcpu_tlbe *set_of(struct tlbb_vcpu *v, uint64_t vpn)
{
	return &v->tlb[(vpn & v->host->set_mask) * v->host->cfg.tlb_ways];
}

static uint64_t vpn_of(const struct tlbb_vcpu_host *h, uint64_t va)
{
	return (uint64_t)va >> h->cfg.page_shift;
}

bool tlbb_vcpu_tlb_lookup(struct tlbb_vcpu *v, uint32_t asid, uint64_t va, bool write,
			  uint64_t *payload)
{
	uint64_t vpn = vpn_of(v->host, va);
	struct vcpu_tlbe *set = set_of(v, vpn);

	OWN_INC(v->lookups);
	for (unsigned w = 0; w < v->host->cfg.tlb_ways; w++) {
		struct vcpu_tlbe *e = &set[w];

		if (e->valid && e->vpn == vpn && e->asid == asid) {
			if (write && !e->writable)
				return false; /* permission miss: the caller re-walks */
			OWN_INC(v->hits);
			if (payload)
				*payload = e->payload;
			return true;
		}
	}
	return false;
}

void tlbb_vcpu_tlb_fill(struct tlbb_vcpu *v, uint32_t asid, uint64_t va, uint64_t payload,
			bool writable)
{
	uint64_t vpn = vpn_of(v->host, va);
	struct vcpu_tlbe *set = set_of(v, vpn);
	unsigned ways = v->host->cfg.tlb_ways, w, victim = ways;

	OWN_INC(v->fills);
	for (w = 0; w < ways; w++) {
		if (set[w].valid && set[w].vpn == vpn && set[w].asid == asid) {
			victim = w; /* replace the old translation of the same page */
			break;
		}
		if (!set[w].valid && victim == ways)
			victim = w;
	}
	if (victim == ways) {
		uint8_t *rr = &v->victim[vpn & v->host->set_mask];

		victim = *rr;
		*rr = (uint8_t)((*rr + 1) % ways);
	}
	set[victim] = (struct vcpu_tlbe){ .vpn = vpn, .payload = payload, .asid = asid,
					  .valid = 1, .writable = writable };
}

void tlbb_vcpu_tlb_view(const struct tlbb_vcpu *v, struct tlbb_vcpu_tlb_view *out)
{
	out->entries = v->tlb;
	out->set_mask = v->host->set_mask;
	out->ways = v->host->cfg.tlb_ways;
	out->page_shift = v->host->cfg.page_shift;
}

unsigned tlbb_vcpu_tlb_count(const struct tlbb_vcpu *v, uint32_t asid)
{
	unsigned n = 0, total = (v->host->set_mask + 1) * v->host->cfg.tlb_ways;

	for (unsigned i = 0; i < total; i++)
		if (v->tlb[i].valid && (asid == TLBB_VCPU_ALL_ASIDS || v->tlb[i].asid == asid))
			n++;
	return n;
}

static void tlb_flush_all(struct tlbb_vcpu *v)
{
	unsigned total = (v->host->set_mask + 1) * v->host->cfg.tlb_ways;

	for (unsigned i = 0; i < total; i++)
		v->tlb[i].valid = 0;
}

static void tlb_apply(struct tlbb_vcpu *v, const struct vcpu_op *op)
{
	const struct tlbb_vcpu_host *h = v->host;
	unsigned ways = h->cfg.tlb_ways, total = (h->set_mask + 1) * ways;

	if (op->npages == 0 || op->npages > h->set_mask) {
		/* Whole ASID, or a range covering every set: scan once. */
		for (unsigned i = 0; i < total; i++) {
			struct vcpu_tlbe *e = &v->tlb[i];

			if (e->valid && e->asid == op->asid &&
			    (op->npages == 0 || (e->vpn - op->vpn) < op->npages))
				e->valid = 0;
		}
		return;
	}
	for (uint64_t vpn = op->vpn; vpn < op->vpn + op->npages; vpn++) {
		struct vcpu_tlbe *set = set_of(v, vpn);

		for (unsigned w = 0; w < ways; w++)
			if (set[w].valid && set[w].vpn == vpn && set[w].asid == op->asid)
				set[w].valid = 0;
	}
}

/*
 * Apply everything posted to @v. Runs on @v's own thread, always AFTER the
 * point that made the vCPU count as done for flushers (quiescent state,
 * online, its own grace period), never before: see vcpu.h.
 */
static bool drain(struct tlbb_vcpu *v)
{
	struct tlbb_vcpu_host *h = v->host;
	unsigned n;
	bool full;

	/*
	 * seq_cst: pairs with post()'s seq_cst store of `pending` (and, for
	 * online(), forms the store-buffering pair with our state store).
	 */
	if (!__atomic_load_n(&v->pending, __ATOMIC_SEQ_CST))
		return false;
	pthread_mutex_lock(&v->mlock);
	n = v->nops;
	full = v->full;
	if (!full && n)
		memcpy(v->scratch, v->ops, n * sizeof(*v->ops));
	v->nops = 0;
	v->full = false;
	__atomic_store_n(&v->pending, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&v->mlock);

	if (full) {
		if (builtin_tlb(h))
			tlb_flush_all(v);
		if (h->cfg.invalidate)
			h->cfg.invalidate(v, TLBB_VCPU_ALL_ASIDS, 0, 0, v->invalidate_arg);
		OWN_INC(v->full_flushes);
		return true;
	}
	for (unsigned i = 0; i < n; i++) {
		if (builtin_tlb(h))
			tlb_apply(v, &v->scratch[i]);
		if (h->cfg.invalidate)
			h->cfg.invalidate(v, v->scratch[i].asid, v->scratch[i].vpn,
					  v->scratch[i].npages, v->invalidate_arg);
		OWN_INC(v->ops_applied);
	}
	return true;
}

/* ---- posting and waiting (flusher side) ---------------------------------- */

static void post(struct tlbb_vcpu_host *h, struct tlbb_vcpu *v, const struct vcpu_op *op)
{
	pthread_mutex_lock(&v->mlock);
	if (!v->full) {
		struct vcpu_op *last = v->nops ? &v->ops[v->nops - 1] : NULL;

		if (last && last->asid == op->asid && last->npages && op->npages &&
		    last->vpn + last->npages == op->vpn &&
		    (uint64_t)last->npages + op->npages <= h->set_mask + 1) {
			last->npages += op->npages; /* consecutive pages: one op */
		} else if (v->nops < h->cfg.mailbox_entries) {
			v->ops[v->nops++] = *op;
		} else {
			/* Out of room: degrade to a full flush (a superset is safe). */
			v->full = true;
			STAT_ADD(h, mailbox_overflows);
		}
	}
	/* seq_cst: the drain's seq_cst load of `pending` must see this store
	 * whenever our later state load (in wait_for) missed its online(). */
	__atomic_store_n(&v->pending,
			 v->full || v->nops >= h->cfg.mailbox_entries / 2 ? PENDING_URGENT : PENDING_SOME,
			 __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&v->mlock);
	STAT_ADD(h, posts);
}

static void post_mask(struct tlbb_vcpu_host *h, const tlbb_cpumask_t *mask, const struct vcpu_op *op)
{
	if (faults_of(h) & TLBB_VCPU_FAULT_NO_POST)
		return;
	for (unsigned c = tlbb_cpumask_next(mask, 0); c < h->cfg.max_vcpus;
	     c = tlbb_cpumask_next(mask, c + 1))
		post(h, &h->slot[c], op);
}

/* One grace period outside any batch (deferrals on empty batches). */
static void grace_period(void)
{
	struct tlbb_vcpu *self = tl_self;

	if (self)
		GP_RELEASE(); /* urcu takes us offline for the wait */
	urcu_qsbr_synchronize_rcu();
	GP_ACQUIRE();
}

/*
 * Complete what was posted to the vCPUs of @mask: return only when none of
 * them can use a translation it held before the posts. Online targets: one
 * grace period. Offline or free targets: nothing to wait for, they drain
 * before translating again.
 */
static void wait_for(struct tlbb_vcpu_host *h, const tlbb_cpumask_t *mask, struct tlbb_vcpu *self)
{
	bool need_gp = false;

	/*
	 * The posts' seq_cst `pending` stores precede these seq_cst state loads;
	 * online() stores its state before its seq_cst `pending` load. In the
	 * single total order one of us sees the other: a vCPU read as OFFLINE
	 * here drains our posts at online(). The acquire side of the load also
	 * orders the vCPU's accesses before it went offline before our return.
	 */
	for (unsigned c = mask ? tlbb_cpumask_next(mask, 0) : 0; c < h->cfg.max_vcpus;
	     c = mask ? tlbb_cpumask_next(mask, c + 1) : c + 1) {
		if (self && c == self->id)
			continue;
		if (__atomic_load_n(&h->slot[c].state, __ATOMIC_SEQ_CST) == SLOT_ONLINE) {
			need_gp = true;
			break;
		}
	}
	if (!need_gp) {
		STAT_ADD(h, gp_skipped);
		return;
	}
	/*
	 * Posts, then this bump, then (synchronize_rcu() starts with a full
	 * barrier) the new grace-period counter. A vCPU whose quiescent state
	 * observed the new counter loads flush_seq after it, sees it moved, and
	 * drains: it finds our posts.
	 */
	__atomic_fetch_add(&h->flush_seq, 1, __ATOMIC_SEQ_CST);
	if (faults_of(h) & TLBB_VCPU_FAULT_NO_GRACE_PERIOD)
		return; /* negative control: no wait, and no hand-off for TSan either */
	if (self)
		GP_RELEASE(); /* urcu takes this online reader offline for the wait */
	urcu_qsbr_synchronize_rcu();
	GP_ACQUIRE();
	STAT_ADD(h, grace_periods);
}

/* ---- backend hooks ------------------------------------------------------- */

static bool vcpu_should_defer(const struct tlbb_backend *be, const struct tlbb_space *s)
{
	const struct tlbb_vcpu *self = self_in(host_of(be));

	/* As on x86: batching pays only if another vCPU may cache the space. */
	return !s->cpus || tlbb_cpumask_any_but(s->cpus, self ? self->id : TLBB_MAX_CPUS);
}

/* A space without a mask (tlbb_space_set_cpumask()) may be cached by any vCPU. */
static void snapshot(tlbb_cpumask_t *dst, const tlbb_cpumask_t *src)
{
	for (unsigned i = 0; i < TLBB_CPUMASK_WORDS; i++)
		dst->bits[i] = src ? __atomic_load_n(&src->bits[i], __ATOMIC_SEQ_CST) : ~(uint64_t)0;
}

static void vcpu_add(const struct tlbb_backend *be, struct tlbb_batch *b, struct tlbb_space *s,
		     uint64_t start, uint64_t end, unsigned flags)
{
	struct tlbb_vcpu_host *h = host_of(be);
	unsigned ps = h->cfg.page_shift;
	tlbb_cpumask_t targets;
	struct vcpu_op op = { .asid = s->id };

	/*
	 * The caller's PTE clear before our read of the mask; pairs with the
	 * fence in tlbb_vcpu_enter_space(). Either we see the vCPU's bit and post
	 * to it, or its walk sees the cleared PTE. (The fault switch is read
	 * with a relaxed load: it must not itself order anything.)
	 */
	if (!(faults_relaxed(h) & TLBB_VCPU_FAULT_NO_ADD_FENCE))
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	snapshot(&targets, s->cpus);
	if (b->cpus)
		tlbb_cpumask_or(b->cpus, &targets);
	if (!(flags & TLBB_RANGE_ALL)) {
		uint64_t first = (uint64_t)start >> ps, last = ((uint64_t)end - 1) >> ps;

		/* Ranges are at most s->full_flush_pages granules; wider is whole-ASID. */
		if (last - first + 1 <= UINT32_MAX / 2) {
			op.vpn = first;
			op.npages = (uint32_t)(last - first + 1);
		}
	}
	post_mask(h, &targets, &op);
}

static void run_deferred(struct tlbb_vcpu_host *h, struct vcpu_batch *vb)
{
	struct tlbb_vcpu_deferred *d = vb->head;

	vb->head = vb->tail = NULL;
	while (d) {
		struct tlbb_vcpu_deferred *next = d->next;

		d->next = NULL;
		if (h)
			STAT_ADD(h, deferred_run);
		d->fn(d);
		d = next;
	}
}

static void vcpu_flush(const struct tlbb_backend *be, struct tlbb_batch *b)
{
	struct tlbb_vcpu_host *h = host_of(be);
	struct tlbb_vcpu *self = self_in(h);

	STAT_ADD(h, batch_flushes);
	wait_for(h, b->cpus, self); /* no batch mask: every vCPU */
	/* Our own TLB: applied inline, after the grace period (see wait_for). */
	if (self)
		drain(self);
	/* Only now may the frames the batch unmapped be handed back. */
	run_deferred(h, TLBB_ARCH(b, struct vcpu_batch));
	for (unsigned i = 0; i < TLBB_ARCH_BATCH_WORDS; i++)
		b->arch[i] = 0;
}

static void vcpu_flush_space(const struct tlbb_backend *be, struct tlbb_space *s)
{
	struct tlbb_vcpu_host *h = host_of(be);
	struct tlbb_vcpu *self = self_in(h);
	tlbb_cpumask_t targets;
	struct vcpu_op op = { .asid = s->id, .npages = 0 };

	/* Same shape as add + flush, for the whole ASID, from any thread. */
	if (!(faults_relaxed(h) & TLBB_VCPU_FAULT_NO_SPACE_FENCE))
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	snapshot(&targets, s->cpus);
	/*
	 * Counted after the snapshot, not before the fence: the counter is a
	 * locked RMW on x86-64, a full barrier that would do the fence's work
	 * there and hide the fence from the store-buffering litmus
	 * (tests/vcpu/litmus_sb.c). The C11 model gives a relaxed RMW no such
	 * ordering, so the fence is what the argument rests on.
	 */
	STAT_ADD(h, space_flushes);
	post_mask(h, &targets, &op);
	wait_for(h, &targets, self);
	if (self)
		drain(self);
}

/* ---- host ------------------------------------------------------------------ */

static void slot_free_mem(struct tlbb_vcpu *v)
{
	free(v->tlb);
	free(v->victim);
	free(v->scratch);
	free(v->ops);
}

struct tlbb_vcpu_host *tlbb_vcpu_host_create(const struct tlbb_vcpu_config *cfg_in)
{
	struct tlbb_vcpu_config cfg = cfg_in ? *cfg_in : (struct tlbb_vcpu_config){ 0 };
	struct tlbb_vcpu_host *h;
	void *mem;

	if (!cfg.max_vcpus)
		cfg.max_vcpus = TLBB_MAX_CPUS;
	if (!cfg.tlb_sets)
		cfg.tlb_sets = 64;
	if (!cfg.tlb_ways)
		cfg.tlb_ways = 4;
	if (!cfg.mailbox_entries)
		cfg.mailbox_entries = 256;
	if (!cfg.page_shift)
		cfg.page_shift = 12;
	if (cfg.max_vcpus > TLBB_MAX_CPUS || cfg.tlb_sets > 65536 ||
	    (cfg.tlb_sets & (cfg.tlb_sets - 1)) || cfg.tlb_ways > 64 ||
	    cfg.mailbox_entries > 65536 || cfg.page_shift < 12 || cfg.page_shift > 30 ||
	    (cfg.flags & ~TLBB_VCPU_NO_BUILTIN_TLB) ||
	    ((cfg.flags & TLBB_VCPU_NO_BUILTIN_TLB) && !cfg.invalidate))
		return NULL;
#ifndef TLBB_VCPU_FAULT_INJECTION
	/* A negative control must not run as a clean run without saying so. */
	if (cfg.faults)
		return NULL;
#endif
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->cfg = cfg;
	h->set_mask = cfg.tlb_sets - 1;
	h->faults = cfg.faults;
	pthread_mutex_init(&h->reg_lock, NULL);
	if (posix_memalign(&mem, 64, cfg.max_vcpus * sizeof(*h->slot))) {
		free(h);
		return NULL;
	}
	h->slot = mem;
	memset(h->slot, 0, cfg.max_vcpus * sizeof(*h->slot));
	for (unsigned c = 0; c < cfg.max_vcpus; c++) {
		struct tlbb_vcpu *v = &h->slot[c];

		v->host = h;
		v->id = c;
		pthread_mutex_init(&v->mlock, NULL);
		v->tlb = calloc((size_t)cfg.tlb_sets * cfg.tlb_ways, sizeof(*v->tlb));
		v->victim = calloc(cfg.tlb_sets, 1);
		v->scratch = calloc(cfg.mailbox_entries, sizeof(*v->scratch));
		v->ops = calloc(cfg.mailbox_entries, sizeof(*v->ops));
		if (!v->tlb || !v->victim || !v->scratch || !v->ops) {
			for (unsigned d = 0; d <= c; d++)
				slot_free_mem(&h->slot[d]);
			free(h->slot);
			free(h);
			return NULL;
		}
	}
	h->be = (struct tlbb_backend){
		.name = "vcpu",
		.ctx = h,
		.should_defer = vcpu_should_defer,
		.add = vcpu_add,
		.flush = vcpu_flush,
		.flush_space = vcpu_flush_space,
	};
	return h;
}

void tlbb_vcpu_host_destroy(struct tlbb_vcpu_host *h)
{
	if (!h)
		return;
	for (unsigned c = 0; c < h->cfg.max_vcpus; c++) {
		slot_free_mem(&h->slot[c]);
		pthread_mutex_destroy(&h->slot[c].mlock);
	}
	pthread_mutex_destroy(&h->reg_lock);
	free(h->slot);
	free(h);
}

const struct tlbb_backend *tlbb_vcpu_backend(struct tlbb_vcpu_host *h)
{
	return h ? &h->be : NULL;
}

enum tlbb_status tlbb_vcpu_space_init(struct tlbb_vcpu_host *h, struct tlbb_space *s, uint32_t asid, void *owner)
{
	int rc;

	if (!h)
		return TLBB_EINVAL;
	rc = tlbb_space_init(s, &h->be, asid, owner);
	if (rc == TLBB_OK)
		rc = tlbb_space_set_granule(s, h->cfg.page_shift);
	return rc;
}

#ifdef TLBB_VCPU_FAULT_INJECTION
void tlbb_vcpu_set_faults(struct tlbb_vcpu_host *h, unsigned faults)
{
	__atomic_store_n(&h->faults, faults, __ATOMIC_RELEASE);
}
#endif

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

void tlbb_vcpu_get_stats(struct tlbb_vcpu_host *h, struct tlbb_vcpu_stats *out)
{
	*out = (struct tlbb_vcpu_stats){
		.batch_flushes = LOAD(h->batch_flushes),
		.space_flushes = LOAD(h->space_flushes),
		.grace_periods = LOAD(h->grace_periods),
		.gp_skipped = LOAD(h->gp_skipped),
		.posts = LOAD(h->posts),
		.mailbox_overflows = LOAD(h->mailbox_overflows),
		.deferred_run = LOAD(h->deferred_run),
	};
	for (unsigned c = 0; c < h->cfg.max_vcpus; c++) {
		struct tlbb_vcpu *v = &h->slot[c];

		out->lookups += LOAD(v->lookups);
		out->hits += LOAD(v->hits);
		out->fills += LOAD(v->fills);
		out->ops_applied += LOAD(v->ops_applied);
		out->full_flushes += LOAD(v->full_flushes);
		out->online_drains += LOAD(v->online_drains);
	}
}

#define ZERO(x) __atomic_store_n(&(x), 0, __ATOMIC_RELAXED)

void tlbb_vcpu_reset_stats(struct tlbb_vcpu_host *h)
{
	ZERO(h->batch_flushes);
	ZERO(h->space_flushes);
	ZERO(h->grace_periods);
	ZERO(h->gp_skipped);
	ZERO(h->posts);
	ZERO(h->mailbox_overflows);
	ZERO(h->deferred_run);
	/* The per-vCPU counters have single writers: ask them, do not race them. */
	for (unsigned c = 0; c < h->cfg.max_vcpus; c++) {
		struct tlbb_vcpu *v = &h->slot[c];

		if (__atomic_load_n(&v->state, __ATOMIC_ACQUIRE) != SLOT_FREE && v != tl_self)
			continue;
		ZERO(v->lookups);
		ZERO(v->hits);
		ZERO(v->fills);
		ZERO(v->ops_applied);
		ZERO(v->full_flushes);
		ZERO(v->online_drains);
	}
}

/* ---- vCPU thread side ------------------------------------------------------ */

/* Claim slot @c if free (under reg_lock): not yet translating, so not waited for. */
static struct tlbb_vcpu *slot_claim(struct tlbb_vcpu_host *h, unsigned c)
{
	struct tlbb_vcpu *v = &h->slot[c];

	if (__atomic_load_n(&v->state, __ATOMIC_ACQUIRE) != SLOT_FREE)
		return NULL;
	__atomic_store_n(&v->state, SLOT_OFFLINE, __ATOMIC_SEQ_CST);
	return v;
}

struct tlbb_vcpu *tlbb_vcpu_register(struct tlbb_vcpu_host *h)
{
	return tlbb_vcpu_register_as(h, NULL);
}

struct tlbb_vcpu *tlbb_vcpu_register_as(struct tlbb_vcpu_host *h,
					const struct tlbb_vcpu_register_args *args)
{
	struct tlbb_vcpu *v = NULL;
	unsigned id = args ? args->id : TLBB_VCPU_ID_ANY;
	bool shared = args && (args->flags & TLBB_VCPU_REG_URCU_SHARED);

	if (!h || tl_self || (args && (args->flags & ~TLBB_VCPU_REG_URCU_SHARED)) ||
	    (id != TLBB_VCPU_ID_ANY && id >= h->cfg.max_vcpus))
		return NULL;
	/*
	 * urcu-qsbr registration: ours, on a thread that is no reader yet; or
	 * the consumer's, which must then be registered and online (a second
	 * registration, or sharing a missing one, is undefined in liburcu).
	 */
	if ((urcu_qsbr_read_ongoing() != 0) != shared)
		return NULL;
	pthread_mutex_lock(&h->reg_lock);
	if (id != TLBB_VCPU_ID_ANY)
		v = slot_claim(h, id);
	for (unsigned c = 0; id == TLBB_VCPU_ID_ANY && !v && c < h->cfg.max_vcpus; c++)
		v = slot_claim(h, c);
	pthread_mutex_unlock(&h->reg_lock);
	if (!v)
		return NULL;
	v->invalidate_arg = args && args->invalidate_arg ? args->invalidate_arg : h->cfg.invalidate_arg;
	v->urcu_shared = shared;
	/*
	 * A fresh vCPU caches nothing: whatever a previous occupant of this id
	 * held, and whatever was posted for it, is void.
	 */
	tlb_flush_all(v);
	memset(v->victim, 0, h->cfg.tlb_sets);
	pthread_mutex_lock(&v->mlock);
	v->nops = 0;
	v->full = false;
	__atomic_store_n(&v->pending, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&v->mlock);
	if (h->cfg.invalidate)
		h->cfg.invalidate(v, TLBB_VCPU_ALL_ASIDS, 0, 0, v->invalidate_arg);
	tl_self = v;
	if (!shared)
		urcu_qsbr_register_thread(); /* online from here on */
	__atomic_store_n(&v->state, SLOT_ONLINE, __ATOMIC_SEQ_CST);
	return v;
}

void tlbb_vcpu_unregister(struct tlbb_vcpu *v)
{
	struct tlbb_vcpu_host *h;

	if (!v || v != tl_self)
		return;
	h = v->host;
	GP_RELEASE();
	/* Release: every access of this thread precedes a flusher that reads it. */
	__atomic_store_n(&v->state, SLOT_OFFLINE, __ATOMIC_SEQ_CST);
	if (!v->urcu_shared)
		urcu_qsbr_unregister_thread();
	tl_self = NULL;
	pthread_mutex_lock(&h->reg_lock);
	__atomic_store_n(&v->state, SLOT_FREE, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&h->reg_lock);
}

struct tlbb_vcpu *tlbb_vcpu_self(void)
{
	return tl_self;
}

unsigned tlbb_vcpu_id(const struct tlbb_vcpu *v)
{
	return v->id;
}

struct tlbb_vcpu_host *tlbb_vcpu_host_of(const struct tlbb_vcpu *v)
{
	return v->host;
}

void tlbb_vcpu_enter_space(struct tlbb_vcpu *v, struct tlbb_space *s)
{
	if (!v || !s)
		return;
	tlbb_space_cpu_enter(s, v->id);
	/* Our mask bit before our first PTE load: pairs with the fence in add(). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void drain_if_asked(struct tlbb_vcpu *v)
{
	uint64_t seq = __atomic_load_n(&v->host->flush_seq, __ATOMIC_SEQ_CST);

	if (seq != v->seen_flush_seq ||
	    __atomic_load_n(&v->pending, __ATOMIC_RELAXED) == PENDING_URGENT) {
		v->seen_flush_seq = seq; /* read before the drain: nothing posted after is lost */
		drain(v);
	}
}

void tlbb_vcpu_quiescent(struct tlbb_vcpu *v)
{
	/*
	 * Offline, urcu's quiescent-state call would silently put the thread
	 * back online behind our state's back: refuse (nothing to report).
	 */
	if (__atomic_load_n(&v->state, __ATOMIC_RELAXED) != SLOT_ONLINE)
		return;
	if (faults_of(v->host) & TLBB_VCPU_FAULT_DRAIN_BEFORE_QS) {
		/*
		 * Negative control: the wrong order. A flush that starts between
		 * our check and our report counts us as done although we never
		 * saw it. The yield widens that window so a test can observe it.
		 */
		drain_if_asked(v);
		sched_yield();
		GP_RELEASE();
		urcu_qsbr_quiescent_state();
		return;
	}
	GP_RELEASE();
	/* First report (all accesses so far are done), THEN drain: see vcpu.h. */
	urcu_qsbr_quiescent_state();
	drain_if_asked(v);
}

void tlbb_vcpu_offline(struct tlbb_vcpu *v)
{
	GP_RELEASE();
	/* seq_cst (release included): our accesses precede a flusher reading OFFLINE. */
	__atomic_store_n(&v->state, SLOT_OFFLINE, __ATOMIC_SEQ_CST);
	urcu_qsbr_thread_offline();
}

void tlbb_vcpu_online(struct tlbb_vcpu *v)
{
	urcu_qsbr_thread_online();
	/*
	 * Store-buffering pair with wait_for(): our seq_cst state store, then our
	 * seq_cst `pending` load in drain(). A flusher that read us OFFLINE (and
	 * so did not wait) posted before that read: we see its post here.
	 */
	__atomic_store_n(&v->state, SLOT_ONLINE, __ATOMIC_SEQ_CST);
	if (faults_of(v->host) & TLBB_VCPU_FAULT_NO_ONLINE_DRAIN)
		return; /* negative control: the lazy-TLB bug */
	/* Unconditionally: a flusher that skipped us did not bump flush_seq. */
	v->seen_flush_seq = __atomic_load_n(&v->host->flush_seq, __ATOMIC_SEQ_CST);
	if (drain(v))
		OWN_INC(v->online_drains);
}

bool tlbb_vcpu_is_online(const struct tlbb_vcpu *v)
{
	return __atomic_load_n(&v->state, __ATOMIC_ACQUIRE) == SLOT_ONLINE;
}

/* ---- the race check outside the caller's lock --------------------------- */

bool tlbb_vcpu_flush_pending_relock(struct tlbb_space *s, void (*unlock)(void *),
				    void (*lock)(void *), void *arg)
{
	bool flushed = false;

	if (!s || !unlock || !lock)
		return tlbb_flush_pending(s); /* no lock to drop: the plain check */
	if (!__atomic_load_n(&s->backend, __ATOMIC_ACQUIRE))
		return false; /* uninitialised or finished: its word means nothing */
	/* Read under the lock: the adds bump it under the same lock (vcpu.h). */
	while (tlbb_space_has_pending(s)) {
		unlock(arg);
		/* The grace period, with the lock free for the vCPUs to take. */
		tlbb_flush_pending(s);
		lock(arg);
		flushed = true;
	}
	return flushed;
}

/* ---- ordered frame hand-off --------------------------------------------- */

enum tlbb_status tlbb_vcpu_defer(struct tlbb_batch *b, struct tlbb_vcpu_deferred *d, tlbb_vcpu_deferred_fn fn)
{
	struct vcpu_batch *vb;

	if (!d || !fn)
		return TLBB_EINVAL;
	d->fn = fn;
	d->next = NULL;
	if (!b) {
		grace_period();
		fn(d);
		return TLBB_EINVAL;
	}
	if (!b->flush_required || !b->backend) {
		/* Nothing queued here: whatever unmapped the frame, wait it out. */
		grace_period();
		fn(d);
		return TLBB_OK;
	}
	if (b->backend->flush != vcpu_flush) {
		tlbb_flush(b);
		fn(d);
		return TLBB_EBACKEND;
	}
	vb = TLBB_ARCH(b, struct vcpu_batch);
	if (vb->tail)
		vb->tail->next = d;
	else
		vb->head = d;
	vb->tail = d;
	return TLBB_OK;
}
