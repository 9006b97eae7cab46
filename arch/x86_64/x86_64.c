/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 backend. See include/tlbbatch/x86_64.h for the model and the
 * port's duties. Freestanding: no libc, compiler atomics only; the only
 * instructions are in x86_insn.h.
 *
 * Generations. Each space counts requests in s->arch (gen, starting at 0):
 * every add and every whole-space flush takes a new number, AFTER the caller
 * cleared its PTEs. Each CPU remembers per PCID slot the generation it has
 * flushed up to (L). "L >= g" means: every PTE change with a number <= g is
 * already out of this CPU's TLB. L only moves up, and only by
 *   - a whole-PCID flush: read G, then flush; every change numbered <= G was
 *     made before G was read, so the flush removed it;
 *   - a partial flush covering exactly the numbers L+1 .. g (one batch whose
 *     adds took consecutive numbers right after L);
 *   - a switch-in: set this CPU's mask bit, read G, flush unless L == G.
 * A flush request carrying g finds L >= g and does nothing: that is the
 * skip of a CPU already current.
 *
 * Contexts. A slot names the space it tracks by a 64-bit context number,
 * never by the space's address: a space's memory can die and be initialised
 * again in place (slab reuse) with the same recycled PCID and a generation
 * that restarts at 0, and a slot keyed by (address, PCID) would take the
 * new space's L adds for the old one's, load CR3 with the no-flush bit and
 * let the new space translate through the dead one's entries to freed
 * frames. Numbers come from one counter per backend and are never handed
 * out twice, so a slot of a dead space matches nothing ever again.
 */
#include <tlbbatch/port.h>
#include <tlbbatch/x86_64.h>

#include "x86_insn.h"

TLBB_ARCH_STRUCT(x86_space) {
	uint64_t gen; /* atomic */
	uint64_t ctx; /* atomic: context number, never reused; 0 = none yet */
};
TLBB_ARCH_FITS(struct x86_space, struct tlbb_space);

/*
 * The batch: one space and the range covering everything added to it, or
 * MULTI (several spaces: flush everything on the targets). The number of
 * adds is the core's b->nr_adds.
 *
 * CPU masks are read when they are needed, not on every add: the CPUs a
 * batch must reach are those in its space's mask when it is flushed (a
 * batch of one space targets the space's own, live mask), or, for several
 * spaces, the union of each space's mask read after that space's last add
 * so far (gathered into the port's b->cpus as the batch moves from one
 * space to the next, and at flush). Why a mask read after the adds is
 * enough: every add took its number (seq_cst) before the read, so a CPU
 * whose bit the read misses set it later and reads the generation after
 * that (x86_add(), run_request()): it sees the number and flushes the PCID
 * as it loads it.
 */
TLBB_ARCH_STRUCT(x86_batch) {
	uintptr_t space;    /* const struct tlbb_space *, X86B_MULTI, or 0 = empty */
	uintptr_t cur;      /* the space of the newest add; 0 = empty */
	uint64_t start;     /* the one space's range; X86B_ALL ignores it */
	uint64_t end;
	uint64_t gen_first; /* the one space's number at the batch's first add */
	uint64_t gen_last;  /* number of the newest add */
	uint64_t flags;     /* X86B_* */
};
TLBB_ARCH_FITS(struct x86_batch, struct tlbb_batch);

#define X86B_MULTI ((uintptr_t)1)
#define X86B_ALL ((uint64_t)1)      /* whole space */
#define X86B_GLOBAL ((uint64_t)2)   /* some space had TLBB_SPACE_GLOBAL */
#define X86B_EVERYONE ((uint64_t)4) /* MULTI: a mask could not be gathered: every CPU */

/* What one flush asks of every target CPU. Lives on the flusher's stack. */
struct x86_req {
	struct tlbb_x86 *x;
	struct tlbb_space *space;       /* NULL: several spaces, flush everything.
					 * Not const: a CPU not running it trims
					 * itself out of space->cpus. */
	uint64_t start, end;            /* start == end: the whole space */
	uint64_t gen_first;             /* gen_last - adds + 1; valid if contiguous */
	uint64_t gen_last;
	bool contiguous;
	bool global;
};

