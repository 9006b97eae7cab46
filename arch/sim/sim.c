/* SPDX-License-Identifier: MIT */
/*
 * The sim backend: software MMU + two invalidation models + a frame oracle.
 * See include/tlbbatch/sim.h for the model. Hosted code: pthreads, malloc.
 *
 * Locking: each CPU has `lock` (its TLB and active space) and `oplock` (its
 * queue of incomplete arm64 TLBIs). Order: oplock(c) before lock(d); an
 * access takes only lock(d), so completing TLBIs and checking an access are
 * atomic with respect to each other, as an interrupt boundary would be.
 */
#include <tlbbatch/sim.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_PAGE_SHIFT 12

enum sim_op_kind { OP_VA, OP_ASID, OP_ALL };

struct sim_op {
	enum sim_op_kind kind;
	uint32_t asid;
	uintptr_t vpn;
};

struct sim_tlbe {
	bool valid, writable;
	uint32_t asid;
	uint32_t frame;
	uintptr_t vpn;
	uint64_t version; /* of the PTE it was filled from */
};

struct sim_cpu {
	pthread_mutex_t lock;
	struct sim_tlbe *tlb;
	unsigned rr;
	struct tlbb_sim_space *active;
	pthread_mutex_t oplock;
	struct sim_op *ops;
	unsigned nops;
};

struct tlbb_sim {
	struct tlbb_sim_config cfg;
	struct tlbb_backend be;
	struct sim_cpu cpu[TLBB_SIM_MAX_CPUS];
	uint8_t *frame_state;
	unsigned frame_next;
	unsigned faults;
	struct tlbb_sim_stats st;
};

/* Which sim and CPU the calling thread acts as. */
static _Thread_local const struct tlbb_sim *tl_sim;
static _Thread_local unsigned tl_cpu;

#define STAT_ADD(sim, field, n) __atomic_fetch_add(&(sim)->st.field, (n), __ATOMIC_RELAXED)

static unsigned faults_of(const struct tlbb_sim *sim)
{
	return __atomic_load_n(&sim->faults, __ATOMIC_ACQUIRE);
}

unsigned tlbb_sim_current_cpu(const struct tlbb_sim *sim)
{
	return tl_sim == sim ? tl_cpu : TLBB_SIM_NO_CPU;
}

/*
 * The CPU a hook runs on. A thread that never entered a CPU of @sim has
 * none: an arm64 TLBI would have no issuing CPU whose DSB completes it and
 * an x86 flush no "self" to skip, so any answer would be a guess that could
 * hide a missing flush. The test is wrong; stop it, loudly.
 */
static unsigned hook_cpu(struct tlbb_sim *sim, const char *what)
{
	unsigned c = tlbb_sim_current_cpu(sim);

	if (__builtin_expect(c != TLBB_SIM_NO_CPU, 1))
		return c;
	__atomic_fetch_add(&sim->st.no_cpu_calls, 1, __ATOMIC_RELAXED);
	if (!sim->cfg.on_no_cpu) {
		fprintf(stderr,
			"tlbb_sim: %s on a thread that never called tlbb_sim_cpu_enter() "
			"for this sim\n", what);
		abort();
	}
	/*
	 * The test's handler returned: the hook runs for no CPU, the widest
	 * way (TLBIs complete at once everywhere, IPIs reach every CPU in the
	 * mask), so the mistake can only over-flush.
	 */
	sim->cfg.on_no_cpu(sim, what);
	return TLBB_SIM_NO_CPU;
}

/* ---- TLB maintenance primitives ---------------------------------------- */

static bool op_matches(const struct sim_op *op, const struct sim_tlbe *e)
{
	switch (op->kind) {
	case OP_VA:
		return e->asid == op->asid && e->vpn == op->vpn;
	case OP_ASID:
		return e->asid == op->asid;
	case OP_ALL:
		return true;
	}
	return true;
}

