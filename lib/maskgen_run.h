/* SPDX-License-Identifier: MIT */
/*
 * The hot part of the mask + IPI round + generation engine
 * (tlbbatch/maskgen.h for the model and the backend's duties; lib/maskgen.c
 * for the rules of generations and context numbers). Included once by each
 * backend built on it, AFTER the backend defined its instruction callbacks
 * (mg_engine, mg_arch_tag, mg_arch_flush_tag, mg_arch_flush_all,
 * mg_arch_flush_range, mg_arch_range_ok): every call below is a direct call
 * of the backend's own static function, which the compiler inlines. Under
 * the static binding this code ends up in lib/tlbbatch.c's translation unit
 * with no indirect call on the add, flush and race-check paths.
 *
 * Defines (static): mg_should_defer, mg_add, mg_flush, mg_flush_space,
 * mg_space_init, mg_space_fini (the struct tlbb_backend hooks, filled in by
 * MG_BACKEND(name, ctx)), mg_ipi_entry
 * (the `fn` handed to tlbb_port_ipi_send_and_wait), mg_switch_in (the
 * switch-in bookkeeping; the backend executes the flush it answers).
 * Freestanding: no libc, compiler atomics only.
 */
#ifndef TLBB_MASKGEN_RUN_H
#define TLBB_MASKGEN_RUN_H

#include <tlbbatch/maskgen.h>
#include <tlbbatch/port.h>

/*
 * The batch: one space and the range covering everything added to it, or
 * MULTI (several spaces: flush the loaded context on the targets).
 *
 * An add takes no number and reads no mask: both happen once per space per
 * batch, AFTER every change they answer for, when the batch is flushed or
 * moves to another space. There the space's generation takes a new number
 * (seq_cst), and only then is its mask read: the CPUs a batch of one space
 * must reach are those in that live mask, and for several spaces the union
 * of each space's mask (gathered into the port's b->cpus as the batch
 * leaves a space, and at flush). Why that is enough: a CPU whose bit the
 * read misses set it later and reads the generation after that (the
 * store-buffering pair of mg_run() and switch-in), so it sees the number
 * and flushes the context as it loads it; a CPU that already ran the space
 * with a slot behind the number flushes at its next switch-in, or is in
 * the mask. Until the number is taken a CPU may keep the old entries: that
 * is the batch's promise (complete at tlbb_flush(), not before).
 */
TLBB_ARCH_STRUCT(mg_batch) {
	uintptr_t space;    /* const struct tlbb_space *, MGB_MULTI, or 0 = empty */
	uintptr_t cur;      /* the space of the newest add; 0 = empty */
	uint64_t start;     /* the one space's range; MGB_ALL ignores it */
	uint64_t end;
	uint64_t flags;     /* MGB_* */
};
TLBB_ARCH_FITS(struct mg_batch, struct tlbb_batch);

#define MGB_MULTI ((uintptr_t)1)
#define MGB_ALL ((uint64_t)1)      /* whole space */
#define MGB_GLOBAL ((uint64_t)2)   /* some space had TLBB_SPACE_GLOBAL */
#define MGB_EVERYONE ((uint64_t)4) /* MULTI: a mask could not be gathered: every CPU */

/*
 * Statistics. Only the CPU itself counts into its structure, but its flush
 * IPI can interrupt its own local flush: one atomic step per update.
 */
#define STAT_ADD(st, field, n) __atomic_fetch_add(&(st)->field, (n), __ATOMIC_RELAXED)

static struct tlbb_mg_space *mgs(const struct tlbb_space *s)
{
	return tlbb_mg_space_of(s);
}