/*
 * Statistics. Only the CPU itself counts into its structure, but its flush
 * IPI can interrupt its own local flush: one atomic step per update.
 */
#define STAT_ADD(st, field, n) __atomic_fetch_add(&(st)->field, (n), __ATOMIC_RELAXED)

static struct x86_space *xs(const struct tlbb_space *s)
{
	return TLBB_ARCH(s, struct x86_space);
}

uint64_t tlbb_x86_space_gen(const struct tlbb_space *s)
{
	return __atomic_load_n(&xs(s)->gen, __ATOMIC_SEQ_CST);
}

static uint64_t ctx_of(const struct tlbb_space *s)
{
	return __atomic_load_n(&xs(s)->ctx, __ATOMIC_RELAXED);
}

uint64_t tlbb_x86_space_ctx(const struct tlbb_space *s)
{
	return ctx_of(s);
}

static unsigned pcid_of(const struct tlbb_x86 *x, const struct tlbb_space *s)
{
	return (x->cfg.features & TLBB_X86_PCID) ? (unsigned)(s->id & X86_CR3_PCID_MASK) : 0;
}

static void debug_fail(const char *what)
{
#ifdef TLBB_DEBUG
	tlbb_port_debug_fail(what);
#else
	(void)what;
#endif
}

/*
 * INVLPG of a non-canonical address is a no-op, so such a range must become
 * a whole-space flush. [start, end) is all canonical iff both ends are and
 * they lie in the same half (the hole sits between the halves).
 */
static bool canonical(const struct tlbb_x86 *x, uint64_t va)
{
	unsigned bits = (x->cfg.features & TLBB_X86_LA57) ? 57 : 48;
	unsigned shift = 64 - bits;

	return (uint64_t)((int64_t)(va << shift) >> shift) == va;
}

static bool range_canonical(const struct tlbb_x86 *x, uint64_t start, uint64_t end)
{
	uint64_t last = (uint64_t)end - 1;

	return canonical(x, start) && canonical(x, last) && ((start ^ last) >> 63) == 0;
}

/* Raise a per-CPU generation; only this CPU writes it, but its IPI handler
 * may interrupt its own flush, so the update must be one atomic step. */