/* Apply @n ops to CPU @c's TLB in one visit, under its lock. */
static void cpu_apply(struct tlbb_sim *sim, unsigned c, const struct sim_op *ops, unsigned n)
{
	struct sim_cpu *cpu = &sim->cpu[c];

	pthread_mutex_lock(&cpu->lock);
	for (unsigned i = 0; i < sim->cfg.tlb_entries; i++)
		for (unsigned k = 0; cpu->tlb[i].valid && k < n; k++)
			if (op_matches(&ops[k], &cpu->tlb[i]))
				cpu->tlb[i].valid = false;
	pthread_mutex_unlock(&cpu->lock);
}

/*
 * Broadcast ops reach every TLB (arm64 completion, or early completion).
 * One DVM sync completes them all, so each TLB is visited once.
 */
static void apply_everywhere(struct tlbb_sim *sim, const struct sim_op *ops, unsigned n)
{
	for (unsigned c = 0; c < sim->cfg.ncpus && n; c++)
		cpu_apply(sim, c, ops, n);
}

/* arm64: @c issues a TLBI; it stays incomplete until @c's DSB. */
static void issue_tlbi(struct tlbb_sim *sim, unsigned c, struct sim_op op)
{
	struct sim_cpu *cpu;

	STAT_ADD(sim, tlbi_ops, 1);
	if (c >= sim->cfg.ncpus) {
		apply_everywhere(sim, &op, 1); /* no issuing CPU: complete at once */
		return;
	}
	cpu = &sim->cpu[c];
	pthread_mutex_lock(&cpu->oplock);
	if (cpu->nops == sim->cfg.max_outstanding) {
		/* Hardware may complete a TLBI early; only late is forbidden. */
		apply_everywhere(sim, &cpu->ops[0], 1);
		memmove(cpu->ops, cpu->ops + 1, (cpu->nops - 1) * sizeof(cpu->ops[0]));
		cpu->nops--;
	}
	cpu->ops[cpu->nops++] = op;
	pthread_mutex_unlock(&cpu->oplock);
}

void tlbb_sim_dsb(struct tlbb_sim *sim, unsigned c)
{
	struct sim_cpu *cpu;

	STAT_ADD(sim, dsb, 1);
	if (c >= sim->cfg.ncpus)
		return; /* no CPU: nothing of its is outstanding */
	cpu = &sim->cpu[c];
	pthread_mutex_lock(&cpu->oplock);
	apply_everywhere(sim, cpu->ops, cpu->nops);
	cpu->nops = 0;
	pthread_mutex_unlock(&cpu->oplock);
}

unsigned tlbb_sim_outstanding(struct tlbb_sim *sim, unsigned c)
{
	unsigned n;

	if (c >= sim->cfg.ncpus)
		return 0;
	pthread_mutex_lock(&sim->cpu[c].oplock);
	n = sim->cpu[c].nops;
	pthread_mutex_unlock(&sim->cpu[c].oplock);
	return n;
}

/* x86: @c changes its own TLB (INVLPG / INVPCID / CR3). */
static void local_flush(struct tlbb_sim *sim, unsigned c, struct sim_op op)
{
	if (c >= sim->cfg.ncpus)
		return; /* no CPU: no local TLB */
	STAT_ADD(sim, local_flushes, 1);
	cpu_apply(sim, c, &op, 1);
}

/* x86: one send-and-wait round; returns once every target applied @op. */
static void ipi_round(struct tlbb_sim *sim, const tlbb_cpumask_t *mask, unsigned self,
		      struct sim_op op)
{
	bool any = false;

	if (faults_of(sim) & TLBB_SIM_FAULT_NO_IPI)
		return;
	/* NULL: every CPU (a batch without the port's mask). */
	for (unsigned c = mask ? tlbb_cpumask_next(mask, 0) : 0; c < sim->cfg.ncpus;
	     c = mask ? tlbb_cpumask_next(mask, c + 1) : c + 1) {
		if (c == self)
			continue;
		any = true;
		STAT_ADD(sim, ipis, 1);
		cpu_apply(sim, c, &op, 1);
	}
	if (any)
		STAT_ADD(sim, ipi_rounds, 1);
}