static void mg_debug_fail(const char *what)
{
#ifdef TLBB_DEBUG
	tlbb_port_debug_fail(what);
#else
	(void)what;
#endif
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

static int slot_find(const struct tlbb_backend *be, const struct tlbb_mg_cpu *c,
		     const struct tlbb_space *s)
{
	uint64_t tag = mg_arch_tag(be, s);
	uint64_t ctx = tlbb_mg_space_ctx(s);

	/* Number 0 is "none yet": no CPU switched to such a space, none tracks it. */
	if (ctx == 0)
		return -1;
	for (int i = 0; i < TLBB_MG_SLOTS; i++)
		if (c->slot[i].ctx == ctx && c->slot[i].tag == tag)
			return i;
	return -1;
}

/* ---- the request, on one CPU ----------------------------------------------- */

/*
 * A request for several spaces: flush the loaded context now. Other
 * contexts this CPU holds need nothing: their slots are behind their
 * spaces' generations (every request took a new number), so their
 * switch-in flushes them.
 *
 * The loaded slot's space pointer is the only one ever followed from a
 * slot, and that space is alive: the port may end a space's life
 * (tlbb_space_fini(), tlbb_space_set_id()) only once no CPU has it loaded,
 * i.e. every CPU that ran it switched to another space first, which moved
 * that CPU's `loaded` off this slot. A slot that is not loaded may name a
 * dead space; it is compared by number only.
 */
static void do_multi(const struct tlbb_mg_req *r, struct tlbb_mg_cpu *c)
{
	struct tlbb_mg_slot *sl = c->loaded >= 0 ? &c->slot[c->loaded] : NULL;
	uint64_t g = sl ? tlbb_mg_space_gen(sl->space) : 0; /* read BEFORE flushing */

	if (r->global)
		mg_arch_flush_all(r->be);
	else if (sl)
		mg_arch_flush_tag(r->be, sl->tag);
	else
		return; /* nothing loaded, nothing tracked: nothing cached */
	STAT_ADD(&c->st, full, 1);
	if (sl)
		gen_raise(&sl->gen, g);
}

/* Global (kernel) entries live under every tag: always do the work. */
static void do_global(const struct tlbb_mg_req *r, struct tlbb_mg_cpu_stats *st)
{
	if (r->start != r->end && mg_arch_flush_range(r, st))
		return;
	mg_arch_flush_all(r->be);
	STAT_ADD(st, full, 1);
}

static void mg_request(const struct tlbb_mg_req *r, unsigned cpu, bool from_ipi)
{
	struct tlbb_mg *mg = r->mg;
	struct tlbb_mg_cpu *c;
	struct tlbb_mg_slot *sl;
	uint64_t local;
	int i;

	if (cpu >= mg->ncpus) {
		/* No state to consult: a CPU we cannot track gets everything. */
		mg_debug_fail("maskgen: CPU number beyond the per-CPU array");
		mg_arch_flush_all(r->be);
		return;
	}
	c = &mg->cpu[cpu];
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
	i = slot_find(r->be, c, r->space);
	if (i < 0 || i != c->loaded) {
		/*
		 * The space is not loaded here. The instructions reach only the
		 * loaded context; entries of another tag cannot be used until it
		 * is loaded again, and that switch-in flushes: either the slot is
		 * gone (a miss always flushes) or its generation is behind the
		 * space's (local < gen_last <= gen).
		 *
		 * Trim: leave the space's mask, so that its later flushes do not
		 * interrupt this CPU (Linux clears mm_cpumask bits lazily the same
		 * way). Why no change of the space can be missed:
		 *   - flusher:   after its changes, takes number g (seq_cst), then
		 *                reads s->cpus;
		 *   - switch-in: set our bit (seq_cst), then read gen as G.
		 * A flush that does see our bit interrupts us as before. One whose
		 * mask read does not see it read the mask after this clear and
		 * before our switch-in sets the bit again; in the single order of
		 * seq_cst operations: its number, its mask read, our bit set, our
		 * read of G. So G >= g. Our slot's L is what the generation rule
		 * says it is, and it does not move while the slot is not loaded
		 * (only the loaded slot is raised; the switch-in runs with
		 * interrupts off, not inside our handler). Either L >= g, and
		 * change g is already out of this TLB, or L < g <= G, and the
		 * switch-in sees L != G and flushes the context. A slot that is
		 * gone always flushes.
		 * Global spaces never get here (do_global): their entries live
		 * under every tag, so no CPU is ever "not running" them.
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
	if (r->start != r->end && mg_arch_flush_range(r, &c->st)) {
		/*
		 * gen_last is the request's one number, taken after every change
		 * the range covers. If it is the only number we have not flushed
		 * (local + 1 == gen_last), nobody else's change is pending on
		 * this CPU under a number: we caught up. Changes that have no
		 * number yet get one above gen_last when their batch flushes.
		 */
		if (local + 1 == r->gen_last)
			gen_raise(&sl->gen, r->gen_last);
		return;
	}
	{
		uint64_t g = tlbb_mg_space_gen(r->space); /* read BEFORE flushing */

		mg_arch_flush_tag(r->be, sl->tag);
		STAT_ADD(&c->st, full, 1);
		gen_raise(&sl->gen, g);
	}
}

/*
 * What the port's vector runs. The backend hands send_and_wait this static
 * function so that taking its address needs no GOT entry in -fPIC archives
 * (a freestanding kernel links no dynamic linker support).
 */
static void mg_ipi_entry(void *request)
{
	mg_request(request, tlbb_port_cpu_id(), true);
}

/*
 * A backend whose remote CPUs can be reached without the port's IPI round
 * (riscv64: the SBI firmware's remote fence) defines
 * MG_ARCH_REMOTE(r, mask) before including this file: it does the remote
 * part of request @r for the CPUs of @mask but this one and returns true,
 * or returns false to have the port's round do it. Remote CPUs reached that
 * way run no mg_request(): their slots stay behind, so their next
 * switch-in flushes (safe, never stale), and they never trim themselves.
 */
#ifndef MG_ARCH_REMOTE
#define MG_ARCH_REMOTE(r, mask) false
#endif

/*
 * One round to everyone in @mask but us, then our own part inline. @mask is
 * a space's live mask or the batch's gathered one, handed to the port as it
 * is (no copy: at 4096 CPUs a copy is 512 bytes of stack); NULL is every
 * CPU. The port skips the calling CPU and reads the words atomically; a bit
 * that appears during the round belongs to a CPU that read the generation
 * after our numbers were taken (it flushes at switch-in), one that vanishes
 * to a CPU that trimmed itself (mg_request()).
 */
static void mg_run(struct tlbb_mg_req *r, const tlbb_cpumask_t *mask)
{
	unsigned self = tlbb_port_cpu_id();

	/*
	 * Every number of this request was taken (seq_cst) before here; the
	 * fence orders those RMWs before the mask reads below and the port's,
	 * the flusher's half of the store-buffering pair with switch-in.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if ((mask ? tlbb_cpumask_any_but(mask, self) : r->mg->ncpus > 1) && !MG_ARCH_REMOTE(r, mask))
		tlbb_port_ipi_send_and_wait(mask, mg_ipi_entry, r);
	/* A CPU beyond the mask cannot be in it, yet may have run the space. */
	if (!mask || tlbb_cpumask_test(mask, self) || self >= TLBB_MAX_CPUS)
		mg_request(r, self, false);
}

/* ---- backend hooks -------------------------------------------------------- */

static bool mg_should_defer(const struct tlbb_backend *be, const struct tlbb_space *s)
{
	(void)be;
	/* No mask: any CPU may run @s. */
	return !s->cpus || tlbb_cpumask_any_but(s->cpus, tlbb_port_cpu_id());
}

/*
 * The batch leaves @s (moves to another space, or a batch of several spaces
 * is flushed): give @s a new number for every change of it so far, then
 * gather its mask into the port's b->cpus. The number comes first (seq_cst
 * RMW, then seq_cst loads): the store-buffering pair with switch-in. Even
 * when there is nowhere to gather, the number is what sends a CPU holding
 * @s's context unloaded to flush it at its next switch-in.
 *
 * b->cpus is the private state of the one context that owns the batch
 * (tlbbatch.h: never shared): only that context's add, flush and the core's
 * clear after the flush touch it, and the IPI handler (mg_request) is handed
 * a request, never a batch. So a plain read-modify-write suffices, with no
 * lock prefix. The space's mask is shared (switch-in sets bits, the trim
 * clears them): read with seq_cst loads.
 */
static void batch_gather(struct tlbb_batch *b, struct mg_batch *mb, const struct tlbb_space *s)
{
	__atomic_add_fetch(&mgs(s)->gen, 1, __ATOMIC_SEQ_CST);
	if (!b->cpus || !s->cpus) {
		mb->flags |= MGB_EVERYONE; /* nowhere to gather, or any CPU may run @s */
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
__attribute__((__noinline__, __cold__)) static void mg_add_other(struct tlbb_batch *b,
							  struct mg_batch *mb,
							  struct tlbb_space *s, uint64_t start,
							  uint64_t end, unsigned flags)
{
	bool all = (flags & TLBB_RANGE_ALL) != 0;

	if (mb->cur == 0) {
		mb->space = mb->cur = (uintptr_t)s;
		mb->start = all ? 0 : start;
		mb->end = all ? 0 : end;
		if (all)
			mb->flags |= MGB_ALL;
	} else if (mb->cur == (uintptr_t)s) {
		/* The current space, without the core's TLBB_RANGE_SAME. */
		if (all)
			mb->flags |= MGB_ALL;
		if (start < mb->start)
			mb->start = start;
		if (end > mb->end)
			mb->end = end;
	} else {
		batch_gather(b, mb, (const struct tlbb_space *)mb->cur);
		mb->space = MGB_MULTI;
		mb->cur = (uintptr_t)s;
	}
	if (s->flags & TLBB_SPACE_GLOBAL)
		mb->flags |= MGB_GLOBAL;
}

/*
 * No locked read-modify-write and no mask read here: the add only widens
 * the batch's record. Linux's x86 add bumps the mm's generation per page
 * because it reads the mm's CPU mask per page, and a CPU switching in after
 * that read must see a newer number; this engine reads the mask once, at
 * the flush (or when the batch leaves the space), so one number taken just
 * before that read covers every change made before it (struct mg_batch).
 * The core's pending bump is the add's one shared RMW.
 */
static inline void mg_add(const struct tlbb_backend *be, struct tlbb_batch *b,
			  struct tlbb_space *s, uint64_t start, uint64_t end, unsigned flags)
{
	struct mg_batch *mb = TLBB_ARCH(b, struct mg_batch);

	(void)be;
	/*
	 * TLBB_RANGE_SAME: the core says @s is the space of the newest add
	 * (its b->last), which is our cur; on the core's shortest path the
	 * flags are constants and this test folds away.
	 */
	if (__builtin_expect((flags & (TLBB_RANGE_SAME | TLBB_RANGE_ALL)) != TLBB_RANGE_SAME, 0)) {
		mg_add_other(b, mb, s, start, end, flags);
		return;
	}
	/*
	 * Another page or range of the space of the newest add: widen
	 * [start, end) (meaningless, and ignored, once the batch is MULTI or
	 * MGB_ALL). Whether the range can be invalidated page by page is
	 * decided at flush, on the merged range (mg_arch_range_ok). Branches,
	 * not conditional moves: a running minimum or maximum changes about
	 * ln(n) times in n adds of any order, so both branches predict well
	 * and the common add stores one word, not two.
	 */
	if (__builtin_expect(start < mb->start, 0))
		mb->start = start;
	if (__builtin_expect(end > mb->end, 1)) /* ascending pages: every add */
		mb->end = end;
}

static void mg_flush(const struct tlbb_backend *be, struct tlbb_batch *b)
{
	struct mg_batch *mb = TLBB_ARCH(b, struct mg_batch);
	struct tlbb_mg_req r = { .be = be, .mg = mg_engine(be) };
	const tlbb_cpumask_t *targets;

	if (!mb->cur)
		return;
	r.global = (mb->flags & MGB_GLOBAL) != 0;
	if (mb->space != MGB_MULTI) {
		r.space = (struct tlbb_space *)mb->space;
		targets = r.space->cpus;
		/* A range the instructions cannot take exactly: the whole space. */
		if (!(mb->flags & MGB_ALL) && mg_arch_range_ok(be, mb->start, mb->end)) {
			r.start = mb->start;
			r.end = mb->end;
		}
		/*
		 * One number for every change of the batch, taken after all of
		 * them and before mg_run() reads the mask.
		 */
		r.gen_last = __atomic_add_fetch(&mgs(r.space)->gen, 1, __ATOMIC_SEQ_CST);
	} else {
		batch_gather(b, mb, (const struct tlbb_space *)mb->cur);
		targets = (mb->flags & MGB_EVERYONE) ? NULL : b->cpus;
	}
	mg_run(&r, targets);
	mb->space = mb->cur = 0;
	mb->start = mb->end = 0;
	mb->flags = 0;
}

static void mg_flush_space(const struct tlbb_backend *be, struct tlbb_space *s)
{
	/*
	 * A fresh number: the caller's changes come before it, so a CPU that
	 * is past it (or flushes from it) has dropped them.
	 */
	struct tlbb_mg_req r = {
		.be = be,
		.mg = mg_engine(be),
		.space = s,
		.gen_last = __atomic_add_fetch(&mgs(s)->gen, 1, __ATOMIC_SEQ_CST),
		.global = (s->flags & TLBB_SPACE_GLOBAL) != 0,
	};

	mg_run(&r, s->cpus);
}

/* A number no space ever had: slots compare it, so a space born in the
 * memory (and with the tag) of a dead one matches none of its slots. */
static void mg_space_init(const struct tlbb_backend *be, struct tlbb_space *s)
{
	tlbb_mg_space_number(mg_engine(be), s);
}

/*
 * Nothing to do, so no IPI round: the space's number is never handed out
 * again, so every slot still naming it is dead. Whichever space gets the
 * tag next (a new space in this memory, or another live space by
 * tlbb_space_set_id()) has another number; its first switch-in on each CPU
 * misses the slot table and flushes whatever the tag still held. Until then
 * those entries sit under a tag no CPU has loaded (the port switched every
 * CPU away first), unusable. The core has already run the race check, so
 * nothing batched is left.
 */
static void mg_space_fini(const struct tlbb_backend *be, struct tlbb_space *s)
{
	(void)be;
	(void)s;
}

/*
 * A backend on this engine as the core sees it: the hooks above, its own
 * name and context. Every backend built on the engine fills its struct
 * tlbb_backend with this, so none can miss a hook or take another's.
 */
#define MG_BACKEND(backend_name, context)                                      \
	((struct tlbb_backend){                                                \
		.name = (backend_name),                                        \
		.ctx = (context),                                              \
		.should_defer = mg_should_defer,                               \
		.add = mg_add,                                                 \
		.flush = mg_flush,                                             \
		.flush_space = mg_flush_space,                                 \
		.space_init = mg_space_init,                                   \
		.space_fini = mg_space_fini,                                   \
	})

/* ---- switch-in ------------------------------------------------------------- */

static int slot_pick(struct tlbb_mg_cpu *c, uint64_t tag)
{
	int victim = -1;

	/* A tag lives in at most one slot: whoever held it is replaced. */
	for (int i = 0; i < TLBB_MG_SLOTS; i++)
		if (c->slot[i].ctx && c->slot[i].tag == tag)
			return i;
	for (int i = 0; i < TLBB_MG_SLOTS; i++) {
		if (i == c->loaded)
			continue;
		if (!c->slot[i].ctx)
			return i;
		if (victim < 0 || c->slot[i].last_used < c->slot[victim].last_used)
			victim = i;
	}
	return victim;
}

/*
 * Switch-in of this CPU (@cpu) to @next, before its context is used (CR3
 * write, VM entry), with interrupts disabled. Sets @cpu's bit in
 * next->cpus, then reads the generation, and records the slot as loaded at
 * that generation. Answers TLBB_MG_FLUSH when the context may hold entries
 * older than the generation (slot missing or behind), TLBB_MG_CURRENT when
 * it holds none, TLBB_MG_UNTRACKED (flush and report) for a CPU beyond the
 * per-CPU array. With TLBB_MG_UNTAGGED every load flushes and no other slot
 * is kept.
 */
static int mg_switch_in(const struct tlbb_backend *be, struct tlbb_space *next, unsigned cpu,
			unsigned flags)
{
	struct tlbb_mg *mg = mg_engine(be);
	uint64_t tag = mg_arch_tag(be, next);
	uint64_t g, ctx = tlbb_mg_space_ctx(next);
	struct tlbb_mg_cpu *c;
	struct tlbb_mg_slot *sl;
	bool must_flush;
	int i;

	if (ctx == 0) {
		/*
		 * A space whose init did not run our hook (it was initialised
		 * against a copy of the hooks taken before the backend's init):
		 * number it now. Two CPUs may race here; one number wins.
		 */
		uint64_t fresh = __atomic_fetch_add(&mg->next_ctx, 1, __ATOMIC_RELAXED);

		if (__atomic_compare_exchange_n(&mgs(next)->ctx, &ctx, fresh, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			ctx = fresh; /* else ctx now holds the winner's number */
	}
	/* Mask bit before number: see mg_add() and the trim in mg_request(). */
	tlbb_space_cpu_enter(next, cpu);
	g = tlbb_mg_space_gen(next);
	if (cpu >= mg->ncpus)
		return TLBB_MG_UNTRACKED; /* below TLBB_MAX_CPUS every flush reaches it */
	c = &mg->cpu[cpu];
	STAT_ADD(&c->st, switches, 1);
	if (flags & TLBB_MG_UNTAGGED) {
		/* Every load flushes: no other slot holds anything. */
		for (int k = 0; k < TLBB_MG_SLOTS; k++)
			c->slot[k].ctx = 0;
		i = 0;
		must_flush = true;
	} else {
		i = slot_find(be, c, next);
		if (i >= 0) {
			must_flush = __atomic_load_n(&c->slot[i].gen, __ATOMIC_RELAXED) != g;
		} else {
			/* New to this slot table: the tag may hold anyone's leftovers. */
			i = slot_pick(c, tag);
			must_flush = true;
		}
	}
	sl = &c->slot[i];
	sl->ctx = ctx;
	sl->space = next;
	sl->tag = tag;
	sl->last_used = ++c->tick;
	__atomic_store_n(&sl->gen, g, __ATOMIC_RELAXED);
	c->loaded = i;
	if (must_flush)
		STAT_ADD(&c->st, switch_flushes, 1);
	return must_flush ? TLBB_MG_FLUSH : TLBB_MG_CURRENT;
}

#endif /* TLBB_MASKGEN_RUN_H */