static void gen_raise(uint64_t *g, uint64_t v)
{
	uint64_t old = __atomic_load_n(g, __ATOMIC_RELAXED);

	while (old < v &&
	       !__atomic_compare_exchange_n(g, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* ---- the instructions, by intent ----------------------------------------- */

/* All non-global entries of the PCID in CR3 now. */
static void flush_loaded_pcid(const struct tlbb_x86 *x, unsigned pcid)
{
	if (x->cfg.features & TLBB_X86_INVPCID)
		x86_invpcid(X86_INVPCID_SINGLE, pcid, 0);
	else
		/* A CR3 write without the no-flush bit flushes the current PCID. */
		x86_write_cr3(x86_read_cr3() & ~X86_CR3_NOFLUSH);
}

/* Everything, global entries included, every PCID. */
static void flush_everything(const struct tlbb_x86 *x)
{
	if (x->cfg.features & TLBB_X86_INVPCID) {
		x86_invpcid(X86_INVPCID_ALL_GLOBAL, 0, 0);
	} else {
		/*
		 * Any change of CR4.PGE flushes all entries of all PCIDs. The two
		 * writes run with interrupts off: a handler that changed CR4
		 * between them (another bit, or its own toggle) would see its
		 * write undone by our second one, which restores the value read
		 * before it ran.
		 */
		uint64_t fl = x86_irq_save();
		uint64_t cr4 = x86_read_cr4();

		x86_write_cr4(cr4 ^ X86_CR4_PGE);
		x86_write_cr4(cr4);
		x86_irq_restore(fl);
	}
}

static void invlpg_range(const struct x86_req *r, struct tlbb_x86_cpu_stats *st)
{
	uint64_t step = (uint64_t)1 << r->space->page_shift;
	uint64_t n = 0;

	for (uint64_t va = r->start; va < r->end; va += step, n++)
		x86_invlpg(va);
	STAT_ADD(st, invlpg, n);
}

static uint64_t req_pages(const struct x86_req *r)
{
	return (r->end - r->start) >> r->space->page_shift;
}

static int slot_find(const struct tlbb_x86 *x, const struct tlbb_x86_cpu *c,
		     const struct tlbb_space *s)
{
	unsigned pcid = pcid_of(x, s);
	uint64_t ctx = ctx_of(s);

	/* Number 0 is "none yet": no CPU switched to such a space, none tracks it. */
	if (ctx == 0)
		return -1;
	for (int i = 0; i < TLBB_X86_SLOTS; i++)
		if (c->slot[i].ctx == ctx && c->slot[i].pcid == pcid)
			return i;
	return -1;
}

/* ---- the request, on one CPU ----------------------------------------------- */

/*
 * A request for several spaces: flush the loaded PCID now. Other PCIDs this
 * CPU holds need nothing: their slots are behind their spaces' generations
 * (every request took a new number), so their switch-in flushes them.
 *
 * The loaded slot's space pointer is the only one ever followed from a
 * slot, and that space is alive: the port may end a space's life
 * (tlbb_space_fini(), tlbb_space_set_id()) only once no CPU has it loaded,
 * i.e. every CPU that ran it switched to another space first, which moved
 * that CPU's `loaded` off this slot. A slot that is not loaded may name a
 * dead space; it is compared by number only.
 */
static void do_multi(const struct x86_req *r, struct tlbb_x86_cpu *c)
{
	const struct tlbb_x86 *x = r->x;
	struct tlbb_x86_slot *sl = c->loaded >= 0 ? &c->slot[c->loaded] : NULL;
	uint64_t g = sl ? tlbb_x86_space_gen(sl->space) : 0; /* read BEFORE flushing */

	if (r->global)
		flush_everything(x);
	else if (sl)
		flush_loaded_pcid(x, sl->pcid);
	else
		return; /* nothing loaded, nothing tracked: nothing cached */
	STAT_ADD(&c->st, full, 1);
	if (sl)
		gen_raise(&sl->gen, g);
}

/* Global (kernel) entries live under every PCID: always do the work. */
static void do_global(const struct x86_req *r, struct tlbb_x86_cpu_stats *st)
{
	if (r->start != r->end && req_pages(r) <= r->x->cfg.ceiling) {
		invlpg_range(r, st); /* INVLPG drops global entries of the page too */
	} else {
		flush_everything(r->x);
		STAT_ADD(st, full, 1);
	}
}

static void do_request(const struct x86_req *r, unsigned cpu, bool from_ipi)
{
	struct tlbb_x86 *x = r->x;
	struct tlbb_x86_cpu *c;
	struct tlbb_x86_slot *sl;
	uint64_t local;
	int i;

	if (cpu >= x->ncpus) {
		/* No state to consult: a CPU we cannot track gets everything. */
		debug_fail("x86: CPU number beyond the per-CPU array");
		flush_everything(x);
		return;
	}
	c = &x->cpu[cpu];
	if (from_ipi)
		STAT_ADD(&c->st, ipis, 1);
	else
		STAT_ADD(&c->st, local, 1);

	if (!r->space) {
		do_multi(r, c);
		return;
	}
	if (r->global) {
		do_global(r, &c->st);
		return;
	}
	i = slot_find(x, c, r->space);
	if (i < 0 || i != c->loaded) {
		/*
		 * The space is not in CR3 here. INVLPG and CR3 reach only the
		 * loaded PCID; entries of another PCID cannot be used until it is
		 * loaded again, and that switch-in flushes: either the slot is
		 * gone (a miss always flushes) or its generation is behind the
		 * space's (local < gen_last <= gen).
		 *
		 * Trim: leave the space's mask, so that its later flushes do not
		 * interrupt this CPU (Linux clears mm_cpumask bits lazily the same
		 * way). Why no change of the space can be missed:
		 *   - flusher:   every add bumped gen (seq_cst), then the flush reads s->cpus;
		 *   - switch-in: set our bit (seq_cst), then read gen as G.
		 * An add that does see our bit interrupts us as before. One whose
		 * mask read does not see it read the mask after this clear and
		 * before our switch-in sets the bit again; in the single order of
		 * seq_cst operations: its bump, its mask read, our bit set, our
		 * read of G. So G >= g. Our slot's L is what the generation rule
		 * above says it is, and it does not move while the slot is not
		 * loaded (only the loaded slot is raised; the switch-in runs with
		 * interrupts off, not inside our handler). Either L >= g, and
		 * change g is already out of this TLB, or L < g <= G, and the
		 * switch-in sees L != G and flushes the PCID. A slot that is gone
		 * always flushes.
		 * Global spaces never get here (do_global): their entries live
		 * under every PCID, so no CPU is ever "not running" them.
		 */
		if (r->space->cpus)
			tlbb_cpumask_unset(r->space->cpus, cpu);
		if (i < 0 ||
		    __atomic_load_n(&c->slot[i].gen, __ATOMIC_RELAXED) >= r->gen_last)
			STAT_ADD(&c->st, skipped, 1); /* untracked, or already covered */
		else
			STAT_ADD(&c->st, deferred, 1);
		STAT_ADD(&c->st, trimmed, 1);
		return;
	}
	sl = &c->slot[i];
	local = __atomic_load_n(&sl->gen, __ATOMIC_RELAXED);
	if (local >= r->gen_last) {
		STAT_ADD(&c->st, skipped, 1); /* an earlier flush already covered this request */
		return;
	}
	if (r->start != r->end && req_pages(r) <= x->cfg.ceiling) {
		invlpg_range(r, &c->st);
		/*
		 * Our adds hold gen_last - gen_first + 1 distinct numbers, all in
		 * local+1 .. gen_last: if gen_first == local + 1 they are exactly
		 * that interval, nobody else's change is in it, and we caught up.
		 */
		if (r->contiguous && local + 1 == r->gen_first)
			gen_raise(&sl->gen, r->gen_last);
		return;
	}
	{
		uint64_t g = tlbb_x86_space_gen(r->space); /* read BEFORE flushing */

		flush_loaded_pcid(x, sl->pcid);
		STAT_ADD(&c->st, full, 1);
		gen_raise(&sl->gen, g);
	}
}

/*
 * What the port's vector runs. The backend hands send_and_wait the static
 * twin so that taking its address needs no GOT entry in -fPIC archives (a
 * freestanding kernel links no dynamic linker support).
 */
static void ipi_entry(void *request)
{
	do_request(request, tlbb_port_cpu_id(), true);
}

void tlbb_x86_ipi_handler(void *request)
{
	ipi_entry(request);
}

/*
 * One round to everyone in @mask but us, then our own part inline. @mask is
 * a space's live mask or the batch's gathered one, handed to the port as it
 * is (no copy: at 4096 CPUs a copy is 512 bytes of stack); NULL is every
 * CPU. The port skips the calling CPU and reads the words atomically; a bit
 * that appears during the round belongs to a CPU that read the generation
 * after our numbers were taken (it flushes at switch-in), one that vanishes
 * to a CPU that trimmed itself (do_request()).
 */
static void run_request(struct x86_req *r, const tlbb_cpumask_t *mask)
{
	unsigned self = tlbb_port_cpu_id();

	/*
	 * Every number of this request was taken (seq_cst) before here; the
	 * fence orders those RMWs before the mask reads below and the port's,
	 * the flusher's half of the store-buffering pair with switch-in.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (mask ? tlbb_cpumask_any_but(mask, self) : r->x->ncpus > 1)
		tlbb_port_ipi_send_and_wait(mask, ipi_entry, r);
	/* A CPU beyond the mask cannot be in it, yet may have run the space. */
	if (!mask || tlbb_cpumask_test(mask, self) || self >= TLBB_MAX_CPUS)
		do_request(r, self, false);
}

/* ---- backend hooks -------------------------------------------------------- */

static struct tlbb_x86 *x86_of(const struct tlbb_backend *be)
{
	return be->ctx;
}

static bool x86_should_defer(const struct tlbb_backend *be, const struct tlbb_space *s)
{
	/* No mask: any CPU may run @s. */
	return !s->cpus || tlbb_cpumask_any_but(s->cpus, tlbb_port_cpu_id());
}

/*
 * Gather the mask of @s, the space the batch is leaving (or flushing), into
 * the port's b->cpus. Called after every add of @s so far: each took its
 * number before this read (the store-buffering pair of x86_add()).
 *
 * b->cpus is the private state of the one context that owns the batch
 * (tlbbatch.h: never shared): only that context's add, flush and the core's
 * clear after the flush touch it, and the IPI handler (do_request) is handed
 * a request, never a batch. So a plain read-modify-write suffices, with no
 * lock prefix. The space's mask is shared (switch-in sets bits, the trim
 * clears them): read with seq_cst loads.
 */
static void batch_gather(struct tlbb_batch *b, struct x86_batch *xb, const struct tlbb_space *s)
{
	if (!b->cpus || !s->cpus) {
		xb->flags |= X86B_EVERYONE; /* nowhere to gather, or any CPU may run @s */
		return;
	}
	for (unsigned i = 0; i < TLBB_CPUMASK_WORDS; i++)
		b->cpus->bits[i] |= __atomic_load_n(&s->cpus->bits[i], __ATOMIC_SEQ_CST);
}

/*
 * Everything but the common add (another page or range of the space of the
 * batch's newest add, which the core marks TLBB_RANGE_SAME): the first add
 * to an empty batch, another space, a whole-space add.
 */
__attribute__((__noinline__, __cold__)) static void x86_add_other(struct tlbb_batch *b,
							   struct x86_batch *xb,
							   struct tlbb_space *s, uint64_t start,
							   uint64_t end, unsigned flags, uint64_t g)
{
	bool all = (flags & TLBB_RANGE_ALL) != 0;

	if (xb->cur == 0) {
		xb->space = xb->cur = (uintptr_t)s;
		xb->start = all ? 0 : start;
		xb->end = all ? 0 : end;
		xb->gen_first = g;
		if (all)
			xb->flags |= X86B_ALL;
	} else if (xb->cur == (uintptr_t)s) {
		/* The current space, without the core's TLBB_RANGE_SAME. */
		if (all)
			xb->flags |= X86B_ALL;
		if (start < xb->start)
			xb->start = start;
		if (end > xb->end)
			xb->end = end;
	} else {
		batch_gather(b, xb, (const struct tlbb_space *)xb->cur);
		xb->space = X86B_MULTI;
		xb->cur = (uintptr_t)s;
	}
	if (s->flags & TLBB_SPACE_GLOBAL)
		xb->flags |= X86B_GLOBAL;
	xb->gen_last = g;
}

/*
 * Two locked read-modify-writes per add, this one and the core's pending
 * bump (space_bump_pending()), and they cannot be one:
 *   - this number is 64 bits and never wraps or resets: a CPU's slot keeps
 *     "flushed up to L" across any number of adds, and "L >= g" must mean
 *     what it says forever (a reset would make a stale slot look current);
 *   - the core's word is 32 bits holding two 15-bit fields that the race
 *     check compares and publishes with one cmpxchg, and it is reset when
 *     pending grows large: it counts outstanding work, not history.
 * Folding one into the other would change either the core's public word
 * (struct tlbb_space::batch_gen, its fields and tests) or make the x86
 * number resettable. Each is one lock-prefixed instruction on a line the
 * adder owns exclusively in the common case (the space's hot line).
 *
 * No mask is read here (see struct x86_batch): the flush reads it, after
 * every add's number. Whether the numbers of a one-space batch are all its
 * own (no other batch's add among them) is decided at the flush from their
 * span, not by a compare per add.
 */
static inline void x86_add(const struct tlbb_backend *be, struct tlbb_batch *b,
			   struct tlbb_space *s, uint64_t start, uint64_t end, unsigned flags)
{
	struct x86_batch *xb = TLBB_ARCH(b, struct x86_batch);
	uint64_t g;

	(void)be;
	/*
	 * The number, seq_cst: the first half of the store-buffering pair with
	 * switch-in's "mask bit first, number second". The mask read that pairs
	 * with it comes later, at the flush or when the batch moves to another
	 * space: either it sees the switching CPU's bit and interrupts it, or
	 * that CPU reads this number and flushes the PCID as it loads it.
	 */
	g = __atomic_add_fetch(&xs(s)->gen, 1, __ATOMIC_SEQ_CST);
	/*
	 * TLBB_RANGE_SAME: the core says @s is the space of the newest add
	 * (its b->last), which is our cur; on the core's shortest path the
	 * flags are constants and this test folds away.
	 */
	if (__builtin_expect((flags & (TLBB_RANGE_SAME | TLBB_RANGE_ALL)) != TLBB_RANGE_SAME, 0)) {
		x86_add_other(b, xb, s, start, end, flags, g);
		return;
	}
	/*
	 * Another page or range of the space of the newest add: widen
	 * [start, end) (meaningless, and ignored, once the batch is MULTI or
	 * X86B_ALL). Canonicality is checked at flush, on the merged range: it
	 * covers every add, so a non-canonical add makes it non-canonical too.
	 */
	xb->start = start < xb->start ? start : xb->start; /* branch-free: any order */
	xb->end = end > xb->end ? end : xb->end;
	xb->gen_last = g;
}

static void x86_flush(const struct tlbb_backend *be, struct tlbb_batch *b)
{
	struct x86_batch *xb = TLBB_ARCH(b, struct x86_batch);
	struct x86_req r = { .x = x86_of(be) };
	const tlbb_cpumask_t *targets;

	if (!xb->cur)
		return;
	r.global = (xb->flags & X86B_GLOBAL) != 0;
	if (xb->space != X86B_MULTI) {
		r.space = (struct tlbb_space *)xb->space;
		targets = r.space->cpus;
		/*
		 * The merged range covers every add; if any part of it is not
		 * canonical, INVLPG of it would be a no-op: the whole space
		 * (start == end).
		 */
		if (!(xb->flags & X86B_ALL) && range_canonical(r.x, xb->start, xb->end)) {
			r.start = xb->start;
			r.end = xb->end;
		}
		/*
		 * Our adds took distinct, increasing numbers gen_first ..
		 * gen_last, b->nr_adds of them (the core counts one per add hook
		 * call): they are all the numbers of that interval exactly when
		 * the interval holds no more. Otherwise another batch's add is
		 * among them, and a CPU whose generation a whole flush raised
		 * into the interval would skip that batch after catching up to
		 * gen_last: claim nothing. A count beyond 2^32 wraps nr_adds
		 * below the span: no claim either, which is always safe.
		 */
		r.gen_first = xb->gen_first;
		r.gen_last = xb->gen_last;
		r.contiguous = xb->gen_last - xb->gen_first + 1 == (uint64_t)b->nr_adds;
	} else {
		batch_gather(b, xb, (const struct tlbb_space *)xb->cur);
		targets = (xb->flags & X86B_EVERYONE) ? NULL : b->cpus;
	}
	run_request(&r, targets);
	xb->space = xb->cur = 0;
	xb->start = xb->end = 0;
	xb->gen_first = xb->gen_last = 0;
	xb->flags = 0;
}

static void x86_flush_space(const struct tlbb_backend *be, struct tlbb_space *s)
{
	/*
	 * A fresh number: the caller's PTE changes come before it, so a CPU
	 * that is past it (or flushes from it) has dropped them.
	 */
	struct x86_req r = {
		.x = x86_of(be),
		.space = s,
		.gen_last = __atomic_add_fetch(&xs(s)->gen, 1, __ATOMIC_SEQ_CST),
		.global = (s->flags & TLBB_SPACE_GLOBAL) != 0,
	};

	run_request(&r, s->cpus);
}

/* A number no space ever had: slots compare it, so a space born in the
 * memory (and with the PCID) of a dead one matches none of its slots. */
static void x86_space_init(const struct tlbb_backend *be, struct tlbb_space *s)
{
	struct tlbb_x86 *x = x86_of(be);

	__atomic_store_n(&xs(s)->ctx, __atomic_fetch_add(&x->next_ctx, 1, __ATOMIC_RELAXED),
			 __ATOMIC_RELAXED);
}

/*
 * Nothing to do, so no IPI round: the space's number is never handed out
 * again, so every slot still naming it is dead. Whichever space gets
 * s->id next (a new space in this memory, or another live space by
 * tlbb_space_set_id()) has another number; its first switch-in on each CPU
 * misses the slot table and loads CR3 without the no-flush bit, flushing
 * whatever the PCID still held. Until then those entries sit under a PCID
 * no CPU has in CR3 (the port switched every CPU away first), unusable.
 * The core has already run the race check, so nothing batched is left.
 */
static void x86_space_fini(const struct tlbb_backend *be, struct tlbb_space *s)
{
	(void)be;
	(void)s;
}

enum tlbb_status tlbb_x86_init(struct tlbb_x86 *x, const struct tlbb_x86_config *cfg,
		  struct tlbb_x86_cpu *percpu, unsigned ncpus)
{
	/* A CPU numbered beyond TLBB_MAX_CPUS has no bit in any mask, so no
	 * flush round could reach it: refuse rather than lose it. */
	if (!x || !percpu || ncpus == 0 || ncpus > TLBB_MAX_CPUS)
		return TLBB_EINVAL;
	x->cfg.features = cfg ? cfg->features : 0;
	/*
	 * Under 5-level paging kernel addresses lie beyond the 48-bit
	 * canonical range; a port that did not say LA57 would have every one
	 * of them turned into a whole flush. The paging mode is in CR4, so
	 * take it from there. (A port's LA57 on a 4-level CPU is harmless:
	 * the extra addresses it lets through cannot be mapped.)
	 */
	if (!(x->cfg.features & TLBB_X86_PAGING_FROM_PORT) && (x86_read_cr4() & X86_CR4_LA57))
		x->cfg.features |= TLBB_X86_LA57;
	x->cfg.ceiling = (cfg && cfg->ceiling) ? cfg->ceiling : TLBB_X86_DEFAULT_CEILING;
	x->cpu = percpu;
	x->ncpus = ncpus;
	x->next_ctx = 1; /* 0 means "no number yet" */
	for (unsigned c = 0; c < ncpus; c++) {
		struct tlbb_x86_cpu *pc = &percpu[c];

		for (int i = 0; i < TLBB_X86_SLOTS; i++)
			pc->slot[i] = (struct tlbb_x86_slot){ 0 };
		pc->loaded = -1;
		pc->tick = 0;
		pc->st = (struct tlbb_x86_cpu_stats){ 0 };
	}
	x->be = (struct tlbb_backend){
		.name = "x86_64",
		.ctx = x,
		.should_defer = x86_should_defer,
		.add = x86_add,
		.flush = x86_flush,
		.flush_space = x86_flush_space,
		.space_init = x86_space_init,
		.space_fini = x86_space_fini,
	};
	return TLBB_OK;
}

/* ---- context switch -------------------------------------------------------- */

static int slot_pick(struct tlbb_x86_cpu *c, unsigned pcid)
{
	int victim = -1;

	/* A PCID lives in at most one slot: whoever held it is replaced. */
	for (int i = 0; i < TLBB_X86_SLOTS; i++)
		if (c->slot[i].ctx && c->slot[i].pcid == pcid)
			return i;
	for (int i = 0; i < TLBB_X86_SLOTS; i++) {
		if (i == c->loaded)
			continue;
		if (!c->slot[i].ctx)
			return i;
		if (victim < 0 || c->slot[i].last_used < c->slot[victim].last_used)
			victim = i;
	}
	return victim;
}

bool tlbb_x86_switch_space(struct tlbb_x86 *x, struct tlbb_space *next, uint64_t pml4)
{
	unsigned cpu = tlbb_port_cpu_id();
	unsigned pcid = pcid_of(x, next);
	struct tlbb_x86_cpu *c;
	struct tlbb_x86_slot *sl;
	bool must_flush;
	uint64_t g, ctx = ctx_of(next);
	int i;

	if (ctx == 0) {
		/*
		 * A space whose init did not run our hook (it was initialised
		 * against a copy of the hooks taken before tlbb_x86_init()):
		 * number it now. Two CPUs may race here; one number wins.
		 */
		uint64_t fresh = __atomic_fetch_add(&x->next_ctx, 1, __ATOMIC_RELAXED);

		if (__atomic_compare_exchange_n(&xs(next)->ctx, &ctx, fresh, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			ctx = fresh; /* else ctx now holds the winner's number */
	}
	/* Mask bit before number: see x86_add() and the trim in do_request(). */
	tlbb_space_cpu_enter(next, cpu);
	g = tlbb_x86_space_gen(next);
	if (cpu >= x->ncpus) {
		/*
		 * Below TLBB_MAX_CPUS the bit is set: every flush of @next
		 * reaches this CPU and flushes everything there. Beyond it
		 * nothing can reach it while it runs @next.
		 */
		if (cpu >= TLBB_MAX_CPUS)
			debug_fail("x86: CPU number >= TLBB_MAX_CPUS: no flush can reach it "
				   "(rebuild with a larger TLBB_MAX_CPUS)");
		else
			debug_fail("x86: CPU number beyond the per-CPU array");
		x86_write_cr3(pml4 | pcid);
		return true;
	}
	c = &x->cpu[cpu];
	STAT_ADD(&c->st, switches, 1);
	if (!(x->cfg.features & TLBB_X86_PCID)) {
		/* Without PCIDs every CR3 write flushes: no other slot holds anything. */
		for (int k = 0; k < TLBB_X86_SLOTS; k++)
			c->slot[k].ctx = 0;
		i = 0;
		must_flush = true;
	} else {
		i = slot_find(x, c, next);
		if (i >= 0) {
			must_flush = __atomic_load_n(&c->slot[i].gen, __ATOMIC_RELAXED) != g;
		} else {
			/* New to this slot table: the PCID may hold anyone's leftovers. */
			i = slot_pick(c, pcid);
			must_flush = true;
		}
	}
	sl = &c->slot[i];
	sl->ctx = ctx;
	sl->space = next;
	sl->pcid = pcid;
	sl->last_used = ++c->tick;
	__atomic_store_n(&sl->gen, g, __ATOMIC_RELAXED);
	c->loaded = i;
	if (must_flush)
		STAT_ADD(&c->st, switch_flushes, 1);
	x86_write_cr3((pml4 & ~(uint64_t)X86_CR3_PCID_MASK) | pcid |
		      (must_flush || !(x->cfg.features & TLBB_X86_PCID) ? 0 : X86_CR3_NOFLUSH));
	return must_flush;
}

/*
 * The static binding (lib/tlbbatch.c, TLBB_STATIC_X86_64): the core includes
 * this file and calls these directly instead of through tlbb_x86::be.
 */
#define TLBB_BOUND_should_defer x86_should_defer
#define TLBB_BOUND_add x86_add
#define TLBB_BOUND_flush x86_flush
#define TLBB_BOUND_flush_space x86_flush_space
#define TLBB_BOUND_space_init x86_space_init
#define TLBB_BOUND_space_fini x86_space_fini