/* ---- backend hooks ------------------------------------------------------- */

static struct tlbb_sim *sim_of(const struct tlbb_backend *be)
{
	return be->ctx;
}

static bool sim_should_defer(const struct tlbb_backend *be, const struct tlbb_space *s)
{
	struct tlbb_sim *sim = sim_of(be);

	if (sim->cfg.model == TLBB_SIM_ARM64)
		return !(sim->cfg.options & TLBB_SIM_OPT_REPEAT_TLBI_ERRATUM);
	return !s->cpus || tlbb_cpumask_any_but(s->cpus, hook_cpu(sim, "tlbb_should_defer()"));
}

/*
 * The x86 model's batch: which space it holds (or SIM_MULTI). With the
 * port's batch mask the model gathers each space's mask at add time, as
 * Linux does; without one, a batch of one space targets that space's mask
 * at flush (a superset: the sim never clears a bit), and one of several
 * spaces every CPU.
 */
TLBB_ARCH_STRUCT(sim_batch) {
	uintptr_t space; /* const struct tlbb_space *, SIM_MULTI, or 0 = empty */
};
TLBB_ARCH_FITS(struct sim_batch, struct tlbb_batch);
#define SIM_MULTI ((uintptr_t)1)

static void sim_add(const struct tlbb_backend *be, struct tlbb_batch *b, struct tlbb_space *s,
		    uint64_t start, uint64_t end, unsigned flags)
{
	struct tlbb_sim *sim = sim_of(be);
	unsigned self = hook_cpu(sim, "tlbb_add_*()");

	if (sim->cfg.model == TLBB_SIM_X86) {
		struct sim_batch *sb = TLBB_ARCH(b, struct sim_batch);

		if (sb->space == 0)
			sb->space = (uintptr_t)s;
		else if (sb->space != (uintptr_t)s)
			sb->space = SIM_MULTI;
		/*
		 * No IPI yet: remember who may cache the space, in the port's
		 * batch mask. Without one the flush reaches every CPU.
		 */
		if (b->cpus && s->cpus) {
			tlbb_cpumask_or(b->cpus, s->cpus);
		} else if (b->cpus) {
			for (unsigned c = 0; c < sim->cfg.ncpus; c++)
				tlbb_cpumask_set(b->cpus, c); /* no mask: any CPU may */
		}
		return;
	}
	/* DSB ISHST: sim PTE stores are seq_cst, so walkers already see them. */
	STAT_ADD(sim, dsb_ishst, 1);
	if (flags & TLBB_RANGE_ALL) {
		issue_tlbi(sim, self, (struct sim_op){ OP_ASID, s->id, 0 });
		return;
	}
	for (uint64_t va = start; va < end; va += (uint64_t)1 << s->page_shift)
		issue_tlbi(sim, self, (struct sim_op){ OP_VA, s->id, va >> SIM_PAGE_SHIFT });
}

static void sim_flush(const struct tlbb_backend *be, struct tlbb_batch *b)
{
	struct tlbb_sim *sim = sim_of(be);
	unsigned self = hook_cpu(sim, "tlbb_flush()");
	struct sim_op all = { OP_ALL, 0, 0 };

	STAT_ADD(sim, batch_flushes, 1);
	if (faults_of(sim) & TLBB_SIM_FAULT_NO_BATCH_FLUSH)
		return;
	if (sim->cfg.model == TLBB_SIM_ARM64) {
		tlbb_sim_dsb(sim, self); /* completes only this CPU's TLBIs */
		return;
	}
	{
		uintptr_t one = TLBB_ARCH(b, struct sim_batch)->space;
		const tlbb_cpumask_t *to = b->cpus;

		if (!to && one && one != SIM_MULTI)
			to = ((const struct tlbb_space *)one)->cpus;
		if (!to || tlbb_cpumask_test(to, self))
			local_flush(sim, self, all);
		ipi_round(sim, to, self, all);
	}
}

static void sim_flush_space(const struct tlbb_backend *be, struct tlbb_space *s)
{
	struct tlbb_sim *sim = sim_of(be);
	unsigned self = hook_cpu(sim, "a whole-space flush (race check, sync fallback, fini)");
	unsigned faults = faults_of(sim);
	struct sim_op op = { OP_ASID, s->id, 0 };

	STAT_ADD(sim, space_flushes, 1);
	if (faults & TLBB_SIM_FAULT_NO_FLUSH_SPACE)
		return;
	if (sim->cfg.model == TLBB_SIM_ARM64) {
		/* The correct race check: our own TLBI ASIDE1IS, then our DSB. */
		if (!(faults & TLBB_SIM_FAULT_BARE_BARRIER))
			issue_tlbi(sim, self, op);
		tlbb_sim_dsb(sim, self);
		return;
	}
	if (!s->cpus || tlbb_cpumask_test(s->cpus, self) || (faults & TLBB_SIM_FAULT_BARE_BARRIER))
		local_flush(sim, self, op);
	if (!(faults & TLBB_SIM_FAULT_BARE_BARRIER))
		ipi_round(sim, s->cpus, self, op);
}

/*
 * Releasing the ASID for a new space: the sim's TLBs are tagged by ASID
 * alone, so whatever this space left in them must go before the ASID is
 * handed out again (the x86 model reaches the CPUs in the mask by IPI).
 */
static void sim_space_fini(const struct tlbb_backend *be, struct tlbb_space *s)
{
	if (faults_of(sim_of(be)) & TLBB_SIM_FAULT_NO_RELEASE)
		return;
	sim_flush_space(be, s);
}

/* ---- creation ------------------------------------------------------------ */

struct tlbb_sim *tlbb_sim_create(const struct tlbb_sim_config *cfg)
{
	struct tlbb_sim *sim;

	if (!cfg || cfg->ncpus == 0 || cfg->ncpus > TLBB_SIM_MAX_CPUS || cfg->ncpus > TLBB_MAX_CPUS ||
	    cfg->nframes > TLBB_SIM_MAX_FRAMES ||
	    (cfg->model != TLBB_SIM_ARM64 && cfg->model != TLBB_SIM_X86))
		return NULL;
	sim = calloc(1, sizeof(*sim));
	if (!sim)
		return NULL;
	sim->cfg = *cfg;
	if (!sim->cfg.tlb_entries)
		sim->cfg.tlb_entries = 64;
	if (!sim->cfg.nframes)
		sim->cfg.nframes = 4096;
	if (!sim->cfg.max_outstanding)
		sim->cfg.max_outstanding = 4096;
	sim->faults = cfg->faults;
	sim->frame_state = calloc(sim->cfg.nframes, 1);
	if (!sim->frame_state)
		goto fail;
	for (unsigned c = 0; c < sim->cfg.ncpus; c++) {
		struct sim_cpu *cpu = &sim->cpu[c];

		pthread_mutex_init(&cpu->lock, NULL);
		pthread_mutex_init(&cpu->oplock, NULL);
		cpu->tlb = calloc(sim->cfg.tlb_entries, sizeof(*cpu->tlb));
		cpu->ops = calloc(sim->cfg.max_outstanding, sizeof(*cpu->ops));
		if (!cpu->tlb || !cpu->ops)
			goto fail;
	}
	sim->be = (struct tlbb_backend){
		.name = cfg->model == TLBB_SIM_ARM64 ? "sim-arm64" : "sim-x86",
		.ctx = sim,
		.should_defer = sim_should_defer,
		.add = sim_add,
		.flush = sim_flush,
		.flush_space = sim_flush_space,
		.space_fini = sim_space_fini,
	};
	return sim;
fail:
	tlbb_sim_destroy(sim);
	return NULL;
}

void tlbb_sim_destroy(struct tlbb_sim *sim)
{
	if (!sim)
		return;
	for (unsigned c = 0; c < sim->cfg.ncpus; c++) {
		free(sim->cpu[c].tlb);
		free(sim->cpu[c].ops);
		pthread_mutex_destroy(&sim->cpu[c].lock);
		pthread_mutex_destroy(&sim->cpu[c].oplock);
	}
	free(sim->frame_state);
	if (tl_sim == sim)
		tl_sim = NULL;
	free(sim);
}

const struct tlbb_backend *tlbb_sim_backend(struct tlbb_sim *sim)
{
	return &sim->be;
}

unsigned tlbb_sim_ncpus(const struct tlbb_sim *sim)
{
	return sim->cfg.ncpus;
}

enum tlbb_sim_model tlbb_sim_model(const struct tlbb_sim *sim)
{
	return sim->cfg.model;
}

void tlbb_sim_set_faults(struct tlbb_sim *sim, unsigned faults)
{
	__atomic_store_n(&sim->faults, faults, __ATOMIC_RELEASE);
}

/* ---- spaces and page tables --------------------------------------------- */

enum tlbb_status tlbb_sim_space_init(struct tlbb_sim *sim, struct tlbb_sim_space *ss, uint32_t asid,
			size_t npages)
{
	int rc;

	if (!sim || !ss || npages == 0)
		return TLBB_EINVAL;
	ss->sim = sim;
	ss->npages = npages;
	ss->pte = calloc(npages, sizeof(*ss->pte));
	ss->claim = calloc(npages, sizeof(*ss->claim));
	rc = ss->pte && ss->claim ? tlbb_space_init(&ss->space, &sim->be, asid, ss) : TLBB_EINVAL;
	if (rc == TLBB_OK) {
		tlbb_cpumask_clear(&ss->cpus);
		tlbb_space_set_cpumask(&ss->space, &ss->cpus);
	}
	if (rc != TLBB_OK) {
		free(ss->pte);
		free(ss->claim);
		ss->pte = ss->claim = NULL;
	}
	return rc;
}

void tlbb_sim_space_fini(struct tlbb_sim_space *ss)
{
	if (!ss)
		return;
	for (unsigned c = 0; ss->sim && c < ss->sim->cfg.ncpus; c++) {
		pthread_mutex_lock(&ss->sim->cpu[c].lock);
		if (ss->sim->cpu[c].active == ss)
			ss->sim->cpu[c].active = NULL;
		pthread_mutex_unlock(&ss->sim->cpu[c].lock);
	}
	if (ss->pte)
		tlbb_space_fini(&ss->space);
	free(ss->pte);
	free(ss->claim);
	ss->pte = ss->claim = NULL;
}

static uint64_t pte_version(uint64_t pte)
{
	return pte >> TLBB_SIM_PTE_VERSION_SHIFT;
}

/* Replace the low bits of a PTE, bumping its version; returns the old PTE. */
static uint64_t pte_update(struct tlbb_sim_space *ss, size_t vpn, uint64_t (*change)(uint64_t, uint64_t),
			   uint64_t arg)
{
	uint64_t old = __atomic_load_n(&ss->pte[vpn], __ATOMIC_SEQ_CST);
	const uint64_t low = ((uint64_t)1 << TLBB_SIM_PTE_VERSION_SHIFT) - 1;

	for (;;) {
		uint64_t low_new = change(old & low, arg) & low;
		uint64_t new = ((pte_version(old) + 1) << TLBB_SIM_PTE_VERSION_SHIFT) | low_new;

		if ((old & low) == low_new)
			return old; /* no change: no new version */
		if (__atomic_compare_exchange_n(&ss->pte[vpn], &old, new, false, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return old;
	}
}

static uint64_t change_set(uint64_t old, uint64_t pte)
{
	return pte;
}

static uint64_t change_protect(uint64_t old, uint64_t writable)
{
	if (!(old & TLBB_SIM_PTE_VALID))
		return old; /* nothing present: nothing to change (the racy case) */
	return writable ? (old | TLBB_SIM_PTE_WRITE) : (old & ~(uint64_t)TLBB_SIM_PTE_WRITE);
}

void tlbb_sim_pte_set(struct tlbb_sim_space *ss, size_t vpn, unsigned frame, bool writable)
{
	uint64_t pte = ((uint64_t)(frame & (TLBB_SIM_MAX_FRAMES - 1)) << 12) | TLBB_SIM_PTE_VALID |
		       (writable ? TLBB_SIM_PTE_WRITE : 0);

	if (vpn < ss->npages)
		pte_update(ss, vpn, change_set, pte);
}

uint64_t tlbb_sim_pte_clear(struct tlbb_sim_space *ss, size_t vpn)
{
	uint64_t old;

	if (vpn >= ss->npages)
		return 0;
	old = pte_update(ss, vpn, change_set, 0);
	return old & TLBB_SIM_PTE_VALID ? old : 0;
}

uint64_t tlbb_sim_pte_get(const struct tlbb_sim_space *ss, size_t vpn)
{
	return vpn < ss->npages ? __atomic_load_n(&ss->pte[vpn], __ATOMIC_SEQ_CST) : 0;
}

void tlbb_sim_pte_protect(struct tlbb_sim_space *ss, size_t vpn, bool writable)
{
	if (vpn < ss->npages)
		pte_update(ss, vpn, change_protect, writable);
}

void tlbb_sim_claim_clean(struct tlbb_sim_space *ss, size_t vpn)
{
	uint64_t v, cur;

	if (vpn >= ss->npages)
		return;
	v = pte_version(__atomic_load_n(&ss->pte[vpn], __ATOMIC_SEQ_CST));
	cur = __atomic_load_n(&ss->claim[vpn], __ATOMIC_SEQ_CST);
	while (cur < v &&
	       !__atomic_compare_exchange_n(&ss->claim[vpn], &cur, v, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST))
		;
}

/* ---- frames -------------------------------------------------------------- */

int tlbb_sim_frame_alloc(struct tlbb_sim *sim)
{
	unsigned n = sim->cfg.nframes;
	unsigned start = __atomic_fetch_add(&sim->frame_next, 1, __ATOMIC_RELAXED);

	for (unsigned i = 0; i < n; i++) {
		unsigned f = (start + i) % n;
		uint8_t expect = TLBB_SIM_FRAME_FREE;

		if (f == 0)
			continue; /* frame 0 is never handed out: a zero PTE must not alias it */
		if (__atomic_compare_exchange_n(&sim->frame_state[f], &expect, TLBB_SIM_FRAME_LIVE,
						false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			return (int)f;
	}
	return -1;
}

void tlbb_sim_frame_set_state(struct tlbb_sim *sim, unsigned frame, enum tlbb_sim_frame_state st)
{
	if (frame < sim->cfg.nframes)
		__atomic_store_n(&sim->frame_state[frame], (uint8_t)st, __ATOMIC_SEQ_CST);
}

enum tlbb_sim_frame_state tlbb_sim_frame_state(struct tlbb_sim *sim, unsigned frame)
{
	if (frame >= sim->cfg.nframes)
		return TLBB_SIM_FRAME_FREE;
	return (enum tlbb_sim_frame_state)__atomic_load_n(&sim->frame_state[frame], __ATOMIC_SEQ_CST);
}

void tlbb_sim_frame_recycle(struct tlbb_sim *sim, unsigned frame)
{
	uint8_t expect = TLBB_SIM_FRAME_RETIRED;

	if (frame < sim->cfg.nframes)
		__atomic_compare_exchange_n(&sim->frame_state[frame], &expect, TLBB_SIM_FRAME_FREE,
					    false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

/* ---- CPUs ---------------------------------------------------------------- */

enum tlbb_status tlbb_sim_cpu_enter(struct tlbb_sim *sim, unsigned cpu)
{
	if (!sim || cpu >= sim->cfg.ncpus) {
		/* No CPU rather than a wrong one: the next hook stops the test. */
		tl_sim = NULL;
		return TLBB_EINVAL;
	}
	tl_sim = sim;
	tl_cpu = cpu;
	return TLBB_OK;
}

enum tlbb_status tlbb_sim_migrate(struct tlbb_sim *sim, unsigned cpu, bool switch_barrier)
{
	if (switch_barrier)
		tlbb_sim_dsb(sim, hook_cpu(sim, "tlbb_sim_migrate()'s switch barrier"));
	return tlbb_sim_cpu_enter(sim, cpu);
}

void tlbb_sim_switch_to(struct tlbb_sim *sim, unsigned c, struct tlbb_sim_space *ss)
{
	if (c >= sim->cfg.ncpus)
		return;
	/*
	 * Mask bit first: a flusher that reads the mask after we can fill a
	 * TLB entry must see us, or it would skip a CPU that caches the space.
	 */
	if (ss)
		tlbb_space_cpu_enter(&ss->space, c);
	pthread_mutex_lock(&sim->cpu[c].lock);
	sim->cpu[c].active = ss;
	pthread_mutex_unlock(&sim->cpu[c].lock);
}

static struct sim_tlbe *tlb_lookup(struct tlbb_sim *sim, struct sim_cpu *cpu, uint32_t asid,
				   uintptr_t vpn)
{
	for (unsigned i = 0; i < sim->cfg.tlb_entries; i++) {
		struct sim_tlbe *e = &cpu->tlb[i];

		if (e->valid && e->asid == asid && e->vpn == vpn)
			return e;
	}
	return NULL;
}

/* Walk the active space and fill; NULL if no permitted translation. */
static struct sim_tlbe *tlb_fill(struct tlbb_sim *sim, struct sim_cpu *cpu,
				 struct tlbb_sim_space *ss, uintptr_t vpn, bool write)
{
	uint64_t pte;
	struct sim_tlbe *e;

	if (vpn >= ss->npages)
		return NULL;
	pte = __atomic_load_n(&ss->pte[vpn], __ATOMIC_SEQ_CST);
	if (!(pte & TLBB_SIM_PTE_VALID) || (write && !(pte & TLBB_SIM_PTE_WRITE)))
		return NULL;
	if (write) {
		/*
		 * Hardware dirty-bit update, only if the PTE did not change. On
		 * failure the CAS writes the current PTE into its expected value,
		 * so it gets a copy: the entry is built from what we walked.
		 */
		uint64_t expect = pte;

		__atomic_compare_exchange_n(&ss->pte[vpn], &expect, pte | TLBB_SIM_PTE_DIRTY, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	}
	e = tlb_lookup(sim, cpu, ss->space.id, vpn);
	if (!e) {
		e = &cpu->tlb[cpu->rr];
		cpu->rr = (cpu->rr + 1) % sim->cfg.tlb_entries;
	}
	*e = (struct sim_tlbe){ .valid = true,
				.writable = (pte & TLBB_SIM_PTE_WRITE) != 0,
				.asid = ss->space.id,
				.frame = tlbb_sim_pte_frame(pte),
				.vpn = vpn,
				.version = pte_version(pte) };
	return e;
}

static bool frame_forbids(struct tlbb_sim *sim, unsigned frame, bool write)
{
	enum tlbb_sim_frame_state st = tlbb_sim_frame_state(sim, frame);

	return st == TLBB_SIM_FRAME_FREE || st == TLBB_SIM_FRAME_RETIRED ||
	       (st == TLBB_SIM_FRAME_RO && write);
}

enum tlbb_sim_access_result tlbb_sim_access(struct tlbb_sim *sim, unsigned c, uintptr_t va,
					    bool write)
{
	struct sim_cpu *cpu;
	struct tlbb_sim_space *ss;
	struct sim_tlbe *e;
	enum tlbb_sim_access_result r = TLBB_SIM_HIT;
	uintptr_t vpn = va >> SIM_PAGE_SHIFT;

	if (c >= sim->cfg.ncpus)
		return TLBB_SIM_FAULT;
	cpu = &sim->cpu[c];
	STAT_ADD(sim, accesses, 1);
	pthread_mutex_lock(&cpu->lock);
	ss = cpu->active;
	e = ss ? tlb_lookup(sim, cpu, ss->space.id, vpn) : NULL;
	if (e && write && !e->writable) {
		e->valid = false; /* permission fault re-walks */
		e = NULL;
	}
	if (!e && ss) {
		e = tlb_fill(sim, cpu, ss, vpn, write);
		r = TLBB_SIM_WALK;
	}
	if (!e) {
		pthread_mutex_unlock(&cpu->lock);
		STAT_ADD(sim, faults, 1);
		return TLBB_SIM_FAULT;
	}
	if (frame_forbids(sim, e->frame, write) ||
	    e->version < __atomic_load_n(&ss->claim[vpn], __ATOMIC_SEQ_CST)) {
		if (STAT_ADD(sim, stale, 1) == 0) {
			__atomic_store_n(&sim->st.first_stale_cpu, c, __ATOMIC_RELAXED);
			__atomic_store_n(&sim->st.first_stale_va, va, __ATOMIC_RELAXED);
			__atomic_store_n(&sim->st.first_stale_frame, e->frame, __ATOMIC_RELAXED);
		}
		r = TLBB_SIM_STALE;
	} else if (r == TLBB_SIM_HIT) {
		STAT_ADD(sim, hits, 1);
	} else {
		STAT_ADD(sim, walks, 1);
	}
	pthread_mutex_unlock(&cpu->lock);
	return r;
}

void tlbb_sim_prefetch(struct tlbb_sim *sim, unsigned c, uintptr_t va)
{
	struct sim_cpu *cpu;

	if (c >= sim->cfg.ncpus)
		return;
	cpu = &sim->cpu[c];
	pthread_mutex_lock(&cpu->lock);
	if (cpu->active && !tlb_lookup(sim, cpu, cpu->active->space.id, va >> SIM_PAGE_SHIFT))
		tlb_fill(sim, cpu, cpu->active, va >> SIM_PAGE_SHIFT, false);
	pthread_mutex_unlock(&cpu->lock);
}

bool tlbb_sim_tlb_has(struct tlbb_sim *sim, unsigned c, uint32_t asid, uintptr_t va)
{
	bool has;

	if (c >= sim->cfg.ncpus)
		return false;
	pthread_mutex_lock(&sim->cpu[c].lock);
	has = tlb_lookup(sim, &sim->cpu[c], asid, va >> SIM_PAGE_SHIFT) != NULL;
	pthread_mutex_unlock(&sim->cpu[c].lock);
	return has;
}

/* ---- statistics ---------------------------------------------------------- */

void tlbb_sim_get_stats(struct tlbb_sim *sim, struct tlbb_sim_stats *out)
{
	uint64_t *dst = (uint64_t *)out;
	const uint64_t *src = (const uint64_t *)&sim->st;
	size_t n = offsetof(struct tlbb_sim_stats, first_stale_cpu) / sizeof(uint64_t);

	for (size_t i = 0; i < n; i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	out->first_stale_cpu = __atomic_load_n(&sim->st.first_stale_cpu, __ATOMIC_RELAXED);
	out->first_stale_va = __atomic_load_n(&sim->st.first_stale_va, __ATOMIC_RELAXED);
	out->first_stale_frame = __atomic_load_n(&sim->st.first_stale_frame, __ATOMIC_RELAXED);
}

void tlbb_sim_reset_stats(struct tlbb_sim *sim)
{
	uint64_t *dst = (uint64_t *)&sim->st;
	size_t n = offsetof(struct tlbb_sim_stats, first_stale_cpu) / sizeof(uint64_t);

	for (size_t i = 0; i < n; i++)
		__atomic_store_n(&dst[i], 0, __ATOMIC_RELAXED);
}
